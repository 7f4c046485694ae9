"""JSON API v1, firm configuration: the tenant file as JSON, checked by the file validator, saved as
versions; a stale save is refused; clients read their own firm and change nothing."""

import copy
import threading

import pytest

from app.accounts.service import create_token
from app.tenants import store
from app.tenants.models import Tenant
from app.tenants.versions import TenantVersion

from .conftest import minimal_config

LAW = {
    "staff": [{"key": "yamada", "name": "山田 太郎", "email": "yamada@law.example.jp", "mobile": "090-1234-5678"},
              {"key": "sato", "name": "佐藤 花子"}],
    "hours": {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
              "fri": "09:00-18:00", "sat": "", "sun": "", "closed_on_holidays": "JP", "after_hours": "voicemail"},
    "call_types": [{"key": "consultation", "label": "法律相談", "fields": ["caller_name", "callback_number", "body"],
                    "required": ["caller_name"], "readback": ["callback_number"],
                    "extra_fields": [{"key": "case", "label": "事件番号", "type": "select", "options": ["民事", "刑事"]}]}],
    "reports": [{"key": "evening", "at": ["18:00"], "deliver": [
        {"channel": "email", "to": ["office@law.example.jp"]}, {"channel": "fax", "to": ["03-1234-5679"]}]}],
    "notify": [{"urgent": True, "deliver": [{"channel": "sms", "to_staff": ["yamada"]}]}],
}


@pytest.fixture
def law(database):
    return store.import_config(minimal_config("law", "03-1234-5678", "050-5555-0101", **copy.deepcopy(LAW)))


def bearer(user, language="en"):
    return {"Authorization": f"Bearer {create_token(user.email)[1]}", "Accept-Language": language}


