"""JSON API v1, calls (interfaces.md "Calls (call log and CTI)") and a firm's blocked numbers: the call
log for programs, one call with the operator's screen, taking a call, an operator's presence."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

import peewee as pw
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..accounts.models import User
from ..calls import log, provider, service as call_service
from ..calls.models import (ABANDONED, ANNOUNCED, ANSWERED, BLOCKED, BREAK_REASONS, COMPLETED, QUEUED, VOICEMAIL,
                            BlockedNumber, Call, InvalidBlock, OperatorPresence)
from ..handover.models import HandoverNote
from ..i18n import _
from ..messages import service as message_service
from ..presence import service as presence_service
from ..tenants.models import Tenant
from ..web.inputs import parse_keyset_cursor
from ..web.templates import markdown
from .v1 import DEFAULT_LIMIT, MAX_LIMIT, ApiError, _parse_time, _time, endpoint

UTC = ZoneInfo("UTC")

# The spec's call statuses, from the model's: a taken call is "taken" until the operator's phone picks
# up, then "connected" (without audio, taking it is answering it: connected at once); "completed" is
# "ended"; the others keep their names.
STATUSES = {
    "waiting": Call.status == QUEUED,
    "taken": (Call.status == ANSWERED) & Call.answered_at.is_null(),
    "connected": (Call.status == ANSWERED) & Call.answered_at.is_null(False),
    "ended": Call.status == COMPLETED,
    "abandoned": Call.status == ABANDONED, "voicemail": Call.status == VOICEMAIL,
    "announced": Call.status == ANNOUNCED, "blocked": Call.status == BLOCKED,
}


def status_of(call: Call) -> str:
    if call.status == ANSWERED:
        return "connected" if call.answered_at else "taken"
    return {QUEUED: "waiting", COMPLETED: "ended"}.get(call.status, call.status)


def _zone(call: Call) -> ZoneInfo:
    return ZoneInfo(call.tenant.timezone) if call.tenant_id else UTC


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {u.id: u.name or u.email for u in User.select(User.id, User.name, User.email).where(User.id.in_(ids))}


def call_json(entry: log.Entry, names: dict[int, str]) -> dict:
    call, zone = entry.call, _zone(entry.call)
    first = entry.messages[0] if entry.messages else None
    return {
        "sid": call.sid, "tenant": call.tenant.slug if call.tenant_id else None, "status": status_of(call),
        "kind": entry.kind, "caller": call.from_number or None, "to": call.to_number or None,
        "forwarded_from": call.forwarded_from or None, "after_hours": call.after_hours, "test": call.test,
        "arrived_at": _time(call.arrived_at, zone), "taken_at": _time(call.claimed_at, zone),
        "taken_by": names.get(call.claimed_by_id), "answered_at": _time(call.answered_at, zone),
        "ended_at": _time(call.ended_at, zone), "wait_s": call.wait_seconds, "talk_s": call.talk_seconds,
        "acw_s": first.after_call_seconds if first else None, "message_id": first.id if first else None,
        "message_ids": [m.id for m in entry.messages],
        "transfers": [{"staff": t.staff.key if t.staff_id else None, "staff_name": t.staff_name, "outcome": t.outcome,
                       "requested_at": _time(t.requested_at, zone), "ended_at": _time(t.ended_at, zone)}
                      for t in entry.transfers],
    }


def _tenant(user: User, slug: str) -> Tenant:
    tenant = Tenant.by_slug(slug)
    if tenant is None or not user.can_see(tenant):
        raise ApiError(404, {"tenant": _("No such firm.")})
    return tenant


def _staff_only(user: User) -> None:
    if not user.is_staff:
        raise ApiError(403, {"token": _("Only the answering service's staff do this.")})


@endpoint
def list_calls(request: Request, user: User, body) -> Response:
    """Newest first, a page at a time (keyset paging, as the messages)."""
    params, errors = request.query_params, {}
    tenant = None
    if slug := params.get("tenant"):
        tenant = _tenant(user, slug)
    elif not user.is_staff:
        tenant = user.tenant
    status = params.get("status")
    if status is not None and status not in STATUSES:
        errors["status"] = _("Expected one of: {options}.").format(options=", ".join(STATUSES))
    since, until = _parse_time(params, "since", errors), _parse_time(params, "until", errors)
    limit = params.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3 and 1 <= int(limit) <= MAX_LIMIT):
        errors["limit"] = _("Expected a number from 1 to {n}.").format(n=MAX_LIMIT)
    after = None
    if cursor := params.get("cursor"):
        try:
            after = parse_keyset_cursor(cursor)
        except ValueError:
            errors["cursor"] = _("Not a cursor this API gave out.")
    if errors:
        raise ApiError(422, errors)
    query = log.calls(tenant, since=since, until=until, after=after)
    if status:
        query = query.where(STATUSES[status])
    entries, next_cursor = log.page(query, int(limit))
    names = _names(e.call.claimed_by_id for e in entries)
    return JSONResponse({"calls": [call_json(e, names) for e in entries], "next_cursor": next_cursor})


def _call(user: User, sid: str) -> Call:
    call = (Call.select(Call, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER).where(Call.sid == sid).first()
            if len(sid) <= Call.sid.max_length else None)
    if call is None or not (user.is_staff or (call.tenant_id is not None and call.tenant_id == user.tenant_id)):
        raise ApiError(404, {"sid": _("No such call.")})
    return call


def _one(call: Call, user: User) -> dict:
    entries, _next = log.page(Call.select(Call, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER).where(Call.id == call.id))
    data = call_json(entries[0], _names([call.claimed_by_id]))
    if user.is_staff:
        data["screen"] = screen_json(call)
    return data


def screen_json(call: Call) -> dict:
    """What the operator's screen pop shows for this call (console/views.py screen_pop)."""
    tenant = call.tenant if call.tenant_id else None
    zone = _zone(call)
    history = {
        "calls": [{"sid": c.sid, "status": status_of(c), "arrived_at": _time(c.arrived_at, zone),
                   "wait_s": c.wait_seconds, "talk_s": c.talk_seconds} for c in call.history()],
        "messages": [{"id": m.id, "taken_at": _time(m.taken_at, zone), "category": m.category, "urgent": m.urgent,
                      "body": m.fields.get("body", "")} for m in message_service.earlier_messages(call)],
    }
    if tenant is None:
        return {"name": None, "name_kana": None, "answer_phrase": None, "instructions_html": "", "notices": [],
                "staff": [], "history": history}
    return {
        "name": tenant.name, "name_kana": tenant.name_kana, "answer_phrase": tenant.answer_phrase,
        "instructions_html": str(markdown(tenant.instructions)) if tenant.instructions else "",
        **presence_service.screen(tenant),  # the notices in force and the in/out board, as the screen pop shows them
        "history": history,
    }


