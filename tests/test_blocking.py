"""Blocking: a firm blocks a caller (portal, API, model); the caller's next call is rejected by the provider,
recorded as blocked, never published to operators; unblocking lets them through again."""

import pytest

from app.audit import AuditEntry
from app.calls.models import BLOCKED, QUEUED, BlockedNumber, Call, InvalidBlock

from .conftest import csrf_token, log_in
from .test_webhooks import inbound, post

NUISANCE = "+819012345678"


def call_firm_a(client, settings, sid, caller="090-1234-5678"):
    """A call forwarded from firm A's line (03-1111-2222), as the provider posts it."""
    return post(client, settings, "/twilio/voice", inbound(sid=sid, to="+815000000000", caller=caller,
                                                           forwarded="03-1111-2222"))


@pytest.fixture
def published(app):
    """Every event the app publishes, in order."""
    seen = []
    original = app.state.events.publish
    app.state.events.publish = lambda topic, data: (seen.append((topic, data)), original(topic, data))[1]
    return seen


def block_in_portal(client, number, note="", next_=None):
    data = {"number": number, "note": note, "csrf_token": csrf_token(client, "/portal/blocked")}
    if next_:
        data["next"] = next_
    return client.post("/portal/blocked", data=data, follow_redirects=False)


def test_a_blocked_callers_next_call_is_rejected_recorded_blocked_and_never_reaches_an_operator(
        client, settings, alice, published):
    log_in(client, alice)
    assert block_in_portal(client, "090-1234-5678", "しつこい営業").status_code == 303
    response = call_firm_a(client, settings, "CA-nuisance")
    assert response.status_code == 200
    assert "<Reject" in response.text and "<Enqueue" not in response.text
    call = Call.get(Call.sid == "CA-nuisance")
    assert call.status == BLOCKED and call.tenant_id == alice.tenant_id and call.from_number == NUISANCE
    assert published == []
    assert Call.waiting().count() == 0
    # The provider delivering the same call again gets the same answer, and still nothing is published.
    assert "<Reject" in call_firm_a(client, settings, "CA-nuisance").text
    assert published == [] and Call.select().count() == 1


def test_the_block_holds_whatever_format_the_carrier_sends_the_number_in(client, settings, alice):
    BlockedNumber.block(alice.tenant, "０９０－１２３４－５６７８", by=alice)
    for sid, caller in (("CA-1", "+819012345678"), ("CA-2", "09012345678"), ("CA-3", "819012345678")):
        assert "<Reject" in call_firm_a(client, settings, sid, caller=caller).text, caller
    assert {c.status for c in Call.select()} == {BLOCKED}


def test_a_number_blocked_by_one_firm_still_reaches_another(client, settings, alice, charlie, published):
    BlockedNumber.block(alice.tenant, "090-1234-5678", by=alice)
    response = post(client, settings, "/twilio/voice", inbound(sid="CA-b", to="+815000000000",
                                                               caller="090-1234-5678", forwarded="06-3333-4444"))
    assert "<Enqueue" in response.text
    assert Call.get(Call.sid == "CA-b").status == QUEUED
    assert [d["event"] for _t, d in published] == ["waiting"]


def test_unblocking_lets_the_next_call_through(client, settings, alice, published):
    log_in(client, alice)
    block_in_portal(client, "090-1234-5678")
    assert "<Reject" in call_firm_a(client, settings, "CA-before").text
    row = BlockedNumber.get()
    response = client.post(f"/portal/blocked/{row.id}/unblock",
                           data={"csrf_token": csrf_token(client, "/portal/blocked")}, follow_redirects=False)
    assert response.status_code == 303
    assert "090-1234-5678" not in client.get("/portal/blocked").text
    assert "<Enqueue" in call_firm_a(client, settings, "CA-after").text
    assert Call.get(Call.sid == "CA-after").status == QUEUED
    assert [d for _t, d in published] == [{"event": "waiting", "call": Call.get(Call.sid == "CA-after").id}]


def test_the_blocked_list_shows_each_number_with_its_note_who_and_when(client, alice):
    log_in(client, alice)
    block_in_portal(client, "+81 90 1234 5678", "しつこい営業")
    page = client.get("/portal/blocked").text
    assert "090-1234-5678" in page and "しつこい営業" in page and alice.email in page
    assert BlockedNumber.get().number == NUISANCE


