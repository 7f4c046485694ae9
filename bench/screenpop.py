#!/usr/bin/env python
"""Screen pop: the time from an inbound-call webhook POST to the waiting-call list that shows the
call arriving on a connected operator's event stream (GET /console/events).

    .venv/bin/python bench/screenpop.py                   # every mode whose server answers
    .venv/bin/python bench/screenpop.py --modes inproc    # only in-process

Modes, each with a fresh database holding --firms firms and one operator:

  inproc    SQLite, one web process: post and listen on the same process (in-process events)
  redis     SQLite, two web processes with REDIS_URL: post to B, listen on A (Redis pub/sub)
  postgres  a throw-away PostgreSQL database, two web processes: post to B, listen on A
            (LISTEN/NOTIFY)

The operator logs in on A (httpx2) and keeps its event stream open. --waiting calls are put in
the queue first and stay there, so each list has a realistic length. Then --calls calls, one at a
time at --rate per second, each from its own caller number: the clock starts just before the
signed POST /twilio/voice goes to B and stops when the first list containing that caller's
number arrives on A's stream. The call is then ended with a signed /twilio/status
(CallStatus=completed), and the list without it is awaited before the next call, so every event
is attributed to its call.

Then take → screen pop (--takes): the operator becomes available and takes calls of a firm of 50
staff from a caller with 100 earlier calls and messages there, as the console does (POST
/console/calls/{id}/take, then the GET its HX-Location makes), timed until the screen pop's HTML
is read in full; the baseline is that GET's own SELECTs, captured from the app and run directly
through the database driver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

import httpx2  # noqa: E402

P99_TARGET_MS = 100.0
MODES = ("inproc", "redis", "postgres")
TITLES = {"inproc": "in-process events (SQLite)", "redis": "Redis pub/sub (SQLite)",
          "postgres": "PostgreSQL LISTEN/NOTIFY"}


# ---------------------------------------------------------------------------------------------
# take → screen pop: a firm of 50 staff and a caller with 100 earlier calls and messages there

TAKE_TARGET_MS = 150.0
POP_STAFF, POP_HISTORY = 50, 100
POP_CALLER = "+819011112222"
POP_FORWARDED, POP_DEDICATED = "03-6999-0001", "050-6999-0002"  # beside the bench firms' 03-5…/050-7…
POP_FIELDS = ["caller_name", "caller_company", "callback_number", "for_staff", "body"]


def pop_firm_raw(rng: random.Random) -> dict:
    """A large firm's tenant file: 50 staff, 10 call types whose scripts and put-through lists name them."""
    staff = [{"key": f"s{i:02d}", "name": f"社員 {i:02d}", "name_kana": f"しゃいん {i:02d}", "title": "課長",
              "email": f"s{i:02d}@pop.example.jp", "mobile": c.mobile(rng)} for i in range(POP_STAFF)]
    call_types = [{"key": f"ct{i:02d}", "label": f"用件 {i:02d}", "category": "message",
                   "script": f"用件 {i:02d} のときは、ご用件とご連絡先を伺い、担当者を確認してください。" * 3,
                   "fields": POP_FIELDS, "required": ["caller_name", "callback_number"],
                   "readback": ["caller_name", "callback_number"],
                   "transfer_to_staff": [f"s{i:02d}", f"s{i + 10:02d}"],
                   "extra_fields": [{"key": "case_no", "label": "案件番号", "type": "text"}]} for i in range(10)]
    return {"slug": "pop", "name": "画面表示株式会社", "name_kana": "がめんひょうじかぶしきがいしゃ",
            "answer_phrase": "お電話ありがとうございます。画面表示株式会社でございます。",
            "instructions": "折り返しは担当者から。至急の場合は山田の携帯へ。\n\n" * 10,
            "numbers": [{"number": POP_FORWARDED, "kind": "forwarded"}, {"number": POP_DEDICATED, "kind": "dedicated"}],
            "staff": staff, "call_types": call_types}