def read(client, user, slug="law"):
    response = client.get(f"/api/v1/tenants/{slug}", headers=bearer(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_firm_reads_as_exactly_the_tenant_files_keys_plus_its_version(client, law, admin):
    body = read(client, admin)
    assert set(body) == {*store.snapshot(law), "version"}
    assert body["version"] == 1 and body["numbers"][1] == {"number": "+815055550101", "kind": "forwarded"}
    assert body["hours"]["wed"] == "09:00-18:00" and body["reports"][0]["deliver"][1]["to"] == ["+81312345679"]
    listed = client.get("/api/v1/tenants", headers=bearer(admin)).json()["tenants"]
    assert {"slug": "law", "name": "law 株式会社", "version": 1} in listed


def test_sending_back_what_was_read_saves_nothing_new(client, law, admin):
    body = read(client, admin)
    response = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1 and TenantVersion.select().count() == 1


def test_a_change_is_saved_as_the_next_version_with_the_key_paths_it_changed(client, law, admin):
    body = read(client, admin)
    body["hours"]["wed"] = "10:00-17:00"
    body["staff"][1]["title"] = "事務"
    response = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin) | {"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2 and response.headers["etag"] == '"2"'
    assert Tenant.by_slug("law").hours["wed"] == "10:00-17:00"

    versions = client.get("/api/v1/tenants/law/versions", headers=bearer(admin)).json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert sorted(versions[0]["changes"]) == ["hours.wed", "staff[1].title"]
    assert versions[0]["saved_by"] == admin.email and versions[0]["via"] == "api"
    assert versions[0]["saved_at"].endswith("+09:00") and versions[1]["via"] == "file"

    old = client.get("/api/v1/tenants/law/versions/1", headers=bearer(admin)).json()
    assert old["version"] == 1 and old["hours"]["wed"] == "09:00-18:00" and old["staff"][1]["title"] == ""
    assert client.get("/api/v1/tenants/law/versions/9", headers=bearer(admin)).status_code == 404


def test_a_save_from_a_version_someone_has_saved_over_is_refused_with_412(client, law, admin):
    body = read(client, admin)
    first, second = copy.deepcopy(body), copy.deepcopy(body)
    first["instructions"] = "営業電話はお断りください。"
    second["name_kana"] = "やまだ"
    assert client.put("/api/v1/tenants/law", json=first, headers=bearer(admin) | {"If-Match": '"1"'}).status_code == 200
    stale = client.put("/api/v1/tenants/law", json=second, headers=bearer(admin) | {"If-Match": '"1"'})
    assert stale.status_code == 412 and "version" in stale.json()["errors"]
    assert Tenant.by_slug("law").name_kana == "" and Tenant.by_slug("law").instructions == "営業電話はお断りください。"
    assert client.put("/api/v1/tenants/law", json=second, headers=bearer(admin) | {"If-Match": "two"}).status_code == 412


def test_of_two_saves_racing_from_the_same_version_exactly_one_lands(app, law, admin):
    from starlette.testclient import TestClient

    body = read(TestClient(app), admin)
    headers = bearer(admin) | {"If-Match": '"1"'}
    results, start = [], threading.Barrier(4)

    def put(i):
        change = copy.deepcopy(body)
        change["instructions"] = f"変更 {i}"
        with TestClient(app) as own:
            start.wait()
            results.append(own.put("/api/v1/tenants/law", json=change, headers=headers).status_code)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412, 412, 412]
    assert Tenant.by_slug("law").version == 2 and TenantVersion.select().count() == 2


def _set(path):
    """A change to the JSON: ``path`` is a list of keys/indexes and the last item the new value."""
    def change(body):
        *keys, last, value = path
        target = body
        for key in keys:
            target = target[key]
        target[last] = value
    return change


def _drop(*keys):
    def change(body):
        target = body
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


# Every kind of problem the tenant-file validator knows, and the key path the API must name.
INVALID = [
    (_set(["colour", "red"]), "colour"),
    (_drop("name"), "name"),
    (_set(["name", 5]), "name"),
    (_set(["name", "長" * 201]), "name"),
    (_set(["answer_phrase", "  "]), "answer_phrase"),
    (_set(["language", "fr"]), "language"),
    (_set(["timezone", "Mars/Olympus"]), "timezone"),
    (_set(["region", "XX"]), "region"),
    (_set(["slug", "other-firm"]), "slug"),
    (_set(["numbers", []]), "numbers"),
    (_set(["numbers", 1, "number", "03-1234"]), "numbers[1].number"),
    (_set(["numbers", 1, "number", "03-1234-5678"]), "numbers[1].number"),
    (_set(["numbers", 0, "kind", "mobile"]), "numbers[0].kind"),
    (_set(["numbers", 0, "extension", "12"]), "numbers[0].extension"),
    (_set(["hours", []]), "hours"),
    (_set(["hours", "wed", "9:00-18:00"]), "hours.wed"),
    (_set(["hours", "thu", "09:00-13:00,12:00-18:00"]), "hours.thu"),
    (_drop("hours", "sun"), "hours.sun"),
    (_set(["hours", "closed_on_holidays", "XX"]), "hours.closed_on_holidays"),
    (_set(["hours", "after_hours", "sleep"]), "hours.after_hours"),
    (_set(["hours", "after_hours", "announce"]), "hours.after_hours_message"),
    (_set(["staff", 1, "key", "Sato!"]), "staff[1].key"),
    (_set(["staff", 1, "key", "yamada"]), "staff[1].key"),
    (_set(["staff", 0, "email", "yamada@"]), "staff[0].email"),
    (_set(["staff", 0, "mobile", "03-1234-5678"]), "staff[0].mobile"),
    (_set(["call_types", 0, "category", "gossip"]), "call_types[0].category"),
    (_set(["call_types", 0, "fields", ["caller_name", "shoe_size"]]), "call_types[0].fields[1]"),
    (_set(["call_types", 0, "required", ["callback_time"]]), "call_types[0].required[0]"),
    (_set(["call_types", 0, "readback", ["body", "body"]]), "call_types[0].readback[1]"),
    (_set(["call_types", 0, "extra_fields", 0, "options", None]), "call_types[0].extra_fields[0].options"),
    (_set(["call_types", 0, "extra_fields", 0, "type", "colour"]), "call_types[0].extra_fields[0].type"),
    (_set(["call_types", 0, "extra_fields", 0, "key", "body"]), "call_types[0].extra_fields[0].key"),
    (_set(["call_types", 0, "urgent", "yes"]), "call_types[0].urgent"),
    (_set(["call_types", 0, "transfer_to_staff", ["yamada", "sato"]]), "call_types[0].transfer_to_staff[1]"),
    (_set(["call_types", 0, "transfer_to_staff", ["suzuki"]]), "call_types[0].transfer_to_staff[0]"),
    (_set(["reports", 0, "at", ["25:00"]]), "reports[0].at[0]"),
    (_set(["reports", 0, "days", ["monday"]]), "reports[0].days[0]"),
    (lambda b: b["reports"][0].update(include_categories=["message"], exclude_categories=["sales"]),
     "reports[0].exclude_categories"),
    (_set(["reports", 0, "only_for_staff", ["suzuki"]]), "reports[0].only_for_staff[0]"),
    (_set(["reports", 0, "urgent_only", "yes"]), "reports[0].urgent_only"),
    (_set(["reports", 0, "when_empty", "cry"]), "reports[0].when_empty"),
    (_set(["reports", 0, "deliver", []]), "reports[0].deliver"),
    (_set(["reports", 0, "deliver", 1, "to", ["not-a-number"]]), "reports[0].deliver[1].to[0]"),
    (_set(["reports", 0, "deliver", 0, "to", ["office@", "ok@law.example.jp"]]), "reports[0].deliver[0].to[0]"),
    (_set(["reports", 0, "deliver", 0, "channel", "pigeon"]), "reports[0].deliver[0].channel"),
    (_set(["reports", 0, "deliver", 0, "to_staff", ["sato"]]), "reports[0].deliver[0].to_staff[0]"),
    (_set(["notify", 0, "deliver", 0, "to", ["03-1234-5678"]]), "notify[0].deliver[0].to[0]"),
    (_set(["notify", 0, "categories", ["gossip"]]), "notify[0].categories[0]"),
]


@pytest.mark.parametrize("change, path", INVALID, ids=[path for _change, path in INVALID])
def test_each_kind_of_invalid_value_is_refused_with_422_at_its_key_path(client, law, admin, change, path):
    body = read(client, admin)
    change(body)
    response = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin))
    assert response.status_code == 422, response.text
    assert path in response.json()["errors"], response.json()
    assert Tenant.by_slug("law").version == 1


