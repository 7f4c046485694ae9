#!/usr/bin/env python
"""Messages at scale: the latency of saving a message (POST /api/v1/messages) and of listing them
(GET /api/v1/messages), on the first page and deep in the history, with a year of messages.

    .venv/bin/python bench/messages.py                      # a fresh SQLite file in a temp folder
    .venv/bin/python bench/messages.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/messages.py --messages 100000    # a quicker run

The database gets --firms firms and --messages messages taken over the last 365 days, each with
its first version, bulk-loaded as the operators' console would have saved them; busy firms get
more messages than quiet ones. The app then runs as ``python -m app.cli serve`` (one uvicorn
worker) and is sent, one request at a time over a keep-alive connection:

  list  each page --repeat times: for a staff token (every firm) and a client token (the busiest
        firm, its own messages only), the first page and the pages 10 %, 50 % and 99 % deep,
        reached with a cursor built the way the API builds it. Baseline: the page's own query,
        run through the database driver in this process (no HTTP, no app code).
  save  --saves messages with their read-back confirmed, at --save-rate per second (open loop:
        latency counts from the scheduled send). Baselines: ``messages.service.record`` called in
        this process as often (the same writes and commit, without HTTP or validation), and the
        same requests sent to a bare Starlette route under the same uvicorn options
        (``bench/_common.py bare``: the body parsed in a worker thread, echoed back as JSON). The
        server's CPU per save is set beside theirs: what the app spends beyond a bare request and
        the writes themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

import peewee as pw  # noqa: E402

from app import db, phones  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.accounts.models import User  # noqa: E402
from app.api import v1 as api  # noqa: E402
from app.messages import forms, inbox, service  # noqa: E402
from app.web.inputs import parse_keyset_cursor  # noqa: E402
from app.messages.forms import NOISE_CATEGORIES  # noqa: E402
from app.messages.models import API, OPERATOR, Message, MessageVersion  # noqa: E402
from app.tenants.models import Tenant  # noqa: E402

SAVE_P99_TARGET_MS = 30.0
SAVE_CPU_TARGET_MS = 2.0  # the server's CPU per save (issue 12)
LIST_P95_TARGET_MS = 30.0
PAGE = 50  # the API's default page size
DEPTHS = (0.0, 0.10, 0.50, 0.99)  # where a page starts, as a share of the messages its reader sees
WARMUP = 20  # unmeasured requests (or queries) before each measurement
HISTORY = dt.timedelta(days=365)
BATCH = 20_000  # messages per bulk insert and transaction (a transaction each keeps SQLite's WAL small)
FIRM_SKEW = 0.7  # firm i gets messages in proportion to 1 / (i + 1) ** FIRM_SKEW
OPERATORS = 8
PASSWORD = "bench-password-not-a-secret"
READBACK = ["caller_name", "callback_number"]  # the default call type's read-back fields

# The bulk-loaded columns, in the order of message_rows' tuples; the others are NULL
# (call_id, recording_seconds), as for a message saved through the API.
MESSAGE_COLUMNS = [Message.id, Message.tenant, Message.call_type, Message.call_type_label, Message.category,
                   Message.urgent, Message.fields, Message.labels, Message.readback, Message.taken_at,
                   Message.taken_by, Message.source, Message.after_call_seconds, Message.recording_url,
                   Message.handled, Message.handled_at, Message.handled_by, Message.handled_note, Message.version]
VERSION_COLUMNS = [MessageVersion.message, MessageVersion.number, MessageVersion.edited_by,
                   MessageVersion.edited_by_name, MessageVersion.edited_at, MessageVersion.changes,
                   MessageVersion.state, MessageVersion.note]

SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
            "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水")
GIVEN_NAMES = ("花子", "太郎", "健一", "美咲", "翔太", "陽子", "大輔", "由美", "誠", "直子",
               "拓也", "恵", "浩二", "真理子", "亮")
COMPANIES = ("株式会社山田工務店", "有限会社青葉商会", "東和物産株式会社", "さくら不動産株式会社",
             "株式会社ミナト設計", "北斗運輸株式会社", "合同会社エニシ", "丸善食品株式会社")
BODIES = ("見積もりの件で折り返しお電話をお願いしたいとのことです。",
          "先日お送りした契約書について確認したいことがあるそうです。",
          "明日の打ち合わせを15時に変更したいとのご連絡です。",
          "請求書の金額に相違があるようなので、ご確認をお願いしたいそうです。",
          "新規のご相談で、担当の方と直接お話ししたいとのことです。",
          "納品日の確認のお電話でした。折り返しは不要とのことです。",
          "ご依頼の資料を本日発送したとのご連絡です。",
          "面談をご希望です。来週の平日午後でしたらご都合がよいそうです。",
          "先ほどのメールの件、至急ご確認をお願いしたいとのことです。",
          "お支払いの件でご連絡をお待ちしているそうです。")
CALLBACK_TIMES = ("本日中", "午後3時以降", "明日の午前中", "17時まで", "いつでも可")
# An answering service's mix of calls; sales calls and the like are noise, with nothing read back.
CATEGORY_WEIGHTS = {"message": 55, "callback": 15, "inquiry": 10, "appointment": 5, "complaint": 2,
                    "other": 3, "sales": 5, "wrong_number": 3, "silent": 1, "hangup": 1}


# --------------------------------------------------------------------------------------------
# the data: firms, people, a year of messages

@dataclass
class People:
    operators: list[User]
    client: User
    staff_token: str  # the first operator's
    client_token: str


def add_people(client_firm: str) -> People:
    """Operators who took the loaded messages, and a client user of ``client_firm``, with API tokens."""
    operators = [accounts.add_user(f"bench-operator-{k}@example.com", "operator", name=f"ベンチ 応対{k}",
                                   password=PASSWORD) for k in range(OPERATORS)]
    client = accounts.add_user("bench-client@example.com", "client", tenant_slug=client_firm,
                               name="ベンチ 顧客", password=PASSWORD)
    return People(operators, client, accounts.create_token(operators[0].email)[1],
                  accounts.create_token(client.email)[1])


def firm_weights(firms: int) -> list[float]:
    """Cumulative weights: a few busy firms, many quiet ones (with 1,000 firms, the busiest gets 4 %
    of the messages and the quietest 0.03 %)."""
    return list(itertools.accumulate(1 / (i + 1) ** FIRM_SKEW for i in range(firms)))


def caller(rng: random.Random) -> dict[str, str]:
    """What an operator takes down with the default call type, in its form's order (number in E.164)."""
    fields = {"caller_company": rng.choice(COMPANIES)} if rng.random() < 0.4 else {}
    fields["caller_name"] = f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"
    landline = f"+813{rng.randrange(50_000_000, 70_000_000)}"  # Tokyo, 03-5xxx-xxxx and 03-6xxx-xxxx
    fields["callback_number"] = c.mobile(rng) if rng.random() < 0.7 else landline
    if rng.random() < 0.3:
        fields["callback_time"] = rng.choice(CALLBACK_TIMES)
    fields["body"] = rng.choice(BODIES)
    return fields


