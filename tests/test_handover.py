"""Handover notes (引き継ぎ): operators see unread ones on starting and acknowledge them before taking
calls; a firm's notes are on its screen pop; supervisors see who read each note and when."""

import datetime as dt

from app.calls.models import Call, OperatorPresence
from app.db import utcnow
from app.handover.models import HandoverNote, HandoverRead

from .conftest import _user, csrf_token, log_in
from .test_api import bearer


def _note(author, text="田中様から見積の件で折り返しがあれば至急扱い", tenant=None, hours=8):
    return HandoverNote.write(text, author, tenant, utcnow() + dt.timedelta(hours=hours))


def _expiry(hours=8):
    return (utcnow() + dt.timedelta(hours=hours)).astimezone(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m-%dT%H:%M")


def test_an_operator_sees_an_unread_note_on_starting_and_becomes_available_only_after_acknowledging_it(
        client, operator, supervisor):
    note = _note(supervisor)
    log_in(client, operator)
    page = client.get("/console").text
    assert note.text in page and "確認しました" in page
    token = csrf_token(client, "/console")
    refused = client.post("/console/presence", data={"csrf_token": token, "available": "1"})
    assert refused.status_code == 409 and "先に引き継ぎを確認してください" in refused.text
    assert not OperatorPresence.of(operator).available

    acked = client.post("/handover/ack", data={"csrf_token": token, "note": str(note.id)}, headers={"HX-Request": "true"})
    assert acked.status_code == 200 and note.text not in acked.text and 'hx-swap-oob="true"' in acked.text
    assert client.post("/console/presence", data={"csrf_token": token, "available": "1"}).status_code == 200
    assert OperatorPresence.of(operator).available
    assert note.text not in client.get("/console").text  # read: not shown again


def test_a_note_written_after_the_console_opened_must_be_acknowledged_too(client, operator, supervisor):
    first = _note(supervisor, "一件目")
    log_in(client, operator)
    token = csrf_token(client, "/console")
    second = _note(supervisor, "二件目：山田法律事務所は本日17時で受付終了")
    acked = client.post("/handover/ack", data={"csrf_token": token, "note": str(first.id)}, headers={"HX-Request": "true"})
    assert second.text in acked.text  # still unread, shown again
    assert client.post("/console/presence", data={"csrf_token": token, "available": "1"}).status_code == 409


def test_the_cti_api_keeps_an_operator_with_unread_notes_from_becoming_available_as_the_console_does(
        client, operator, supervisor):
    note = _note(supervisor)
    put = lambda: client.put("/api/v1/operators/me/presence", json={"state": "available"},  # noqa: E731
                             headers=bearer(operator))
    refused = put()
    assert refused.status_code == 409 and "state" in refused.json()["errors"]
    assert not OperatorPresence.of(operator).available
    HandoverRead.mark(operator, [note.id])
    assert put().status_code == 200 and OperatorPresence.of(operator).available


def test_an_operator_already_taking_calls_is_not_stopped_by_a_new_note(client, operator, supervisor):
    OperatorPresence.set(operator, True)
    _note(supervisor)
    log_in(client, operator)
    token = csrf_token(client, "/console")
    assert client.post("/console/presence", data={"csrf_token": token, "available": "0", "reason": "break"}).status_code == 200
    assert not OperatorPresence.of(operator).available


def test_the_supervisor_sees_who_read_each_note_and_when_and_who_has_not(client, operator, supervisor):
    other = _user("op2@dengon.example", "operator")
    other.name = "応対 二郎"
    other.save()
    operator.name = "応対 一美"
    operator.save()
    note = _note(supervisor)
    HandoverRead.mark(operator, [note.id])
    HandoverRead.mark(operator, [note.id])  # twice is once
    assert HandoverRead.select().where(HandoverRead.note == note).count() == 2  # the writer and the operator
    log_in(client, supervisor)
    page = client.get("/handover").text
    item = page[page.index(f'id="note-{note.id}"'):]
    read_part, unread_part = item.split('class="not-reader', 1)
    assert "応対 一美" in read_part and "応対 二郎" in unread_part
    assert "既読 2 · 未読 1" in item


def test_operators_write_notes_and_a_firms_note_is_on_that_firms_screen_pop_only(client, operator, firm_a, firm_b):
    log_in(client, operator)
    token = csrf_token(client, "/handover")
    response = client.post("/handover", data={"csrf_token": token, "text": "firm-a の田中様は本日外出、折り返し不要",
                                              "tenant": str(firm_a.id), "expires_at": _expiry()}, follow_redirects=False)
    assert response.status_code == 303
    note = HandoverNote.get()
    assert (note.tenant_id, note.author_id) == (firm_a.id, operator.id)
    call_a, _ = Call.arrive("CA-a", to="", caller="+819011112222", forwarded_from="03-1111-2222", region="JP")
    call_b, _ = Call.arrive("CA-b", to="", caller="+819011112222", forwarded_from="06-3333-4444", region="JP")
    assert note.text in client.get(f"/console/calls/{call_a.id}").text
    assert note.text not in client.get(f"/console/calls/{call_b.id}").text
    # The writer has read their own note: nothing to acknowledge.
    assert "確認しました" not in client.get("/console").text


def test_a_note_needs_text_and_an_expiry_later_than_now_and_within_a_month(client, operator):
    log_in(client, operator)
    token = csrf_token(client, "/handover")
    for text, expires, error in (("", _expiry(), "引き継ぎの内容を書いてください"),
                                 ("明日の件", _expiry(-1), "期限は現在より後にしてください"),
                                 ("明日の件", _expiry(24 * 40), "31日先までです"),
                                 ("明日の件", "あした", "日付と時刻を入力してください")):
        response = client.post("/handover", data={"csrf_token": token, "text": text, "expires_at": expires})
        assert response.status_code == 422 and error in response.text, (text, expires)
        assert text in response.text  # what was typed is kept
    assert HandoverNote.select().count() == 0


def test_an_expiry_sent_with_its_own_offset_keeps_it(client, operator):
    log_in(client, operator)
    token = csrf_token(client, "/handover")
    expires = (utcnow() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    typed = expires.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()  # 3 hours ahead, in New York's winter
    response = client.post("/handover", data={"csrf_token": token, "text": "明日の件", "expires_at": typed},
                           follow_redirects=False)
    assert response.status_code == 303
    assert HandoverNote.get().expires_at == expires


def test_expired_and_withdrawn_notes_are_no_longer_shown(client, operator, supervisor, firm_a):
    expired = _note(supervisor, "期限切れのお知らせ", hours=1)
    HandoverNote.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(HandoverNote.id == expired.id).execute()
    withdrawn = _note(supervisor, "取り下げたお知らせ", tenant=firm_a)
    log_in(client, supervisor)
    token = csrf_token(client, "/handover")
    assert client.post(f"/handover/{withdrawn.id}/withdraw", data={"csrf_token": token}).status_code == 200
    client.post("/logout", data={"csrf_token": token})
    log_in(client, operator)
    page = client.get("/console").text
    assert expired.text not in page and withdrawn.text not in page
    assert HandoverNote.unread_by(operator) == []


def test_only_its_author_or_a_supervisor_withdraws_a_note(client, operator, supervisor):
    note = _note(supervisor)
    log_in(client, operator)
    token = csrf_token(client, "/handover")
    assert client.post(f"/handover/{note.id}/withdraw", data={"csrf_token": token}).status_code == 403
    assert HandoverNote.get_by_id(note.id).withdrawn_at is None
    # An operator does not see who read what.
    assert "未読" not in client.get("/handover").text.split("<main", 1)[1].split("引き継ぎを書く")[0]


def test_handover_pages_are_404_for_client_users(client, alice, supervisor):
    note = _note(supervisor)
    log_in(client, alice)
    token = csrf_token(client, "/portal")
    assert client.get("/handover").status_code == 404
    assert client.post("/handover", data={"csrf_token": token, "text": "x", "expires_at": _expiry()}).status_code == 404
    assert client.post("/handover/ack", data={"csrf_token": token, "note": str(note.id)}).status_code == 404
    assert client.post(f"/handover/{note.id}/withdraw", data={"csrf_token": token}).status_code == 404
    assert HandoverNote.get_by_id(note.id).withdrawn_at is None


def test_a_note_posted_without_its_csrf_token_is_refused(client, operator):
    log_in(client, operator)
    assert client.post("/handover", data={"text": "x", "expires_at": _expiry()}).status_code == 403
    assert HandoverNote.select().count() == 0


def test_the_console_fetches_unread_notes_again_when_one_is_written(client, operator, supervisor):
    log_in(client, operator)
    assert "handover-start" not in client.get("/handover/unread").text
    note = _note(supervisor, "新しい引き継ぎ")
    panel = client.get("/handover/unread", headers={"HX-Request": "true"}).text
    assert note.text in panel and 'id="presence" hx-swap-oob="true"' in panel and "disabled" in panel