@endpoint
def get_call(request: Request, user: User, body) -> Response:
    return JSONResponse(_one(_call(user, request.path_params["sid"]), user))


@endpoint(body=False)
def take_call(request: Request, user: User, body) -> Response:
    """Claim a waiting call, exactly as the console's "take" does (the same function)."""
    _staff_only(user)
    call = _call(user, request.path_params["sid"])
    try:
        call_service.take(request.app, call.id, user)
    except call_service.OnBreak:
        raise ApiError(409, {"presence": _("You are on a break: become available to take calls.")}) from None
    except call_service.OfferedElsewhere as exc:
        raise ApiError(409, {"call": _("This call is offered to another operator for {n} more seconds.").format(
            n=exc.seconds)}) from None
    except call_service.NotWaiting:
        raise ApiError(409, {"call": _("Someone else has taken this call, or it is no longer waiting.")}) from None
    except provider.ProviderError as exc:
        raise ApiError(502, {"provider": str(exc)}) from None
    return JSONResponse(_one(Call.get_by_id(call.id), user))


def presence_json(presence: OperatorPresence) -> dict:
    state, since = presence.state()
    return {"state": state, "since": _time(since, UTC),
            "reason": presence.reason if state == "break" else None,
            "break_after_call": presence.pending_reason or None}


@endpoint
def set_presence(request: Request, user: User, body: dict) -> Response:
    """The token user's availability, as on the console: a break asked for during a call or its after-call
    work begins when that work ends (``break_after_call``)."""
    _staff_only(user)
    errors = {}
    state, reason = body.get("state"), body.get("reason")
    if state not in ("available", "break"):
        errors["state"] = _("Expected one of: {options}.").format(options="available, break")
    if reason is not None and reason not in BREAK_REASONS:
        errors["reason"] = _("Expected one of: {options}.").format(options=", ".join(BREAK_REASONS))
    if errors:
        raise ApiError(422, errors)
    if state == "available" and not OperatorPresence.of(user).available and HandoverNote.unread_by(user):
        # As on the console: the shift's handover notes are read before the first call.
        raise ApiError(409, {"state": _("Handover notes are unread: acknowledge them on the console first.")})
    OperatorPresence.set(user, state == "available", reason or "break")
    call_service.operator_changed(request.app)
    return JSONResponse(presence_json(OperatorPresence.of(user)))


def blocked_json(row: BlockedNumber, zone: ZoneInfo) -> dict:
    by = row.created_by if row.created_by_id else None
    return {"number": row.number, "note": row.note, "created_by": (by.name or by.email) if by else None,
            "created_at": _time(row.created_at, zone)}


@endpoint
def list_blocked(request: Request, user: User, body) -> Response:
    tenant = _tenant(user, request.path_params["slug"])
    return JSONResponse({"blocked_numbers": [blocked_json(b, tenant.zone) for b in BlockedNumber.of_firm(tenant)]})


@endpoint
def block_number(request: Request, user: User, body: dict) -> Response:
    """Block a caller (any format of the number); blocking one already blocked answers 200 with it."""
    tenant = _tenant(user, request.path_params["slug"])
    number, note = body.get("number"), body.get("note")
    errors = {}
    if not isinstance(number, str):
        errors["number"] = _("Expected the caller's number as text, such as 090-1234-5678.")
    if note is not None and not isinstance(note, str):
        errors["note"] = _("Expected text.")
    if errors:
        raise ApiError(422, errors)
    try:
        row, created = BlockedNumber.block(tenant, number, note or "", by=user)
    except InvalidBlock as exc:
        raise ApiError(422, {exc.field: exc.message}) from None
    row = BlockedNumber.of_firm(tenant).where(BlockedNumber.id == row.id).get()
    location = f"/api/v1/tenants/{tenant.slug}/blocked-numbers/{quote(row.number)}"
    return JSONResponse(blocked_json(row, tenant.zone), status_code=201 if created else 200,
                        headers={"Location": location})


@endpoint
def unblock_number(request: Request, user: User, body) -> Response:
    tenant = _tenant(user, request.path_params["slug"])
    if not BlockedNumber.unblock(tenant, request.path_params["number"], by=user):
        raise ApiError(404, {"number": _("This number is not blocked.")})
    return Response(status_code=204)