def test_a_number_another_firm_holds_is_refused_at_its_key_path(client, law, firm_b, admin):
    body = read(client, admin)
    body["numbers"][1]["number"] = "06-3333-4444"
    response = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin, "ja"))
    assert response.status_code == 422
    assert "firm-b" in response.json()["errors"]["numbers[1].number"]


def test_the_errors_speak_the_language_asked_for(client, law, admin):
    body = read(client, admin)
    body["hours"]["wed"] = "9時から"
    errors = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin, "ja")).json()["errors"]
    assert "時間帯" in errors["hours.wed"] or "HH:MM" in errors["hours.wed"]
    assert errors != client.put("/api/v1/tenants/law", json=body, headers=bearer(admin, "en")).json()["errors"]


def test_an_admin_creates_a_firm_and_a_taken_slug_is_refused(client, law, admin):
    body = read(client, admin)
    body.update(slug="suzuki-clinic", name="鈴木クリニック", numbers=[{"number": "03-9999-0000", "kind": "forwarded"}])
    created = client.post("/api/v1/tenants", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/tenants/suzuki-clinic" and created.json()["version"] == 1
    assert Tenant.by_slug("suzuki-clinic").name == "鈴木クリニック"
    again = client.post("/api/v1/tenants", json=body, headers=bearer(admin))
    assert again.status_code == 422 and "slug" in again.json()["errors"]
    # /firms/new is the new-firm wizard: a firm there could never be opened.
    body.update(slug="new", numbers=[{"number": "03-9999-0001", "kind": "forwarded"}])
    reserved = client.post("/api/v1/tenants", json=body, headers=bearer(admin))
    assert reserved.status_code == 422 and "new" in reserved.json()["errors"]["slug"]


def test_a_client_reads_its_own_firm_and_may_change_nothing(client, law, firm_b, admin):
    from app.accounts import service

    client_user = service.add_user("owner@law.example.jp", "client", password="correct horse battery", tenant_slug="law")
    body = read(client, client_user)
    assert body["slug"] == "law"
    assert client.get("/api/v1/tenants/firm-b", headers=bearer(client_user)).status_code == 404
    assert client.put("/api/v1/tenants/law", json=body, headers=bearer(client_user)).status_code == 403
    assert client.put("/api/v1/tenants/firm-b", json=body, headers=bearer(client_user)).status_code == 404
    assert client.post("/api/v1/tenants", json=body, headers=bearer(client_user)).status_code == 403
    assert client.get("/api/v1/tenants/law/versions", headers=bearer(client_user)).status_code == 403
    assert client.get("/api/v1/tenants", headers=bearer(client_user)).status_code == 403


def test_a_file_import_makes_a_version_and_importing_it_again_does_not(tmp_path, law, admin):
    folder = tmp_path / "law"
    folder.mkdir()
    (folder / "tenant.toml").write_text(store.export("law").replace("09:00-18:00", "09:30-18:00"), encoding="utf-8")
    store.import_files(store.tenant_files(tmp_path), default_region="JP", actor=admin)
    store.import_files(store.tenant_files(tmp_path), default_region="JP", actor=admin)
    newest = store.versions(Tenant.by_slug("law")).first()
    assert newest.number == 2 and newest.via == "file" and newest.saved_by_label == admin.email
    assert "hours.mon" in newest.changes and newest.note.endswith("tenant.toml")


def test_a_firm_from_before_versions_gets_what_it_is_as_version_1(client, law, admin):
    Tenant.update(version=0).execute()
    TenantVersion.delete().execute()
    versions = client.get("/api/v1/tenants/law/versions", headers=bearer(admin)).json()["versions"]
    assert [(v["version"], v["via"]) for v in versions] == [(1, "baseline")]
    body = read(client, admin)
    body["instructions"] = "新しい指示"
    assert client.put("/api/v1/tenants/law", json=body, headers=bearer(admin) | {"If-Match": "1"}).json()["version"] == 2


def test_restoring_an_old_version_saves_it_again_as_a_new_version(law, admin):
    config = store.snapshot(law)
    store.save({**config, "instructions": "一時的な指示"}, actor=admin, via="browser")
    saved = store.restore(Tenant.by_slug("law"), 1, actor=admin)
    assert saved.version.number == 3 and saved.version.via == "restore" and "1" in saved.version.note
    assert store.snapshot(Tenant.by_slug("law")) == config


def test_a_call_type_to_put_through_to_a_staff_member_without_a_mobile_is_refused_naming_why(client, law, admin):
    body = read(client, admin)
    body["call_types"][0]["transfer_to_staff"] = ["sato"]
    errors = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin)).json()["errors"]
    assert errors == {"call_types[0].transfer_to_staff[0]": '"sato" has no mobile to put calls through to'}
    body["call_types"][0].update(transfer_to_staff=["yamada"], urgent=True)
    response = client.put("/api/v1/tenants/law", json=body, headers=bearer(admin))
    assert response.status_code == 200, response.text
    again = read(client, admin)["call_types"][0]
    assert (again["urgent"], again["transfer_to_staff"]) == (True, ["yamada"])
