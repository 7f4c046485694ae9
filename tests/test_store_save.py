"""store.save on a large firm: what changed is written, what did not is left alone, and reading the
firm back (the snapshot every save starts from) takes a fixed number of queries however large it is."""

import copy
import random
import sys
from pathlib import Path

from app import db
from app.tenants import store
from app.tenants.config import validate
from app.tenants.models import CallType, ReportRule, Staff, Tenant

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from config import large_firm  # noqa: E402  (bench/config.py: 50 staff, 20 call types, 10 reports)


def checked(raw: dict) -> dict:
    config, problems = validate(raw, default_region="JP")
    assert not problems, problems
    return config


def queries_of(action) -> list[str]:
    seen, execute = [], db.db.obj.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return execute(sql, params, *args, **kwargs)

    db.db.obj.execute_sql = counting
    try:
        action()
    finally:
        del db.db.obj.execute_sql  # the class's method again
    return seen


def test_saving_a_large_firm_with_one_key_changed_takes_a_handful_of_queries_not_one_per_row(database):
    raw = large_firm(random.Random(1), "お電話ありがとうございます。")
    tenant = store.save(checked(raw), via="api", create=True).tenant
    assert len(queries_of(lambda: store.snapshot(tenant))) <= 10
    changed = checked({**raw, "answer_phrase": "はい、大規模株式会社でございます。"})
    assert len(queries_of(lambda: store.save(changed, via="api"))) <= 30
    assert store.snapshot(Tenant.get_by_id(tenant.id)) == changed and tenant.versions.count() == 2


def test_each_kind_of_change_to_a_large_firm_is_saved_and_unchanged_rows_keep_their_ids(database):
    raw = large_firm(random.Random(1), "お電話ありがとうございます。")
    tenant = store.save(checked(raw), via="api", create=True).tenant
    ids = {s.key: s.id for s in tenant.staff}
    edited = copy.deepcopy(raw)
    edited["staff"][3]["title"] = "部長"  # one changed
    edited["staff"][10], edited["staff"][11] = edited["staff"][11], edited["staff"][10]  # two swapped
    del edited["staff"][49]  # one gone (not named by any report)
    edited["call_types"][5]["extra_fields"][1]["options"] = ["新規", "既存", "不明"]
    edited["call_types"][6]["required"] = ["caller_name"]
    edited["reports"][2]["deliver"][0]["to"] = ["new-office@big.example.jp"]
    del edited["reports"][9]
    config = checked(edited)
    store.save(config, via="api")
    assert store.snapshot(Tenant.get_by_id(tenant.id)) == config
    assert {s.key: s.id for s in tenant.staff} == {k: v for k, v in ids.items() if k != "s49"}
    assert [s.key for s in tenant.staff.order_by(Staff.position)][10:12] == ["s11", "s10"]
    assert CallType.select().where(CallType.tenant == tenant).count() == 20
    assert ReportRule.select().where(ReportRule.tenant == tenant).count() == 9