def message_rows(count: int, first_id: int, firm_ids: list[int], operators: list[User],
                 rng: random.Random, end: dt.datetime):
    """(message, first version) rows in MESSAGE_COLUMNS' and VERSION_COLUMNS' order, oldest first so
    that ids rise with taken_at as when saved live. Values are what peewee hands the driver: JSON
    as the app encodes it, times as naive UTC, marks and state as ``service.record`` writes them."""
    encode, db_time = Message.fields.db_value, Message.taken_at.db_value
    start = end - HISTORY
    offsets = sorted(rng.random() * HISTORY.total_seconds() for _ in range(count))
    tenants = rng.choices(firm_ids, cum_weights=firm_weights(len(firm_ids)), k=count)
    categories = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()), k=count)
    for i in range(count):
        message_id, category = first_id + i, categories[i]
        taken_at = start + dt.timedelta(seconds=offsets[i])
        operator = rng.choice(operators)
        if category in NOISE_CATEGORIES:
            fields, readback = ({"callback_number": c.mobile(rng)} if rng.random() < 0.5 else {}), {}
        else:
            fields = caller(rng)
            mark = {"by": operator.id, "by_name": operator.name, "at": taken_at.isoformat()}
            readback = {key: mark for key in READBACK}
        urgent = rng.random() < 0.05
        # Firms mark most messages handled within hours; only the last week's are often still open.
        handled = end - taken_at > dt.timedelta(days=7) or rng.random() < 0.5
        handled_at = db_time(taken_at + dt.timedelta(minutes=rng.randrange(5, 600))) if handled else None
        at = db_time(taken_at)
        state = {"call_type": "message", "category": category, "urgent": urgent, "fields": fields,
                 "readback": readback}
        yield ((message_id, tenants[i], "message", "", category, urgent, encode(fields), "{}", encode(readback), at,
                operator.id, OPERATOR, rng.randrange(20, 300), "", handled, handled_at,
                operator.id if handled else None, "", 1),
               (message_id, 1, operator.id, operator.name, at, "{}", encode(state), ""))


