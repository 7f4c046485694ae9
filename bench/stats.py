#!/usr/bin/env python
"""Figures at scale: GET /api/v1/stats's work (``stats.figures``) over a year of calls for 1,000 firms,
beside the bare aggregate query over the calls table in the same run.

    .venv/bin/python bench/stats.py                      # a fresh SQLite file, 5,000,000 calls
    .venv/bin/python bench/stats.py --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/stats.py --calls 500000       # a quicker run

The database gets --firms firms and --calls calls over the last 365 days (busy firms get more, as in
bench/messages.py), bulk-loaded (COPY on PostgreSQL) with the triggers of migrations 0023 and 0027 off, and a
message on nearly every answered call. The day rows are then built from scratch (timed), and one
more day of calls arrives with the triggers on, so that the first read has a day of changes to take
in (timed). Then, --repeat times each, with --live new calls arriving (triggers on) before every
read, as on a live service:

  day    every firm, today by hour           figures(today, tomorrow, interval="1h")
  month  the busiest firm, 30 days by hour   figures(.., tenant=firm, interval="1h")
  year   every firm, 365 days by day         figures(.., interval="1d")
  people every firm, 30 days by operator     by_operator(..)  (the KPI page's per-operator table)

Baseline: the bare aggregate of the same period straight from the calls table (COUNT and SUM by
hour or day, no messages, no zones), run through the driver in this process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import random
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

import peewee as pw  # noqa: E402

from app import db  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.calls.models import Call  # noqa: E402
from app.messages.forms import NOISE_CATEGORIES  # noqa: E402
from app.messages.models import Message  # noqa: E402
from app import days  # noqa: E402
from app.stats import figures as stats, rollup  # noqa: E402
from app.tenants.models import Tenant  # noqa: E402

P95_TARGET_MS = 200.0
JST = ZoneInfo("Asia/Tokyo")
HISTORY = dt.timedelta(days=365)
BATCH = 50_000
FIRM_SKEW = 0.7
OPERATORS = 8
SL = 20
CALL_FIELDS = [Call.id, Call.sid, Call.tenant, Call.to_number, Call.from_number, Call.forwarded_from, Call.status,
               Call.after_hours, Call.arrived_at, Call.claimed_by, Call.claimed_at, Call.answered_at, Call.ended_at,
               Call.wait_seconds, Call.talk_seconds, Call.recording_url, Call.provider_status, Call.test,
               Call.acw_seconds]
MESSAGE_FIELDS = [Message.tenant, Message.call, Message.call_type, Message.call_type_label, Message.category,
                  Message.urgent, Message.fields, Message.labels, Message.readback, Message.taken_at, Message.taken_by,
                  Message.source, Message.after_call_seconds, Message.recording_url, Message.handled,
                  Message.handled_note, Message.version]
STATUSES = {"completed": 0.84, "abandoned": 0.08, "voicemail": 0.04, "blocked": 0.02, "announced": 0.02}
CATEGORIES = {"message": 0.55, "callback": 0.2, "inquiry": 0.1, "sales": 0.08, "wrong_number": 0.04, "silent": 0.03}


def _migration(name: str):
    spec = importlib.util.spec_from_file_location(name, db.MIGRATIONS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def triggers(on: bool) -> None:
    """Turn the figures' triggers off for a bulk load (its days are built afterwards; each call carries
    its after-call work as loaded), and on again."""
    if db.is_postgres():
        for table in ('"call"', "message"):
            db.db.execute_sql(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
        return
    if on:
        for name in ("0023_stats_days", "0027_call_acw"):
            for sql in _migration(name).SQLITE:
                db.db.execute_sql(sql)
        return
    for (name,) in db.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND (name LIKE 'stats_%' OR name LIKE 'call_acw_%')").fetchall():
        db.db.execute_sql(f'DROP TRIGGER "{name}"')


def weights(n: int) -> list[float]:
    total, out = 0.0, []
    for i in range(n):
        total += 1 / (i + 1) ** FIRM_SKEW
        out.append(total)
    return out


def load(count: int, start: dt.datetime, span: dt.timedelta, firm_ids, operator_ids, rng, prefix: str) -> float:
    """Bulk-insert ``count`` calls arrived over [start, start + span) and their messages; returns seconds."""
    began = time.perf_counter()
    if not db.is_postgres():  # the indexes of a few GB of calls: kept in memory while loading only
        db.db.execute_sql("PRAGMA cache_size = -1048576")
    cum = weights(len(firm_ids))
    t = Call.arrived_at.db_value
    done = 0
    next_id = (Call.select(pw.fn.MAX(Call.id)).scalar() or 0) + 1
    while done < count:
        n = min(BATCH, count - done)
        tenants = rng.choices(firm_ids, cum_weights=cum, k=n)
        statuses = rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=n)
        calls, answered = [], []
        for i in range(n):
            arrived = start + dt.timedelta(seconds=rng.random() * span.total_seconds())
            status = statuses[i]
            after_hours = status in ("voicemail", "announced") or rng.random() < 0.05
            op = wait = talk = claimed = ended = None
            if status == "completed":
                op, wait, talk = rng.choice(operator_ids), int(rng.expovariate(1 / 15)), rng.randrange(20, 400)
                claimed = arrived + dt.timedelta(seconds=wait)
                ended = claimed + dt.timedelta(seconds=talk)
            elif status == "abandoned":
                wait = int(rng.expovariate(1 / 30))
                ended = arrived + dt.timedelta(seconds=wait)
            sid, call_id = f"{prefix}{done + i:08d}", next_id + i
            acw = rng.randrange(0, 180) if status == "completed" and rng.random() < 0.95 else None
            if acw is not None:  # its message; the call carries its after-call work, as the triggers keep it
                answered.append((call_id, tenants[i], op, ended + dt.timedelta(seconds=acw), acw))
            calls.append((call_id, sid, tenants[i], "+815000000000", "+819012345678", "", status, after_hours, t(arrived), op,
                          t(claimed), t(claimed), t(ended), wait, talk, "", "", False, acw))
        with db.db.atomic():
            c.bulk_insert(Call, CALL_FIELDS, calls)
            categories = rng.choices(list(CATEGORIES), weights=list(CATEGORIES.values()), k=len(answered))
            c.bulk_insert(Message, MESSAGE_FIELDS, [
                (tenant, call_id, "message", "", categories[k], False, "{}", "{}", "{}", t(taken), op, "operator",
                 acw, "", False, "", 1) for k, (call_id, tenant, op, taken, acw) in enumerate(answered)])
        done += n
        next_id += n
    if not db.is_postgres():
        db.db.execute_sql("PRAGMA cache_size = -2000")  # SQLite's default, as the app runs
    return time.perf_counter() - began


def bare(since: dt.datetime, until: dt.datetime, seconds: int | None, tenant_id: int | None) -> None:
    """The bare aggregate: calls counted and summed by fixed interval (None: by operator), straight
    from the table."""
    p = db.db.param
    key, params = rollup.bucket("arrived_at", since, seconds) if seconds else ("claimed_by_id", [])
    where = f" AND tenant_id = {p}" if tenant_id else ""
    sql = (f'SELECT {key} AS k, COUNT(*), SUM(CASE WHEN status = \'completed\' THEN 1 ELSE 0 END), '
           f'SUM(COALESCE(wait_seconds, 0)), SUM(COALESCE(talk_seconds, 0)) FROM "call" '
           f'WHERE arrived_at >= {p} AND arrived_at < {p}{where} GROUP BY k')
    db.db.execute_sql(sql, [*params, Call.arrived_at.db_value(since), Call.arrived_at.db_value(until),
                            *([tenant_id] if tenant_id else [])]).fetchall()


def timed(fn, repeat: int, before=None) -> list[float]:
    out = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(parser)
    parser.add_argument("--calls", type=int, default=5_000_000)
    parser.add_argument("--firms", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--live", type=int, default=10, help="new calls arriving before each read (default 10)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    c.sigterm_as_interrupt()
    rng = random.Random(11)
    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"figures: {args.calls:,} calls over 365 days, {args.firms:,} firms, {kind}")
        c.prepare_database(url, args.firms)
        db.bind(url)
        with db.db.connection_context():
            ops = [accounts.add_user(f"op{i}@bench.example", "operator", name=f"オペレーター{i}",
                                     password="bench-password-not-a-secret").id for i in range(OPERATORS)]
            firm_ids = [t for (t,) in Tenant.select(Tenant.id).where(Tenant.slug.startswith("bench-"))
                        .order_by(Tenant.slug).tuples()]
            now = dt.datetime.now(dt.timezone.utc)
            today = days.midnight(now.astimezone(JST).date(), JST)
            triggers(False)
            took = load(args.calls, today - HISTORY, HISTORY, firm_ids, ops, rng, "CA")
            triggers(True)
            print(f"  loaded in {took:.0f} s; settling: {c.settle():.0f} s")
            t0 = time.perf_counter()
            rollup.refresh(SL)
            built = time.perf_counter() - t0
            day_rows = rollup.StatsDay.select().count()
            zone_rows = rollup.StatsZoneDay.select().count()
            operator_rows = rollup.StatsOperatorDay.select().count()
            # A day of calls since, arriving live (triggers on): today until now.
            per_day = max(1, args.calls // 365)
            load(per_day, today, max(now - today, dt.timedelta(minutes=1)), firm_ids, ops, rng, "CL")
            notes = rollup.StatsDirty.select().count()
            t0 = time.perf_counter()
            rollup.current(SL)  # what a reader does first
            caught_up = time.perf_counter() - t0
            print(f"  day rows built from scratch in {built:.1f} s ({day_rows:,} rows, {operator_rows:,} by operator, "
                  f"{zone_rows:,} by zone); "
                  f"a day of live calls "
                  f"({per_day:,}, {notes:,} notes) taken in by the first read in {caught_up * 1000:.0f} ms")
            c.settle()
            live = iter(range(10**9))

            def arrive():
                for _ in range(args.live):
                    i = next(live)
                    Call.create(sid=f"CN{i:08d}", tenant=rng.choice(firm_ids), status="abandoned",
                                arrived_at=dt.datetime.now(dt.timezone.utc), wait_seconds=3)

            busiest = firm_ids[0]
            tenant = Tenant.get_by_id(busiest)
            month = today - dt.timedelta(days=30)
            year = today - dt.timedelta(days=364)
            tomorrow = today + dt.timedelta(days=1)
            cases = [
                ("day: every firm, today by hour",
                 lambda: stats.figures(today, tomorrow, interval="1h", service_level=SL),
                 lambda: bare(today, tomorrow, 3600, None)),
                ("month: busiest firm, 30 days by hour",
                 lambda: stats.figures(month, tomorrow, tenant=tenant, interval="1h", service_level=SL),
                 lambda: bare(month, tomorrow, 3600, busiest)),
                ("year: every firm, 365 days by day",
                 lambda: stats.figures(year, tomorrow, interval="1d", service_level=SL),
                 lambda: bare(year, tomorrow, 86400, None)),
                ("people: every firm, 30 days by operator",
                 lambda: stats.by_operator(month, tomorrow, service_level=SL),
                 lambda: bare(month, tomorrow, None, None)),
            ]
            rows, ok = [], True
            for name, fn, base in cases:
                fn(), base()  # warm
                app = timed(fn, args.repeat, arrive)
                baseline = timed(base, min(args.repeat, 10))
                p95 = c.percentile(app, 95)
                ok &= p95 < P95_TARGET_MS
                rows.append([name, f"{c.percentile(app, 50):.1f}", f"{p95:.1f}", f"{c.percentile(baseline, 50):.1f}",
                             f"{c.percentile(baseline, 95):.1f}", c.verdict(p95 < P95_TARGET_MS)])
            # The answer checked once against the calls themselves (no day rows), for the year.
            exact = (stats.figures(year, tomorrow, interval="1d", service_level=SL).totals
                     == stats.figures(year, tomorrow, interval="1d", service_level=SL, rollup_days=False).totals)
            print(c.table(["query (ms)", "p50", "p95", "bare p50", "bare p95", f"p95 < {P95_TARGET_MS:.0f}"], rows))
            exact_people = (stats.by_operator(month, tomorrow, service_level=SL)
                            == stats.by_operator(month, tomorrow, service_level=SL, rollup_days=False))
            print(f"  the year from the day rows equals the year from the calls: {exact}; "
                  f"the operators' month too: {exact_people}")
            exact &= exact_people
        c.release_connections()
    return 0 if ok and exact else 1


if __name__ == "__main__":
    c.run(main)
