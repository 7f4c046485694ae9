"""JSON API v1: messages recorded with the form's rules, listed page by page, marked handled; tokens
decide who sees what."""

import datetime as dt
import re
import time

import pytest

from app.accounts.service import create_token
from app.calls.models import Call
from app.delivery.models import PENDING, SENDING, SENT, Delivery
from app.messages.models import Message
from app.tenants import store

from .conftest import minimal_config

CONSULTATION = {
    "key": "consultation", "label": "法律相談", "category": "appointment",
    "fields": ["caller_name", "callback_number", "body"], "required": ["caller_name", "callback_number", "body"],
    "readback": ["caller_name", "callback_number"],
    "extra_fields": [{"key": "visit_date", "label": "来所希望日", "type": "date"}],
}


@pytest.fixture
def law(firm_a):
    return store.import_config(minimal_config("firm-a", "03-1111-2222", call_types=[CONSULTATION]))


def bearer(user):
    return {"Authorization": f"Bearer {create_token(user.email)[1]}"}


def new_message(**overrides):
    body = {"tenant": "firm-a", "fields": {"caller_name": "佐藤 花子", "callback_number": "090-1234-5678",
                                           "body": "見積もりの件"}, "readback": ["caller_name", "callback_number"]}
    body.update(overrides)
    return body


def test_a_message_with_its_read_back_confirmed_is_created(client, law, operator):
    response = client.post("/api/v1/messages", json=new_message(urgent=True), headers=bearer(operator))
    assert response.status_code == 201, response.text
    data = response.json()
    assert response.headers["location"] == f"/api/v1/messages/{data['id']}"
    assert data["tenant"] == "firm-a" and data["call_type"] == "consultation" and data["category"] == "appointment"
    assert data["fields"]["callback_number"] == "+819012345678" and data["urgent"] is True
    assert sorted(data["readback"]) == ["callback_number", "caller_name"]
    assert data["readback_details"]["callback_number"]["by"] == operator.email
    assert data["readback_details"]["callback_number"]["at"].endswith("+09:00")
    assert data["taken_at"].endswith("+09:00") and data["taken_by"] == operator.email and data["handled"] is False
    assert Message.get().source == "api"


def test_the_addressee_keeps_the_staff_key_in_fields_and_is_named_beside_it(client, firm_a, operator):
    store.import_config(minimal_config("firm-a", "03-1111-2222", staff=[{"key": "sato", "name": "佐藤 次郎"}],
                                       call_types=[{**CONSULTATION, "fields": [*CONSULTATION["fields"], "for_staff"]}]))
    to_staff = new_message()
    to_staff["fields"]["for_staff"] = "佐藤次郎"  # typed as the name: stored as the person's key
    data = client.post("/api/v1/messages", json=to_staff, headers=bearer(operator)).json()
    assert (data["fields"]["for_staff"], data["for_staff_name"]) == ("sato", "佐藤 次郎")
    listed = client.get("/api/v1/messages", headers=bearer(operator)).json()["messages"][0]
    assert listed["for_staff_name"] == "佐藤 次郎"
    to_other = new_message()
    to_other["fields"]["for_staff"] = "鈴木 様"
    data = client.post("/api/v1/messages", json=to_other, headers=bearer(operator)).json()
    assert (data["fields"]["for_staff"], data["for_staff_name"]) == ("鈴木 様", "鈴木 様")
    assert client.post("/api/v1/messages", json=new_message(), headers=bearer(operator)).json()["for_staff_name"] is None


def test_the_answer_to_a_save_says_what_reading_the_message_back_says(client, firm_a, operator):
    # The 201 is made from what was just written, not read again: it must not differ from a GET.
    store.import_config(minimal_config("firm-a", "03-1111-2222", staff=[{"key": "sato", "name": "佐藤 次郎"}],
                                       call_types=[{**CONSULTATION, "fields": [*CONSULTATION["fields"], "for_staff"]}]))
    call, _ = Call.arrive("CA" + "6" * 32, to="", caller="+819011112222", forwarded_from="03-1111-2222", region="JP")
    named, typed = new_message(urgent=True), new_message(call_sid=call.sid)
    named["fields"].update(for_staff="佐藤次郎", visit_date="2026-12-01")
    typed["fields"]["for_staff"] = "鈴木 様"
    for body, headers in ((named, {}), (typed, {}), (new_message(), {"Idempotency-Key": "same-as-read"})):
        created = client.post("/api/v1/messages", json=body, headers=bearer(operator) | headers)
        assert created.status_code == 201, created.text
        assert client.get(created.headers["location"], headers=bearer(operator)).json() == created.json()


