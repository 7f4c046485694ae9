"""Calls follow presence: a waiting call is offered to the longest-idle operator first, nobody on break
or signed out takes one, and a call taken without audio is ended by the operator and wrapped up."""

import datetime as dt
import re

import pytest

from app.accounts.models import Session
from app.calls import offers
from app.calls.models import COMPLETED, Call, OperatorPresence
from app.db import utcnow
from app.messages import forms, service

from .conftest import _user, csrf_token, log_in
from .test_api import bearer

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def on_duty(user, minutes_ago: float, session: bool = True):
    """Available (signed in, unless told otherwise) since ``minutes_ago``."""
    if session:
        Session.start(user)
    OperatorPresence.set(user, True)
    OperatorPresence.update(since=utcnow() - dt.timedelta(minutes=minutes_ago)).where(
        OperatorPresence.user == user).execute()


def arrive(sid, seconds_ago: float = 0):
    call, _ = Call.arrive(sid, to="+815000000000", caller="090-1234-5678", forwarded_from="03-1111-2222",
                          region="JP", at=utcnow() - dt.timedelta(seconds=seconds_ago))
    return call


def noise(call, user):
    clean, _problems = forms.check(call.tenant, forms.Entry(category="wrong_number"))
    return service.record(call.tenant, clean, user, call=Call.get_by_id(call.id))


def offered(app_settings_seconds=5):
    calls = list(Call.waiting())
    found = offers.offers(calls, app_settings_seconds)
    return [(c.sid, found[c.id].user_id if c.id in found else None) for c in calls]


@pytest.fixture
def third(database):
    return _user("op3@dengon.example", "operator")


@pytest.fixture
def desk(client, firm_a, operator, supervisor, third):
    return operator, supervisor, third


def test_the_longest_idle_operator_is_offered_the_longest_waiting_call(desk):
    operator, supervisor, third = desk
    on_duty(operator, 5)
    on_duty(supervisor, 30)
    on_duty(third, 10)
    arrive("CA-1", 20)
    arrive("CA-2", 10)
    arrive("CA-3", 5)
    arrive("CA-4", 1)
    assert offered() == [("CA-1", supervisor.id), ("CA-2", third.id), ("CA-3", operator.id), ("CA-4", None)]


def test_idle_counts_from_the_end_of_the_last_after_call_work(desk):
    operator, supervisor, _third = desk
    on_duty(operator, 60)
    on_duty(supervisor, 10)
    earlier = arrive("CA-earlier", 600)
    Call.take(earlier.id, operator)
    Call.get_by_id(earlier.id).end("completed")
    arrive("CA-now")
    # In after-call work the operator is offered nothing; once the message is saved, idle from then.
    assert offered() == [("CA-now", supervisor.id)]
    noise(earlier, operator)
    assert [u for _sid, u in offered()] == [supervisor.id]


def test_a_tie_in_idle_time_goes_to_the_operator_available_first(desk):
    operator, supervisor, _third = desk
    on_duty(operator, 20)
    on_duty(supervisor, 30)
    # Both end their last calls' work at the same moment, after both became available.
    for user, sid in ((operator, "CA-a"), (supervisor, "CA-b")):
        call = arrive(sid, 300)
        Call.take(call.id, user)
        Call.get_by_id(call.id).end("completed", at=NOW - dt.timedelta(minutes=2))
        noise(call, user)
    from app.messages.models import Message
    Message.update(taken_at=NOW - dt.timedelta(minutes=1)).execute()
    arrive("CA-next")
    assert offered() == [("CA-next", supervisor.id)]


def test_the_offer_moves_when_the_offered_operator_goes_on_break_or_takes_another_call(desk):
    operator, supervisor, third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 20)
    on_duty(third, 10)
    first, _second = arrive("CA-1", 10), arrive("CA-2", 5)
    assert offered() == [("CA-1", operator.id), ("CA-2", supervisor.id)]
    OperatorPresence.set(operator, False, "meeting")
    assert offered() == [("CA-1", supervisor.id), ("CA-2", third.id)]
    Call.take(first.id, supervisor)
    assert offered() == [("CA-2", third.id)]


def _offer_of(sid):
    calls = list(Call.waiting())
    return offers.offers(calls, 5)[next(c.id for c in calls if c.sid == sid)]


def test_when_the_offered_operator_leaves_the_next_one_gets_the_whole_head_start_from_then(desk):
    operator, supervisor, third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 20)
    on_duty(third, 10)
    arrive("CA-1", 3)
    assert _offer_of("CA-1").user_id == operator.id and _offer_of("CA-1").closed_to(third.id, utcnow()) <= 2
    OperatorPresence.set(operator, False, "break")
    # Offered to the supervisor now, for five seconds from the move: not the two left of the first offer.
    offer = _offer_of("CA-1")
    assert offer.user_id == supervisor.id and offer.closed_to(third.id, utcnow()) >= 4
    assert offer.closed_to(supervisor.id, utcnow()) == 0