def load_messages(count: int, operators: list[User], rng: random.Random) -> float:
    """Bulk-insert ``count`` messages over the bench firms, each with its first version; returns seconds."""
    started = time.perf_counter()
    firm_ids = [t.id for t in Tenant.select(Tenant.id).where(Tenant.slug.startswith("bench-")).order_by(Tenant.slug)]
    first_id = (Message.select(pw.fn.MAX(Message.id)).scalar() or 0) + 1
    rows = message_rows(count, first_id, firm_ids, operators, rng, db.utcnow())
    while batch := list(itertools.islice(rows, BATCH)):
        with db.db.atomic():
            c.bulk_insert(Message, MESSAGE_COLUMNS, [m for m, _v in batch])
            c.bulk_insert(MessageVersion, VERSION_COLUMNS, [v for _m, v in batch])
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# list: pages at several depths, through the app and straight from the database

@dataclass
class Page:
    reader: str  # "staff" or "client"
    user: User
    token: str
    depth: float
    before: int  # messages listed before this page
    cursor: str | None
    database: list[float] = field(default_factory=list)  # seconds per query, through the driver
    app: c.LoadResult | None = None
    server_cpu: float = 0.0  # seconds, all measured requests
    database_cpu: float = 0.0  # PostgreSQL backends, seconds, all measured requests
    other_cores: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.reader}: " + ("first page" if not self.depth else f"{self.depth:.0%} deep")

    @property
    def path(self) -> str:
        return "/api/v1/messages" + (f"?cursor={self.cursor}" if self.cursor else "")

    def query(self) -> pw.Select:
        """The query ``list_messages`` runs for this page: the database's share of the request."""
        query = api._visible(self.user)
        if self.cursor:
            at, last_id = parse_keyset_cursor(self.cursor)
            query = query.where(pw.Tuple(Message.taken_at, Message.id)
                                < pw.Tuple(Message.taken_at.to_value(at), last_id))
        return query.order_by(Message.taken_at.desc(), Message.id.desc()).limit(PAGE + 1)


def find_pages(people: People) -> tuple[list[Page], dict[str, int]]:
    """The pages to list, each reader's cursor taken from the message just before its page (found
    with OFFSET before the timing starts, then encoded by ``inbox.cursor_of`` as the API does); and how many
    messages each reader sees."""
    pages, visible = [], {}
    for reader, user, token in (("staff", people.operators[0], people.staff_token),
                                ("client", people.client, people.client_token)):
        newest_first = Message.select(Message.id, Message.taken_at).order_by(Message.taken_at.desc(), Message.id.desc())
        if not user.is_staff:
            newest_first = newest_first.where(Message.tenant == user.tenant_id)
        visible[reader] = total = newest_first.count()
        if total < 2 * PAGE:
            raise SystemExit(f"the {reader} sees {total} messages, too few to page through: raise --messages")
        for depth in DEPTHS:
            before = min(round(depth * total), total - PAGE)  # a full page must follow
            cursor = inbox.cursor_of(newest_first.offset(before - 1).first()) if before else None
            pages.append(Page(reader, user, token, depth, before, cursor))
    return pages, visible


def time_queries(pages: list[Page], repeat: int, url: str) -> float:
    """Each page's query through the driver, rows fetched but no model built; returns the cores
    other processes used meanwhile."""
    with c.CPUMeter([], url) as meter:
        for page in pages:
            sql, params = page.query().sql()
            for i in range(WARMUP + repeat):
                t0 = time.perf_counter()
                rows = db.db.execute_sql(sql, params).fetchall()
                if i >= WARMUP:
                    page.database.append(time.perf_counter() - t0)
            assert len(rows) >= PAGE, f"{page.name}: {len(rows)} rows"
    return meter.other_cores


