#!/usr/bin/env python
"""The firm's inbox and its search at scale: a client of the busiest firm listing its messages (the
first page and a deep one) and searching them for Japanese terms of one, two and three characters
and for a 4-digit piece of a phone number, with a year of messages.

    .venv/bin/python bench/portal.py                      # a fresh SQLite file in a temp folder
    .venv/bin/python bench/portal.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/portal.py --messages 100000    # a quicker run

The messages are loaded as bench/messages.py loads them (same firms, people, names, companies,
bodies and numbers), then indexed by ``messages.search.reindex`` as migration 0009 does. Each case
runs the list's own query as the API builds it for the client (``_visible``, the keyset cursor,
``LIMIT 51``), narrowed by ``search.narrow`` when it searches, and builds the page's models: the
database's share of the request and the app's own query code. The *bare* baseline is the inbox's
first page query run through the driver (no search, no models), timed in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
import messages as loaded  # noqa: E402  (bench/messages.py: the same year of messages)

import peewee as pw  # noqa: E402

from app import db  # noqa: E402
from app.api import v1 as api  # noqa: E402
from app.messages import inbox, search  # noqa: E402
from app.messages.models import Message  # noqa: E402

P95_TARGET_MS = 50.0
PAGE = 50
WARMUP = 20
DEEP = 0.99  # where the deep page starts, as a share of the firm's messages
TERMS = [("1 character", "田"), ("2 characters", "田中"), ("3 characters", "請求書")]


@dataclass
class Case:
    name: str
    run: object  # () -> rows
    target: bool = True
    found: int = 0  # rows on the page
    matches: int | None = None  # the firm's messages the search finds, all pages
    times: list[float] = field(default_factory=list)


def page_query(user, cursor: str | None = None, text: str = ""):
    """The page ``list_messages`` reads for ``user``, narrowed by the search box's ``text``."""
    query = api._visible(user)
    if cursor:
        at, last_id = inbox.parse_cursor(cursor)
        query = query.where(pw.Tuple(Message.taken_at, Message.id) < pw.Tuple(Message.taken_at.to_value(at), last_id))
    if text:
        query = search.narrow(query, text)
    return query.order_by(Message.taken_at.desc(), Message.id.desc()).limit(PAGE + 1)


def cases(people, firm_id: int) -> list[Case]:
    client, staff = people.client, people.operators[0]
    newest_first = (Message.select(Message.id, Message.taken_at).where(Message.tenant == firm_id)
                    .order_by(Message.taken_at.desc(), Message.id.desc()))
    total = newest_first.count()
    before = min(round(DEEP * total), total - PAGE)
    deep_cursor = inbox.cursor_of(newest_first.offset(before - 1).first())
    # A 4-digit piece of a number the firm's callers left: the middle of the newest message's.
    number = next(m.fields["callback_number"] for m in Message.select(Message.fields).where(Message.tenant == firm_id)
                  .order_by(Message.taken_at.desc()).limit(200) if m.fields.get("callback_number"))
    fragment = number[-8:-4]
    bare_sql, bare_params = page_query(client).sql()
    out = [Case("bare: the first page's query through the driver",
                lambda: db.db.execute_sql(bare_sql, bare_params).fetchall(), target=False),
           Case("inbox: first page", lambda: list(page_query(client))),
           Case(f"inbox: page {before:,} of {total:,} deep (keyset)", lambda: list(page_query(client, deep_cursor)))]
    for label, term in TERMS:
        out.append(Case(f"search {label}: 「{term}」", lambda t=term: list(page_query(client, text=t))))
    out.append(Case(f"search phone fragment: 「{fragment}」", lambda: list(page_query(client, text=fragment))))
    out.append(Case("staff, every firm: 「田中」", lambda: list(page_query(staff, text="田中")), target=False))
    for case in out:
        if case.name.startswith("search"):
            term = case.name.split("「")[1].rstrip("」")
            case.matches = search.narrow(Message.select().where(Message.tenant == firm_id), term).count()
    return out


