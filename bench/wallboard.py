#!/usr/bin/env python
"""Wallboard fan-out: with --supervisors wallboards (/supervisor/events) and --operators consoles
(/console/events) open on one web process, the time from an inbound-call webhook to the call
appearing on every screen, and from the caller hanging up to it leaving every screen.

    .venv/bin/python bench/wallboard.py                   # SQLite (in-process events), then PostgreSQL
    .venv/bin/python bench/wallboard.py --modes sqlite    # only SQLite

Modes, each with a fresh database holding --firms firms, the supervisors and the operators (half of
them available, the others on break), all signed in:

  sqlite    SQLite, one web process, in-process events
  postgres  a throw-away PostgreSQL database (--postgres-url), one web process, LISTEN/NOTIFY

--waiting calls are put in the queue first and stay there. Then --calls calls, one at a time at
up to --rate per second: the clock starts just before the signed POST /twilio/voice and stops, for
each screen, when its stream delivers the update showing the call (a wallboard's waiting part with
the call's id; a console's list with the caller's number). Then the caller hangs up (a signed
/twilio/status, CallStatus=completed: an abandoned call) and the clock runs again until every
screen has the update without it. The next call starts when every screen has both.

Baseline, in the same run: the bus alone. In the bench process, the same kind of bus (in-process,
or LISTEN/NOTIFY on the same database) with as many subscribers as screens: publish → received by
each subscriber, for as many events at the same rate. The app's figure is that plus the webhook's
own work, the database reads and renders, and the HTTP streams.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

TARGET_MS = 200.0
MODES = ("sqlite", "postgres")
TITLES = {"sqlite": "SQLite, in-process events", "postgres": "PostgreSQL, LISTEN/NOTIFY"}


@dataclass
class ModeResult:
    mode: str
    skipped: str = ""
    board: list[float] = field(default_factory=list)  # POST sent → update on a wallboard (each screen, each event)
    console: list[float] = field(default_factory=list)  # the same on an operator's console
    last_screen: list[float] = field(default_factory=list)  # POST sent → the last of all screens updated, per event
    post_times: list[float] = field(default_factory=list)
    bus: list[float] = field(default_factory=list)  # the baseline: publish → each subscriber
    missed: int = 0
    errors: int = 0
    first_error: str = ""
    other_cores: float = 0.0
    server_cpu: float = 0.0
    wall: float = 0.0


class Stream(asyncio.Protocol):
    """One browser's event stream: the HTTP/1.1 chunked body de-chunked, split into events, each kept
    with the moment it was read."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "board" or "console"
        self.raw = bytearray()
        self.body = bytearray()
        self.head_done = False
        self.status = 0
        self.events: list[tuple[float, bytes]] = []
        self.changed = asyncio.Event()
        self.lost = False

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = int(self.raw[9:12])
            del self.raw[:end + 4]
            self.head_done = True
        while True:  # chunks: size in hex, CRLF, data, CRLF
            line = self.raw.find(b"\r\n")
            if line < 0:
                break
            size = int(self.raw[:line].split(b";")[0], 16)
            if len(self.raw) < line + 2 + size + 2:
                break
            self.body += self.raw[line + 2:line + 2 + size]
            del self.raw[:line + 2 + size + 2]
        while (end := self.body.find(b"\n\n")) >= 0:
            event = bytes(self.body[:end])
            del self.body[:end + 2]
            if not event.startswith(b":"):
                self.events.append((now, event))
        self.changed.set()

    def connection_lost(self, exc) -> None:
        self.lost = True
        self.changed.set()

    async def first(self, since_index: int, match, deadline: float) -> tuple[float | None, int]:
        """The time of the first event from ``since_index`` on for which ``match(event)`` holds, and the
        index after it; (None, index) at the deadline."""
        i = since_index
        while True:
            while i < len(self.events):
                at, event = self.events[i]
                i += 1
                if match(event):
                    return at, i
            if self.lost or (remaining := deadline - time.perf_counter()) <= 0:
                return None, i
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                return None, i


