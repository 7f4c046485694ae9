#!/usr/bin/env python
"""Inbound-call webhook: throughput and latency of POST /twilio/voice, beside a bare Starlette
endpoint answering fixed TwiML, measured in the same run by the same client.

    .venv/bin/python bench/webhook.py                       # a fresh SQLite file in a temp folder
    .venv/bin/python bench/webhook.py --database-url postgresql://postgres@127.0.0.1:5432/test
                                                            # a throw-away database beside "test"

Both servers run as separate processes with one uvicorn worker each on 127.0.0.1: the app as
``python -m app.cli serve``, the baseline as ``python bench/_common.py bare`` (same uvicorn
options). Every request is a signed inbound call with a new CallSid to one of the firms' numbers,
at random: half dialled on the firm's dedicated number (To), half forwarded from its own line
(ForwardedFrom), from a random mobile number.

(a) max throughput: --concurrency keep-alive connections, each sending as soon as answered,
    for --requests requests or --seconds, whichever ends first;
(b) latency at a fixed offered rate (--rate per second for --seconds), open loop: each request
    is sent at its scheduled time whatever happened to the others, latency counted from then;
(c) a burst: --burst calls at once, each on a connection of its own, as a provider delivers a
    crowd of callers; then how many the app recorded of those sent (target 100 %).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

WARMUP = 300
THROUGHPUT_RATIO_TARGET = 0.50
P99_TARGET_MS = 25.0
BURST_P99_TARGET_S = 5.0  # well inside the provider's 15 s wait for a webhook's answer


def build_requests(server, secret: str, numbers: list, count: int, rng: random.Random) -> list[bytes]:
    settings = c.settings_for(server.url, secret)
    return [c.raw_request(settings, server.port, "/twilio/voice", c.voice_params(rng.choice(numbers), c.mobile(rng)))
            for _ in range(count)]


def build_burst(server, secret: str, numbers: list, count: int, rng: random.Random) -> tuple[list[bytes], list[str]]:
    settings = c.settings_for(server.url, secret)
    sids = ["CA" + uuid.uuid4().hex for _ in range(count)]
    return [c.raw_request(settings, server.port, "/twilio/voice",
                          c.voice_params(rng.choice(numbers), c.mobile(rng), sid=sid)) for sid in sids], sids


async def burst(port: int, requests: list[bytes]) -> c.LoadResult:
    """Every request at once, each on a new connection; latency counts the connection too."""
    result = c.LoadResult(sent=len(requests))

    async def one(data: bytes) -> None:
        started = time.monotonic()
        try:
            conn = await c.HTTPConnection.open(port)
        except OSError as e:
            result.error(f"connect: {e}")
            return
        try:
            status, body = await conn.request(data)
        except Exception as e:  # noqa: BLE001 - counted, not fatal
            result.error(f"{type(e).__name__}: {e}")
            return
        finally:
            conn.close()
        result.latencies.append(time.monotonic() - started)
        result.answered(status, body, c.good_response)

    result.started = time.monotonic()
    await asyncio.gather(*(one(data) for data in requests))
    result.ended = time.monotonic()
    return result


class PeakConnections:
    """The most PostgreSQL backends serving the bench's database at any moment of a span (sampled)."""

    def __init__(self, url: str):
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        self.database = parts.path.strip("/") if parts.scheme.startswith("postgres") else None
        self.peak = 0

    def __enter__(self) -> "PeakConnections":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        if self.database:
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, len(c._backend_pids(self.database)))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.database:
            self._thread.join()


def recorded_of(url: str, sids: list[str], within: float = 10.0) -> int:
    """How many of ``sids`` the app has recorded, waiting up to ``within`` s for the spool's replay."""
    from app import db
    from app.calls.models import Call

    db.bind(url)
    deadline = time.monotonic() + within
    try:
        while True:
            with db.db.connection_context():
                found = Call.select().where(Call.sid.in_(sids)).count()
            if found == len(sids) or time.monotonic() > deadline:
                return found
            time.sleep(0.25)
    finally:
        c.release_connections()


def lat_of(values: list[float], p: float) -> str:
    return ms(c.percentile(sorted(values), p))


