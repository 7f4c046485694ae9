"""Provider webhooks: signed by the provider, answered with TwiML.

Every request must carry a valid ``X-Twilio-Signature`` (HMAC-SHA1 over PUBLIC_URL + path + the
sorted form parameters, keyed by TWILIO_AUTH_TOKEN), or it gets 403. Without a provider token
(demo, tests) the key is derived from SECRET_KEY, and ``dengon simulate-call`` signs with it:
there is no unsigned way in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import threading
from functools import lru_cache
from urllib.parse import parse_qsl, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator, add_port, remove_port
from twilio.twiml.voice_response import VoiceResponse

from .. import i18n
from ..db import db, is_postgres
from ..i18n import _
from ..messages import service as message_service
from ..web import limits
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


def _signature_of(key: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """The provider's HMAC-SHA1: the URL, then each parameter's name and values in sorted order."""
    # Grouped in one pass: a body of thousands of distinct names costs one sort, not names × pairs.
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()).decode()


def verified(settings, url: str, pairs: list[tuple[str, str]], signature: str) -> bool:
    """Whether ``signature`` is the provider's for this request: for the URL as configured, or (as
    the library's own check allows, since the provider is inconsistent about it) with or without its port."""
    if not signature:
        return False
    key, given = signing_key(settings), signature.encode("utf-8", "replace")
    # Not the library's validate(): it looks each name's values up by scanning all pairs (quadratic).
    parsed = urlparse(url)
    candidates = (url, add_port(parsed), remove_port(parsed))
    return any(hmac.compare_digest(_signature_of(key, candidate, pairs).encode(), given)
               for candidate in dict.fromkeys(candidates))


def _signed_form(body: bytes, settings, url: str, signature: str) -> list[tuple[str, str]] | None:
    """The form's pairs if the provider signed it, else None."""
    # The provider always posts a urlencoded form; parse_qsl reads it several times faster than
    # the multipart-capable form parser, on the path every call takes.
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return pairs if verified(settings, url, pairs, signature) else None


def webhook(handler):
    """Verify the signature, then run the synchronous handler with a database connection.
    The handler gets the request and the form as a dict, and returns TwiML (or None: empty TwiML)."""

    async def endpoint(request: Request) -> Response:
        settings = request.app.state.settings
        url = settings.PUBLIC_URL + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # The body is at most WEBHOOK_BODY_LIMIT (limits.py), checked before any handler or database work.
        pairs = await limits.parsed(_signed_form, await request.body(), settings, url,
                                    request.headers.get("x-twilio-signature", ""))
        if pairs is None:
            log.warning("refused a webhook to %s with a missing or wrong signature", request.url.path)
            return Response("invalid signature", status_code=403, media_type="text/plain")
        twiml = await run_in_threadpool(_run, handler, request, dict(pairs))
        if isinstance(twiml, Response):
            return twiml
        return Response(str(twiml or VoiceResponse()), media_type="application/xml")

    return endpoint


# SQLite lets one writer in at a time and makes the others poll for the lock (busy_timeout), which
# under a burst of calls wastes more time than the writes take: webhooks queue on a lock instead.
# PostgreSQL takes them side by side.
_sqlite_writer = threading.Lock()


def _run(handler, request, params):
    with contextlib.nullcontext() if is_postgres() else _sqlite_writer, db.connection_context():
        return handler(request, params)


def _publish(request: Request, data: dict) -> None:
    # A caller must be answered even if the live board cannot be told: log, don't fail.
    try:
        request.app.state.events.publish("calls", data)
    except Exception:
        log.exception("could not publish %s", data)


def _caller_twiml(call: Call, base: str) -> VoiceResponse | str:
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
    return _queue_twiml(base)


@lru_cache(maxsize=4)
def _queue_twiml(base: str) -> str:
    """The caller waits in the queue hearing a ringback tone, as if the firm's phone were ringing.
    The same for every call: built once."""
    response = VoiceResponse()
    response.enqueue(QUEUE, wait_url=f"{base}/twilio/wait", wait_url_method="POST",
                     action=f"{base}/twilio/queue-exit", method="POST")
    return str(response)


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
        if (message := message_service.from_voicemail(Call.get_by_id(call.id))) is not None:
            message_service.announce(request.app, message)
    response = VoiceResponse()
    if call is not None and call.tenant:
        with i18n.use_locale(call.tenant.language):
            response.say(_("Thank you. We will pass on your message."), language=SAY_LANGUAGE[call.tenant.language])
    response.hangup()
    return response


def sms_status(request: Request, params: dict):
    """A delivery receipt for an SMS a report or notification sent."""
    from ..delivery import service as delivery

    delivery.receipt(params.get("MessageSid", ""), params.get("MessageStatus", ""), params.get("ErrorCode", ""))
    return Response(status_code=204)


def _bad_request(field: str) -> Response:
    return Response(f"{field}: missing", status_code=400, media_type="text/plain")