def prepare_pop_firm(url: str, operator_email: str, seed: int) -> tuple[str, str]:
    """Load the large firm, set its in/out board and notices, and give the caller 100 earlier calls,
    each with its message. Returns (the firm's dedicated number in E.164, "dedicated")."""
    import datetime as dt

    from app import db
    from app.accounts.models import User
    from app.calls.models import COMPLETED, Call
    from app.messages.models import Message
    from app.presence.models import Notice
    from app.tenants import config, store
    from app.tenants.models import AWAY, OFF, OUT, Staff

    rng = random.Random(seed)
    db.bind(url)
    with db.db.connection_context():
        validated, problems = config.validate(pop_firm_raw(rng), default_region=c.REGION)
        assert not problems, problems
        tenant = store.import_config(validated)
        now = db.utcnow()
        staff = list(Staff.select().where(Staff.tenant == tenant).order_by(Staff.position))
        for i, s in enumerate(staff):  # a third out, a sixth away, a sixth off; most with a note and a return time
            presence = {0: OUT, 1: OUT, 2: AWAY, 3: OFF}.get(i % 6)
            if presence:
                Staff.update(presence=presence, presence_note=f"{14 + i % 4}時戻り、外出先は客先", presence_at=now,
                             presence_until=now + dt.timedelta(hours=3)).where(Staff.id == s.id).execute()
        for k in range(3):
            Notice.create(tenant=tenant, text=f"お知らせ {k}: 年末年始は休業。急ぎは担当者の携帯へ。" * 2,
                          staff=staff[k], starts_at=now - dt.timedelta(days=1))
        operator = User.get(User.email == operator_email)
        with db.db.atomic():
            for k in range(POP_HISTORY):
                at = now - dt.timedelta(hours=POP_HISTORY - k)
                call = Call.create(sid=f"CAPOP{k:030d}", tenant=tenant, to_number=c._e164(POP_DEDICATED),
                                   from_number=POP_CALLER, status=COMPLETED, arrived_at=at, claimed_by=operator,
                                   claimed_at=at, answered_at=at, ended_at=at + dt.timedelta(minutes=2),
                                   wait_seconds=8, talk_seconds=120)
                Message.create(tenant=tenant, call=call, call_type=f"ct{k % 10:02d}", call_type_label=f"用件 {k % 10:02d}",
                               category="message", fields={"caller_name": "鈴木 一郎", "callback_number": POP_CALLER,
                                                           "for_staff": staff[k % POP_STAFF].key,
                                                           "body": f"{k} 回目のお電話。見積書の件で折り返しをお願いします。" * 2},
                               readback={}, taken_at=at + dt.timedelta(minutes=3), taken_by=operator)
        c.settle()
    c.release_connections()
    return c._e164(POP_DEDICATED), "dedicated"


