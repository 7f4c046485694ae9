"""Taking a call, the same from both doors (the console and the JSON API)."""

from __future__ import annotations

import uuid

from ..accounts.models import User
from ..db import utcnow
from ..tenants.models import Staff, Tenant, TenantNumber
from . import offers, provider
from .models import ANSWERED, Call, OperatorPresence, Transfer


class NotWaiting(Exception):
    """Someone else took the call first, or it is no longer waiting."""


class OnBreak(Exception):
    """The operator is on break or signed out: they take no calls."""


class OfferedElsewhere(Exception):
    """The call is offered to another operator for ``seconds`` more."""

    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds


def offers_now(app) -> tuple[list[Call], dict[int, offers.Offer]]:
    """The waiting calls, longest-waiting first, and whom each is offered to."""
    calls = list(Call.waiting())
    return calls, offers.offers(calls, app.state.settings.offer_seconds) if calls else {}


def take(app, call_id: int, user: User) -> None:
    """Claim a waiting call for ``user`` (of two at once, exactly one wins), tell every console, and
    with a provider put the caller through to the user's browser phone. Raises OnBreak, OfferedElsewhere,
    NotWaiting, or provider.ProviderError when the provider refuses (the call is back in the queue)."""
    settings = app.state.settings
    if not OperatorPresence.of(user).available:
        raise OnBreak()
    calls, offered = offers_now(app)
    if (offer := offered.get(call_id)) is not None and (wait := offer.closed_to(user.id, utcnow())):
        raise OfferedElsewhere(wait)
    if not Call.take(call_id, user, audio=settings.provider_configured):
        raise NotWaiting(call_id)
    app.state.events.publish("calls", {"event": "taken", "call": call_id})
    if settings.provider_configured:
        try:
            provider.connect(settings, Call.get_by_id(call_id).sid, user)
        except provider.ProviderError:
            # No audio, no call: give it back to the queue for someone else (or a retry).
            Call.release(call_id, user)
            app.state.events.publish("calls", {"event": "waiting", "call": call_id})
            raise


def end(app, call: Call, user: User) -> bool:
    """The operator ends a call they took (without audio nothing else will): it is completed now and
    their after-call work begins. Returns whether it was going on."""
    if not call.hang_up(user):
        return False
    OperatorPresence.wrap_up(user.id)  # the message was saved during the call: the work is over
    app.state.events.publish("calls", {"event": "ended", "call": call.id})
    return True


def operator_changed(app) -> None:
    """An operator's availability changed (presence set, after-call work over): offers move."""
    app.state.events.publish("calls", {"event": "operator"})


class NoTestCall(Exception):
    """The firm has no number a call could reach it on (or its number leads elsewhere)."""


def test_call(tenant: Tenant, user: User, region: str) -> Call:
    """A simulated call to the firm's first number, found its firm the way the voice webhook finds a
    real call's (``Call.arrive``: a dedicated number dialled, or the firm's own line forwarded). It is
    taken by ``user`` at once and marked as a test, so no operator is offered it; a message saved on
    it is a real message to the firm."""
    number = tenant.numbers.order_by(TenantNumber.position).first()
    if number is None:
        raise NoTestCall(tenant.slug)
    dialled = {"to": number.number, "forwarded_from": ""} if number.kind == "dedicated" else {
        "to": "", "forwarded_from": number.number}
    call, _ = Call.arrive(f"TEST{uuid.uuid4().hex}", caller="", region=region, test_by=user, **dialled)
    if call.tenant_id != tenant.id:
        raise NoTestCall(tenant.slug)
    return call


class NoTransfer(Exception):
    """The call cannot be put through now: no audio, not in progress, or already being put through."""


def transfer(settings, call: Call, staff: Staff, operator: User) -> Transfer:
    """取次: put the caller through to ``staff``'s mobile. The provider carries the caller's call on
    with a <Dial> of the mobile (webhooks.transfer); the operator's browser leg ends. When nobody
    answers, the <Dial>'s action rings the operator's browser again to take a message. Raises
    NoTransfer, or provider.ProviderError (the attempt is then marked failed and the caller stays)."""
    if not settings.provider_configured or call.test or call.status != ANSWERED or not staff.mobile:
        raise NoTransfer(call.id)
    if call.transfers.where(Transfer.status == "ringing").exists():
        raise NoTransfer(call.id)
    attempt = Transfer.create(call=call, staff=staff, staff_name=staff.name, number=staff.mobile, operator=operator)
    try:
        provider.redirect(settings, call.sid, f"/twilio/transfer?transfer={attempt.id}")
    except provider.ProviderError:
        attempt.finish("failed")
        raise
    return attempt