def test_a_save_follows_the_firms_configuration_from_the_moment_it_is_changed(client, law, operator, admin):
    assert client.post("/api/v1/messages", json=new_message(), headers=bearer(operator)).status_code == 201
    # A new required field, and an immediate notification for every message.
    config = store.snapshot(law)
    config["call_types"][0] = {**config["call_types"][0], "extra_fields": [
        {"key": "visit_date", "label": "来所希望日", "type": "date", "required": True, "readback": False,
         "options": None}]}
    config["notify"] = [{"urgent": False, "categories": None,
                         "deliver": [{"channel": "email", "to": ["office@firm-a.example"], "to_staff": []}]}]
    store.save(config, actor=admin, via="browser")
    response = client.post("/api/v1/messages", json=new_message(), headers=bearer(operator) | {"Accept-Language": "en"})
    assert response.status_code == 422 and response.json()["errors"] == {"visit_date": "Required."}
    with_date = new_message()
    with_date["fields"]["visit_date"] = "2026-12-01"
    created = client.post("/api/v1/messages", json=with_date, headers=bearer(operator))
    assert created.status_code == 201, created.text
    assert [d.recipient for d in Delivery.select().where(Delivery.message == created.json()["id"])] == [
        "office@firm-a.example"]
    # It goes out at once, from a thread of its own: let it finish before the database goes.
    deadline = time.monotonic() + 10
    while Delivery.select().where(Delivery.status.in_([PENDING, SENDING])).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Delivery.get().status == SENT


def test_each_missing_or_unconfirmed_field_is_named_with_422(client, law, operator):
    body = new_message(readback=["caller_name"])
    del body["fields"]["body"]
    body["fields"]["visit_date"] = "来週"
    response = client.post("/api/v1/messages", json=body, headers=bearer(operator) | {"Accept-Language": "en"})
    assert response.status_code == 422
    assert response.json() == {"errors": {
        "callback_number": "Read this back to the caller and confirm it.", "body": "Required.",
        "visit_date": "Expected a date (YYYY-MM-DD)."}}
    assert Message.select().count() == 0