def capture_pop_queries(env: dict, email: str, password: str, call_id: int) -> list[tuple[str, tuple]]:
    """The SQL one screen pop runs, as the app runs it (in this process, through the app's own
    TestClient): the request the console's htmx sends after a take."""
    import logging

    from starlette.testclient import TestClient

    from app import settings as settings_module
    from app.main import create_app

    captured: list[tuple[str, tuple]] = []

    class Capture(logging.Handler):
        def emit(self, record) -> None:
            if isinstance(record.msg, tuple):
                captured.append(record.msg)

    app = create_app(settings_module.load({**env, "PUBLIC_URL": "http://testserver"}))
    logger, handler = logging.getLogger("peewee"), Capture()
    with TestClient(app, base_url="http://testserver") as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        client.post("/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False)
        client.get(f"/console/calls/{call_id}", headers={"HX-Request": "true", "HX-Target": "main"})  # warm
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        try:
            response = client.get(f"/console/calls/{call_id}", headers={"HX-Request": "true", "HX-Target": "main"})
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
        assert response.status_code == 200, response.status_code
    return captured


def replay_queries(url: str, queries: list[tuple[str, tuple]], repeat: int) -> list[float]:
    """The screen pop's reads run directly through the database driver, ``repeat`` times: rows fetched,
    no model built, no template, no HTTP. Writes (a session's last use) are left out."""
    from app import db

    reads = [(sql, params) for sql, params in queries if sql.lstrip().upper().startswith("SELECT")]
    db.bind(url)
    times = []
    with db.db.connection_context():
        for i in range(repeat + 20):
            started = time.perf_counter()
            for sql, params in reads:
                db.db.execute_sql(sql, params).fetchall()
            if i >= 20:
                times.append(time.perf_counter() - started)
    c.release_connections()
    return times


@dataclass
class ModeResult:
    mode: str
    skipped: str = ""
    processes: str = ""
    latencies: list[float] = field(default_factory=list)  # POST sent → list with the call on the stream
    post_times: list[float] = field(default_factory=list)  # POST sent → its response
    before_response: int = 0  # events that arrived before the webhook's own response
    missed: int = 0  # no list with the call within --timeout
    gone_missed: int = 0  # no list without the call within --timeout after it ended
    strays: int = 0  # lists that arrived while waiting and did not show the call
    errors: int = 0
    first_error: str = ""
    list_length: int = 0  # calls in the list when the call under test is in it
    load_seconds: float = 0.0
    other_cores: float = 0.0  # CPU other processes on the machine used meanwhile, in cores
    wall: float = 0.0
    # take → screen pop
    takes: list[float] = field(default_factory=list)  # POST …/take sent → the screen pop's HTML read in full
    take_posts: list[float] = field(default_factory=list)  # POST …/take sent → its 204
    pop_gets: list[float] = field(default_factory=list)  # GET of the screen pop → its HTML read in full
    take_errors: int = 0
    take_first_error: str = ""
    pop_bytes: int = 0
    pop_queries: int = 0  # SQL statements of one screen pop (its GET)
    pop_reads: int = 0
    baseline: list[float] = field(default_factory=list)  # those reads run directly through the driver


class _Drain(asyncio.Protocol):
    """Another operator's event stream: read and thrown away (it costs the server, not the client)."""

    def __init__(self) -> None:
        self.head = b""
        self.received = 0

    def data_received(self, data: bytes) -> None:
        if len(self.head) < 12:
            self.head += data[:12]
        self.received += len(data)


async def other_operators(server: c.Server, cookies: str, count: int) -> list:
    loop = asyncio.get_running_loop()
    streams = []
    for _ in range(count):
        transport, stream = await loop.create_connection(_Drain, c.HOST, server.port)
        transport.write(f"GET /console/events HTTP/1.1\r\nHost: {c.HOST}:{server.port}\r\nCookie: {cookies}\r\n"
                        f"Accept: text/event-stream\r\n\r\n".encode())
        streams.append((transport, stream))
    deadline = time.perf_counter() + 10
    while any(s.received == 0 for _t, s in streams) and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    if not all(s.head.startswith(b"HTTP/1.1 200") for _t, s in streams):
        raise SystemExit("another operator's /console/events did not open")
    return streams


def display(e164: str) -> str:
    """How the waiting list writes a JP caller: national format (the template's |phone filter)."""
    from app import phones
    return phones.display(e164, c.REGION)


async def measure(a: c.Server, b: c.Server, email: str, password: str, secret: str, numbers: list,
                  args, result: ModeResult, env: dict | None = None, pop_number: tuple[str, str] | None = None) -> None:
    settings_b = c.settings_for(b.url, secret)
    rng = random.Random(args.seed)
    events: asyncio.Queue = asyncio.Queue()

    async with httpx2.AsyncClient(base_url=a.url, timeout=10) as browser:  # the operator's browser
        page = await browser.get("/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        response = await browser.post("/login", data={"email": email, "password": password, "csrf_token": token})
        if response.status_code != 303:
            raise SystemExit(f"log-in as {email} failed: HTTP {response.status_code}")

        async def read_stream() -> None:
            async with browser.stream("GET", "/console/events", timeout=httpx2.Timeout(10, read=None)) as stream:
                if stream.status_code != 200:
                    raise SystemExit(f"/console/events answered {stream.status_code}")
                data: list[str] = []
                async for line in stream.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[6:] if line.startswith("data: ") else line[5:])
                    elif not line and data:
                        events.put_nowait((time.perf_counter(), "\n".join(data)))
                        data = []

        conn: c.HTTPConnection | None = None
        cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
        others = await other_operators(a, cookies, args.operators - 1)
        reader = asyncio.create_task(read_stream())
        try:
            await asyncio.wait_for(events.get(), 10)  # the stream opens with the current list

            async def next_list(shows, deadline: float):
                """The arrival time of the first list for which ``shows(html)`` holds, or None."""
                while (remaining := deadline - time.perf_counter()) > 0:
                    if reader.done():
                        reader.result()
                        raise SystemExit("the event stream ended")
                    try:
                        at, html = await asyncio.wait_for(events.get(), remaining)
                    except asyncio.TimeoutError:
                        return None, ""
                    if shows(html):
                        return at, html
                    result.strays += 1
                return None, ""

            # Webhooks go over one keep-alive connection with the bench's lean client: it adds ~0.2 ms
            # to a request where httpx2 adds ~1 ms, which would count in every figure.
            conn = await c.HTTPConnection.open(b.port)

            async def post(path: str, params: dict):
                nonlocal conn
                data = c.raw_request(settings_b, b.port, path, params)
                if conn.lost is not None:
                    conn = await c.HTTPConnection.open(b.port)
                sent = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(conn.request(data), 10)
                except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
                    conn.close()
                    conn = await c.HTTPConnection.open(b.port)
                    return sent, None, f"{type(exc).__name__}: {exc}"
                return sent, time.perf_counter(), "" if status == 200 else f"HTTP {status}: {body[:120]!r}"

            # Calls that wait throughout: the list the operator is sent is never trivially short.
            for k in range(args.waiting):
                caller = f"+81703000{k:04d}"
                sent, _done, error = await post("/twilio/voice", c.voice_params(rng.choice(numbers), caller))
                if error or (await next_list(lambda html: display(caller) in html, sent + args.timeout))[0] is None:
                    raise SystemExit(f"a waiting call did not reach the operator's list: {error or 'timeout'}\n"
                                     f"{b.log_tail()}")

            started = time.perf_counter() + 0.05
            for i in range(args.calls):
                delay = started + i / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                caller = f"+81802{i:07d}"
                needle = display(caller)
                params = c.voice_params(rng.choice(numbers), caller)
                sent, answered, error = await post("/twilio/voice", params)
                if error:
                    result.errors += 1
                    result.first_error = result.first_error or error
                    continue
                result.post_times.append(answered - sent)
                arrived, html = await next_list(lambda h: needle in h, sent + args.timeout)
                if arrived is None:
                    result.missed += 1
                else:
                    result.latencies.append(arrived - sent)
                    result.before_response += arrived < answered
                    result.list_length = html.count('class="waiting-call')
                # End the call; its removal is a list event too, to be consumed before the next call.
                ended, _done, error = await post("/twilio/status",
                                                 c.status_params(params["CallSid"], caller, params["To"]))
                if error:
                    result.errors += 1
                    result.first_error = result.first_error or error
                elif (await next_list(lambda h: needle not in h, ended + args.timeout))[0] is None:
                    result.gone_missed += 1
            result.wall = time.perf_counter() - started
            if args.takes and pop_number is not None:
                await measure_takes(browser, post, next_list, env, email, password, pop_number, args, result)
        finally:
            if conn is not None:
                conn.close()
            for transport, _stream in others:
                transport.close()
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, httpx2.HTTPError):
                pass