def full_page(status: int, body: bytes) -> bool:
    return status == 200 and len(json.loads(body)["messages"]) == PAGE


def list_pages(server: c.Server, pages: list[Page], repeat: int, url: str) -> None:
    for page in pages:
        request = c.http_request(server.port, "GET", page.path,
                                 {"Authorization": f"Bearer {page.token}", "Accept": "application/json"})
        warm = asyncio.run(c.closed_loop(server.port, [request] * WARMUP, 1, 60, good=full_page))
        if warm.errors:
            raise SystemExit(f"{page.name}: {warm.first_error}\n{server.log_tail()}")
        with c.CPUMeter([server], url) as meter:
            page.app = asyncio.run(c.closed_loop(server.port, [request] * repeat, 1, 3600, good=full_page))
        page.server_cpu, page.database_cpu, page.other_cores = meter.server[0], meter.database_cpu, meter.other_cores


# --------------------------------------------------------------------------------------------
# save: through the API, and the same writes called in-process

@dataclass
class Saves:
    app: c.LoadResult
    server_cpu: float  # seconds, all measured saves
    database_cpu: float  # PostgreSQL backends, seconds, all measured saves
    other_cores: float
    recorded: int = 0  # messages the app saved with source "api", warm-up included
    baseline: list[float] = field(default_factory=list)  # seconds per service.record
    baseline_cpu: float = 0.0  # this process's CPU seconds for all of them (PostgreSQL's not counted)
    baseline_other_cores: float = 0.0
    bare: c.LoadResult | None = None  # the same requests to the bare route
    bare_cpu: float = 0.0
    bare_other_cores: float = 0.0


def new_messages(count: int, firms: int, rng: random.Random) -> list[dict]:
    """API bodies as a program sends them: a firm (busy ones more often), the number as typed."""
    slugs = rng.choices([c.firm_raw(i)["slug"] for i in range(firms)], cum_weights=firm_weights(firms), k=count)
    bodies = []
    for slug in slugs:
        fields = caller(rng)
        fields["callback_number"] = phones.display(fields["callback_number"], c.REGION)
        bodies.append({"tenant": slug, "fields": fields, "readback": READBACK})
    return bodies


def created(status: int, body: bytes) -> bool:
    return status == 201


def post_messages(server: c.Server, token: str, bodies: list[dict], rate: float, url: str) -> Saves:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"}
    requests = [c.http_request(server.port, "POST", "/api/v1/messages", headers,
                               json.dumps(b, ensure_ascii=False).encode()) for b in bodies]
    warm = asyncio.run(c.closed_loop(server.port, requests[:WARMUP], 1, 60, good=created))
    if warm.errors:
        raise SystemExit(f"saving: {warm.first_error}\n{server.log_tail()}")
    with c.CPUMeter([server], url) as meter:
        result = asyncio.run(c.open_loop(server.port, requests[WARMUP:], rate, pool=8, good=created))
    return Saves(result, meter.server[0], meter.database_cpu, meter.other_cores)


def time_records(operator: User, bodies: list[dict], url: str) -> tuple[list[float], float, float]:
    """Seconds per ``service.record`` of each body, checked by ``forms.check`` beforehand (not
    timed); this process's CPU seconds for all of them; and the cores other processes used meanwhile."""
    firms = {slug: Tenant.by_slug(slug) for slug in {b["tenant"] for b in bodies}}
    checked = []
    for body in bodies:
        tenant = firms[body["tenant"]]
        clean, problems = forms.check(tenant, forms.Entry(fields=body["fields"], confirmed=set(body["readback"])))
        assert not problems, problems
        checked.append((tenant, clean))
    times = []
    with c.CPUMeter([], url) as meter:
        cpu0 = time.process_time()
        for tenant, clean in checked:
            t0 = time.perf_counter()
            service.record(tenant, clean, operator, source=API)
            times.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
    return times, cpu, meter.other_cores


