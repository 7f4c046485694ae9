"""The operators' console: availability, the waiting calls (pushed), taking a call, the screen pop."""

from __future__ import annotations

import json

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..accounts.models import STAFF_ROLES
from ..calls import provider, service as call_service
from ..calls.models import BREAK_REASONS, COMPLETED, REASON_LABELS, Call, OperatorPresence, Transfer
from ..db import utcnow
from ..handover import views as handover_views
from ..handover.models import HandoverNote
from ..messages import forms as message_forms, service as message_service, views as message_views
from ..messages.models import Message
from ..presence import service as presence_service
from ..presence.models import Notice
from ..tenants import views as firm_views
from ..tenants.models import Staff, Tenant
from ..web import streams
from ..web.auth import row_or_404, stream_session, view
from ..web.inputs import row_id
from ..web.templates import render
from . import live

def _waiting_context(app, user) -> dict:
    """The waiting calls as ``user`` sees them: those offered to them first, then the rest, longest
    waiting first; each with whom it is offered to, and whether the user may take calls at all."""
    calls, offered = call_service.offers_now(app)
    mine = [c for c in calls if c.id in offered and offered[c.id].user_id == user.id]
    return {"calls": mine + [c for c in calls if c not in mine], "offers": offered, "me": user.id, "now": utcnow(),
            "can_take": OperatorPresence.of(user).available}


def _presence_context(user) -> dict:
    presence = OperatorPresence.of(user)
    # Handover notes unread hold back only becoming available: one already taking calls is not stopped.
    unread = 0 if presence.available else len(HandoverNote.unread_by(user))
    return {"presence": presence, "state": presence.state()[0], "reasons": BREAK_REASONS, "reason_labels": REASON_LABELS,
            "handover_unread": unread}


@view(roles=STAFF_ROLES)
def console(request: Request):
    user = request.state.user
    mine = (Call.select().where((Call.claimed_by == user) & Call.ended_at.is_null())
            .order_by(Call.claimed_at.desc()))
    return render(request, "console/index.html", {
        **_waiting_context(request.app, user), **_presence_context(user),
        "my_calls": list(mine), "voice": request.app.state.settings.provider_configured,
        "drafts": list(message_service.drafts_of(user)), "handover": HandoverNote.unread_by(user),
    })


@view(roles=STAFF_ROLES)
def presence(request: Request):
    """The operator's availability (GET: as it is now, for a screen that changed it indirectly)."""
    if request.method == "POST":
        form = request.state.form
        available = form.get("available") == "1"
        reason = form.get("reason", "")
        if not available and reason not in BREAK_REASONS:
            reason = "break"
        if available and not OperatorPresence.of(request.state.user).available \
                and HandoverNote.unread_by(request.state.user):
            # The notes come first (the console shows them with the button to acknowledge).
            return render(request, "console/_presence.html", _presence_context(request.state.user), status_code=409)
        OperatorPresence.set(request.state.user, available, reason)
        call_service.operator_changed(request.app)
    return render(request, "console/_presence.html", _presence_context(request.state.user))


@view(roles=STAFF_ROLES)
def take(request: Request):
    call_id = row_or_404(Call, request).id
    try:
        call_service.take(request.app, call_id, request.state.user)
    except call_service.OnBreak:
        return render(request, "console/_take_failed.html", {"on_break": True}, status_code=409)
    except call_service.OfferedElsewhere as exc:
        return render(request, "console/_take_failed.html", {"offered_for": exc.seconds}, status_code=409)
    except call_service.NotWaiting:
        return render(request, "console/_take_failed.html", status_code=409)
    except provider.ProviderError as exc:
        return render(request, "console/_take_failed.html", {"error": str(exc)}, status_code=502)
    # An in-page navigation: the browser's phone (Voice SDK) lives on and receives the call.
    location = json.dumps({"path": f"/console/calls/{call_id}", "target": "#main"})
    return Response(status_code=204, headers={"HX-Location": location})


