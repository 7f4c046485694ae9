"""Audio in the browser: with provider credentials, taking a call puts it through to the operator's
browser phone. The provider's REST API is faked on loopback (TWILIO_API_BASE), nothing else."""

import json
import re

import jwt
import pytest
from starlette.testclient import TestClient

from app.calls.models import ANSWERED, QUEUED, Call
from app.calls.provider import ProviderKey
from app.main import create_app
from app.tenants import store

from .conftest import csrf_token, log_in, minimal_config
from .fake_provider import FakeProvider
from .test_webhooks import inbound, post

ACCOUNT = "AC" + "a1" * 16
TOKEN = "b2" * 16


@pytest.fixture
def fake_provider():
    provider = FakeProvider()
    yield provider
    provider.stop()


@pytest.fixture
def voice_settings(settings, fake_provider):
    return settings.replace(TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_API_BASE=fake_provider.url)


@pytest.fixture
def voice_client(voice_settings):
    with TestClient(create_app(voice_settings), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def waiting_call(voice_client, voice_settings, database):
    store.import_config(minimal_config("firm", "03-1111-2222"))
    post(voice_client, voice_settings, "/twilio/voice", inbound(forwarded="0311112222"))
    return Call.get()


def take(client, call):
    """As the operator does: become available (受付を再開), then take the call."""
    token = csrf_token(client, "/console")
    client.post("/console/presence", data={"available": "1", "csrf_token": token})
    return client.post(f"/console/calls/{call.id}/take", headers={"HX-Request": "true", "X-CSRF-Token": token})


def test_taking_a_call_puts_it_through_to_the_operators_browser(voice_client, voice_settings, fake_provider,
                                                                waiting_call, operator):
    log_in(voice_client, operator)
    response = take(voice_client, waiting_call)
    assert response.status_code == 204
    assert json.loads(response.headers["HX-Location"]) == {"path": f"/console/calls/{waiting_call.id}",
                                                           "target": "#main"}
    [request] = fake_provider.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{waiting_call.sid}.json"
    assert (request["user"], request["password"]) == (ACCOUNT, TOKEN)
    assert request["form"] == {"Url": f"http://testserver/twilio/connect?operator={operator.id}", "Method": "POST"}
    # The provider then asks what to do with the caller: ring that operator's browser.
    twiml = post(voice_client, voice_settings, f"/twilio/connect?operator={operator.id}",
                 {"CallSid": waiting_call.sid}).text
    assert re.search(rf'<Dial answerOnBridge="true"><Client statusCallback="http://testserver/twilio/operator-answered" '
                     rf'statusCallbackEvent="answered" statusCallbackMethod="POST">operator-{operator.id}</Client></Dial>',
                     twiml)
    assert Call.get().status == ANSWERED and Call.get().answered_at is None
    # The operator's phone picks up: the call is answered from then on.
    post(voice_client, voice_settings, "/twilio/operator-answered",
         {"CallSid": "CA" + "9" * 32, "ParentCallSid": waiting_call.sid, "CallStatus": "in-progress"})
    assert Call.get().answered_at >= Call.get().claimed_at


def test_a_call_the_provider_cannot_put_through_goes_back_to_the_queue(voice_client, fake_provider, waiting_call,
                                                                      operator):
    fake_provider.fail_with = 400
    log_in(voice_client, operator)
    response = take(voice_client, waiting_call)
    assert response.status_code == 502
    assert "キューに戻しました" in response.text and "Call is not in-progress" in response.text
    assert f"call {waiting_call.sid}: the provider answered 400" in response.text
    call = Call.get()
    assert call.status == QUEUED and call.claimed_by is None


def test_the_browser_phone_gets_a_voice_token_for_its_operator(voice_client, fake_provider, operator, alice):
    log_in(voice_client, operator)
    first = voice_client.get("/console/voice-token").json()
    second = voice_client.get("/console/voice-token").json()
    key = ProviderKey.get()
    claims = jwt.decode(first["token"], key.secret, algorithms=["HS256"])
    assert claims["iss"] == key.sid and claims["sub"] == ACCOUNT
    assert claims["grants"] == {"identity": f"operator-{operator.id}", "voice": {"incoming": {"allow": True}}}
    assert first["identity"] == f"operator-{operator.id}" and second["token"]
    # One API key is created, the first time, and reused after.
    assert [r["path"] for r in fake_provider.requests] == [f"/2010-04-01/Accounts/{ACCOUNT}/Keys.json"]


def test_the_console_loads_the_browser_phone_only_with_a_provider(voice_client, client, operator):
    log_in(voice_client, operator)
    assert "twilio-voice-sdk-2.18.5.min.js" in voice_client.get("/console").text
    log_in(client, operator)
    page = client.get("/console").text
    assert "twilio-voice-sdk" not in page and "音声なしモード" in page
    assert client.get("/console/voice-token").status_code == 404


def test_without_a_provider_taking_a_call_calls_nobody(client, settings, operator, database):
    store.import_config(minimal_config("firm", "03-1111-2222"))
    post(client, settings, "/twilio/voice", inbound(forwarded="0311112222"))
    log_in(client, operator)
    assert take(client, Call.get()).status_code == 204
    assert Call.get().status == ANSWERED


def test_the_connect_webhook_is_signed_like_every_other(voice_client, waiting_call, operator):
    assert voice_client.post(f"/twilio/connect?operator={operator.id}",
                             data={"CallSid": waiting_call.sid}).status_code == 403