def test_blocking_twice_is_fine_and_keeps_one_entry(client, alice):
    log_in(client, alice)
    assert block_in_portal(client, "090-1234-5678").status_code == 303
    assert block_in_portal(client, "09012345678", "二度目のメモ").status_code == 303
    assert BlockedNumber.select().count() == 1 and BlockedNumber.get().note == "二度目のメモ"


def test_a_number_that_is_no_phone_number_is_refused_naming_the_field_with_the_input_kept(client, alice):
    log_in(client, alice)
    client.cookies.set("dengon_lang", "en")
    response = block_in_portal(client, "03-12", "営業")
    assert response.status_code == 422
    assert "Not a phone number" in response.text or "電話番号" in response.text
    assert 'value="03-12"' in response.text and 'value="営業"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert BlockedNumber.select().count() == 0


def test_withheld_callers_cannot_be_blocked(client, settings, alice):
    log_in(client, alice)
    for withheld in ("", "anonymous", "非通知"):
        assert block_in_portal(client, withheld).status_code == 422, withheld
    with pytest.raises(InvalidBlock) as refused:
        BlockedNumber.block(alice.tenant, "", by=alice)
    assert refused.value.field == "number"
    assert BlockedNumber.select().count() == 0
    # A withheld caller's call is queued like any other, and its row in the call log has no block button.
    assert "<Enqueue" in call_firm_a(client, settings, "CA-hidden", caller="anonymous").text
    page = client.get("/portal/calls").text
    assert "CA-hidden" in page and 'name="number"' not in page


def test_block_and_unblock_are_in_the_audit_log(alice):
    BlockedNumber.block(alice.tenant, "090-1234-5678", "営業", by=alice)
    BlockedNumber.block(alice.tenant, "090-1234-5678", "営業", by=alice)  # nothing new: no entry
    BlockedNumber.block(alice.tenant, "090-9999-0000", via="report e-mail link")
    assert BlockedNumber.unblock(alice.tenant, NUISANCE, by=alice) is True
    assert BlockedNumber.unblock(alice.tenant, NUISANCE, by=alice) is False
    entries = [(e.action, e.target, e.actor_label, e.tenant_id) for e in AuditEntry.select()
               .where(AuditEntry.action.startswith("number.")).order_by(AuditEntry.id)]
    assert entries == [("number.block", NUISANCE, alice.email, alice.tenant_id),
                       ("number.block", "+819099990000", "report e-mail link", alice.tenant_id),
                       ("number.unblock", NUISANCE, alice.email, alice.tenant_id)]


def test_blocking_from_the_call_log_returns_to_it(client, settings, alice):
    log_in(client, alice)
    call_firm_a(client, settings, "CA-first")
    response = block_in_portal(client, NUISANCE, next_="/portal/calls?kind=answered")
    assert response.headers["location"] == "/portal/calls?kind=answered"
    # Only portal pages: a crafted next goes to the blocked list instead.
    assert block_in_portal(client, NUISANCE, next_="https://evil.example/").headers["location"] == "/portal/blocked"
    assert block_in_portal(client, NUISANCE, next_="/admin").headers["location"] == "/portal/blocked"


def test_another_firms_client_cannot_see_or_unblock_a_firms_blocked_numbers(client, alice, charlie):
    row, _ = BlockedNumber.block(alice.tenant, "090-1234-5678", "営業", by=alice)
    log_in(client, charlie)
    assert "090-1234-5678" not in client.get("/portal/blocked").text
    response = client.post(f"/portal/blocked/{row.id}/unblock",
                           data={"csrf_token": csrf_token(client, "/portal/blocked")})
    assert response.status_code == 404
    assert BlockedNumber.blocks(alice.tenant_id, NUISANCE)
    # Charlie blocking the same number blocks it for charlie's firm only.
    block_in_portal(client, "090-1234-5678")
    assert BlockedNumber.select().where(BlockedNumber.tenant == charlie.tenant).count() == 1
    assert BlockedNumber.get(BlockedNumber.tenant == alice.tenant).note == "営業"


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_the_portal_pages_are_for_the_firms_own_users_only(client, request, role, alice):
    log_in(client, request.getfixturevalue(role))
    assert client.get("/portal/blocked").status_code == 403
    assert client.get("/portal/calls").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client, alice):
    for path in ("/portal/blocked", "/portal/calls"):
        assert client.get(path, follow_redirects=False).headers["location"].startswith("/login")
