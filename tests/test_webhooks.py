"""Provider webhooks: only signed requests count, each call is recorded once, for the right firm."""

import datetime as dt
import re

import pytest
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from app.calls import webhooks
from app.messages.models import Message
from app.calls.models import ABANDONED, ANNOUNCED, ANSWERED, COMPLETED, QUEUED, VOICEMAIL, Call
from app.tenants import store

from .conftest import minimal_config

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
JST = dt.timezone(dt.timedelta(hours=9))


def post(client, settings, path, params, signature=None):
    headers = {"X-Twilio-Signature": signature if signature is not None else webhooks.sign(settings, path, params)}
    return client.post(path, data=params, headers=headers)


def inbound(sid="CA" + "1" * 32, to="+815011112222", caller="+819012345678", forwarded=None):
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "To": to, "From": caller, "CallStatus": "ringing",
              "Direction": "inbound", "ApiVersion": "2010-04-01"}
    if forwarded:
        params["ForwardedFrom"] = forwarded
    return params


@pytest.fixture
def law(database):
    return store.import_config(minimal_config(
        "law", "03-1234-5678", answer_phrase="山田法律事務所でございます。",
        numbers=[{"number": "03-1234-5678", "kind": "forwarded"},
                 {"number": "050-5555-0101", "kind": "dedicated"}]))


def closed_firm(slug, number, rule, message=""):
    hours = {**{d: "" for d in WEEK}, "after_hours": rule}
    if message:
        hours["after_hours_message"] = message
    return store.import_config(minimal_config(slug, number, hours=hours, language="ja"))


def test_it_refuses_unsigned_webhooks(client, settings, law):
    for path in ("/twilio/voice", "/twilio/status", "/twilio/queue-exit", "/twilio/wait", "/twilio/voicemail"):
        assert client.post(path, data=inbound()).status_code == 403, path
    assert Call.select().count() == 0