def prepare_people(url: str, secret: str, supervisors: int, operators: int) -> list[tuple[str, str]]:
    """The supervisors and operators, each signed in as the log-in page would (a session and its
    signed cookie); half the operators available. Returns [(kind, cookie)]."""
    from itsdangerous import Signer

    from app import db
    from app.accounts.models import Session, User
    from app.calls.models import OperatorPresence

    db.bind(url)
    signer = Signer(secret, salt="dengon.session")
    people = []
    with db.db.connection_context(), db.db.atomic():
        for role, count in (("supervisor", supervisors), ("operator", operators)):
            for i in range(count):
                user = User.create(email=f"bench-{role}-{i}@example.com", name=f"{'監督' if role == 'supervisor' else '応対'} {i:03d}",
                                   role=role, password_hash="!")  # nobody logs in with a password here
                _session, token = Session.start(user)
                if role == "operator":
                    OperatorPresence.set(user, i % 2 == 0)
                people.append(("board" if role == "supervisor" else "console",
                               f"dengon_session={signer.sign(token).decode()}"))
    c.release_connections()
    return people


async def open_streams(server: c.Server, people) -> list[Stream]:
    loop = asyncio.get_running_loop()
    streams = []
    for kind, cookie in people:
        path = "/supervisor/events" if kind == "board" else "/console/events"
        transport, stream = await loop.create_connection(lambda: Stream(kind), c.HOST, server.port)
        transport.write(f"GET {path} HTTP/1.1\r\nHost: {c.HOST}:{server.port}\r\nCookie: {cookie}\r\n"
                        f"Accept: text/event-stream\r\n\r\n".encode())
        streams.append((transport, stream))
    deadline = time.perf_counter() + 30
    while any(not s.events for _t, s in streams) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    if bad := [s for _t, s in streams if s.status != 200 or not s.events]:
        raise SystemExit(f"{len(bad)} event streams did not open (HTTP {bad[0].status})\n{server.log_tail()}")
    return streams


def display(e164: str) -> bytes:
    from app import phones
    return phones.display(e164, c.REGION).encode()


def call_id(url: str, sid: str) -> int | None:
    from app import db
    from app.calls.models import Call

    with db.db.connection_context():
        call = Call.get_or_none(Call.sid == sid)
        return call.id if call else None


