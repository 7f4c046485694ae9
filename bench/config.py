#!/usr/bin/env python
"""Configuring firms in the product: saving a large firm, and previewing a report of 200 messages.

    .venv/bin/python bench/config.py                      # a fresh SQLite file in a temp folder, ~30 s
    .venv/bin/python bench/config.py --database-url postgresql://postgres@127.0.0.1:5432/test

The app's code runs in this process, as a web worker runs it, on a throw-away database:

  save     a firm of 50 staff, 20 call types (5 standard and 2 extra fields each) and 10 reports (two
           deliveries each) saved --saves times through ``store.save`` — the one door of the editor,
           the API and restores — each time with one key changed (the answer phrase): validated as the
           API validates it, then saved (snapshot before, apply, diff, the version row, the audit entry).
           Target: p95 under 100 ms. Baselines in the same run: ``config.validate`` alone and
           ``store.snapshot`` alone on the same firm.
  preview  a report whose period holds 200 messages (e-mail and SMS recipients), previewed --previews
           times as ``POST /api/v1/tenants/{slug}/reports/{key}/preview`` makes it (``preview.preview``:
           the period, the messages, the e-mail and SMS rendered) and through the API itself
           (in-process ASGI client: token, JSON). Target: p95 under 300 ms. Baseline in the same run:
           ``render.report`` alone on the same messages (what any run of that report costs).

Figures on the development machine (2 CPUs, Python 3.11.7, quiet), 26 Nov 2026, in ms (p50 / p95):

                                        SQLite        PostgreSQL 15
  store.save, one key changed           23.7 / 25.6   23.6 / 34.8     target p95 < 100
    validate alone                       5.0 /  5.2    8.4 /  8.9
    snapshot alone                       5.1 /  5.6    9.0 / 11.0
  preview.preview, 200 messages         47.9 / 62.0   38.2 / 63.4     target p95 < 300
  POST …/preview (API, in-process)      74.1 / 77.6   73.0 / 80.4     target p95 < 300
    render.report alone                 33.6 / 37.9   43.5 / 49.5

Before this bench, saving that firm took 56.5 / 96.0 ms on SQLite (validate alone 20.7 / 22.3,
snapshot alone 19.5 / 21.5): the snapshot read each call type's fields and each report's recipients
in a query of their own (~45 queries), every save rewrote all 50 staff, 20 call types with their
fields and 10 reports with their recipients, and the validator listed the system's time zones
from disk on every check. Now the snapshot takes 9 queries, a save ~20, and only what changed is
written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

from app import db, settings as settings_module  # noqa: E402
from app.accounts import service as accounts  # noqa: E402
from app.messages import forms, service as messages  # noqa: E402
from app.messages.models import Message  # noqa: E402
from app.reports import preview, render  # noqa: E402
from app.tenants import store  # noqa: E402
from app.tenants.config import validate  # noqa: E402
from app.tenants.models import ReportRule  # noqa: E402

SAVE_TARGET_MS, PREVIEW_TARGET_MS = 100.0, 300.0
WARMUP = 5
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
FIELDS = ["caller_name", "caller_company", "callback_number", "for_staff", "body"]


def large_firm(rng: random.Random, phrase: str) -> dict:
    """The tenant file of a large firm, as a dict (what the editor and the API send)."""
    staff = [{"key": f"s{i:02d}", "name": f"社員 {i:02d}", "name_kana": f"しゃいん {i:02d}", "title": "課長",
              "email": f"s{i:02d}@big.example.jp", "mobile": c.mobile(rng)} for i in range(50)]
    call_types = [{"key": f"ct{i:02d}", "label": f"用件 {i:02d}", "category": "message",
                   "script": f"用件 {i:02d} のときは、ご用件とご連絡先を伺い、担当者を確認してください。" * 3,
                   "fields": FIELDS, "required": ["caller_name", "callback_number"],
                   "readback": ["caller_name", "callback_number"],
                   "extra_fields": [{"key": "case_no", "label": "案件番号", "type": "text"},
                                    {"key": "kind", "label": "種別", "type": "select", "options": ["新規", "既存"]}]}
                  for i in range(20)]
    reports = [{"key": f"r{i:02d}", "at": [f"{8 + i:02d}:00"], "days": WEEKDAYS, "exclude_categories": ["sales"],
                "deliver": [{"channel": "email", "to": [f"office{i}@big.example.jp"]},
                            {"channel": "email", "to_staff": [f"s{i:02d}", f"s{i + 10:02d}"]}]} for i in range(10)]
    return {"slug": "big", "name": "大規模株式会社", "name_kana": "だいきぼかぶしきがいしゃ", "answer_phrase": phrase,
            "instructions": "折り返しは担当者から。" * 20,
            "numbers": [{"number": "03-5555-0001", "kind": "forwarded"}, {"number": "050-5555-0002",
                                                                            "kind": "dedicated"}],
            "hours": {**{d: "09:00-18:00" for d in WEEKDAYS}, "sat": "", "sun": "", "closed_on_holidays": "JP"},
            "staff": staff, "call_types": call_types, "reports": reports,
            "notify": [{"urgent": True, "deliver": [{"channel": "email", "to_staff": ["s00"]}]}]}


def timed(fn, n: int) -> list[float]:
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)


def row(name: str, times: list[float], target: float | None = None) -> list[str]:
    p95 = c.percentile(times, 95)
    return [name, f"{c.percentile(times, 50):.1f}", f"{p95:.1f}", f"{times[-1]:.1f}",
            c.verdict(p95 < target) if target else "baseline"]


def bench_save(saves: int, rng: random.Random) -> tuple[list[list[str]], bool]:
    admin = accounts.add_user("bench-admin@example.com", "admin", password=c.new_secret())
    first, problems = validate(large_firm(rng, "お電話ありがとうございます。"), default_region="JP")
    assert not problems, problems
    tenant = store.save(first, actor=admin, via="api", create=True).tenant
    raw = large_firm(rng, "")
    counter = iter(range(10 ** 9))

    def save() -> None:  # one key changed each time, as an editor's save sends the whole firm
        config, problems = validate({**raw, "answer_phrase": f"お電話ありがとうございます。({next(counter)})"},
                                    default_region="JP", folder_slug="big")
        assert not problems and store.save(config, actor=admin, via="api").version is not None

    saved = timed(save, saves)
    assert tenant.versions.count() == saves + WARMUP + 1
    validating = timed(lambda: validate(raw, default_region="JP", folder_slug="big"), saves)
    snapshotting = timed(lambda: store.snapshot(tenant), saves)
    ok = c.percentile(saved, 95) < SAVE_TARGET_MS
    return [row("store.save, one key changed", saved, SAVE_TARGET_MS), row("validate alone", validating),
            row("snapshot alone", snapshotting)], ok


def bench_preview(settings, previews: int, rng: random.Random) -> tuple[list[list[str]], bool]:
    from starlette.testclient import TestClient

    from app.main import create_app

    config, problems = validate({
        "slug": "busy", "name": "繁忙法律事務所", "answer_phrase": "お電話ありがとうございます。",
        "numbers": [{"number": "03-5555-0003", "kind": "forwarded"}],
        "staff": [{"key": "yamada", "name": "山田 太郎", "mobile": c.mobile(rng)}],
        "reports": [{"key": "evening", "at": ["18:00"], "deliver": [
            {"channel": "email", "to": ["office@busy.example.jp"]}, {"channel": "sms", "to_staff": ["yamada"]}]}]},
        default_region="JP")
    assert not problems, problems
    tenant = store.save(config, via="file").tenant
    rule = ReportRule.get(ReportRule.tenant == tenant)
    at = preview.next_time(rule, tenant)
    start = at - dt.timedelta(hours=23)
    form = forms.form_of(tenant, None)
    for i in range(200):
        clean = forms.Clean(form, "message", i % 10 == 0, {
            "caller_name": f"発信者 {i:03d}", "caller_company": f"取引先{i % 17}株式会社", "callback_number": c.mobile(rng),
            "body": f"{i} 件目の伝言です。見積書の件で折り返しお電話をお願いします。"}, [], {})
        Message.update(taken_at=start + dt.timedelta(minutes=5 * i + 1)).where(
            Message.id == messages.record(tenant, clean, None).id).execute()
    made = preview.preview(settings, tenant, rule, at, forms={"sms"})
    assert len(made.messages) == 200 and made.rendered.html and made.rendered.sms
    setup = render.Setup.of_rules([rule])[rule.id]
    previewing = timed(lambda: preview.preview(settings, tenant, rule, at, forms={"sms"}), previews)
    rendering = timed(lambda: render.report(settings, tenant, rule, made.start, at, made.messages, setup, {"sms"}),
                      previews)
    supervisor = accounts.add_user("bench-sv@example.com", "supervisor", password=c.new_secret())
    token = accounts.create_token(supervisor.email)[1]
    url, body = "/api/v1/tenants/busy/reports/evening/preview", {"at": at.isoformat()}
    with TestClient(create_app(settings)) as client:
        def request() -> None:
            response = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200 and len(response.json()["messages"]) == 200, response.text

        api = timed(request, previews)
    ok = c.percentile(previewing, 95) < PREVIEW_TARGET_MS and c.percentile(api, 95) < PREVIEW_TARGET_MS
    return [row("preview.preview, 200 messages", previewing, PREVIEW_TARGET_MS),
            row("POST …/preview (API, in-process)", api, PREVIEW_TARGET_MS),
            row("render.report alone", rendering)], ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_database_url_option(p)
    p.add_argument("--saves", type=int, default=100, help="saves measured (default 100)")
    p.add_argument("--previews", type=int, default=40, help="previews measured (default 40)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = p.parse_args()
    c.sigterm_as_interrupt()
    rng = random.Random(1)
    with c.workdir(args.keep) as work, c.throwaway_database(args.database_url, work) as url:
        kind = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        print(f"Dengon configuration bench — {kind}; {os.cpu_count()} CPUs, Python {platform.python_version()}",
              flush=True)
        settings = settings_module.load(c.app_env(url, c.new_secret(), work), var_dir=work)
        db.bind(url)
        db.migrate()
        try:
            with db.db.connection_context():
                with c.CPUMeter([], url) as save_meter:
                    saves, save_ok = bench_save(args.saves, rng)
                with c.CPUMeter([], url) as preview_meter:
                    previews, preview_ok = bench_preview(settings, args.previews, rng)
        finally:
            c.release_connections()
        print()
        print(c.table(["milliseconds", "p50", "p95", "max", "target"], saves + previews))
        print()
        print(f"  save: p95 under {SAVE_TARGET_MS:.0f} ms: {c.verdict(save_ok)}; "
              f"preview: p95 under {PREVIEW_TARGET_MS:.0f} ms: {c.verdict(preview_ok)}")
        print(c.machine_check(max(save_meter.other_cores, preview_meter.other_cores)))
    return 0 if save_ok and preview_ok else 1


if __name__ == "__main__":
    c.run(main)