def test_it_refuses_a_wrong_signature_a_tampered_parameter_and_a_signature_for_another_url(client, settings, law):
    params = inbound()
    assert post(client, settings, "/twilio/voice", params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    tampered = {**params, "From": "+819099999999"}
    assert post(client, settings, "/twilio/voice", tampered,
                signature=webhooks.sign(settings, "/twilio/voice", params)).status_code == 403
    assert post(client, settings, "/twilio/voice", params,
                signature=webhooks.sign(settings, "/twilio/status", params)).status_code == 403
    assert Call.select().count() == 0


def test_a_signed_call_is_queued_with_a_ringback_tone(client, settings, law):
    response = post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert re.search(r'<Enqueue action="http://testserver/twilio/queue-exit" method="POST" '
                     r'waitUrl="http://testserver/twilio/wait" waitUrlMethod="POST">dengon</Enqueue>', response.text)
    assert "<Say" not in response.text  # no robot voice: the caller hears ringing, as if calling the firm
    wait = post(client, settings, "/twilio/wait", {"CallSid": "CA" + "1" * 32, "QueuePosition": "1"})
    assert '<Play loop="0">http://testserver/static/audio/ringback-ja.wav</Play>' in wait.text
    assert client.get("/static/audio/ringback-ja.wav").headers["content-type"] in ("audio/x-wav", "audio/wav")


def test_the_provider_signing_with_the_real_auth_token_is_accepted(app, settings, law):
    from starlette.testclient import TestClient

    from app.main import create_app

    real = settings.replace(TWILIO_AUTH_TOKEN="f" * 32)
    with TestClient(create_app(real)) as client:
        params = inbound(to="+815055550101")
        assert post(client, real, "/twilio/voice", params).status_code == 200
        # The key derived for demos is not accepted once a real token is configured.
        assert post(client, real, "/twilio/voice", params, signature=webhooks.sign(settings, "/twilio/voice",
                                                                                     params)).status_code == 403


@pytest.mark.parametrize("pairs", [
    [("CallSid", "CA1"), ("From", "+819012345678"), ("To", "+815055550101")],
    [("SpeechResult", "山田です、折り返しをお願いします"), ("Digits", ""), ("Caller", "anonymous")],
    [("To", "b"), ("To", "a"), ("To", "a"), ("A", "x y&z=+%")],
])
def test_the_quick_signature_check_agrees_with_the_providers_own_library(pairs):
    key, url = "f" * 32, "https://dengon.example.jp/twilio/voice?x=1"
    expected = RequestValidator(key).compute_signature(url, ImmutableMultiDict(pairs))
    assert webhooks._signature_of(key, url, pairs) == expected


def test_a_signature_over_the_url_with_its_default_port_is_accepted(settings):
    public = settings.replace(PUBLIC_URL="https://dengon.example.jp", TWILIO_AUTH_TOKEN="f" * 32)
    pairs = list(inbound().items())
    with_port = RequestValidator("f" * 32).compute_signature("https://dengon.example.jp:443/twilio/voice", dict(pairs))
    assert webhooks.verified(public, "https://dengon.example.jp/twilio/voice", pairs, with_port)
    assert not webhooks.verified(public, "https://dengon.example.jp/twilio/status", pairs, with_port)


def test_the_same_call_delivered_twice_is_one_call(client, settings, law):
    first = post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    second = post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    assert Call.select().count() == 1 and first.text == second.text


@pytest.mark.parametrize("to, forwarded", [
    ("+815055550101", None),                 # dedicated, as Twilio sends it
    ("050-5555-0101", None),                 # dedicated, national format
    ("+815099990000", "+81312345678"),       # forwarded, E.164
    ("+815099990000", "0312345678"),         # forwarded, national digits
    ("+815099990000", "81312345678"),        # forwarded, bare international digits
    ("+815099990000", "03-1234-5678"),       # forwarded, with hyphens
])
def test_the_firm_is_found_from_the_dialled_or_forwarded_number_in_any_format(client, settings, law, to, forwarded):
    post(client, settings, "/twilio/voice", inbound(to=to, forwarded=forwarded))
    assert Call.get().tenant.slug == "law"


def test_the_dialled_dedicated_number_wins_over_the_forwarded_line(client, settings, law, database):
    other = store.import_config(minimal_config("other", "06-1111-2222"))
    post(client, settings, "/twilio/voice", inbound(to="+815055550101", forwarded="06-1111-2222"))
    assert Call.get().tenant.id == law.id and other.id != law.id


def test_a_forwarded_number_dialled_directly_is_not_taken_for_a_dedicated_one(client, settings, law):
    post(client, settings, "/twilio/voice", inbound(to="+81312345678"))
    assert Call.get().unknown


def test_a_call_to_an_unknown_number_is_still_answered_and_flagged(client, settings, law):
    response = post(client, settings, "/twilio/voice", inbound(to="+815099990000", caller="anonymous"))
    assert "<Enqueue" in response.text
    call = Call.get()
    assert call.unknown and call.status == QUEUED and call.from_number == ""


def test_after_hours_voicemail_records_the_caller(client, settings, database):
    closed_firm("night", "03-7777-0001", "voicemail", "ただいま営業時間外です。")
    response = post(client, settings, "/twilio/voice", inbound(to="+815099990000", forwarded="0377770001"))
    assert '<Say language="ja-JP">ただいま営業時間外です。</Say>' in response.text
    assert '<Record action="http://testserver/twilio/voicemail"' in response.text
    call = Call.get()
    assert call.status == VOICEMAIL and call.after_hours
    post(client, settings, "/twilio/voicemail", {"CallSid": call.sid, "RecordingUrl": "https://api.example/Rec1",
                                                  "RecordingDuration": "23"})
    call = Call.get()
    assert (call.recording_url, call.recording_seconds) == ("https://api.example/Rec1", 23)
    # The recording becomes a message of the firm, once, however often the provider reports it.
    post(client, settings, "/twilio/voicemail", {"CallSid": call.sid, "RecordingUrl": "https://api.example/Rec1",
                                                  "RecordingDuration": "23"})
    (message,) = Message.select()
    assert (message.tenant_id, message.source, message.call_id) == (call.tenant_id, "voicemail", call.id)
    assert message.fields == {"callback_number": "+819012345678"}
    assert (message.recording_url, message.recording_seconds, message.taken_at) == (
        "https://api.example/Rec1", 23, call.arrived_at)


def test_after_hours_voicemail_without_a_message_uses_a_greeting_in_the_firms_language(client, settings, database):
    config = minimal_config("night-en", "03-7777-0003", language="en",
                            hours={**{d: "" for d in WEEK}, "after_hours": "voicemail"})
    store.import_config(config)
    response = post(client, settings, "/twilio/voice", inbound(forwarded="0377770003"))
    assert '<Say language="en-US">Thank you for calling. We are closed now.' in response.text


def test_after_hours_announce_speaks_the_message_and_hangs_up(client, settings, database):
    closed_firm("clinic", "03-7777-0002", "announce", "本日の診療は終了しました。")
    response = post(client, settings, "/twilio/voice", inbound(forwarded="03-7777-0002"))
    assert re.search(r'<Say language="ja-JP">本日の診療は終了しました。</Say><Hangup\s*/>', response.text)
    assert Call.get().status == ANNOUNCED


def test_after_hours_answer_queues_the_call_for_operators_marked_after_hours(client, settings, database):
    closed_firm("builder", "03-7777-0004", "answer")
    response = post(client, settings, "/twilio/voice", inbound(forwarded="03-7777-0004"))
    call = Call.get()
    assert "<Enqueue" in response.text and call.status == QUEUED and call.after_hours


@pytest.fixture
def office(database):
    return store.import_config(minimal_config(
        "office", "03-8888-0001",
        hours={"mon": "09:00-12:00,13:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00",
               "thu": "09:00-18:00", "fri": "09:00-18:00", "sat": "", "sun": "00:00-24:00",
               "closed_on_holidays": "JP", "after_hours": "voicemail"}))


@pytest.mark.parametrize("local, open_", [
    ("2026-11-24 08:59", False),  # Tuesday, before opening
    ("2026-11-24 09:00", True),
    ("2026-11-24 17:59", True),
    ("2026-11-24 18:00", False),
    ("2026-11-30 12:30", False),  # Monday lunch break
    ("2026-11-30 13:00", True),
    ("2026-11-28 10:00", False),  # Saturday closed
    ("2026-11-29 23:59", True),   # Sunday, all day
    ("2026-11-23 10:00", False),  # Monday, 勤労感謝の日 (a public holiday)
    ("2027-01-01 10:00", False),  # Friday, 元日
])
def test_hours_and_public_holidays_decide_whether_operators_answer(office, local, open_):
    at = dt.datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=JST)
    assert office.is_open(at) is open_
    call, _ = Call.arrive(f"CA{local}", to="", caller="", forwarded_from="0388880001", region="JP", at=at)
    assert call.status == (QUEUED if open_ else VOICEMAIL)