def measure_closed(server, requests, args, url) -> tuple[c.LoadResult, c.CPUMeter]:
    with c.CPUMeter([server], url) as meter:
        result = c.run_closed_loop(server.port, requests, args.concurrency, args.seconds, args.client_procs)
    return result, meter


def measure_open(server, requests, args, url) -> tuple[c.LoadResult, c.CPUMeter]:
    with c.CPUMeter([server], url) as meter:
        result = asyncio.run(c.open_loop(server.port, requests, args.rate))
    return result, meter


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(p)
    p.add_argument("--firms", type=int, default=10_000, help="firms, each with 2 numbers (default 10000)")
    p.add_argument("--requests", type=int, default=20_000,
                   help="requests per server in the throughput test (default 20000; --seconds bounds it too)")
    p.add_argument("--concurrency", type=int, default=32, help="connections in the throughput test (default 32)")
    p.add_argument("--rate", type=float, default=100.0, help="offered calls/s in the latency test (default 100)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="length of the latency test, and upper bound of the throughput test (default 10)")
    p.add_argument("--client-procs", type=int, default=1,
                   help="client processes for the throughput test (default 1; on a machine with few cores "
                        "more clients take CPU from the server they measure)")
    p.add_argument("--burst", type=int, default=500, help="calls sent at once in the burst test (default 500)")
    p.add_argument("--seed", type=int, default=1, help="random seed for numbers and callers (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (server logs, SQLite file)")
    args = p.parse_args()
    c.sigterm_as_interrupt()
    c.use_uvloop()
    rng = random.Random(args.seed)

    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"Dengon webhook bench — {kind}, {args.firms:,} firms / {2 * args.firms:,} numbers; "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
        took = c.prepare_database(url, args.firms)
        print(f"  firms loaded in {took:.1f} s", flush=True)
        numbers = c.firm_number_list(args.firms)
        secret = c.new_secret()
        servers = []
        results = {}
        try:
            servers.append(bare := c.start_bare(work))
            servers.append(app := c.start_app(c.app_env(url, secret, work), work))
            targets = {"bare": bare, "app": app}
            n_latency = max(1, int(args.rate * args.seconds))
            print("  signing requests …", flush=True)
            plans = {name: {"warmup": build_requests(s, secret, numbers, WARMUP, rng),
                            "closed": build_requests(s, secret, numbers, args.requests, rng),
                            "open": build_requests(s, secret, numbers, n_latency, rng)}
                     for name, s in targets.items()}
            for name, s in targets.items():
                warm = c.run_closed_loop(s.port, plans[name]["warmup"], 8, 30)
                if warm.errors:
                    raise SystemExit(f"{name}: {warm.errors} errors while warming up, e.g. {warm.first_error}\n"
                                     f"{s.log_tail()}")
            for name, s in targets.items():
                print(f"  throughput: {name} …", flush=True)
                results[name, "closed"] = measure_closed(s, plans[name]["closed"], args, url)
            for name, s in targets.items():
                print(f"  {args.rate:g} calls/s for {args.seconds:g} s: {name} …", flush=True)
                results[name, "open"] = measure_open(s, plans[name]["open"], args, url)
            for name, s in targets.items():
                print(f"  a burst of {args.burst} calls at once: {name} …", flush=True)
                requests, sids = build_burst(s, secret, numbers, args.burst, rng)
                with PeakConnections(url) as peak:
                    results[name, "burst"] = asyncio.run(burst(s.port, requests))
                results[name, "burst"].peak_connections = peak.peak
                if name == "app":
                    results["burst recorded"] = recorded_of(url, sids)
                    results["burst spooled"] = s.log_tail(100_000).count("kept in the spool")
        finally:
            for s in reversed(servers):
                s.stop()

        recorded = check_calls(url)
        c.release_connections()
    report(args, kind, results, recorded)
    return 0


def check_calls(url: str) -> dict:
    """What the app wrote: one call per answered request, every one matched to a firm."""
    from app import db
    from app.calls.models import Call

    db.bind(url)
    with db.db.connection_context():
        return {"calls": Call.select().count(),
                "unknown": Call.select().where(Call.tenant.is_null()).count(),
                "forwarded": Call.select().where(Call.forwarded_from != "").count(),
                "queued": Call.select().where(Call.status == "queued").count()}


def report(args, kind: str, results: dict, recorded: dict) -> None:
    bare_c, bare_mc = results["bare", "closed"]
    app_c, app_mc = results["app", "closed"]
    bare_o, bare_mo = results["bare", "open"]
    app_o, app_mo = results["app", "open"]
    bare_b, app_b = results["bare", "burst"], results["app", "burst"]
    recorded_b = results["burst recorded"]
    postgres = kind == "PostgreSQL"

    def lat(r: c.LoadResult, p: float) -> str:
        return ms(c.percentile(sorted(r.latencies), p))

    def per_request(cpu: float, r: c.LoadResult) -> str:
        return f"{cpu / r.ok * 1000:.2f}" if r.ok else "-"

    def busy(cpu: float, m: c.CPUMeter) -> str:
        return f"{cpu / m.seconds:.0%}"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.0%}" if b else "-"

    def cpu_rows(bare: c.LoadResult, mb: c.CPUMeter, app: c.LoadResult, ma: c.CPUMeter) -> list[list[str]]:
        rows = [["    server CPU per request (ms)", per_request(mb.server[0], bare), per_request(ma.server[0], app), ""],
                ["    server CPU busy (% of one core)", busy(mb.server[0], mb), busy(ma.server[0], ma), ""]]
        if postgres:
            rows.append(["    PostgreSQL backends' CPU per request (ms)", "", per_request(ma.database_cpu, app), ""])
        rows += [["    client CPU busy (% of one core, all procs)", busy(mb.client, mb), busy(ma.client, ma), ""],
                 ["    other processes on the machine (cores)", f"{mb.other_cores:.2f}", f"{ma.other_cores:.2f}", ""]]
        return rows

    rows = [
        [f"(a) max throughput, {args.concurrency} connections", "", "", ""],
        ["    requests/s", f"{bare_c.rate:,.0f}", f"{app_c.rate:,.0f}", ratio(app_c.rate, bare_c.rate)],
        ["    answered (200 + TwiML) / errors", f"{bare_c.ok} / {bare_c.errors}", f"{app_c.ok} / {app_c.errors}", ""],
        ["    measured for (s)", f"{bare_c.elapsed:.1f}", f"{app_c.elapsed:.1f}", ""],
        ["    latency under load p50 / p99 (ms)", f"{lat(bare_c, 50)} / {lat(bare_c, 99)}",
         f"{lat(app_c, 50)} / {lat(app_c, 99)}", ""],
        *cpu_rows(bare_c, bare_mc, app_c, app_mc),
        [f"(b) {args.rate:g} calls/s offered for {args.seconds:g} s (open loop)", "", "", ""],
        ["    latency p50 (ms)", lat(bare_o, 50), lat(app_o, 50), ""],
        ["    latency p95 (ms)", lat(bare_o, 95), lat(app_o, 95), ""],
        ["    latency p99 (ms)", lat(bare_o, 99), lat(app_o, 99), ""],
        ["    latency max (ms)", ms(max(bare_o.latencies, default=0)), ms(max(app_o.latencies, default=0)), ""],
        ["    answered / errors", f"{bare_o.ok} / {bare_o.errors}", f"{app_o.ok} / {app_o.errors}", ""],
        ["    achieved rate (req/s)", f"{bare_o.ok / bare_o.elapsed:.1f}", f"{app_o.ok / app_o.elapsed:.1f}", ""],
        ["    client send lateness p99 / max (ms)",
         f"{lat_of(bare_o.lateness, 99)} / {ms(max(bare_o.lateness, default=0))}",
         f"{lat_of(app_o.lateness, 99)} / {ms(max(app_o.lateness, default=0))}", ""],
        *cpu_rows(bare_o, bare_mo, app_o, app_mo),
        [f"(c) a burst of {args.burst} calls at once, a connection each", "", "", ""],
        ["    answered (200 + TwiML) / errors", f"{bare_b.ok} / {bare_b.errors}", f"{app_b.ok} / {app_b.errors}", ""],
        ["    latency p50 / p99 / max (ms)", f"{lat(bare_b, 50)} / {lat(bare_b, 99)} / {ms(max(bare_b.latencies, default=0))}",
         f"{lat(app_b, 50)} / {lat(app_b, 99)} / {ms(max(app_b.latencies, default=0))}", ""],
        ["    all answered after (s)", f"{bare_b.elapsed:.2f}", f"{app_b.elapsed:.2f}", ""],
        ["    calls recorded / sent", "", f"{recorded_b} / {app_b.sent} = {recorded_b / app_b.sent:.1%}", ""],
        ["    … of which kept in the spool first", "", f"{results['burst spooled']}", ""],
    ]
    if postgres:
        rows.append(["    PostgreSQL connections at the peak", "", f"{app_b.peak_connections}", ""])
    print()
    print(f"POST /twilio/voice — {kind}, {args.firms:,} firms / {2 * args.firms:,} numbers, one uvicorn worker each")
    print(c.table(["", "bare", "app", "app/bare"], rows))
    print()
    for name, r in (("bare", bare_c), ("app", app_c), ("bare", bare_o), ("app", app_o), ("bare", bare_b), ("app", app_b)):
        if r.first_error:
            print(f"  first error ({name}): {r.first_error}")
    answered = app_c.ok + app_o.ok + WARMUP + results["app", "burst"].ok
    print(f"  the app recorded {recorded['calls']:,} calls for {answered:,} answered requests; "
          f"{recorded['forwarded']:,} forwarded, {recorded['calls'] - recorded['forwarded']:,} dialled; "
          f"{recorded['unknown']} to an unknown number; {recorded['queued']:,} queued")
    client_share = bare_mc.client / bare_mc.seconds / max(1, args.client_procs)
    if bare_c.rate >= 3 * app_c.rate and client_share < 0.9:
        print(f"  client check: the bare endpoint took {bare_c.rate / app_c.rate:.1f}× the app's rate from the same "
              f"client (client busy {client_share:.0%} of a core per process): the app figure is not client-bound.")
    else:
        print(f"  client check: WARNING — the client was busy {client_share:.0%} of a core per process at the bare "
              f"endpoint's {bare_c.rate:,.0f} req/s; the bare figure may be client- or CPU-bound "
              f"(this machine has {os.cpu_count()} CPUs). Try --client-procs 2.")
    disturbed = max(m.other_cores for m in (bare_mc, app_mc, bare_mo, app_mo))
    print(c.machine_check(disturbed))
    print()
    ratio_ok = app_c.rate >= THROUGHPUT_RATIO_TARGET * bare_c.rate and not app_c.errors
    p99 = c.percentile(sorted(app_o.latencies), 99) * 1000
    p99_ok = p99 < P99_TARGET_MS and not app_o.errors
    print(f"  target: app throughput ≥ {THROUGHPUT_RATIO_TARGET:.0%} of bare: "
          f"{app_c.rate:,.0f} / {bare_c.rate:,.0f} = {app_c.rate / bare_c.rate:.1%}   {c.verdict(ratio_ok)}")
    print(f"  target: app p99 < {P99_TARGET_MS:g} ms at {args.rate:g} calls/s: {p99:.2f} ms   {c.verdict(p99_ok)}")
    burst_ok = recorded_b == app_b.sent and app_b.ok == app_b.sent
    print(f"  target: a burst of {args.burst}: every call answered and recorded: {app_b.ok} answered, "
          f"{recorded_b} recorded of {app_b.sent} sent = {recorded_b / app_b.sent:.1%}   {c.verdict(burst_ok)}")
    burst_p99 = c.percentile(sorted(app_b.latencies), 99)
    print(f"  target: burst p99 < {BURST_P99_TARGET_S:g} s (the provider waits 15 s): {burst_p99:.2f} s   "
          f"{c.verdict(burst_p99 < BURST_P99_TARGET_S and burst_ok)}")

if __name__ == "__main__":
    c.run(main)