def test_a_call_already_open_to_all_stays_open_when_its_operator_leaves(desk):
    operator, supervisor, third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 20)
    on_duty(third, 10)
    arrive("CA-1", 8)
    OperatorPresence.set(operator, False, "break")
    offer = _offer_of("CA-1")
    assert offer.user_id == supervisor.id and offer.closed_to(third.id, utcnow()) == 0


def test_a_break_that_begins_as_a_message_is_saved_moves_no_offer(desk):
    operator, supervisor, third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 20)
    on_duty(third, 10)
    earlier = arrive("CA-earlier", 600)
    Call.take(earlier.id, operator)
    Call.get_by_id(earlier.id).end("completed")
    assert OperatorPresence.set(operator, False, "break")  # put off until the message is saved
    arrive("CA-1", 3)
    assert _offer_of("CA-1").user_id == supervisor.id
    noise(earlier, operator)  # the break begins now; the operator was never offered CA-1
    assert not OperatorPresence.of(operator).available
    assert _offer_of("CA-1").closed_to(third.id, utcnow()) <= 2


def test_an_operator_on_break_signed_out_or_who_never_said_is_never_offered_a_call(desk):
    operator, supervisor, third = desk
    on_duty(operator, 30)
    OperatorPresence.set(operator, False, "break")
    on_duty(supervisor, 20, session=False)  # available, but no live session: signed out
    Session.start(third)  # signed in, never said they were available
    arrive("CA-1")
    assert offered() == [("CA-1", None)]


def test_an_operator_on_break_or_who_never_became_available_is_refused_on_the_console_and_the_api(client, desk):
    operator, supervisor, _third = desk
    arrive("CA-1")
    call = Call.get(Call.sid == "CA-1")
    log_in(client, operator)
    token = csrf_token(client, "/console")
    never = client.post(f"/console/calls/{call.id}/take", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert never.status_code == 409 and "休憩中" in never.text
    OperatorPresence.set(operator, False, "meeting")
    console = client.get("/console").text
    assert re.search(r'<button class="take" disabled', console) and "休憩中" in console
    refused = client.post(f"/console/calls/{call.id}/take", headers={"X-CSRF-Token": token})
    assert refused.status_code == 409
    api = client.post("/api/v1/calls/CA-1/take", headers=bearer(supervisor))
    assert api.status_code == 409 and set(api.json()["errors"]) == {"presence"}
    assert Call.get_by_id(call.id).status == "queued"


def test_signing_out_puts_the_operator_on_break_so_the_api_refuses_them_too(client, desk):
    operator = desk[0]
    log_in(client, operator)
    token = csrf_token(client, "/console")
    client.post("/console/presence", data={"available": "1", "csrf_token": token})
    assert OperatorPresence.of(operator).available
    client.post("/logout", data={"csrf_token": token})
    assert OperatorPresence.of(operator).state()[0] == "break"
    arrive("CA-1")
    response = client.post("/api/v1/calls/CA-1/take", headers=bearer(operator))
    assert response.status_code == 409 and set(response.json()["errors"]) == {"presence"}


def test_a_call_offered_to_another_is_refused_for_its_head_start_and_then_anyone_may_take_it(client, app, desk):
    operator, supervisor, _third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 5)
    arrive("CA-1")
    refused = client.post("/api/v1/calls/CA-1/take", headers={**bearer(supervisor), "Accept-Language": "en"})
    assert refused.status_code == 409
    message = refused.json()["errors"]["call"]
    assert "offered to another operator" in message and re.search(r"for [1-5] more seconds", message)
    # The head start over (the call came in six seconds ago), the other operator takes it.
    Call.update(arrived_at=utcnow() - dt.timedelta(seconds=6)).where(Call.sid == "CA-1").execute()
    taken = client.post("/api/v1/calls/CA-1/take", headers=bearer(supervisor))
    assert taken.status_code == 200 and taken.json()["taken_by"] == supervisor.email


def test_the_offered_operator_takes_their_call_at_once(client, desk):
    operator, supervisor, _third = desk
    on_duty(operator, 30)
    on_duty(supervisor, 5)
    arrive("CA-1")
    assert client.post("/api/v1/calls/CA-1/take", headers=bearer(operator)).status_code == 200


def test_the_console_shows_the_call_offered_to_you_first_and_others_counting_down(client, desk):
    operator, supervisor, _third = desk
    on_duty(supervisor, 60)
    arrive("CA-old", 1.5)
    arrive("CA-new", 1)
    log_in(client, operator)
    token = csrf_token(client, "/console")
    client.post("/console/presence", data={"available": "1", "csrf_token": token})
    # The supervisor has waited longest: the oldest call is theirs; the operator is offered the newer one.
    html = client.get("/console").text
    rows = re.findall(r'<li id="call-(\d+)" class="([^"]*)"', html)
    new, old = Call.get(Call.sid == "CA-new").id, Call.get(Call.sid == "CA-old").id
    assert [int(i) for i, _c in rows] == [new, old]
    assert "offered" in rows[0][1] and "あなたに着信" in html
    assert re.search(r'disabled data-open-at="[^"]+"[^>]*>\s*ほかのオペレーターに着信中', html)


