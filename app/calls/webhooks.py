"""Provider webhooks: signed by the provider, answered with TwiML.

Every request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1 over PUBLIC_URL + path + the
sorted form parameters, keyed by TWILIO_AUTH_TOKEN), or it gets 403. Without a provider token
(demo, tests) the key is derived from SECRET_KEY, and ``dengon simulate-call`` signs with it:
there is no unsigned way in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from .. import i18n
from ..db import db
from ..i18n import _
from .models import ANNOUNCED, FINAL_PROVIDER_STATUSES, QUEUED, VOICEMAIL, Call

log = logging.getLogger("dengon.webhooks")

QUEUE = "dengon"
SAY_LANGUAGE = {"ja": "ja-JP", "en": "en-US"}
RINGBACK = "/static/audio/ringback-ja.wav"


def signing_key(settings) -> str:
    if settings.TWILIO_AUTH_TOKEN:
        return settings.TWILIO_AUTH_TOKEN
    return hmac.new(settings.SECRET_KEY.encode(), b"dengon.simulated-provider", hashlib.sha256).hexdigest()


def sign(settings, path: str, params: dict) -> str:
    """The signature the provider would send for a POST of ``params`` to ``path``."""
    return RequestValidator(signing_key(settings)).compute_signature(settings.PUBLIC_URL + path, params)


def webhook(handler):
    """Verify the signature, then run the synchronous handler with a database connection.
    The handler gets the request and the form as a dict, and returns TwiML (or None: empty TwiML)."""

    async def endpoint(request: Request) -> Response:
        settings = request.app.state.settings
        form = await request.form()
        url = settings.PUBLIC_URL + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not RequestValidator(signing_key(settings)).validate(url, form, signature):
            log.warning("refused a webhook to %s with a missing or wrong signature", request.url.path)
            return Response("invalid signature", status_code=403, media_type="text/plain")
        params = {key: form.get(key) for key in form.keys()}
        twiml = await run_in_threadpool(_run, handler, request, params)
        if isinstance(twiml, Response):
            return twiml
        return Response(str(twiml or VoiceResponse()), media_type="application/xml")

    return endpoint


def _run(handler, request, params):
    with db.connection_context():
        return handler(request, params)


def _publish(request: Request, data: dict) -> None:
    # A caller must be answered even if the live board cannot be told: log, don't fail.
    try:
        request.app.state.events.publish("calls", data)
    except Exception:
        log.exception("could not publish %s", data)


def _caller_twiml(call: Call, base: str) -> VoiceResponse:
    response = VoiceResponse()
    tenant = call.tenant
    if call.status in (VOICEMAIL, ANNOUNCED) and call.after_hours:
        language = SAY_LANGUAGE[tenant.language]
        with i18n.use_locale(tenant.language):
            if call.status == VOICEMAIL:
                response.say(tenant.after_hours_message or _(
                    "Thank you for calling. We are closed now. Please leave your name, your number and "
                    "your message after the tone."), language=language)
                response.record(action=f"{base}/twilio/voicemail", method="POST", max_length=180,
                                play_beep=True, finish_on_key="#")
            else:
                response.say(tenant.after_hours_message, language=language)
                response.hangup()
        return response
    # The caller waits in the queue hearing a ringback tone, as if the firm's phone were ringing.
    response.enqueue(QUEUE, wait_url=f"{base}/twilio/wait", wait_url_method="POST",
                     action=f"{base}/twilio/queue-exit", method="POST")
    return response


def voice(request: Request, params: dict):
    """An inbound call: record it once, and tell the provider what the caller hears."""
    settings = request.app.state.settings
    sid = params.get("CallSid")
    if not sid:
        return _bad_request("CallSid")
    call, created = Call.arrive(sid, to=params.get("To", ""), caller=params.get("From", ""),
                                forwarded_from=params.get("ForwardedFrom", ""), region=settings.DEFAULT_REGION)
    if created and call.status == QUEUED:
        _publish(request, {"event": "waiting", "call": call.id})
    return _caller_twiml(call, settings.PUBLIC_URL)


def wait(request: Request, params: dict):
    response = VoiceResponse()
    response.play(request.app.state.settings.PUBLIC_URL + RINGBACK, loop=0)
    return response


def connect(request: Request, params: dict):
    """TwiML for a taken call: ring the browser of the operator who took it."""
    from ..accounts.models import User
    from .provider import identity

    operator = User.get_or_none(User.id == request.query_params.get("operator", "0"))
    response = VoiceResponse()
    if operator is None or not operator.is_staff:
        return _bad_request("operator")
    dial = response.dial(answer_on_bridge=True)
    base = request.app.state.settings.PUBLIC_URL
    dial.client(identity(operator), status_callback=f"{base}/twilio/operator-answered",
                status_callback_event="answered", status_callback_method="POST")
    return response


def operator_answered(request: Request, params: dict):
    """The operator's leg of a call picked up: the caller is now talking to a person."""
    call = Call.get_or_none(Call.sid == params.get("ParentCallSid", ""))
    if call is not None and params.get("CallStatus") == "in-progress":
        call.connected()
    return None


def queue_exit(request: Request, params: dict):
    """The caller left the queue. 'hangup' means they gave up waiting: an abandoned call."""
    call = Call.get_or_none(Call.sid == params.get("CallSid", ""))
    if call and params.get("QueueResult") == "hangup":
        waited = params.get("QueueTime")
        if call.abandon(int(waited) if waited and waited.isdigit() else None):
            _publish(request, {"event": "gone", "call": call.id})
    return None


def status(request: Request, params: dict):
    """Call progress from the provider; a final status ends the call (abandoned when still waiting)."""
    call = Call.get_or_none(Call.sid == params.get("CallSid", ""))
    provider_status = params.get("CallStatus", "")
    if call is None:
        return None
    if provider_status in FINAL_PROVIDER_STATUSES:
        was_waiting = call.status == QUEUED
        if call.end(provider_status) and was_waiting:
            _publish(request, {"event": "gone", "call": call.id})
    else:
        Call.update(provider_status=provider_status).where(Call.id == call.id).execute()
    return None


def voicemail(request: Request, params: dict):
    """The caller finished recording after hours: keep the recording (it becomes a message)."""
    call = Call.get_or_none(Call.sid == params.get("CallSid", ""))
    if call is not None and params.get("RecordingUrl"):
        duration = params.get("RecordingDuration", "")
        call.record_voicemail(params["RecordingUrl"], int(duration) if duration.isdigit() else None)
    response = VoiceResponse()
    if call is not None and call.tenant:
        with i18n.use_locale(call.tenant.language):
            response.say(_("Thank you. We will pass on your message."), language=SAY_LANGUAGE[call.tenant.language])
    response.hangup()
    return response


def _bad_request(field: str) -> Response:
    return Response(f"{field}: missing", status_code=400, media_type="text/plain")
