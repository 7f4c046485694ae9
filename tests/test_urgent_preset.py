"""A call type with ``urgent = true``: its messages start marked urgent, on the console and through the API."""

import re

import pytest

from app.accounts.service import create_token
from app.calls.models import Call
from app.messages.models import Message
from app.tenants import store

from .conftest import csrf_token, log_in, minimal_config

CALL_TYPES = [
    {"key": "message", "label": "伝言", "fields": ["caller_name", "body"], "required": ["caller_name"]},
    {"key": "emergency", "label": "至急", "urgent": True, "fields": ["caller_name", "body"],
     "required": ["caller_name"]},
]


@pytest.fixture
def firm(database):
    return store.import_config(minimal_config("site", "03-1234-5678", call_types=CALL_TYPES))


@pytest.fixture
def desk(client, operator, firm):
    call = Call.create(sid="CA" + "8" * 32, tenant=firm, from_number="+819012345678")
    log_in(client, operator)
    client.headers["X-CSRF-Token"] = csrf_token(client, f"/console/calls/{call.id}")
    client.headers["HX-Request"] = "true"
    client.call = call
    return client


def urgent_box_checked(html: str) -> bool:
    box = re.search(r'<input type="checkbox"[^>]*name="urgent"[^>]*>', html).group(0)
    return "checked" in box


def switch(desk, to: str, **typed) -> str:
    data = {"typed_call_type": typed.pop("typed", "message"), "call_type": to, "field.caller_name": "佐藤", **typed}
    return desk.post(f"/console/calls/{desk.call.id}/draft?switch=1", data=data).text


def test_a_message_under_an_urgent_call_type_starts_with_urgent_ticked_and_is_saved_urgent(desk):
    assert not urgent_box_checked(desk.get(f"/console/calls/{desk.call.id}").text)  # 伝言 comes first
    html = switch(desk, "emergency")
    assert urgent_box_checked(html)
    saved = desk.post(f"/console/calls/{desk.call.id}/message", data={
        "typed_call_type": "emergency", "call_type": "emergency", "field.caller_name": "佐藤", "urgent": "1"})
    assert saved.status_code == 200, saved.text
    assert Message.get().urgent


def test_switching_to_an_ordinary_call_type_clears_the_preset_and_an_unticked_preset_saves_not_urgent(desk):
    assert urgent_box_checked(switch(desk, "emergency"))
    assert not urgent_box_checked(switch(desk, "message", typed="emergency", urgent="1"))
    # The operator unticked the preset on 至急 (the caller said it can wait): 伝言 stays unticked too.
    assert urgent_box_checked(switch(desk, "emergency"))
    assert not urgent_box_checked(switch(desk, "message", typed="emergency"))
    # Unticked by hand on 至急 (the caller said it can wait): saved as not urgent.
    desk.post(f"/console/calls/{desk.call.id}/message", data={
        "typed_call_type": "emergency", "call_type": "emergency", "field.caller_name": "佐藤"})
    assert Message.get().urgent is False


def test_the_api_defaults_urgent_to_the_call_types_preset_when_not_given(client, firm, operator):
    auth = {"Authorization": f"Bearer {create_token(operator.email)[1]}"}

    def create(**body):
        response = client.post("/api/v1/messages", headers=auth,
                               json={"tenant": "site", "fields": {"caller_name": "佐藤"}, **body})
        assert response.status_code == 201, response.text
        return response.json()["urgent"]

    assert create(call_type="emergency") is True
    assert create(call_type="emergency", urgent=None) is True
    assert create(call_type="emergency", urgent=False) is False
    assert create(call_type="message") is False
    assert create(call_type="message", urgent=True) is True
    assert create(call_type="emergency", category="wrong_number", fields={}) is False  # noise is never urgent
