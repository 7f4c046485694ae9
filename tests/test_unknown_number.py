"""An unknown number's call: the operator finds the firm the caller wants (name, reading or number),
the call becomes that firm's, audited, and its message is taken as on any call."""

import re

import pytest

from app.audit import AuditEntry
from app.calls.models import Call
from app.messages.models import Message

from .conftest import csrf_token, log_in


@pytest.fixture
def call(firm_a, firm_b):
    return Call.create(sid="CA" + "5" * 32, tenant=None, from_number="+819012345678", to_number="+815099998888")


@pytest.fixture
def desk(client, operator, call):
    log_in(client, operator)
    client.headers["X-CSRF-Token"] = csrf_token(client, f"/console/calls/{call.id}")
    client.headers["HX-Request"] = "true"
    return client


def choices(desk, call, q):
    response = desk.get(f"/console/calls/{call.id}/firms", params={"q": q})
    assert response.status_code == 200, response.text
    return re.findall(r'name="tenant" value="(\d+)"', response.text), response.text


def test_the_unknown_numbers_screen_pop_offers_a_search_for_the_firm_instead_of_a_form(desk, call):
    html = desk.get(f"/console/calls/{call.id}").text
    assert 'id="firm-q"' in html and f'hx-get="/console/calls/{call.id}/firms"' in html
    assert 'id="message-form"' not in html


def test_the_firm_is_found_by_name_or_any_format_of_its_number(desk, call, firm_a, firm_b):
    assert choices(desk, call, "")[0] == [] and len(choices(desk, call, "firm")[0]) == 2
    assert choices(desk, call, "a 株式")[0] == [str(firm_a.id)]
    found, html = choices(desk, call, "03-1111-2222")
    assert found == [str(firm_a.id)] and "03-1111-2222" in html
    assert choices(desk, call, "0611112222")[0] == [] and "該当する顧客はありません" in choices(desk, call, "該当なし")[1]


def test_choosing_the_firm_makes_the_call_its_own_audited_and_its_message_saves(desk, call, firm_b, operator):
    response = desk.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_b.id})
    assert response.status_code == 204 and f"/console/calls/{call.id}" in response.headers["HX-Location"]
    assert Call.get_by_id(call.id).tenant_id == firm_b.id
    entry = AuditEntry.get(AuditEntry.action == "call.assign")
    assert (entry.actor_id, entry.tenant_id, entry.target) == (operator.id, firm_b.id, call.sid)

    html = desk.get(f"/console/calls/{call.id}").text
    assert firm_b.name in html and 'id="message-form"' in html and 'id="firm-q"' not in html
    saved = desk.post(f"/console/calls/{call.id}/message", data={
        "typed_call_type": "message", "call_type": "message", "field.caller_name": "佐藤 花子",
        "field.callback_number": "090-1234-5678", "readback": ["caller_name", "callback_number"],
        "confirmed.caller_name": "佐藤 花子", "confirmed.callback_number": "090-1234-5678"})
    assert saved.status_code == 200, saved.text
    message = Message.get()
    assert (message.tenant_id, message.call_id) == (firm_b.id, call.id)


def test_a_noise_call_is_recorded_once_the_firm_is_chosen(desk, call, firm_a):
    desk.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_a.id})
    assert desk.post(f"/console/calls/{call.id}/noise", data={"category": "wrong_number"}).status_code == 200
    assert Message.get().category == "wrong_number" and Message.get().tenant_id == firm_a.id


def test_a_call_that_has_its_firm_is_not_given_to_another(desk, call, firm_a, firm_b):
    assert desk.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_a.id}).status_code == 204
    refused = desk.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_b.id})
    assert refused.status_code == 409 and "既に" in refused.text
    assert Call.get_by_id(call.id).tenant_id == firm_a.id
    assert desk.get(f"/console/calls/{call.id}/firms", params={"q": "firm"}).status_code == 409
    assert AuditEntry.select().where(AuditEntry.action == "call.assign").count() == 1


def test_no_firm_chosen_is_refused(desk, call):
    assert desk.post(f"/console/calls/{call.id}/firm", data={"tenant": "999999"}).status_code == 422
    assert desk.post(f"/console/calls/{call.id}/firm", data={}).status_code == 422
    assert Call.get_by_id(call.id).tenant_id is None


def test_a_client_cannot_search_or_assign_and_a_post_without_csrf_is_refused(client, call, alice, firm_a, operator):
    log_in(client, alice)
    assert client.get(f"/console/calls/{call.id}/firms", params={"q": "a"}).status_code == 404
    token = csrf_token(client, "/portal")
    assert client.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_a.id, "csrf_token": token}
                       ).status_code == 404
    client.post("/logout", data={"csrf_token": token})
    log_in(client, operator)
    assert client.post(f"/console/calls/{call.id}/firm", data={"tenant": firm_a.id}).status_code == 403
    assert Call.get_by_id(call.id).tenant_id is None
