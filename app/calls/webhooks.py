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
from ..db import UNAVAILABLE, as_of, db, is_postgres
from ..delivery.models import Delivery
from ..i18n import _
from ..messages import service as message_service
from ..web import limits
from ..web.inputs import row_id
from .models import (
    ANNOUNCED, BLOCKED, CONNECTED, FINAL_PROVIDER_STATUSES, QUEUED, TRANSFER_RING_SECONDS, UNANSWERED, VOICEMAIL,
    Call, OperatorPresence, Transfer,
)

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


@contextlib.contextmanager
def _database():
    """The writer lock on SQLite, and the connection a handler takes on its first query, back to
    the pool at the end. Taken only when needed, so the wait music plays even while the database is away."""
    with contextlib.nullcontext() if is_postgres() else _sqlite_writer:
        opened_here = db.is_closed()
        try:
            yield
        finally:
            if opened_here:
                db.close()


def _run(handler, request, params):
    """Run a handler; while the database is unavailable, keep the webhooks of a call's life in the
    spool (calls/spool.py) and answer as if all were well: the caller hears the queue's ringback."""
    spool = request.app.state.spool
    spooled = handler.__name__ in SPOOLED
    if spooled and spool.backlog():
        return _keep(spool, handler, request, params)
    try:
        with _database():
            return handler(request, params)
    except UNAVAILABLE as e:
        if not spooled:
            log.error("%s: the database is unavailable (%s); answered 503", request.url.path, e)
            return Response("the database is unavailable", status_code=503, media_type="text/plain",
                            headers={"Retry-After": "5"})
        if not spool.database_down:
            log.error("the database is unavailable (%s: %s): webhooks go to the spool, %s, until it is back",
                      type(e).__name__, e, spool.folder)
        spool.database_down = True
        return _keep(spool, handler, request, params)


def _keep(spool, handler, request, params):
    spool.keep(handler.__name__, params)
    log.warning("%s %s kept in the spool", request.url.path, params.get("CallSid") or params.get("MessageSid", ""))
    if handler is voice:
        return _queue_twiml(request.app.state.settings.PUBLIC_URL)
    if handler is sms_status:
        return Response(status_code=204)
    return None  # nothing more for the caller to hear: the call is over or being connected


def replayer(app):
    """What the spool replays a kept webhook with: its handler, dated when it arrived."""
    def run(hook: str, params: dict, at) -> None:
        request = Request({"type": "http", "app": app, "method": "POST", "path": "/twilio/" + hook.replace("_", "-"),
                           "headers": [], "query_string": b""})
        with as_of(at), _database():
            SPOOLED[hook](request, params)

    return run


def _publish(request: Request, data: dict, topic: str = "calls") -> None:
    # A caller must be answered even if the live board cannot be told: log, don't fail.
    try:
        request.app.state.events.publish(topic, data)
    except Exception:
        log.exception("could not publish %s", data)


def _caller_twiml(call: Call, base: str) -> VoiceResponse | str:
    response = VoiceResponse()
    if call.status == BLOCKED:
        # The provider refuses the call (the caller hears it as not answered): no queue, no operator.
        response.reject()
        return response
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
    sid = _sid(params, "CallSid")
    if not sid:
        return _bad_request("CallSid", f"expected the provider's call id, at most {Call.sid.max_length} characters")
    call, created = Call.arrive(sid, to=_text(params, "To"), caller=_text(params, "From"),
                                forwarded_from=_text(params, "ForwardedFrom"), region=settings.DEFAULT_REGION)
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

    operator_id = row_id(request.query_params.get("operator"))
    operator = User.get_or_none(User.id == operator_id) if operator_id else None
    if operator is None or not operator.is_staff:
        return _bad_request("operator")
    return _ring_operator(operator, request.app.state.settings.PUBLIC_URL)


def _ring_operator(operator, base: str) -> VoiceResponse:
    from .provider import identity

    response = VoiceResponse()
    dial = response.dial(answer_on_bridge=True)
    dial.client(identity(operator), status_callback=f"{base}/twilio/operator-answered",
                status_callback_event="answered", status_callback_method="POST")
    return response


def _transfer(request: Request, params: dict) -> Transfer | None:
    """The 取次 a transfer webhook is about: named in its URL, and of the call the provider names."""
    transfer_id = row_id(request.query_params.get("transfer"))
    transfer = Transfer.get_or_none(Transfer.id == transfer_id) if transfer_id else None
    if transfer is None or transfer.call.sid not in (params.get("CallSid"), params.get("ParentCallSid")):
        return None
    return transfer


def transfer(request: Request, params: dict):
    """The caller's call, redirected for a 取次: dial the staff member's mobile from the number the
    caller dialled; the staff member first hears whose call it is (transfer-whisper)."""
    attempt = _transfer(request, params)
    if attempt is None:
        return _bad_request("transfer")
    base = request.app.state.settings.PUBLIC_URL
    response = VoiceResponse()
    dial = response.dial(timeout=TRANSFER_RING_SECONDS, caller_id=attempt.call.to_number or None,
                         action=f"{base}/twilio/transfer-result?transfer={attempt.id}", method="POST")
    dial.number(attempt.number, url=f"{base}/twilio/transfer-whisper?transfer={attempt.id}", method="POST")
    return response