def measure(all_cases: list[Case], repeat: int, url: str) -> float:
    with c.CPUMeter([], url) as meter:
        for case in all_cases:
            for i in range(WARMUP + repeat):
                t0 = time.perf_counter()
                rows = case.run()
                if i >= WARMUP:
                    case.times.append(time.perf_counter() - t0)
            case.found = min(len(rows), PAGE)
    return meter.other_cores


def report(args, kind: str, all_cases: list[Case], notes: list[str], disturbed: float) -> None:
    def lat(case: Case, p: float) -> str:
        return f"{c.percentile(sorted(case.times), p) * 1000:.2f}"

    print()
    print(f"The busiest firm's client — {kind}, {args.messages:,} messages across {args.firms:,} firms; "
          f"each case {args.repeat} times; {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(c.table(["case", "p50", "p95", "p99", "max", "rows on the page", "the firm's matches"], [
        [k.name, lat(k, 50), lat(k, 95), lat(k, 99), f"{max(k.times) * 1000:.2f}", str(k.found),
         "" if k.matches is None else f"{k.matches:,}"] for k in all_cases]))
    print("  (ms; the list's query as the API builds it, narrowed by search.narrow, models built; no HTTP)")
    print()
    for note in notes:
        print(f"  {note}")
    print(c.machine_check(disturbed))
    print()
    for k in all_cases:
        if k.target:
            p95 = c.percentile(sorted(k.times), 95) * 1000
            print(f"  target: {k.name} p95 < {P95_TARGET_MS:g} ms: {p95:.2f} ms   {c.verdict(p95 < P95_TARGET_MS)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(p)
    p.add_argument("--messages", type=int, default=1_000_000, help="messages loaded (default 1000000)")
    p.add_argument("--firms", type=int, default=1_000, help="firms the messages are spread over (default 1000)")
    p.add_argument("--repeat", type=int, default=200, help="measured runs per case (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the messages (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (SQLite file)")
    args = p.parse_args()
    if args.messages < 1 or args.repeat < 1:
        p.error("--messages and --repeat must be positive")
    c.sigterm_as_interrupt()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    notes = []
    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"Dengon portal bench — {kind}, {args.messages:,} messages across {args.firms:,} firms", flush=True)
        notes.append(f"firms loaded in {c.prepare_database(url, args.firms):.1f} s")
        db.bind(url)
        with db.db.connection_context():
            people = loaded.add_people(c.firm_raw(0)["slug"])
            print(f"  loading {args.messages:,} messages …", flush=True)
            took = loaded.load_messages(args.messages, people.operators, rng)
            notes.append(f"messages loaded in {took:.1f} s (bulk, as bench/messages.py)")
            print("  indexing them for search …", flush=True)
            t0 = time.perf_counter()
            indexed = search.reindex(batch=20_000)
            notes.append(f"{indexed:,} messages indexed by search.reindex (as migration 0009 does) in "
                         f"{time.perf_counter() - t0:.1f} s; statistics and checkpoint {c.settle():.1f} s")
            notes.append(f"database size {size_mb(url, work):,.0f} MB, of which the search index {index_mb():,.0f} MB")
            all_cases = cases(people, people.client.tenant_id)
            print(f"  measuring: {len(all_cases)} cases × {args.repeat} …", flush=True)
            disturbed = measure(all_cases, args.repeat, url)
        c.release_connections()
    notes.append(f"whole run {time.perf_counter() - started:.0f} s")
    report(args, kind, all_cases, notes, disturbed)
    return 0


def size_mb(url: str, work: Path) -> float:
    if db.is_postgres():
        return db.db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0] / 2 ** 20
    return sum(f.stat().st_size for f in work.glob("dengon.db*")) / 2 ** 20


def index_mb() -> float:
    if db.is_postgres():
        return db.db.execute_sql("SELECT pg_total_relation_size('message_search')").fetchone()[0] / 2 ** 20
    try:
        return db.db.execute_sql("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'message_search%'").fetchone()[0] / 2 ** 20
    except pw.OperationalError:  # SQLite built without the dbstat table
        return float("nan")


if __name__ == "__main__":
    c.run(main)