async def measure(server: c.Server, secret: str, url: str, people, numbers, args, result: ModeResult) -> None:
    from app import db

    db.bind(url)
    settings = c.settings_for(server.url, secret)
    rng = random.Random(args.seed)
    opened = await open_streams(server, people)
    streams = [s for _t, s in opened]
    conn = await c.HTTPConnection.open(server.port)

    async def post(path: str, params: dict) -> tuple[float, str]:
        nonlocal conn
        data = c.raw_request(settings, server.port, path, params)
        if conn.lost is not None:
            conn = await c.HTTPConnection.open(server.port)
        sent = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(conn.request(data), 10)
        except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
            conn.close()
            conn = await c.HTTPConnection.open(server.port)
            return sent, f"{type(exc).__name__}: {exc}"
        result.post_times.append(time.perf_counter() - sent)
        return sent, "" if status in (200, 204) else f"HTTP {status}: {body[:120]!r}"

    def matcher(stream: Stream, needle: bytes, shown: bool, ident: bytes):
        if stream.kind == "board":
            return lambda e: e.startswith(b"event: waiting\n") and ((ident in e) == shown)
        return lambda e: e.startswith(b"event: calls\n") and ((needle in e) == shown)

    async def everywhere(sent: float, needle: bytes, shown: bool, ident: bytes, marks: list[int]) -> None:
        deadline = sent + args.timeout
        found = await asyncio.gather(*(s.first(marks[i], matcher(s, needle, shown, ident), deadline)
                                       for i, s in enumerate(streams)))
        times = []
        for i, (at, index) in enumerate(found):
            marks[i] = index
            if at is None:
                result.missed += 1
                continue
            (result.board if streams[i].kind == "board" else result.console).append(at - sent)
            times.append(at - sent)
        if len(times) == len(streams):
            result.last_screen.append(max(times))

    try:
        marks = [len(s.events) for s in streams]
        for k in range(args.waiting):  # calls that wait throughout: no list is trivially short
            caller = f"+81703000{k:04d}"
            params = c.voice_params(rng.choice(numbers), caller)
            sent, error = await post("/twilio/voice", params)
            if error:
                raise SystemExit(f"a waiting call was refused: {error}\n{server.log_tail()}")
            ident = f'data-call="{await asyncio.to_thread(call_id, url, params["CallSid"])}"'.encode()
            await everywhere(sent, display(caller), True, ident, marks)
        result.board.clear(), result.console.clear(), result.last_screen.clear()
        result.post_times.clear()
        result.missed = 0

        started = time.perf_counter() + 0.05
        for i in range(args.calls):
            delay = started + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            caller = f"+81802{i:07d}"
            params = c.voice_params(rng.choice(numbers), caller)
            sent, error = await post("/twilio/voice", params)
            if error:
                result.errors += 1
                result.first_error = result.first_error or error
                continue
            ident = f'data-call="{await asyncio.to_thread(call_id, url, params["CallSid"])}"'.encode()
            await everywhere(sent, display(caller), True, ident, marks)
            sent, error = await post("/twilio/status", c.status_params(params["CallSid"], caller, params["To"]))
            if error:
                result.errors += 1
                result.first_error = result.first_error or error
                continue
            await everywhere(sent, display(caller), False, ident, marks)
        result.wall = time.perf_counter() - started
    finally:
        conn.close()
        for transport, _s in opened:
            transport.close()
        c.release_connections()


async def bus_baseline(url: str, subscribers: int, events: int, rate: float) -> list[float]:
    """The bus alone, in this process: publish → each subscriber, ``events`` times at ``rate``."""
    from app import events as bus_module, settings as settings_module

    bus = bus_module.make_bus(settings_module.load({"DATABASE_URL": url, "SECRET_KEY": "x" * 32}))
    await bus.start()
    latencies: list[float] = []
    try:
        subs = [bus.subscribe() for _ in range(subscribers)]
        for s in subs:
            await s.__aenter__()
        sent_at: dict[int, float] = {}

        async def receive(sub):
            got = 0
            async for _topic, data in sub:
                latencies.append(time.perf_counter() - sent_at[data["n"]])
                got += 1
                if got == events:
                    return

        readers = [asyncio.create_task(receive(s)) for s in subs]
        started = time.perf_counter()
        for n in range(events):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[n] = time.perf_counter()
            # From a thread, as a request handler publishes.
            await asyncio.to_thread(bus.publish, "bench", {"n": n})
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        for s in subs:
            await s.__aexit__(None, None, None)
    finally:
        await bus.stop()
    return latencies


def run_mode(mode: str, args, work: Path, numbers: list) -> ModeResult:
    result = ModeResult(mode)
    if mode == "postgres" and not c.answers(args.postgres_url, 5432):
        result.skipped = f"no PostgreSQL at {args.postgres_url}"
        return result
    print(f"{TITLES[mode]}: preparing …", flush=True)
    database = args.postgres_url if mode == "postgres" else f"sqlite:///{work / (mode + '.db')}"
    secret = c.new_secret()
    with c.throwaway_database(database, work) as url:
        c.prepare_database(url, args.firms)
        people = prepare_people(url, secret, args.supervisors, args.operators)
        server = c.start_app(c.app_env(url, secret, work), work, mode)
        try:
            print(f"{TITLES[mode]}: {args.supervisors} wallboards and {args.operators} consoles open, "
                  f"{args.calls} calls at {args.rate:g}/s …", flush=True)
            cpu0 = server.cpu()
            with c.CPUMeter([server], url) as meter:
                asyncio.run(measure(server, secret, url, people, numbers, args, result))
            result.other_cores = meter.other_cores
            result.server_cpu = server.cpu() - cpu0
        finally:
            server.stop()
            c.release_connections()
        print(f"{TITLES[mode]}: the bus alone …", flush=True)
        result.bus = asyncio.run(bus_baseline(url, args.supervisors + args.operators, 2 * args.calls, args.rate * 2))
    return result