# --------------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def report(args, kind: str, pages: list[Page], visible: dict[str, int], saves: Saves, notes: list[str],
           disturbed: float) -> None:
    def lat(values: list[float], p: float) -> str:
        return ms(c.percentile(sorted(values), p))

    first = {p.reader: c.percentile(sorted(p.app.latencies), 95) for p in pages if not p.depth}
    rows = []
    for p in pages:
        app = p.app.latencies
        cpu = p.server_cpu + p.database_cpu
        rows.append([p.name, f"{p.before:,}", lat(app, 50), lat(app, 95), lat(app, 99), ms(max(app, default=0)),
                     lat(p.database, 50), lat(p.database, 95),
                     f"{c.percentile(sorted(app), 95) / first[p.reader]:.2f}×",
                     f"{cpu / p.app.ok * 1000:.2f}" if p.app.ok else "-", f"{p.app.ok}/{p.app.errors}"])
    print()
    print(f"GET /api/v1/messages — {kind}, {args.messages:,} messages across {args.firms:,} firms; "
          f"staff sees {visible['staff']:,}, the client's firm has {visible['client']:,}; {PAGE} a page, "
          f"each page {args.repeat} times, one request at a time; "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(c.table(["page", "messages before", "app p50", "p95", "p99", "max", "database p50", "p95",
                   "app p95 / first page", "CPU/request", "full pages/errors"], rows))
    print("  (ms; database: the page's query through the driver, no HTTP, no app; CPU/request: the app's"
          + (" and PostgreSQL's" if kind == "PostgreSQL" else "") + ")")

    app, baseline, bare = sorted(saves.app.latencies), sorted(saves.baseline), sorted(saves.bare.latencies)
    app_cpu = saves.server_cpu / saves.app.ok if saves.app.ok else float("nan")
    bare_cpu = saves.bare_cpu / saves.bare.ok if saves.bare.ok else float("nan")
    record_cpu = saves.baseline_cpu / len(baseline) if baseline else float("nan")
    postgres = kind == "PostgreSQL"
    print()
    print(f"POST /api/v1/messages — {args.saves:,} saves each, read-back confirmed")
    print(c.table(["save", "p50", "p95", "p99", "max", "CPU/save", *(["PostgreSQL CPU"] if postgres else []),
                   "saved/errors"], [
        [f"app, {args.save_rate:g}/s open loop", lat(app, 50), lat(app, 95), lat(app, 99), ms(max(app, default=0)),
         ms(app_cpu), *([ms(saves.database_cpu / saves.app.ok) if saves.app.ok else "-"] if postgres else []),
         f"{saves.app.ok}/{saves.app.errors}"],
        [f"bare Starlette, {args.save_rate:g}/s", lat(bare, 50), lat(bare, 95), lat(bare, 99),
         ms(max(bare, default=0)), ms(bare_cpu), *([""] if postgres else []), f"{saves.bare.ok}/{saves.bare.errors}"],
        ["service.record in-process", lat(baseline, 50), lat(baseline, 95), lat(baseline, 99),
         ms(max(baseline, default=0)), ms(record_cpu), *([""] if postgres else []), f"{len(baseline)}/0"]]))
    print("  (ms; app: from the scheduled send to the 201; bare: the same requests to a route that parses the "
          "body in a thread and echoes it;\n   service.record: the same writes and commit, in this process; "
          "CPU/save: the server's process, or this one's for service.record)")
    print(f"  server CPU per save {ms(app_cpu)} ms = bare request {ms(bare_cpu)} + service.record {ms(record_cpu)}"
          f" + the app's own {ms(app_cpu - bare_cpu - record_cpu)}; {app_cpu / record_cpu:.1f}× service.record")
    print()
    for note in notes:
        print(f"  {note}")
    for name, result in [(p.name, p.app) for p in pages] + [("save", saves.app)]:
        if result.first_error:
            print(f"  first error ({name}): {result.first_error}")
    expected = WARMUP + saves.app.ok
    print(f"  the app recorded {saves.recorded:,} messages through the API for {expected:,} answered saves"
          + ("" if saves.recorded == expected else "  — MISMATCH"))
    print(c.machine_check(disturbed))
    print()
    save_p99 = c.percentile(app, 99) * 1000
    save_ok = save_p99 < SAVE_P99_TARGET_MS and not saves.app.errors and saves.recorded == expected
    cpu_ok = app_cpu * 1000 < SAVE_CPU_TARGET_MS
    worst = max(pages, key=lambda p: c.percentile(sorted(p.app.latencies), 95))
    list_p95 = c.percentile(sorted(worst.app.latencies), 95) * 1000
    list_ok = list_p95 < LIST_P95_TARGET_MS and not any(p.app.errors for p in pages)
    print(f"  target: save p99 < {SAVE_P99_TARGET_MS:g} ms at {args.save_rate:g}/s: {save_p99:.2f} ms   "
          f"{c.verdict(save_ok)}")
    print(f"  target: server CPU per save < {SAVE_CPU_TARGET_MS:g} ms: {app_cpu * 1000:.2f} ms   {c.verdict(cpu_ok)}")
    print(f"  target: list p95 < {LIST_P95_TARGET_MS:g} ms at every depth: worst {list_p95:.2f} ms "
          f"({worst.name})   {c.verdict(list_ok)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(p)
    p.add_argument("--messages", type=int, default=1_000_000, help="messages loaded (default 1000000)")
    p.add_argument("--firms", type=int, default=1_000, help="firms the messages are spread over (default 1000)")
    p.add_argument("--repeat", type=int, default=200, help="measured requests per page (default 200)")
    p.add_argument("--saves", type=int, default=500, help="measured saves (default 500)")
    p.add_argument("--save-rate", type=float, default=20.0, help="saves per second offered (default 20)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the messages (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (server log, SQLite file)")
    args = p.parse_args()
    if args.messages < 1 or args.repeat < 1 or args.saves < 1 or args.save_rate <= 0:
        p.error("--messages, --repeat, --saves and --save-rate must be positive")
    c.sigterm_as_interrupt()
    c.use_uvloop()
    rng = random.Random(args.seed)
    run_started = time.perf_counter()
    notes = []

    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"Dengon messages bench — {kind}, {args.messages:,} messages across {args.firms:,} firms; "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
        notes.append(f"firms loaded in {c.prepare_database(url, args.firms):.1f} s")
        db.bind(url)
        with db.db.connection_context():
            people = add_people(c.firm_raw(0)["slug"])
            print(f"  loading {args.messages:,} messages …", flush=True)
            took = load_messages(args.messages, people.operators, rng)
            notes.append(f"messages loaded in {took:.1f} s ({args.messages / took:,.0f}/s, with a version each), "
                         f"statistics and checkpoint {c.settle():.1f} s")
            pages, visible = find_pages(people)
            print("  the pages' queries through the driver …", flush=True)
            query_other_cores = time_queries(pages, args.repeat, url)
        c.release_connections()
        bodies = new_messages(WARMUP + 2 * args.saves, args.firms, rng)
        server = c.start_app(c.app_env(url, c.new_secret(), work), work)
        try:
            print(f"  listing: {len(pages)} pages × {args.repeat} …", flush=True)
            list_pages(server, pages, args.repeat, url)
            print(f"  saving: {args.saves} at {args.save_rate:g}/s …", flush=True)
            saves = post_messages(server, people.staff_token, bodies[:WARMUP + args.saves], args.save_rate, url)
        finally:
            server.stop()
        bare = c.start_bare(work)
        try:
            print(f"  the bare route: {args.saves} at {args.save_rate:g}/s …", flush=True)
            bare_saves = post_messages(bare, people.staff_token, bodies[:WARMUP + args.saves], args.save_rate, url)
            saves.bare, saves.bare_cpu, saves.bare_other_cores = bare_saves.app, bare_saves.server_cpu, bare_saves.other_cores
        finally:
            bare.stop()
        with db.db.connection_context():
            saves.recorded = Message.select().where(Message.source == API).count()
            saves.baseline, saves.baseline_cpu, saves.baseline_other_cores = time_records(
                people.operators[0], bodies[WARMUP + args.saves:], url)
        c.release_connections()
    notes.append(f"whole run {time.perf_counter() - run_started:.0f} s")
    disturbed = max(query_other_cores, saves.other_cores, saves.baseline_other_cores, saves.bare_other_cores,
                    *(p.other_cores for p in pages))
    report(args, kind, pages, visible, saves, notes, disturbed)
    return 0


if __name__ == "__main__":
    c.run(main)