@view(roles=STAFF_ROLES)
def voice_token(request: Request):
    """An access token for the operator's browser phone; 404 in no-audio mode (no provider)."""
    settings = request.app.state.settings
    if not settings.provider_configured:
        raise HTTPException(404)
    try:
        token = provider.voice_token(settings, request.state.user)
    except provider.ProviderError as exc:
        return JSONResponse({"errors": {"provider": str(exc)}}, status_code=502)
    return JSONResponse({"token": token, "identity": provider.identity(request.state.user)},
                        headers={"Cache-Control": "no-store"})


@view(roles=STAFF_ROLES)
def screen_pop(request: Request):
    """Everything the operator needs before saying a word: whose phone it is, what to say, who is in."""
    call = row_or_404(Call, request, Call.select(Call, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER))  # the firm along
    tenant = call.tenant
    staff = Staff.of_firm(tenant) if tenant else []  # once, for the board, the addressee and 取次
    context = {**_call_state_context(request, call), "firm": tenant, "staff": staff,
               "handover_notes": list(HandoverNote.for_firm(tenant)) if tenant else [],
               "history": list(call.history()), "earlier_messages": list(message_service.earlier_messages(call)),
               **_board_context(tenant, staff)}
    saved = Message.select().where(Message.call == call).order_by(Message.id.desc()).first()
    if saved is not None and not request.query_params.get("another"):
        # Back on a call whose message is saved (a reload, the link in the list): show it, not a blank form.
        context.update(message_views.detail_context(saved), saved_message=True)
    elif tenant is not None:
        context.update(message_views.panel_context(call, message_service.draft_for(request.state.user, call),
                                                   staff=staff))
    return render(request, "console/call.html", context)


FIRM_CHOICES = 8  # enough to tell similar names apart; typing more narrows them


def _call_without_firm(request: Request) -> Call:
    call = row_or_404(Call, request)
    if call.tenant_id is not None:
        raise HTTPException(409)
    return call


@view(roles=STAFF_ROLES)
def firm_choices(request: Request):
    """An unknown number's call: the firms whose name, reading or number matches what the operator
    typed (as the firm directory's search finds them)."""
    call = _call_without_firm(request)
    query = request.query_params.get("q", "")[:100]
    firms = list(firm_views.search(query, request.app.state.settings.DEFAULT_REGION).limit(FIRM_CHOICES)) \
        if query.strip() else []
    return render(request, "console/_firm_choices.html",
                  {"call": call, "firms": firms, "numbers": firm_views.numbers_of(firms), "q": query})


@view(roles=STAFF_ROLES)
def assign_firm(request: Request):
    """The operator chose the firm an unknown number's call is for: the call is that firm's from now on,
    and the operator gets its screen pop. A call that has a firm keeps it (409)."""
    call = row_or_404(Call, request)
    tenant = Tenant.get_or_none(Tenant.id == row_id(request.state.form.get("tenant")))
    if tenant is None:
        raise HTTPException(422)
    if not Call.assign(call.id, tenant, request.state.user):
        return render(request, "console/_firm_taken.html", {"call": call}, status_code=409)
    location = json.dumps({"path": f"/console/calls/{call.id}", "target": "#main"})
    return Response(status_code=204, headers={"HX-Location": location})


@view(roles=STAFF_ROLES)
def transfer(request: Request):
    """取次: POST puts the call through to a staff member its call type lists (``transfer_to_staff``);
    GET says how the latest attempt goes, asked every few seconds while it rings, and calls it
    unanswered when the provider has not said so in time."""
    call = row_or_404(Call, request)
    if call.tenant is None:
        raise HTTPException(404)
    if request.method == "GET":
        attempt = call.transfers.order_by(Transfer.id.desc()).first()
        if attempt is None:
            raise HTTPException(404)
        if attempt.expired():
            attempt.finish("timeout")
        return render(request, "console/_transfer_status.html", {"call": call, "attempt": attempt})
    data = request.state.form
    form = message_forms.form_of(call.tenant, data.get("call_type"))
    staff = Staff.get_or_none((Staff.tenant == call.tenant) & (Staff.key == data.get("staff", "")))
    if form is None or staff is None or staff.key not in form.transfer_to_staff:
        raise HTTPException(422)
    try:
        attempt = call_service.transfer(request.app.state.settings, call, staff, request.state.user)
    except call_service.NoTransfer:
        return render(request, "console/_transfer_status.html", {"call": call, "attempt": None}, status_code=409)
    except provider.ProviderError as exc:
        return render(request, "console/_transfer_status.html", {"call": call, "attempt": None, "error": str(exc)},
                      status_code=502)
    return render(request, "console/_transfer_status.html", {"call": call, "attempt": attempt})


