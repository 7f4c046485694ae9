#!/usr/bin/env python
"""The figures pages at scale: what a supervisor's page adds to the figures it shows. Each page is
requested in process, through the app (session, handler, tables, charts, template), beside
``figures()`` alone for the same period in the same run (what GET /api/v1/stats does).

    .venv/bin/python bench/kpi.py                        # a fresh SQLite file, 500,000 calls, ~3 min
    .venv/bin/python bench/kpi.py --database-url postgresql://postgres@127.0.0.1:5432/test

The calls are loaded as bench/stats.py loads them (--calls over 365 days for --firms firms, busy
firms getting more, a message on nearly every answered call), then, --repeat times each:

  today    /supervisor/stats            every firm, today by hour, per firm and per operator
  month    /supervisor/stats?period=month  every firm, this month by day, per firm and per operator
  firm     /supervisor/stats?firm=…     the busiest firm, 7 days by hour (168 rows)
  csv      /supervisor/stats.csv?…&table=firms   this month, every firm's row
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
import stats as loader  # noqa: E402  (bench/stats.py: the same calls, loaded the same way)

from starlette.testclient import TestClient  # noqa: E402

from app import db, settings as settings_module  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app import days  # noqa: E402
from app.stats import figures as stats, rollup  # noqa: E402
from app.tenants.models import Tenant  # noqa: E402

JST = ZoneInfo("Asia/Tokyo")
PASSWORD = "bench-password-not-a-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(parser)
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--firms", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    c.sigterm_as_interrupt()
    rng = random.Random(11)
    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"figures pages: {args.calls:,} calls over 365 days, {args.firms:,} firms, {kind}")
        c.prepare_database(url, args.firms)
        settings = settings_module.load(c.app_env(url, c.new_secret(), work), var_dir=work / "var")
        from app.main import create_app

        app = create_app(settings)
        sl = settings.service_level_seconds
        with db.db.connection_context():
            ops = [accounts.add_user(f"op{i}@bench.example", "operator", name=f"オペレーター{i}",
                                     password=PASSWORD).id for i in range(loader.OPERATORS)]
            accounts.add_user("sv@bench.example", "supervisor", name="監督", password=PASSWORD)
            firm_ids = [t for (t,) in Tenant.select(Tenant.id).where(Tenant.slug.startswith("bench-"))
                        .order_by(Tenant.slug).tuples()]
            now = dt.datetime.now(dt.timezone.utc)
            today = days.midnight(now.astimezone(JST).date(), JST)
            loader.triggers(False)
            took = loader.load(args.calls, today - loader.HISTORY, loader.HISTORY + dt.timedelta(hours=12),
                               firm_ids, ops, rng, "CA")
            loader.triggers(True)
            t0 = time.perf_counter()
            rollup.refresh(sl)
            print(f"  loaded in {took:.0f} s; day rows built in {time.perf_counter() - t0:.1f} s; "
                  f"settling: {c.settle():.0f} s")
            busiest = Tenant.get_by_id(firm_ids[0])
        local_today = now.astimezone(JST).date()
        week_ago = local_today - dt.timedelta(days=6)
        first_of_month = local_today.replace(day=1)
        tomorrow = today + dt.timedelta(days=1)
        month_start = days.midnight(first_of_month, JST)
        week_start = days.midnight(week_ago, JST)

        def quiet(fn):
            def run():
                with db.db.connection_context():
                    fn()
            return run

        with TestClient(app, base_url="http://testserver") as client:
            token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
            assert client.post("/login", data={"email": "sv@bench.example", "password": PASSWORD, "csrf_token": token},
                               follow_redirects=False).status_code == 303

            def page(path: str, **params):
                def get():
                    response = client.get(path, params=params)
                    assert response.status_code == 200, response.text[:500]
                return get

            month = {"period": "month"}
            cases = [
                ("today: every firm by hour", page("/supervisor/stats"),
                 quiet(lambda: stats.figures(today, tomorrow, interval="1h", service_level=sl))),
                ("month: every firm by day", page("/supervisor/stats", **month),
                 quiet(lambda: stats.figures(month_start, tomorrow, interval="1d", service_level=sl))),
                ("firm: busiest, 7 days by hour",
                 page("/supervisor/stats", firm=busiest.slug, **{"from": week_ago.isoformat(),
                                                                 "to": local_today.isoformat()}),
                 quiet(lambda: stats.figures(week_start, tomorrow, tenant=busiest, interval="1h", service_level=sl))),
                ("csv: this month, every firm's row", page("/supervisor/stats.csv", table="firms", **month),
                 quiet(lambda: stats.by_tenant(month_start, tomorrow, service_level=sl))),
            ]
            rows = []
            for name, fn, base in cases:
                fn(), base()  # warm
                shown = loader.timed(fn, args.repeat)
                alone = loader.timed(base, args.repeat)
                rows.append([name, f"{c.percentile(shown, 50):.0f}", f"{c.percentile(shown, 95):.0f}",
                             f"{c.percentile(alone, 50):.0f}", f"{c.percentile(alone, 95):.0f}"])
        print(c.table(["request (ms)", "page p50", "page p95", "figures() p50", "figures() p95"], rows))
        c.release_connections()
    return 0


if __name__ == "__main__":
    c.run(main)
