"""取次: a call whose call type lists ``transfer_to_staff`` is put through to a staff member's mobile
by the provider (faked on loopback); when nobody answers, the caller comes back to the operator, who
is told so and takes a message. Without a provider there are no 取次 buttons."""

import datetime as dt
import re

import pytest

from app.calls.models import Call, OperatorPresence, Transfer
from app.tenants import store

from .conftest import csrf_token, log_in, minimal_config
from .test_voice import ACCOUNT, fake_provider, voice_client, voice_settings  # noqa: F401 (fixtures)
from .test_webhooks import inbound, post

CALL_TYPES = [
    {"key": "site", "label": "現場からの緊急連絡", "urgent": True, "fields": ["caller_name", "body"],
     "transfer_to_staff": ["takeda", "ito"]},
    {"key": "message", "label": "伝言", "fields": ["caller_name", "body"]},
]
STAFF = [{"key": "takeda", "name": "武田 翔", "mobile": "070-4428-1963"},
         {"key": "ito", "name": "伊藤 浩二", "mobile": "080-3391-7205"},
         {"key": "office", "name": "中村 久美子"}]


@pytest.fixture
def taken(voice_client, voice_settings, fake_provider, operator):
    """A call of the construction firm, taken by the operator with audio, on their screen pop."""
    store.import_config(minimal_config("daiwa", "048-226-3141", staff=STAFF, call_types=CALL_TYPES))
    post(voice_client, voice_settings, "/twilio/voice", inbound(to="+815011112222", forwarded="048-226-3141"))
    call = Call.get()
    log_in(voice_client, operator)
    OperatorPresence.set(operator, True)  # operators start on break: this one has begun taking calls
    voice_client.headers["X-CSRF-Token"] = csrf_token(voice_client, "/console")
    voice_client.headers["HX-Request"] = "true"
    assert voice_client.post(f"/console/calls/{call.id}/take").status_code == 204
    fake_provider.requests.clear()
    return Call.get_by_id(call.id)


def put_through(client, call, staff="takeda", call_type="site"):
    return client.post(f"/console/calls/{call.id}/transfer", data={"staff": staff, "call_type": call_type})


def test_the_screen_pop_offers_to_put_the_call_through_to_the_call_types_staff_with_their_presence(
        voice_client, taken):
    html = voice_client.get(f"/console/calls/{taken.id}").text
    buttons = re.findall(r'class="transfer-to" data-staff="([a-z-]+)"', html)
    assert buttons == ["takeda", "ito"]
    assert "武田 翔" in html and "取次" in html and "在席" in html
    # Another call type lists nobody: no buttons.
    other = voice_client.post(f"/console/calls/{taken.id}/draft?switch=1",
                              data={"typed_call_type": "site", "call_type": "message"}).text
    assert "transfer-to" not in other


def test_pressing_it_asks_the_provider_to_dial_the_staff_members_mobile_from_the_number_called(
        voice_client, voice_settings, fake_provider, taken):
    response = put_through(voice_client, taken)
    assert response.status_code == 200 and "武田 翔" in response.text and "呼び出し中" in response.text
    attempt = Transfer.get()
    [request] = fake_provider.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{taken.sid}.json"
    assert request["form"] == {"Url": f"http://testserver/twilio/transfer?transfer={attempt.id}", "Method": "POST"}
    twiml = post(voice_client, voice_settings, f"/twilio/transfer?transfer={attempt.id}", {"CallSid": taken.sid}).text
    assert re.search(r'<Dial action="http://testserver/twilio/transfer-result\?transfer=\d+" callerId="\+815011112222" '
                     r'method="POST" timeout="20"><Number method="POST" '
                     r'url="http://testserver/twilio/transfer-whisper\?transfer=\d+">\+817044281963</Number></Dial>',
                     twiml), twiml
    whisper = post(voice_client, voice_settings, f"/twilio/transfer-whisper?transfer={attempt.id}",
                   {"CallSid": "CA" + "4" * 32, "ParentCallSid": taken.sid}).text
    assert "daiwa 株式会社" in whisper and 'language="ja-JP"' in whisper
    # Pressed again while it rings: refused, nothing more asked of the provider.
    assert put_through(voice_client, taken, "ito").status_code == 409 and len(fake_provider.requests) == 1


def test_when_nobody_answers_the_caller_comes_back_to_the_operator_who_is_told_to_take_a_message(
        voice_client, voice_settings, operator, taken):
    put_through(voice_client, taken)
    attempt = Transfer.get()
    twiml = post(voice_client, voice_settings, f"/twilio/transfer-result?transfer={attempt.id}",
                 {"CallSid": taken.sid, "DialCallStatus": "no-answer"}).text
    assert f">operator-{operator.id}</Client></Dial>" in twiml  # rings the operator's browser again
    status = voice_client.get(f"/console/calls/{taken.id}/transfer").text
    assert "武田 翔" in status and "応答なし" in status and "伝言" in status
    assert Transfer.get().status == "no-answer" and Call.get_by_id(taken.id).status == "answered"
    # Then someone else may be tried.
    assert put_through(voice_client, taken, "ito").status_code == 200


def test_an_answered_transfer_ends_the_callers_call_with_the_staff_member(voice_client, voice_settings, taken):
    put_through(voice_client, taken)
    attempt = Transfer.get()
    twiml = post(voice_client, voice_settings, f"/twilio/transfer-result?transfer={attempt.id}",
                 {"CallSid": taken.sid, "DialCallStatus": "completed"}).text
    assert "<Hangup />" in twiml
    assert "おつなぎしました" in voice_client.get(f"/console/calls/{taken.id}/transfer").text


def test_a_transfer_the_provider_says_nothing_about_counts_as_unanswered_after_its_ring_time(voice_client, taken):
    put_through(voice_client, taken)
    Transfer.update(requested_at=Transfer.get().requested_at - dt.timedelta(seconds=40)).execute()
    assert "応答なし" in voice_client.get(f"/console/calls/{taken.id}/transfer").text
    assert Transfer.get().status == "timeout"


def test_only_the_call_types_staff_may_be_put_through_to_and_only_with_a_signed_callback(
        voice_client, voice_settings, taken):
    assert put_through(voice_client, taken, "office").status_code == 422
    assert put_through(voice_client, taken, "takeda", call_type="message").status_code == 422
    put_through(voice_client, taken)
    attempt = Transfer.get()
    path = f"/twilio/transfer-result?transfer={attempt.id}"
    assert post(voice_client, voice_settings, path, {"CallSid": "CA" + "6" * 32, "DialCallStatus": "completed"}
                ).status_code == 400  # another call's
    assert post(voice_client, voice_settings, path, {"CallSid": taken.sid, "DialCallStatus": "completed"},
                signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert Transfer.get().status == "ringing"


def test_a_provider_refusal_is_told_and_the_caller_stays_with_the_operator(voice_client, fake_provider, taken):
    fake_provider.fail_with = 400
    response = put_through(voice_client, taken)
    assert response.status_code == 502 and "400" in response.text
    assert Transfer.get().status == "failed"


def test_without_a_provider_there_are_no_transfer_buttons(client, operator, database):
    firm = store.import_config(minimal_config("daiwa", "048-226-3141", staff=STAFF, call_types=CALL_TYPES))
    call = Call.create(sid="CA" + "3" * 32, tenant=firm, status="answered", claimed_by=operator)
    log_in(client, operator)
    html = client.get(f"/console/calls/{call.id}").text
    assert 'id="message-form"' in html and "transfer-to" not in html