def test_invalid_input_is_refused_field_by_field(client, law, operator):
    headers = bearer(operator) | {"Accept-Language": "en"}
    cases = [
        (new_message(tenant="nobody"), "tenant"),
        (new_message(call_type="divorce"), "call_type"),
        (new_message(category="gossip"), "category"),
        (new_message(urgent="yes"), "urgent"),
        (new_message(fields=["caller_name"]), "fields"),
        (new_message(readback=["body"]), "readback"),
        (new_message(fields={**new_message()["fields"], "shoe_size": "27"}), "shoe_size"),
        ({"fields": {}}, "tenant"),
        (new_message(call_sid="CA-none"), "call_sid"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/messages", json=body, headers=headers)
        assert response.status_code == 422 and field in response.json()["errors"], (body, response.text)
    assert client.post("/api/v1/messages", content=b"[1, 2", headers=headers).json() == {
        "errors": {"body": "Expected a JSON object."}}
    assert Message.select().count() == 0


def test_the_firm_comes_from_the_call_when_call_sid_is_given(client, law, operator):
    call, _ = Call.arrive("CA" + "5" * 32, to="", caller="+819011112222", forwarded_from="03-1111-2222", region="JP")
    body = new_message(call_sid=call.sid)
    del body["tenant"]
    response = client.post("/api/v1/messages", json=body, headers=bearer(operator))
    assert response.status_code == 201 and response.json()["call_sid"] == call.sid
    assert response.json()["tenant"] == "firm-a"


def test_without_a_valid_token_it_is_401(client, law, operator):
    assert client.get("/api/v1/messages").status_code == 401
    response = client.get("/api/v1/messages", headers={"Authorization": "Bearer dgn_not-a-token"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "token" in response.json()["errors"]
    assert client.post("/api/v1/messages", json=new_message()).status_code == 401


def test_a_client_token_sees_only_its_own_firm_and_gets_404_for_another_firms_message(client, law, alice, charlie,
                                                                                      operator):
    staff = bearer(operator)
    own = client.post("/api/v1/messages", json=new_message(), headers=staff).json()
    other = client.post("/api/v1/messages", json=new_message(tenant="firm-b", fields={}, readback=[],
                                                             category="sales"), headers=staff).json()
    mine = bearer(alice)
    assert [m["id"] for m in client.get("/api/v1/messages", headers=mine).json()["messages"]] == [own["id"]]
    assert client.get(f"/api/v1/messages/{own['id']}", headers=mine).status_code == 200
    assert client.get(f"/api/v1/messages/{other['id']}", headers=mine).status_code == 404
    assert client.patch(f"/api/v1/messages/{other['id']}", json={"handled": True}, headers=mine).status_code == 404
    assert client.get("/api/v1/messages?tenant=firm-b", headers=mine).status_code == 404
    assert client.post("/api/v1/messages", json=new_message(), headers=mine).status_code == 403
    assert Message.get_by_id(other["id"]).handled is False


def test_the_firm_marks_a_message_handled_with_a_note(client, law, alice, operator):
    created = client.post("/api/v1/messages", json=new_message(), headers=bearer(operator)).json()
    mine = bearer(alice)
    response = client.patch(f"/api/v1/messages/{created['id']}", json={"handled": True, "note": "折り返し済み"},
                            headers=mine)
    assert response.status_code == 200
    assert (response.json()["handled"], response.json()["handled_note"]) == (True, "折り返し済み")
    assert client.patch(f"/api/v1/messages/{created['id']}", json={"handled": "yes"}, headers=mine).status_code == 422
    listed = client.get("/api/v1/messages?handled=false", headers=mine).json()["messages"]
    assert listed == []


def test_the_list_pages_newest_first_with_a_cursor_and_filters(client, law, operator):
    staff = bearer(operator)
    ids = [client.post("/api/v1/messages", json=new_message(), headers=staff).json()["id"] for _ in range(5)]
    noise = client.post("/api/v1/messages", json=new_message(category="wrong_number", fields={}, readback=[]),
                        headers=staff).json()["id"]
    first = client.get("/api/v1/messages?limit=4", headers=staff).json()
    assert [m["id"] for m in first["messages"]] == [noise, *ids[::-1][:3]]
    second = client.get(f"/api/v1/messages?limit=4&cursor={first['next_cursor']}", headers=staff).json()
    assert [m["id"] for m in second["messages"]] == ids[1::-1] and second["next_cursor"] is None
    assert [m["id"] for m in client.get("/api/v1/messages?category=wrong_number", headers=staff).json()[
        "messages"]] == [noise]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()
    assert client.get("/api/v1/messages", params={"since": later}, headers=staff).json()["messages"] == []
    assert len(client.get("/api/v1/messages", params={"until": later}, headers=staff).json()["messages"]) == 6
    bad = client.get("/api/v1/messages?since=yesterday&handled=maybe&cursor=xyz&category=x", headers=staff)
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"since", "handled", "cursor", "category"}


def test_a_message_shows_its_correction_history(client, law, operator, supervisor):
    from app.messages import forms, service

    created = client.post("/api/v1/messages", json=new_message(), headers=bearer(operator)).json()
    message = Message.get_by_id(created["id"])
    clean, _ = forms.check(message.tenant, forms.Entry("consultation", "callback", False, {
        **new_message()["fields"], "body": "見積もりの件(至急)"}), enforce_readback=False)
    service.correct(message, clean, supervisor, note="用件を補足")
    data = client.get(f"/api/v1/messages/{created['id']}", headers=bearer(operator)).json()
    assert data["version"] == 2 and data["category"] == "callback"
    assert [h["version"] for h in data["history"]] == [1, 2]
    assert data["history"][1]["changes"] == {"category": ["appointment", "callback"],
                                             "fields.body": ["見積もりの件", "見積もりの件(至急)"]}
    assert data["history"][1]["note"] == "用件を補足" and data["history"][1]["edited_by"] == supervisor.email


def test_the_openapi_document_describes_every_route(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    from starlette.routing import Route

    from app.main import routes

    # Every API route of the routes table, each of its methods, and nothing else.
    served: dict[str, set[str]] = {}
    for r in routes:
        if isinstance(r, Route) and r.path.startswith("/api/v1/") and r.path != "/api/v1/openapi.json":
            served.setdefault(re.sub(r"{(\w+):\w+}", r"{\1}", r.path), set()).update(m.lower() for m in r.methods - {"HEAD"})
    assert {path: set(item) - {"parameters"} for path, item in doc["paths"].items()} == served
    assert set(doc["paths"]["/api/v1/messages"]) == {"get", "post"}
    assert "readback" in doc["components"]["schemas"]["NewMessage"]["properties"]