TAKE_WARMUP = 10


def _call_id(html: str, needle: str) -> int | None:
    """The id of the waiting call whose row shows ``needle`` (the caller's number)."""
    for row in html.split('<li id="call-')[1:]:
        if needle in row.split("</li>", 1)[0]:
            return int(row.split('"', 1)[0])
    return None


async def measure_takes(browser, post, next_list, env: dict, email: str, password: str, pop_number: tuple[str, str],
                        args, result: ModeResult) -> None:
    """The operator becomes available, then takes each call of the large firm's caller as the console
    does: POST /console/calls/{id}/take (htmx, answered 204 with HX-Location), then the GET that
    HX-Location makes (HX-Target main: the screen pop without the page around it). Timed from the
    take being sent to the screen pop's HTML read in full. Each call is then ended by the provider."""
    page = await browser.get("/console")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
    response = await browser.post("/console/presence", data={"available": "1"}, headers=htmx)
    if response.status_code != 200:
        raise SystemExit(f"becoming available answered {response.status_code}")
    needle = display(POP_CALLER)
    print(f"  take → screen pop: {args.takes} takes …", flush=True)
    queries: list[tuple[str, tuple]] = []
    for i in range(args.takes + TAKE_WARMUP):
        params = c.voice_params(pop_number, POP_CALLER)
        sent, _done, error = await post("/twilio/voice", params)
        arrived, html = (None, "") if error else await next_list(lambda h: needle in h, sent + args.timeout)
        call_id = _call_id(html, needle) if arrived is not None else None
        if call_id is None:
            result.take_errors += 1
            result.take_first_error = result.take_first_error or error or "the call did not reach the list"
            continue
        started = time.perf_counter()
        take = await browser.post(f"/console/calls/{call_id}/take",
                                  headers={**htmx, "HX-Target": "take-result", "HX-Current-URL": f"{browser.base_url}console"})
        taken = time.perf_counter()
        pop = None
        if take.status_code == 204 and "HX-Location" in take.headers:
            location = json.loads(take.headers["HX-Location"])
            pop = await browser.get(location["path"], headers={
                **htmx, "HX-Target": location["target"].lstrip("#"), "HX-Current-URL": f"{browser.base_url}console"})
        done = time.perf_counter()
        if pop is None or pop.status_code != 200 or 'id="message-form"' not in pop.text or "画面表示株式会社" not in pop.text:
            result.take_errors += 1
            result.take_first_error = result.take_first_error or (
                f"take: HTTP {take.status_code} {take.text[:120]!r}" if pop is None else f"screen pop: HTTP {pop.status_code}")
        elif i >= TAKE_WARMUP:
            result.takes.append(done - started)
            result.take_posts.append(taken - started)
            result.pop_gets.append(done - taken)
            result.pop_bytes = len(pop.content)
        if i == args.takes + TAKE_WARMUP - 1 and pop is not None and pop.status_code == 200:
            # The baseline's queries: the same screen pop, the call still going on, as measured.
            queries = await asyncio.to_thread(capture_pop_queries, env, email, password, call_id)
        ended, _done, error = await post("/twilio/status", c.status_params(params["CallSid"], POP_CALLER, params["To"]))
        if error:
            result.take_errors += 1
            result.take_first_error = result.take_first_error or error
    if queries:
        result.pop_queries = len(queries)
        result.pop_reads = sum(sql.lstrip().upper().startswith("SELECT") for sql, _p in queries)
        result.baseline = await asyncio.to_thread(replay_queries, env["DATABASE_URL"], queries, args.takes)


