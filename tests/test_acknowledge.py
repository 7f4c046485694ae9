"""The firm acknowledges a message (an urgent one's escalation stops there): through the API or the
portal's button, or by marking it handled; the first acknowledgement is the one kept, and staff and
the firm see who it was and when. Phone numbers on the message pages are there to be tapped."""

import datetime as dt

import pytest

from app.accounts import service as accounts
from app.calls.models import Call
from app.db import utcnow
from app.messages import service
from app.messages.models import Message

from .conftest import PASSWORD, csrf_token, log_in
from .test_api import bearer
from .test_portal_inbox import take
from .test_portal_inbox import firm  # noqa: F401  (fixture)


@pytest.fixture
def bob(firm):
    return accounts.add_user("bob@firm-a.example.jp", "client", password=PASSWORD, tenant_slug="firm-a", name="Bob")


def test_a_client_acknowledges_a_message_through_the_api_and_a_second_acknowledgement_keeps_the_first(
        client, firm, alice, bob):
    message = take(firm, urgent=True)
    response = client.post(f"/api/v1/messages/{message.id}/ack", headers=bearer(alice))
    assert response.status_code == 200, response.text
    first = response.json()
    assert first["id"] == message.id and first["acknowledged_by"] == "alice@firm-a.example.jp"
    assert first["acknowledged_at"].endswith("+09:00")
    again = client.post(f"/api/v1/messages/{message.id}/ack", headers=bearer(bob)).json()
    assert (again["acknowledged_at"], again["acknowledged_by"]) == (first["acknowledged_at"], "alice@firm-a.example.jp")
    listed = client.get("/api/v1/messages", headers=bearer(bob)).json()["messages"]
    assert listed[0]["acknowledged_by"] == "alice@firm-a.example.jp"


def test_staff_may_acknowledge_and_another_firms_client_gets_404(client, firm, firm_b, charlie, operator):
    message = take(firm, urgent=True)
    assert client.post(f"/api/v1/messages/{message.id}/ack", headers=bearer(charlie)).status_code == 404
    assert not Message.get_by_id(message.id).acknowledged
    response = client.post(f"/api/v1/messages/{message.id}/ack", headers=bearer(operator))
    assert response.status_code == 200 and response.json()["acknowledged_by"] == operator.email
    assert client.post("/api/v1/messages/999999/ack", headers=bearer(operator)).status_code == 404
    assert client.post(f"/api/v1/messages/{message.id}/ack").status_code == 401


def test_a_new_message_is_not_acknowledged(client, firm, alice):
    message = take(firm, urgent=True)
    data = client.get(f"/api/v1/messages/{message.id}", headers=bearer(alice)).json()
    assert (data["acknowledged_at"], data["acknowledged_by"]) == (None, None)
    assert not message.acknowledged


def test_acknowledging_in_code_says_whether_it_was_the_first(firm, alice, bob):
    message = take(firm, urgent=True)
    assert message.acknowledge(alice) is True and message.acknowledged
    kept = message.acknowledged_at
    assert Message.get_by_id(message.id).acknowledge(bob) is False
    stored = Message.get_by_id(message.id)
    assert (stored.acknowledged_at, stored.acknowledged_by_id) == (kept, alice.id)


def test_marking_a_message_handled_acknowledges_it_once(client, firm, alice, bob):
    message = take(firm, urgent=True)
    response = client.patch(f"/api/v1/messages/{message.id}", json={"handled": True}, headers=bearer(alice))
    assert response.json()["acknowledged_by"] == "alice@firm-a.example.jp"
    first = Message.get_by_id(message.id).acknowledged_at
    assert first is not None
    # Reopened and handled again by someone else: still acknowledged by the first, then.
    service.set_handled(message, False, bob)
    assert Message.get_by_id(message.id).acknowledged_at == first
    service.set_handled(message, True, bob)
    stored = Message.get_by_id(message.id)
    assert (stored.acknowledged_at, stored.acknowledged_by_id) == (first, alice.id)


def test_bulk_handled_acknowledges_each_message_not_acknowledged_yet(client, firm, alice, bob):
    earlier, fresh = take(firm, urgent=True), take(firm, urgent=True)
    earlier.acknowledge(bob)
    log_in(client, alice)
    client.post("/portal/handled", data={"csrf_token": csrf_token(client, "/portal"), "handled": "1",
                                         "message": [str(earlier.id), str(fresh.id)]})
    assert Message.get_by_id(earlier.id).acknowledged_by_id == bob.id
    assert Message.get_by_id(fresh.id).acknowledged_by_id == alice.id


def test_the_portal_offers_to_acknowledge_an_urgent_message_until_someone_has(client, firm, alice):
    urgent, ordinary = take(firm, urgent=True), take(firm)
    log_in(client, alice)
    page = client.get(f"/portal/messages/{urgent.id}").text
    assert f'action="/portal/messages/{urgent.id}/ack"' in page and "確認しました</button>" in page
    assert "/ack" not in client.get(f"/portal/messages/{ordinary.id}").text
    response = client.post(f"/portal/messages/{urgent.id}/ack", data={"csrf_token": csrf_token(client, "/portal")},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/portal/messages/{urgent.id}"
    page = client.get(f"/portal/messages/{urgent.id}").text
    assert "alice@firm-a.example.jp さんが確認しました。" in page and f"/portal/messages/{urgent.id}/ack" not in page
    assert Message.get_by_id(urgent.id).acknowledged_by_id == alice.id


def test_staff_see_who_of_the_firm_acknowledged_a_message_and_when(client, firm, bob, operator):
    message = take(firm, urgent=True)
    at = dt.datetime(2026, 11, 20, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    Message.update(acknowledged_at=at, acknowledged_by=bob).where(Message.id == message.id).execute()
    log_in(client, operator)
    assert "2026-11-20 10:05 に Bob さんが確認しました。" in client.get(f"/messages/{message.id}").text


def test_phone_numbers_on_the_message_pages_are_links_that_dial(client, firm, alice, operator):
    call = Call.create(sid="CA-tel", tenant=firm, from_number="+81312345678", arrived_at=utcnow())
    message = take(firm, callback_number="+819011112222")
    Message.update(call=call).where(Message.id == message.id).execute()
    log_in(client, alice)
    page = client.get(f"/portal/messages/{message.id}").text
    assert '<a class="number" href="tel:+819011112222">090-1111-2222</a>' in page
    assert '<a class="number" href="tel:+81312345678">03-1234-5678</a>' in page  # the caller's, from the call
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, operator)
    assert '<a class="number" href="tel:+819011112222">090-1111-2222</a>' in client.get(f"/messages/{message.id}").text