def report(args, results: list[ModeResult]) -> None:
    def ms(values: list[float], p: float) -> str:
        return f"{c.percentile(values, p) * 1000:.1f}" if values else "-"

    def row(name, values, target=False):
        ok = bool(values) and c.percentile(values, 99) * 1000 < TARGET_MS
        return [name, f"{len(values):,}", ms(values, 50), ms(values, 90), ms(values, 99),
                ms(values, 100), c.verdict(ok) if target else ""]

    print()
    print(f"Wallboard fan-out — {args.supervisors} wallboards and {args.operators} operators' consoles on one web process; "
          f"{args.firms:,} firms, {args.waiting} calls waiting throughout, {args.calls} calls arriving then abandoned "
          f"at {args.rate:g}/s; {os.cpu_count()} CPUs, Python {platform.python_version()}")
    for r in results:
        print()
        if r.skipped:
            print(f"{TITLES[r.mode]}: skipped: {r.skipped}")
            continue
        everyone = r.board + r.console
        s_board, s_console = sorted(r.board), sorted(r.console)
        print(f"{TITLES[r.mode]} (ms, from the webhook POST sent; an event is a call arriving or its caller hanging up)")
        print(c.table(["", "samples", "p50", "p90", "p99", "max", f"p99 < {TARGET_MS:g} ms"], [
            row("→ each wallboard", s_board, target=True),
            row("→ each console", s_console, target=True),
            row("→ every screen", sorted(everyone), target=True),
            row("→ the last screen, per event", sorted(r.last_screen)),
            row("baseline: webhook POST → its reply", sorted(r.post_times)),
            row(f"baseline: the bus alone, publish → each of {args.supervisors + args.operators} subscribers",
                sorted(r.bus)),
        ]))
        notes = [f"missed {r.missed}", f"errors {r.errors}", f"measured over {r.wall:.0f} s",
                 f"server CPU {r.server_cpu:.1f} s ({r.server_cpu / max(1, 2 * args.calls) * 1000:.1f} ms an event)",
                 f"other processes on the machine used {r.other_cores:.2f} cores"
                 + (" — WARNING: disturbed, run again on a quiet machine" if r.other_cores > c.QUIET_CORES else "")]
        if r.first_error:
            notes.append(f"first error: {r.first_error}")
        print("  " + "; ".join(notes))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)} (default both; "
                                                             "postgres is skipped when its server does not answer)")
    p.add_argument("--supervisors", type=int, default=20, help="wallboards open (default 20)")
    p.add_argument("--operators", type=int, default=200, help="operators' consoles open (default 200)")
    p.add_argument("--calls", type=int, default=100, help="measured calls per mode, each arriving then abandoned (default 100)")
    p.add_argument("--rate", type=float, default=2.0, help="calls per second, at most (default 2)")
    p.add_argument("--waiting", type=int, default=3, help="calls kept waiting throughout (default 3)")
    p.add_argument("--firms", type=int, default=100, help="firms, each with 2 numbers (default 100)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for every screen (default 10)")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="server and database beside which a throw-away database is created and dropped")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (server logs, SQLite files)")
    args = p.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        p.error(f"--modes: unknown {', '.join(sorted(unknown))}")
    if c.urlsplit(args.postgres_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        p.error("--postgres-url: the bench only talks to 127.0.0.1")
    c.sigterm_as_interrupt()
    c.use_uvloop()
    numbers = c.firm_number_list(args.firms)
    results = []
    with c.workdir(args.keep) as work:
        for mode in modes:
            results.append(run_mode(mode, args, work, numbers))
    report(args, results)
    return 0


if __name__ == "__main__":
    c.run(main)
