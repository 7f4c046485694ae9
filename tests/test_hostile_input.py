"""Hostile input gets a clear 4xx naming what was wrong, never a 500: ids too long for a database
integer, NUL bytes and invalid Unicode in any text, provider parameters out of shape."""

import re

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from app.accounts.service import create_token
from app.calls.models import ABANDONED, Call
from app.main import routes
from app.messages import forms, service
from app.messages.models import Message
from app.tenants import store

from .conftest import PASSWORD, csrf_token, log_in, minimal_config
from .test_webhooks import inbound, post

TOO_BIG = "99999999999999999999"  # above 2**63 - 1
ID_ROUTES = [r for r in routes if isinstance(r, Route) and "{id:" in r.path]


def bearer(user):
    return {"Authorization": f"Bearer {create_token(user.email)[1]}", "Accept-Language": "en"}


def _fill(path: str, slug: str) -> str:
    return re.sub(r"\{id:\w+\}", TOO_BIG, path).replace("{slug}", slug).replace("{kind}", "html")


@pytest.mark.parametrize("role", ["admin", "alice"])
def test_an_id_too_big_for_the_database_is_404_on_every_id_route(client, role, request, firm_a):
    user = request.getfixturevalue(role)
    assert len(ID_ROUTES) >= 10
    log_in(client, user)
    token = csrf_token(client, "/account")
    for route in ID_ROUTES:
        path = _fill(route.path, "firm-a")
        for method in route.methods - {"HEAD"}:
            if path.startswith("/api/"):
                response = client.request(method, path, headers=bearer(user), json={"handled": True})
            else:
                response = client.request(method, path, headers={"X-CSRF-Token": token})
            assert response.status_code == 404, (method, path, response.status_code)
    response = client.get(f"/api/v1/messages/{TOO_BIG}", headers=bearer(user))
    assert response.status_code == 404 and "errors" in response.json()