def _call_state_context(request: Request, call: Call) -> dict:
    user = request.state.user
    return {"call": call, "mine": call.claimed_by_id == user.id, "voice": request.app.state.settings.provider_configured,
            "wrapping_up": call.status == COMPLETED and not Message.select().where(Message.call == call).exists(),
            **_presence_context(user)}


@view(roles=STAFF_ROLES)
def call_state(request: Request):
    """The screen pop's call state and the operator's availability, fetched again after a save."""
    return render(request, "console/_call_state.html", _call_state_context(request, row_or_404(Call, request)))


@view(roles=STAFF_ROLES)
def end_call(request: Request):
    """通話終了: the operator ends a call taken without audio; after-call work begins. Ending it twice,
    or a call that is not theirs, changes nothing."""
    call = row_or_404(Call, request)
    call_service.end(request.app, call, request.state.user)
    return render(request, "console/_call_state.html", _call_state_context(request, Call.get_by_id(call.id)))


def _board_context(tenant, staff: list[Staff] | None = None) -> dict:
    if tenant is None:
        return {"notices": [], "board": [], "next_change": None}
    now = utcnow()
    staff = Staff.of_firm(tenant) if staff is None else staff
    notices = list(Notice.current_and_upcoming(tenant, now))  # in force now, and those that start later
    return {"notices": [n for n in notices if n.starts_at <= now], "board": Staff.board(tenant, now, staff),
            "next_change": presence_service.next_change(tenant, now, staff, notices), "board_now": now}


@view(roles=STAFF_ROLES)
def firm_board(request: Request):
    """The screen pop's notices and in/out board, fetched again when the firm changes them."""
    call = row_or_404(Call, request)
    if call.tenant is None:
        raise HTTPException(404)
    return render(request, "console/_firm_board.html", {"call": call, "firm": call.tenant, **_board_context(call.tenant)})


async def events(request: Request):
    """Server-sent events: the waiting-call list, re-sent whenever a call arrives, is taken or is gone; and
    firm-<id> when a firm changes its in/out board or notices (an open screen pop of that firm refreshes them)."""
    session = await stream_session(request, STAFF_ROLES)
    if session is None:  # anonymous, or a client user: staff areas do not exist for them
        raise HTTPException(404)
    user = session.user
    bus = request.app.state.events
    lists = live.lists_of(request.app)

    async def fragment(event: dict | None = None) -> str | None:
        # One snapshot per event for every console of this process; the first list of a stream its own.
        snapshot = live.Snapshot(request.app) if event is None else lists.of(request.app, event)
        return await snapshot.update_for(session.id, user)

    async def stream():
        async with bus.subscribe() as subscription:
            if (first := await fragment()) is None:
                return
            yield first
            async for item in streams.bus_events(request, subscription):
                if item is None:
                    yield streams.KEEP_ALIVE
                    continue
                topic, data = item
                if topic == "calls":
                    if (update := await fragment(data)) is None:
                        return  # the browser reconnects, and is refused
                    yield update
                elif topic == handover_views.TOPIC:
                    # A handover note written or withdrawn: the console fetches its unread notes again.
                    yield "event: handover\ndata: changed\n\n"
                elif topic == presence_service.TOPIC and isinstance(data.get("tenant"), int):
                    # A firm changed its board or notices: its open screen pops fetch them again.
                    yield f"event: firm-{data['tenant']}\ndata: changed\n\n"

    return streams.response(stream())