def run_mode(mode: str, args, work: Path, numbers: list) -> ModeResult:
    result = ModeResult(mode, processes="1" if mode == "inproc" else "2: post B, listen A")
    if mode == "redis" and not c.answers(args.redis_url, 6379):
        result.skipped = f"no Redis at {args.redis_url}"
        return result
    if mode == "postgres" and not c.answers(args.postgres_url, 5432):
        result.skipped = f"no PostgreSQL at {args.postgres_url}"
        return result
    print(f"{TITLES[mode]}: preparing …", flush=True)
    database = args.postgres_url if mode == "postgres" else f"sqlite:///{work / (mode + '.db')}"
    secret = c.new_secret()
    with c.throwaway_database(database, work) as url:
        result.load_seconds = c.prepare_database(url, args.firms)
        email, password = c.add_operator(url)
        pop_number = prepare_pop_firm(url, email, args.seed) if args.takes else None
        extra = {"REDIS_URL": args.redis_url} if mode == "redis" else {}
        env = c.app_env(url, secret, work, **extra)
        servers = []
        try:
            servers.append(a := c.start_app(env, work, f"{mode}-A"))
            b = a
            if mode != "inproc":
                servers.append(b := c.start_app(env, work, f"{mode}-B"))
            print(f"{TITLES[mode]}: {args.calls} calls at {args.rate:g}/s …", flush=True)
            with c.CPUMeter(servers, url) as meter:
                asyncio.run(measure(a, b, email, password, secret, numbers, args, result, env, pop_number))
            result.other_cores = meter.other_cores
        finally:
            for s in reversed(servers):
                s.stop()
            c.release_connections()
    return result