def test_a_nul_byte_in_the_login_form_is_refused_naming_the_field(client, admin):
    client.cookies.set("dengon_lang", "en")
    response = client.post("/login", data={"email": "admin@dengon.example\x00", "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "“email”" in response.text and "NUL" in response.text


def test_a_form_value_that_is_no_utf8_is_refused_naming_the_field_not_kept_as_replacement_marks(client, admin):
    client.cookies.set("dengon_lang", "en")
    body = f"email=admin%FF%40dengon.example&password=x&csrf_token={csrf_token(client)}"
    response = client.post("/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert "“email”" in response.text


def test_an_email_longer_than_any_users_is_a_wrong_log_in_not_a_server_error(client, admin):
    client.cookies.set("dengon_lang", "en")
    response = client.post("/login", data={"email": "a" * 60_000 + "@dengon.example", "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "The e-mail address or password is not correct." in response.text


def test_bad_text_in_a_page_query_or_path_is_refused_naming_the_field_in_the_users_language(client, admin,
                                                                                            firm_a):
    log_in(client, admin)  # the admin's language is Japanese (the default)
    for path, field in [("/firms?q=%00", "q"), ("/firms?q=%ED%A0%80", "q"), ("/firms?q=%FF", "q"),
                        ("/firms/firm%00a", "slug"), ("/messages?tenant=%00", "tenant")]:
        response = client.get(path)
        assert response.status_code == 400, path
        assert f"「{field}」" in response.text, (path, response.text)
    assert client.get("/firms?q=%E5%B1%B1").status_code == 200  # 山: valid UTF-8 is welcome


def test_bad_text_in_an_api_query_is_a_422_naming_the_parameter(client, admin, firm_a):
    for query in ("tenant=%00", "tenant=%ED%A0%80", "cursor=%C0"):
        response = client.get(f"/api/v1/messages?{query}", headers=bearer(admin))
        assert response.status_code == 422, query
        field = query.partition("=")[0]
        assert response.json() == {"errors": {field: "Expected UTF-8 text without NUL characters."}}


@pytest.mark.parametrize("text", [r"\u0000", r"\ud800", r"ok\udfffok"])
def test_a_json_string_no_database_can_store_is_a_422_naming_its_key_path(client, operator, firm_a, text):
    body = ('{"tenant": "firm-a", "category": "sales", "fields": {"caller_name": "佐藤", "body": "%s"}}' % text)
    response = client.post("/api/v1/messages", content=body.encode(),
                           headers=bearer(operator) | {"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json() == {"errors": {"fields.body": "Expected UTF-8 text without NUL characters."}}
    message = _message(firm_a, operator)
    response = client.patch(f"/api/v1/messages/{message.id}", headers=bearer(operator)
                            | {"Content-Type": "application/json"},
                            content=('{"handled": true, "note": "%s"}' % text).encode())
    assert response.status_code == 422 and list(response.json()["errors"]) == ["note"]
    assert Message.select().count() == 1 and not Message.get().handled


def test_json_nested_deeper_than_the_parser_goes_is_a_422(client, operator, firm_a):
    response = client.post("/api/v1/messages", content=b"[" * 100_000,
                           headers=bearer(operator) | {"Content-Type": "application/json"})
    assert response.status_code == 422 and "body" in response.json()["errors"]


def _message(tenant, user) -> Message:
    clean, _ = forms.check(tenant, forms.Entry(category="sales"))
    return service.record(tenant, clean, user)


def test_an_api_server_error_is_json_and_a_page_server_error_still_the_page(app, admin, firm_a, monkeypatch):
    from app.admin import users as views
    from app.api import v1

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(v1, "_visible", broken)
    monkeypatch.setattr(views, "render", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/messages", headers=bearer(admin))
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {"errors": {"server": "Something went wrong on our side; please try again."}}
        log_in(client, admin)
        response = client.get("/admin/users")
        assert response.status_code == 500 and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("key", ["since", "until"])
def test_an_empty_time_filter_is_refused_not_ignored(client, admin, firm_a, key):
    response = client.get(f"/api/v1/messages?{key}=", headers=bearer(admin))
    assert response.status_code == 422 and key in response.json()["errors"]


@pytest.mark.parametrize("query", ["limit=%C2%B2", "limit=" + "1" * 5000, "since=0001-01-01T00:00:00%2B09:00",
                                   "until=9999-12-31T23:59:59-14:00"])
def test_odd_numbers_and_times_in_the_list_query_are_a_422(client, admin, firm_a, query):
    response = client.get(f"/api/v1/messages?{query}", headers=bearer(admin))
    assert response.status_code == 422 and query.partition("=")[0] in response.json()["errors"]


def test_a_cursor_naming_an_id_too_big_for_the_database_is_a_422(client, admin, firm_a):
    import base64

    cursor = base64.urlsafe_b64encode(f"2026-01-01T00:00:00+00:00|{TOO_BIG}".encode()).decode()
    response = client.get(f"/api/v1/messages?cursor={cursor}", headers=bearer(admin))
    assert response.status_code == 422 and "cursor" in response.json()["errors"]


# Signed webhooks: the provider's parameters out of shape.

@pytest.fixture
def law(database):
    return store.import_config(minimal_config(
        "law", "03-1234-5678", numbers=[{"number": "050-5555-0101", "kind": "dedicated"}]))


SID = "CA" + "1" * 32


def test_a_queue_time_that_is_no_ascii_number_counts_as_absent(client, settings, law):
    post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    response = post(client, settings, "/twilio/queue-exit", {"CallSid": SID, "QueueResult": "hangup",
                                                             "QueueTime": "²"})
    assert response.status_code == 200
    call = Call.get()
    assert call.status == ABANDONED and call.wait_seconds is not None and call.wait_seconds < 5


def test_a_recording_duration_that_is_no_ascii_number_counts_as_absent(client, settings, database):
    store.import_config(minimal_config("closed", "050-5555-0202", language="ja", hours={
        **{d: "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, "after_hours": "voicemail"}))
    post(client, settings, "/twilio/voice", inbound(to="+815055550202"))
    response = post(client, settings, "/twilio/voicemail", {"CallSid": SID, "RecordingDuration": "²",
                                                            "RecordingUrl": "https://api.example/rec/RE1"})
    assert response.status_code == 200
    call = Call.get()
    assert call.recording_url == "https://api.example/rec/RE1" and call.recording_seconds is None


@pytest.mark.parametrize("number", ["+81 " + "1" * 30, "+" + "1" * 40, "03-" + "1234-" * 8])
def test_an_overlong_number_is_recorded_as_far_as_it_fits(client, settings, law, number):
    response = post(client, settings, "/twilio/voice", inbound(to=number, caller=number, forwarded=number))
    assert response.status_code == 200
    call = Call.get()
    assert call.unknown and len(call.to_number) <= 32 and len(call.forwarded_from) <= 32


def test_a_call_sid_longer_than_any_call_id_is_a_400_naming_it(client, settings, law):
    for sid in ("CA" + "1" * 998, "CA\x00" + "1" * 31):
        response = post(client, settings, "/twilio/voice", inbound(sid=sid, to="+815055550101"))
        assert response.status_code == 400
        assert response.text.startswith("CallSid: expected")
    assert Call.select().count() == 0


def test_a_long_or_nul_ridden_call_status_is_kept_as_far_as_it_fits(client, settings, law):
    post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    for status in ("ringing" * 700, "in-\x00progress"):
        assert post(client, settings, "/twilio/status", {"CallSid": SID, "CallStatus": status}).status_code == 200
    assert Call.get().provider_status == "in-progress"
    for name in ("CallSid", "ParentCallSid"):
        for path in ("/twilio/status", "/twilio/queue-exit", "/twilio/operator-answered", "/twilio/voicemail"):
            params = {name: "CA\x00" + "9" * 5000, "CallStatus": "in-progress", "QueueResult": "hangup",
                      "RecordingUrl": "https://api.example/rec"}
            assert post(client, settings, path, params).status_code == 200, path


def test_an_sms_receipt_with_odd_parameters_changes_nothing_and_is_not_a_500(client, settings, law):
    for params in ({"MessageStatus": "failed", "ErrorCode": "\x00" * 10},
                   {"MessageSid": "SM\x00", "MessageStatus": "failed", "ErrorCode": "²"},
                   {"MessageSid": "SM" + "1" * 5000, "MessageStatus": "delivered"}):
        assert post(client, settings, "/twilio/sms-status", params).status_code == 204


def test_an_operator_id_out_of_shape_in_the_connect_url_is_a_400(client, settings, law):
    for operator in (TOO_BIG, "abc", "%C2%B2"):
        path = f"/twilio/connect?operator={operator}"
        response = client.post(path, data={"CallSid": SID},
                               headers={"X-Twilio-Signature": _sign_url(settings, path, {"CallSid": SID})})
        assert response.status_code == 400, operator


def _sign_url(settings, path, params):
    from app.calls import webhooks

    return webhooks.sign(settings, path, params)


def test_the_openapi_document_names_every_answer_the_api_gives(client):
    doc = client.get("/api/v1/openapi.json").json()
    listing, one = doc["paths"]["/api/v1/messages"], doc["paths"]["/api/v1/messages/{id}"]
    for operation in (listing["get"], listing["post"], one["get"], one["patch"]):
        assert {"401", "422" if operation is not one["get"] else "404", "500"} <= set(operation["responses"])
    assert {"404"} <= set(listing["get"]["responses"]) and {"404"} <= set(one["patch"]["responses"])
    assert {"413"} <= set(listing["post"]["responses"]) & set(one["patch"]["responses"])
    assert "404" not in listing["post"]["responses"]
    note = one["patch"]["requestBody"]["content"]["application/json"]["schema"]["properties"]["note"]
    assert "null" in note["type"]
    assert "fields" not in doc["components"]["schemas"]["NewMessage"].get("required", [])