def test_hours_follow_the_firms_time_zone_across_a_daylight_saving_change(database):
    firm = store.import_config(minimal_config(
        "nyc", "+1 212 555 0100", timezone="America/New_York",
        hours={**{d: "09:00-17:00" for d in WEEK}, "after_hours": "answer"}))
    # 09:30 in New York is 13:30 UTC in summer (EDT) and 14:30 UTC in winter (EST).
    utc = dt.timezone.utc
    assert firm.is_open(dt.datetime(2026, 10, 30, 13, 30, tzinfo=utc))
    assert not firm.is_open(dt.datetime(2026, 11, 2, 13, 30, tzinfo=utc))
    assert firm.is_open(dt.datetime(2026, 11, 2, 14, 30, tzinfo=utc))


def test_a_caller_who_hangs_up_while_waiting_is_an_abandoned_call_with_its_wait(client, settings, law):
    post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    post(client, settings, "/twilio/queue-exit", {"CallSid": "CA" + "1" * 32, "QueueResult": "hangup",
                                                   "QueueTime": "37"})
    call = Call.get()
    assert call.status == ABANDONED and call.wait_seconds == 37 and call.ended_at
    # The final status callback that follows changes nothing.
    post(client, settings, "/twilio/status", {"CallSid": call.sid, "CallStatus": "completed", "CallDuration": "40"})
    assert Call.get().status == ABANDONED and Call.get().wait_seconds == 37


def test_a_final_status_for_a_waiting_call_also_makes_it_abandoned(client, settings, law):
    post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    Call.update(arrived_at=Call.get().arrived_at - dt.timedelta(seconds=12)).execute()
    post(client, settings, "/twilio/status", {"CallSid": "CA" + "1" * 32, "CallStatus": "completed"})
    call = Call.get()
    assert call.status == ABANDONED and 11 <= call.wait_seconds <= 14


def test_an_answered_call_records_wait_and_talk_time_when_it_ends(client, settings, law, operator):
    post(client, settings, "/twilio/voice", inbound(to="+815055550101"))
    Call.update(arrived_at=Call.get().arrived_at - dt.timedelta(seconds=8)).execute()
    assert Call.take(Call.get().id, operator)
    call = Call.get()
    assert call.status == ANSWERED and call.claimed_by.id == operator.id and 7 <= call.wait_seconds <= 10
    assert call.answered_at == call.claimed_at  # without audio, taking a call is answering it
    Call.update(answered_at=call.answered_at - dt.timedelta(seconds=95)).execute()
    post(client, settings, "/twilio/status", {"CallSid": call.sid, "CallStatus": "completed", "CallDuration": "103"})
    call = Call.get()
    assert call.status == COMPLETED and 94 <= call.talk_seconds <= 97


def test_two_operators_can_never_take_the_same_call(law, operator, supervisor):
    call, _ = Call.arrive("CA" + "2" * 32, to="+815055550101", caller="", forwarded_from="", region="JP")
    assert Call.take(call.id, operator) is True
    assert Call.take(call.id, supervisor) is False
    assert Call.get_by_id(call.id).claimed_by.id == operator.id