def report(args, results: list[ModeResult]) -> None:
    def ms(v: float) -> str:
        return f"{v * 1000:.1f}"

    rows = []
    for r in results:
        if r.skipped:
            rows.append([TITLES[r.mode], "-", "-", "-", "-", "-", "-", "-", "-", "-", f"skipped: {r.skipped}"])
            continue
        lat, post = sorted(r.latencies), sorted(r.post_times)
        p99 = c.percentile(lat, 99) * 1000
        ok = bool(lat) and p99 < P99_TARGET_MS and not r.missed and not r.errors
        rows.append([TITLES[r.mode], r.processes, f"{len(lat)}/{args.calls}",
                     ms(c.percentile(lat, 50)), ms(c.percentile(lat, 90)), ms(c.percentile(lat, 99)),
                     ms(lat[-1]) if lat else "-", f"{r.missed}/{r.gone_missed}/{r.errors}",
                     f"{ms(c.percentile(post, 50))} / {ms(c.percentile(post, 99))}",
                     f"{r.before_response / len(lat):.0%}" if lat else "-", c.verdict(ok)])
    print()
    print(f"Screen pop — POST /twilio/voice → list with the call on the operator's /console/events; "
          f"{args.firms:,} firms, {args.operators} operator(s) on A, {args.waiting} other calls waiting, {args.calls} calls at {args.rate:g}/s; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(c.table(["mode", "web processes", "seen", "p50 ms", "p90 ms", "p99 ms", "max ms",
                   "missed/gone/err", "POST p50/p99 ms", "before POST reply", f"p99 < {P99_TARGET_MS:g} ms"], rows))
    print()
    for r in results:
        if r.skipped:
            continue
        notes = [f"firms loaded in {r.load_seconds:.1f} s", f"measured over {r.wall:.0f} s",
                 f"{r.list_length} calls in the list shown", f"{r.strays} unrelated list events",
                 f"other processes on the machine used {r.other_cores:.2f} cores"
                 + (" — WARNING: disturbed, run again on a quiet machine" if r.other_cores > c.QUIET_CORES else "")]
        if r.first_error:
            notes.append(f"first error: {r.first_error}")
        print(f"  {TITLES[r.mode]}: " + "; ".join(notes))
    print("  missed: no list with the call within --timeout; gone: no list without it after /twilio/status; "
          "before POST reply: the list reached the operator before the provider got its TwiML")
    taken = [r for r in results if not r.skipped and (r.takes or r.take_errors)]
    if not taken:
        return
    rows = []
    for r in taken:
        lat, base = sorted(r.takes), sorted(r.baseline)
        ok = bool(lat) and c.percentile(lat, 99) * 1000 < TAKE_TARGET_MS and not r.take_errors
        rows.append([TITLES[r.mode], f"{len(lat)}/{args.takes}", ms(c.percentile(lat, 50)), ms(c.percentile(lat, 95)),
                     ms(c.percentile(lat, 99)), ms(lat[-1]) if lat else "-",
                     f"{ms(c.percentile(sorted(r.take_posts), 50))} / {ms(c.percentile(sorted(r.pop_gets), 50))}",
                     f"{r.pop_queries} ({r.pop_reads} reads)",
                     f"{ms(c.percentile(base, 50))} / {ms(c.percentile(base, 95))} / {ms(c.percentile(base, 99))}",
                     str(r.take_errors), c.verdict(ok)])
    print()
    print(f"Take → screen pop — POST /console/calls/{{id}}/take, then the GET its HX-Location makes, until the "
          f"screen pop's HTML is read in full; a firm of {POP_STAFF} staff (a third out or away, with notes; 3 notices), "
          f"a caller with {POP_HISTORY} earlier calls and messages there; {TAKE_WARMUP} takes unmeasured first")
    print(c.table(["mode", "takes", "p50 ms", "p95 ms", "p99 ms", "max ms", "take / GET p50 ms", "SQL per pop",
                   "baseline p50/p95/p99 ms", "errors", f"p99 < {TAKE_TARGET_MS:g} ms"], rows))
    print()
    for r in taken:
        notes = [f"screen pop {r.pop_bytes:,} bytes"]
        if r.take_first_error:
            notes.append(f"first error: {r.take_first_error}")
        print(f"  {TITLES[r.mode]}: " + "; ".join(notes))
    print("  baseline: the SELECTs of one screen pop's GET (captured from the app), run directly through the "
          "database driver in the bench process: the database's share, without models, template or HTTP")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)} (default all; "
                                                             "a mode whose server does not answer is skipped)")
    p.add_argument("--calls", type=int, default=1000, help="measured calls per mode (default 1000)")
    p.add_argument("--rate", type=float, default=25.0, help="calls per second, at most (default 25)")
    p.add_argument("--takes", type=int, default=200,
                   help=f"takes measured per mode, of a firm of {POP_STAFF} staff by a caller with {POP_HISTORY} "
                        "earlier calls (default 200; 0: none)")
    p.add_argument("--waiting", type=int, default=5, help="calls kept waiting throughout (default 5)")
    p.add_argument("--operators", type=int, default=1,
                   help="operators with the console open on A (default 1); every event re-renders the list for each")
    p.add_argument("--firms", type=int, default=10_000, help="firms, each with 2 numbers (default 10000)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a list event (default 5)")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="server and database beside which a throw-away database is created and dropped")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp folder (server logs, SQLite files)")
    args = p.parse_args()
    if args.operators < 1:
        p.error("--operators: at least 1")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        p.error(f"--modes: unknown {', '.join(sorted(unknown))}")
    for name in ("redis_url", "postgres_url"):
        if c.urlsplit(getattr(args, name)).hostname not in ("127.0.0.1", "localhost", "::1"):
            p.error(f"--{name.replace('_', '-')}: the bench only talks to 127.0.0.1")
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