def test_an_operator_ends_a_call_taken_without_audio_and_is_available_once_its_message_is_saved(client, desk):
    operator = desk[0]
    log_in(client, operator)
    token = csrf_token(client, "/console")
    client.post("/console/presence", data={"available": "1", "csrf_token": token})
    call = arrive("CA-1")
    assert client.post(f"/console/calls/{call.id}/take", headers={"X-CSRF-Token": token}).status_code == 204
    pop = client.get(f"/console/calls/{call.id}").text
    button = '<button class="danger end-call">通話終了</button>'
    assert button in pop and OperatorPresence.of(operator).state()[0] == "on_call"
    ended = client.post(f"/console/calls/{call.id}/end", data={"csrf_token": token})
    assert ended.status_code == 200 and button not in ended.text
    assert "伝言（またはノイズ記録）を保存すると受付中に戻ります" in ended.text and 'data-state="after_call_work"' in ended.text
    call = Call.get_by_id(call.id)
    assert call.status == COMPLETED and call.ended_at is not None and call.talk_seconds is not None
    assert f'href="/console/calls/{call.id}"' not in client.get("/console").text  # not "in progress" any more
    assert OperatorPresence.of(operator).state()[0] == "after_call_work"
    saved = client.post(f"/console/calls/{call.id}/noise", data={"category": "wrong_number", "csrf_token": token})
    assert saved.status_code == 200 and saved.headers["HX-Trigger"] == "desk-changed"
    assert OperatorPresence.of(operator).state()[0] == "available"
    state = client.get(f"/console/calls/{call.id}/state").text
    assert 'class="acw-note"' not in state and 'data-state="available"' in state


def test_a_break_asked_for_during_the_call_begins_when_its_message_is_saved(client, desk):
    operator = desk[0]
    log_in(client, operator)
    token = csrf_token(client, "/console")
    client.post("/console/presence", data={"available": "1", "csrf_token": token})
    call = arrive("CA-1")
    client.post(f"/console/calls/{call.id}/take", headers={"X-CSRF-Token": token})
    asked = client.post("/console/presence", data={"available": "0", "reason": "meeting", "csrf_token": token})
    assert "この通話の後に離席: 打ち合わせ" in asked.text
    assert OperatorPresence.of(operator).state()[0] == "on_call"
    client.post(f"/console/calls/{call.id}/end", data={"csrf_token": token})
    assert OperatorPresence.of(operator).state()[0] == "after_call_work"  # the break waits for the message
    client.post(f"/console/calls/{call.id}/noise", data={"category": "wrong_number", "csrf_token": token})
    presence = OperatorPresence.of(operator)
    assert presence.state()[0] == "break" and presence.reason == "meeting" and presence.pending_reason == ""


def test_ending_a_call_whose_message_was_saved_during_it_begins_the_asked_for_break_at_once(client, desk):
    operator = desk[0]
    on_duty(operator, 1)
    call = arrive("CA-1")
    Call.take(call.id, operator)
    OperatorPresence.set(operator, False, "training")
    noise(call, operator)
    assert OperatorPresence.of(operator).state()[0] == "on_call"
    log_in(client, operator)
    client.post(f"/console/calls/{call.id}/end", data={"csrf_token": csrf_token(client, "/console")})
    assert OperatorPresence.of(operator).state()[0] == "break" and OperatorPresence.of(operator).reason == "training"


def test_only_the_operator_who_took_a_call_ends_it(client, desk):
    operator, supervisor, _third = desk
    call = arrive("CA-1")
    Call.take(call.id, supervisor)
    log_in(client, operator)
    client.post(f"/console/calls/{call.id}/end", data={"csrf_token": csrf_token(client, "/console")})
    assert Call.get_by_id(call.id).status == "answered"


def test_the_api_puts_a_break_off_until_the_call_is_wrapped_up_and_says_so(client, desk):
    operator = desk[0]
    put = lambda body: client.put("/api/v1/operators/me/presence", json=body, headers=bearer(operator))  # noqa: E731
    put({"state": "available"})
    call = arrive("CA-1")
    assert client.post("/api/v1/calls/CA-1/take", headers=bearer(operator)).status_code == 200
    asked = put({"state": "break", "reason": "meeting"}).json()
    assert asked["state"] == "on_call" and asked["break_after_call"] == "meeting"
    Call.get_by_id(call.id).end("completed")
    assert client.post("/api/v1/messages", headers=bearer(operator), json={
        "call_sid": "CA-1", "category": "wrong_number", "fields": {}, "readback": []}).status_code == 201
    presence = OperatorPresence.of(operator)
    assert presence.state()[0] == "break" and presence.reason == "meeting" and presence.pending_reason == ""
