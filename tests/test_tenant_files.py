"""Tenant files: validated whole before anything is written, idempotent, and stable through export."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.audit import AuditEntry
from app.i18n import use_locale
from app.tenants import store
from app.tenants.config import TenantFileError, validate
from app.tenants.models import CallTypeField, Staff, Tenant, TenantNumber

ROOT = Path(__file__).resolve().parent.parent
DEMO = store.tenant_files(ROOT / "tenants")


@pytest.fixture(autouse=True)
def english():
    """These tests read the messages as the command line prints them."""
    with use_locale("en"):
        yield


def write_tenant(folder: Path, slug: str, body: str) -> Path:
    (folder / slug).mkdir(parents=True, exist_ok=True)
    path = folder / slug / "tenant.toml"
    path.write_text(body, encoding="utf-8")
    return path


def problems_of(raw: dict) -> list[str]:
    return [str(p) for p in validate(raw)[1]]


def test_the_demo_firms_are_at_least_three_and_all_valid(database):
    assert len(DEMO) >= 3
    result = store.import_files(DEMO, default_region="JP")
    assert sorted(result.created) == sorted(p.parent.name for p in DEMO)


def test_importing_the_same_files_twice_changes_nothing(database):
    store.import_files(DEMO, default_region="JP")
    entries = AuditEntry.select().count()
    stamps = {t.slug: t.updated_at for t in Tenant.select()}
    result = store.import_files(DEMO, default_region="JP")
    assert result.created == result.updated == []
    assert AuditEntry.select().count() == entries
    assert {t.slug: t.updated_at for t in Tenant.select()} == stamps


def test_export_then_import_into_an_empty_database_then_export_gives_the_same_text(database, tmp_path):
    store.import_files(DEMO, default_region="JP")
    first = {p.parent.name: store.export(p.parent.name) for p in DEMO}
    for model in (TenantNumber, Tenant):
        model.delete().execute()
    assert Tenant.select().count() == 0
    for slug, text in first.items():
        write_tenant(tmp_path, slug, text)
    store.import_files(store.tenant_files(tmp_path), default_region="JP")
    assert {slug: store.export(slug) for slug in first} == first


def test_an_exported_demo_firm_means_what_its_file_says(database):
    store.import_files(DEMO, default_region="JP")
    for path in DEMO:
        import tomllib

        original, _ = validate(tomllib.loads(path.read_text()))
        exported, problems = validate(tomllib.loads(store.export(path.parent.name)))
        assert problems == [] and exported == original


def test_a_file_with_several_mistakes_is_rejected_with_all_of_them_and_nothing_is_written(database, tmp_path):
    store.import_files(DEMO, default_region="JP")
    before = {p.parent.name: store.export(p.parent.name) for p in DEMO}
    shutil.copytree(ROOT / "tenants", tmp_path / "tenants")
    write_tenant(tmp_path / "tenants", "broken-firm", '''
slug = "broken-firm"
name = "壊れた商事"
answer_phrase = "お電話ありがとうございます。"
colour = "blue"
numbers = [
  { number = "03-9999-0000", kind = "forwarded" },
  { number = "03-1234", kind = "forwarded" },
  { number = "+81 50 5555 0101", kind = "mobile" },
]
[hours]
mon = "09:00-18:00"
tue = "18:00-09:00"
[[staff]]
key = "Boss"
name = "社長"
email = "not-an-address"
[[reports]]
key = "evening"
at = ["25:00"]
[[reports.deliver]]
channel = "sms"
to_staff = ["nobody"]
''')
    # A valid file in the same batch must not be written either: all or nothing.
    valid = tmp_path / "tenants" / "yamada-law" / "tenant.toml"
    valid.write_text(valid.read_text().replace("山田法律事務所", "山田総合法律事務所", 1))

    with pytest.raises(TenantFileError) as caught:
        store.import_files(store.tenant_files(tmp_path / "tenants"), default_region="JP")
    message = str(caught.value)
    for expected in [
        'colour: unknown key',
        'numbers[1].number: "03-1234" is not a valid phone number in region JP',
        'numbers[2].kind: "mobile" is not one of: forwarded, dedicated',
        'numbers[2].number: "+815055550101" already belongs to the firm yamada-law',
        'hours.tue: "18:00-09:00" is not a time range',
        'hours.wed: missing',
        'staff[0].key: "Boss" is not a valid key',
        'staff[0].email: "not-an-address" is not an e-mail address',
        'reports[0].at[0]: "25:00" is not a time',
        'reports[0].deliver[0].to_staff[0]: "nobody" is not a staff key of this firm',
    ]:
        assert expected in message
    assert all(line.startswith(str(tmp_path / "tenants" / "broken-firm" / "tenant.toml"))
               for line in message.splitlines())
    assert Tenant.by_slug("broken-firm") is None
    assert {p.parent.name: store.export(p.parent.name) for p in DEMO} == before


def test_numbers_in_any_format_are_stored_as_e164(database):
    config, problems = validate({
        "slug": "formats", "name": "書式", "answer_phrase": "はい", "numbers": [
            {"number": "０３－１２３４－５６７８", "kind": "forwarded"},
            {"number": "(03) 1234-5670", "kind": "forwarded"},
            {"number": "+81 50 5555 0199", "kind": "dedicated"},
            {"number": "+1 (212) 555-0123", "kind": "dedicated"},
        ]})
    assert problems == []
    assert [n["number"] for n in config["numbers"]] == ["+81312345678", "+81312345670", "+815055550199",
                                                         "+12125550123"]


def test_a_number_given_twice_in_one_file_is_reported():
    assert any("numbers[1].number" in p and "same number" in p for p in problems_of({
        "slug": "twice", "name": "二重", "answer_phrase": "はい", "numbers": [
            {"number": "03-1234-5678", "kind": "forwarded"}, {"number": "+81312345678", "kind": "dedicated"}]}))


def test_a_firm_without_numbers_or_answer_phrase_is_refused():
    found = problems_of({"slug": "empty", "name": "空"})
    assert "answer_phrase: missing; expected a text value" in found
    assert any(p.startswith("numbers: missing") for p in found)


def test_the_slug_must_equal_the_folder_name(database, tmp_path):
    write_tenant(tmp_path, "folder-name", 'slug = "other-name"\nname = "x"\nanswer_phrase = "x"\n'
                                          'numbers = [{ number = "03-1234-5678", kind = "forwarded" }]\n')
    with pytest.raises(TenantFileError, match='slug: "other-name" must equal the folder name "folder-name"'):
        store.import_files(store.tenant_files(tmp_path), default_region="JP")


def test_a_file_that_is_not_toml_is_reported_with_its_name(database, tmp_path):
    path = write_tenant(tmp_path, "bad-toml", 'slug = "bad-toml"\nname = \n')
    with pytest.raises(TenantFileError, match=f"{path}: not a valid TOML file"):
        store.import_files([path], default_region="JP")


def test_sms_recipients_must_be_mobile_numbers():
    found = problems_of({
        "slug": "sms", "name": "x", "answer_phrase": "x",
        "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
        "notify": [{"urgent": True, "deliver": [{"channel": "sms", "to": ["03-1234-5679"]}]}]})
    assert found == ['notify[0].deliver[0].to[0]: "03-1234-5679" is not a mobile number (SMS needs one)']


def test_required_and_readback_fields_must_be_fields_of_the_call_type():
    found = problems_of({
        "slug": "ct", "name": "x", "answer_phrase": "x",
        "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
        "call_types": [{"key": "a", "label": "A", "fields": ["caller_name"], "required": ["body"],
                        "readback": ["callback_number"],
                        "extra_fields": [{"key": "kind", "label": "種類", "type": "select"}]}]})
    assert 'call_types[0].required[0]: "body" is not in this call type\'s fields' in found
    assert 'call_types[0].readback[0]: "callback_number" is not in this call type\'s fields' in found
    assert 'call_types[0].extra_fields[0].options: missing; type = "select" needs a list of options' in found


def test_changing_a_firm_updates_it_in_place_and_audits_what_changed(database, tmp_path):
    store.import_files(DEMO, default_region="JP")
    staff_id = Staff.get(Staff.key == "yamada").id
    shutil.copytree(ROOT / "tenants" / "yamada-law", tmp_path / "yamada-law")
    path = tmp_path / "yamada-law" / "tenant.toml"
    path.write_text(path.read_text().replace('title = "代表弁護士"', 'title = "所長弁護士"'))
    result = store.import_files([path], default_region="JP")
    assert result.updated == ["yamada-law"]
    # Rows others refer to keep their identity when their key stays.
    assert Staff.get(Staff.key == "yamada").id == staff_id
    entry = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
    assert entry.action == "tenant.import" and entry.tenant.slug == "yamada-law"
    assert entry.changes == {"staff[0].title": ["代表弁護士", "所長弁護士"]}


def test_a_firm_without_call_types_keeps_none_in_its_export(database):
    store.import_files(DEMO, default_region="JP")
    harbor = Tenant.by_slug("harbor-it")
    assert harbor.call_types.count() == 0
    assert "call_types" not in store.export("harbor-it")


def test_form_fields_keep_the_files_order_with_extra_fields_last(database):
    config = minimal_config_with_call_type()
    tenant = store.import_config(config)
    fields = list(CallTypeField.select().where(CallTypeField.call_type == tenant.call_types.get())
                  .order_by(CallTypeField.position))
    assert [(f.key, f.standard) for f in fields] == [
        ("body", True), ("caller_name", True), ("case", False), ("kind", False)]
    assert fields[3].options == ["新規", "継続"] and fields[2].readback


def minimal_config_with_call_type() -> dict:
    config, problems = validate({
        "slug": "ordered", "name": "順序", "answer_phrase": "はい",
        "numbers": [{"number": "03-4444-5555", "kind": "forwarded"}],
        "call_types": [{"key": "a", "label": "A", "fields": ["body", "caller_name"], "required": ["body"],
                        "extra_fields": [{"key": "case", "label": "番号", "readback": True},
                                         {"key": "kind", "label": "種類", "type": "select",
                                          "options": ["新規", "継続"]}]}]})
    assert problems == []
    return config


def test_reports_need_somewhere_to_go():
    found = problems_of({"slug": "x1", "name": "x", "answer_phrase": "x",
                         "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
                         "reports": [{"key": "r", "at": ["18:00"], "deliver": []}]})
    assert found == ["reports[0].deliver: missing; expected at least one { channel, to / to_staff }"]


def test_times_must_be_written_with_ascii_digits():
    found = problems_of({"slug": "x1", "name": "x", "answer_phrase": "x",
                         "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
                         "reports": [{"key": "r", "at": ["1８:00"],
                                      "deliver": [{"channel": "email", "to": ["a@example.jp"]}]}]})
    assert found == ['reports[0].at[0]: "1８:00" is not a time; expected "HH:MM" from 00:00 to 23:59']


def test_a_number_with_an_extension_is_refused():
    found = problems_of({"slug": "x1", "name": "x", "answer_phrase": "x",
                         "numbers": [{"number": "03-1234-5678 ext. 12", "kind": "forwarded"}]})
    assert found == ['numbers[0].number: "03-1234-5678 ext. 12": an extension cannot be dialled; '
                     'give the number alone']


def test_values_longer_than_the_database_keeps_are_reported_not_truncated(database):
    found = problems_of({"slug": "x1", "name": "名" * 201, "answer_phrase": "x",
                         "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
                         "staff": [{"key": "k" * 41, "name": "x"}],
                         "hours": {**{d: "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                   "closed_on_holidays": "JPN"}})
    assert "name: is 201 characters long; at most 200 fit" in found
    assert any(p.startswith("staff[0].key:") for p in found)
    assert any(p.startswith("hours.closed_on_holidays:") for p in found)


def test_a_number_may_move_from_one_firm_to_another_in_one_import(database, tmp_path):
    store.import_files(DEMO, default_region="JP")
    shutil.copytree(ROOT / "tenants", tmp_path / "tenants")
    law = tmp_path / "tenants" / "yamada-law" / "tenant.toml"
    clinic = tmp_path / "tenants" / "sakura-clinic" / "tenant.toml"
    law.write_text(law.read_text().replace('  { number = "+81 50 5555 0101", kind = "dedicated" },\n', ""))
    clinic.write_text(clinic.read_text().replace(
        'numbers = [\n', 'numbers = [\n  { number = "+81 50 5555 0101", kind = "dedicated" },\n'))
    result = store.import_files([law, clinic], default_region="JP")
    assert sorted(result.updated) == ["sakura-clinic", "yamada-law"]
    assert TenantNumber.get(TenantNumber.number == "+815055550101").tenant.slug == "sakura-clinic"


def test_problems_are_worded_in_the_readers_language():
    raw = {"slug": "x", "name": "x", "answer_phrase": "x", "numbers": [{"number": "03-1234", "kind": "forwarded"}]}
    with use_locale("ja"):
        assert [str(p) for p in validate(raw)[1]] == [
            'slug: "x" はスラッグとして使えません。英小文字・数字・ハイフンの2〜40文字で指定してください',
            'numbers[0].number: "03-1234" は地域 JP の有効な電話番号ではありません']


def test_every_declared_key_is_documented_in_the_shipped_format_description():
    import re

    from app.tenants.config import CATEGORIES, CHANNELS, STANDARD_FIELDS, WEEKDAYS
    from app.tenants.schema import every_key

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "tenant-toml.md").read_text()
    code = " ".join(re.findall(r"`([^`]+)`", doc))  # `key`, `[hours]`, `[[reports.deliver]]`, `channel = "email"`
    keys = {key.name for _path, key in every_key()}
    assert {"plan", "statement_to", "after_hours_message", "extra_fields", "deliver"} <= keys
    keys = (keys | set(CATEGORIES) | set(CHANNELS) | set(STANDARD_FIELDS)) - set(WEEKDAYS)
    assert not sorted(k for k in keys if not re.search(rf"(?<![\w-]){k}(?![\w-])", code))
    assert "`mon` … `sun`" in doc
    assert "(docs/tenant-toml.md)" in (root / "README.md").read_text()
    # Only what this version refuses is marked as not accepted yet.
    assert "`[plan]`" not in doc.split("## Keys")[0]


def test_a_plan_is_kept_through_export_and_import_even_where_it_differs_from_the_defaults(database):
    import tomllib

    raw_plan = {"name": "ライト", "monthly_fee": 9800, "included_calls": 30, "bill_voicemail": False,
                "statement_to": ["keiri@example.jp"]}
    config, problems = validate({**tomllib.loads(store.to_toml(minimal_config_with_call_type())), "plan": raw_plan})
    assert problems == []
    assert config["plan"] == {**raw_plan, "overage_fee": 0, "bill_noise": False}
    store.import_config(config)
    text = store.export("ordered")
    assert "[plan]" in text and "bill_voicemail = false" in text
    assert validate(tomllib.loads(text))[0] == config


def test_a_plan_with_a_fee_that_is_not_a_whole_number_is_refused():
    found = problems_of({"slug": "x1", "name": "x", "answer_phrase": "x",
                         "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}],
                         "plan": {"monthly_fee": "10000", "overage_fee": -5, "colour": "blue"}})
    assert found == ["plan.colour: unknown key; expected one of: name, monthly_fee, overage_fee, included_calls, "
                     "bill_noise, bill_voicemail, statement_to",
                     'plan.monthly_fee: expected a whole number from 0 to 100000000, got "10000"',
                     "plan.overage_fee: expected a whole number from 0 to 100000000, got -5"]


def test_a_call_types_urgency_and_who_it_may_be_put_through_to_survive_export_and_import(database):
    import tomllib

    config, problems = validate({**minimal_raw(), "staff": [
        {"key": "takeda", "name": "武田 翔", "mobile": "070-4428-1963"}, {"key": "office", "name": "事務所"}],
        "call_types": [{"key": "emergency", "label": "至急", "urgent": True, "fields": ["body"],
                        "transfer_to_staff": ["takeda"]},
                       {"key": "other", "label": "その他", "fields": ["body"]}]})
    assert problems == []
    store.import_config(config)
    text = store.export("ct")
    assert "urgent = true" in text and 'transfer_to_staff = [\n    "takeda",\n]' in text
    # What means what leaving it out means is left out.
    assert text.count("urgent") == 1 and text.count("transfer_to_staff") == 1
    assert validate(tomllib.loads(text))[0] == config == store.snapshot(Tenant.by_slug("ct"))


def test_a_call_type_may_only_be_put_through_to_the_firms_staff_with_a_mobile():
    found = problems_of({**minimal_raw(), "staff": [{"key": "office", "name": "事務所", "email": "o@example.jp"}],
                         "call_types": [{"key": "a", "label": "A", "fields": ["body"], "urgent": "yes",
                                         "transfer_to_staff": ["office", "suzuki", "office"]}]})
    assert found == [
        'call_types[0].urgent: expected true or false, got "yes"',
        'call_types[0].transfer_to_staff[2]: "office" is listed twice',
        'call_types[0].transfer_to_staff[0]: "office" has no mobile to put calls through to',
        'call_types[0].transfer_to_staff[1]: "suzuki" is not a staff key of this firm',
        'call_types[0].transfer_to_staff[2]: "office" has no mobile to put calls through to',
    ]


def minimal_raw() -> dict:
    return {"slug": "ct", "name": "x", "answer_phrase": "x", "numbers": [{"number": "03-1234-5678", "kind": "forwarded"}]}