def transfer_whisper(request: Request, params: dict):
    """What the staff member hears on picking up, before the caller is put through."""
    attempt = _transfer(request, params)
    response = VoiceResponse()
    if attempt is not None and (tenant := attempt.call.tenant) is not None:
        with i18n.use_locale(tenant.language):
            response.say(_("A call for {firm}, put through by the answering service.").format(firm=tenant.name),
                         language=SAY_LANGUAGE[tenant.language])
    return response


def transfer_result(request: Request, params: dict):
    """How the <Dial> of the staff member ended. Answered: the call is theirs, and over when the <Dial>
    is. Not answered (no-answer, busy, failed, canceled): back to the operator, who takes a message."""
    attempt = _transfer(request, params)
    if attempt is None:
        return _bad_request("transfer")
    outcome = params.get("DialCallStatus", "")
    response = VoiceResponse()
    if outcome in ("completed", "answered"):
        attempt.finish(CONNECTED)
        response.hangup()
        return response
    attempt.finish(outcome if outcome in UNANSWERED else "failed")
    if attempt.operator is None:
        response.hangup()
        return response
    return _ring_operator(attempt.operator, request.app.state.settings.PUBLIC_URL)


def operator_answered(request: Request, params: dict):
    """The operator's leg of a call picked up: the caller is now talking to a person."""
    call = _call(params, "ParentCallSid")
    if call is not None and params.get("CallStatus") == "in-progress":
        call.connected()
    return None


def queue_exit(request: Request, params: dict):
    """The caller left the queue. 'hangup' means they gave up waiting: an abandoned call."""
    call = _call(params, "CallSid")
    if call and params.get("QueueResult") == "hangup":
        if call.abandon(_digits(params, "QueueTime")):
            _publish(request, {"event": "gone", "call": call.id})
    return None


def status(request: Request, params: dict):
    """Call progress from the provider; a final status ends the call (abandoned when still waiting)."""
    call = _call(params, "CallSid")
    provider_status = _text(params, "CallStatus", Call.provider_status.max_length)
    if call is None:
        return None
    if provider_status in FINAL_PROVIDER_STATUSES:
        was_waiting = call.status == QUEUED
        if call.end(provider_status):
            if was_waiting:
                _publish(request, {"event": "gone", "call": call.id})
            elif OperatorPresence.wrap_up(call.claimed_by_id):  # its message was saved during the call
                _publish(request, {"event": "operator"})
            else:  # the waiting list is as it was: only the wallboard's operators and figures change
                _publish(request, {"event": "ended", "call": call.id}, topic="operators")
    else:
        Call.update(provider_status=provider_status).where(Call.id == call.id).execute()
    return None


def voicemail(request: Request, params: dict):
    """The caller finished recording after hours: keep the recording (it becomes a message)."""
    call = _call(params, "CallSid")
    # A recording address cut short would lead nowhere: one longer than the column counts as none.
    recording = _sid(params, "RecordingUrl", Call.recording_url.max_length)
    if call is not None and recording:
        call.record_voicemail(recording, _digits(params, "RecordingDuration"))
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

    # Without a usable MessageSid the receipt names no delivery (an empty one would match every unsent SMS).
    if sid := _sid(params, "MessageSid", Delivery.provider_ref.max_length):
        delivery.receipt(sid, params.get("MessageStatus", ""), _digits_text(params, "ErrorCode"))
    return Response(status_code=204)


def _bad_request(field: str, expected: str = "missing") -> Response:
    return Response(f"{field}: {expected}", status_code=400, media_type="text/plain")


# The provider's parameters, read strictly: whatever a request holds, the database is asked nothing
# it cannot store (PostgreSQL refuses NUL and text longer than its column).
MAX_DIGITS = 9  # seconds, error codes: 9 digits fit any integer column


def _text(params: dict, name: str, limit: int | None = None) -> str:
    """Free text (a caller's number, a status): NUL removed, cut to the column's ``limit``."""
    return params.get(name, "").replace("\x00", "")[:limit]


def _sid(params: dict, name: str, limit: int = Call.sid.max_length) -> str | None:
    """An identifier, whole or not at all: cut short it could name another row."""
    value = params.get(name, "")
    return value if value and len(value) <= limit and "\x00" not in value else None


def _call(params: dict, name: str) -> Call | None:
    sid = _sid(params, name)
    return Call.get_or_none(Call.sid == sid) if sid else None


def _digits_text(params: dict, name: str) -> str:
    value = params.get(name, "")
    return value if value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS else ""


def _digits(params: dict, name: str) -> int | None:
    """A whole number in ASCII digits, or None: "²" passes str.isdigit() but not int()."""
    value = _digits_text(params, name)
    return int(value) if value else None


# The webhooks of a call's life, kept in the spool while the database is away (calls/spool.py). Not
# 'connect' (no operator can take a call then: 503) nor 'wait' (it needs no database).
SPOOLED = {handler.__name__: handler for handler in (voice, queue_exit, status, voicemail, operator_answered,
                                                     sms_status)}
