"""The client firms' portal: their own firm only. The inbox (live), each message with its delivery
log, handled one at a time or in bulk, and the CSV of any filtered view."""

from __future__ import annotations

import datetime as dt

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .. import i18n
from ..accounts.models import CLIENT, User
from ..db import db
from ..delivery.models import Delivery
from ..delivery.views import STATUS_LABELS
from ..i18n import _
from ..messages import export, forms, inbox, service
from ..messages.models import Message, MessageRead, MessageVersion
from ..tenants.labels import CHANNEL_LABELS
from ..tenants.models import NOISE_CATEGORIES, Staff, Tenant
from ..web import csrf, streams
from ..web.auth import safe_next, session_for, stream_session, view
from ..web.templates import render, templates

CLIENTS = frozenset({CLIENT})
MAX_BULK = 500


def _staff(firm: Tenant) -> list[Staff]:
    return list(firm.staff.order_by(Staff.position))


def _filters(request: Request, firm: Tenant, staff: list[Staff]) -> inbox.Filters:
    return inbox.Filters.from_params(request.query_params, firm, {s.key for s in staff})


def _firm_messages(firm: Tenant):
    return Message.select().where(Message.tenant == firm)


def row_context(firm: Tenant, staff: list[Staff]) -> dict:
    """What a row of the inbox needs besides the message (the page and the live stream both render rows)."""
    return {"firm": firm, "staff_names": {s.key: s.name for s in staff},
            "this_year": dt.datetime.now(firm.zone).year}


@view(roles=CLIENTS)
def portal(request: Request):
    """The inbox: newest first, a page at a time, as the filters in the URL say."""
    firm = request.state.user.tenant
    staff = _staff(firm)
    filters = _filters(request, firm, staff)
    cursor = request.query_params.get("cursor")
    messages, next_cursor, good = inbox.page(filters.apply(_firm_messages(firm), firm), cursor)
    categories = [(k, label) for k, label in forms.category_choices()
                  if (k in NOISE_CATEGORIES) == (filters.bucket == inbox.NOISE)]
    return render(request, "portal/index.html", {
        **row_context(firm, staff), "staff": staff, "filters": filters, "messages": messages,
        "read": MessageRead.read_ids(request.state.user, [m.id for m in messages]),
        "next_cursor": next_cursor, "first_page": not cursor or not good, "categories": categories,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }, status_code=422 if filters.errors else 200)


@view(roles=CLIENTS)
def messages_csv(request: Request):
    """The filtered view as CSV, every page of it, for Excel."""
    firm = request.state.user.tenant
    filters = _filters(request, firm, _staff(firm))
    writer = export.Writer([firm], i18n.current_locale())
    name = export.filename(firm, dt.datetime.now(firm.zone).date())
    return StreamingResponse(writer.stream(filters.apply(_firm_messages(firm), firm)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _message(request: Request) -> Message:
    """The firm's own message named by the path: another firm's, or none, is 404."""
    message = Message.get_or_none((Message.id == request.path_params["id"])
                                  & (Message.tenant == request.state.user.tenant_id))
    if message is None:
        raise HTTPException(404)
    return message


@view()
def message_page(request: Request):
    """The firm's message: every field with its read-back marks, the call, the recording, the history
    and every delivery that carried it. Opening it marks it read for this user. Staff (following a
    link from a report) are sent to their own page of the message."""
    user = request.state.user
    if user.is_staff:
        return Response(status_code=303, headers={"Location": f"/messages/{request.path_params['id']}"})
    message = _message(request)
    MessageRead.mark(message, user)
    return _message_page(request, message)


def _message_page(request: Request, message: Message, errors: dict | None = None, note: str | None = None,
                  status_code: int = 200):
    firm = message.tenant
    form = forms.form_of(firm, message.call_type)
    staff = _staff(firm)
    call = message.call
    caller = message.fields.get("callback_number") or (call.from_number if call else "")
    return render(request, "portal/message.html", {
        "message": message, "firm": firm, "rows": forms.rows_of(message, form),
        "staff_by_key": {s.key: s for s in staff}, "call": call, "caller": caller,
        "versions": list(message.versions.order_by(MessageVersion.number.desc())),
        "deliveries": list(Delivery.log_of(message)), "channel_labels": CHANNEL_LABELS,
        "status_labels": STATUS_LABELS, "errors": errors or {},
        "note": message.handled_note if note is None else note,
    }, status_code=status_code)


def _note(form) -> tuple[str | None, str | None]:
    """The note as given (None: the form had no note field, so the note stays) and what is wrong with it."""
    if "note" not in form:
        return None, None
    note = form.get("note", "").strip()
    if len(note) > service.MAX_NOTE:
        return note, _("A note of at most {n} characters.").format(n=service.MAX_NOTE)
    return note, None


def _back(request: Request, default: str) -> Response:
    target = safe_next(request.state.form.get("next"), default)
    return Response(status_code=303, headers={"Location": target if target.startswith("/portal") else default})


@view(roles=CLIENTS)
def handled(request: Request):
    """One message handled (or not), with an optional note: from its page or its row in the inbox."""
    message = _message(request)
    form = request.state.form
    note, problem = _note(form)
    if problem:
        return _message_page(request, message, {"note": problem}, note, status_code=422)
    service.set_handled(message, form.get("handled", "1") == "1", request.state.user, note)
    return _back(request, f"/portal/messages/{message.id}")


@view(roles=CLIENTS)
def acknowledge(request: Request):
    """The firm has seen an urgent message: its escalation stops. The first acknowledgement is kept."""
    message = _message(request)
    message.acknowledge(request.state.user)
    return _back(request, f"/portal/messages/{message.id}")


@view(roles=CLIENTS)
def bulk_handled(request: Request):
    """The ticked messages handled (or not) at once; only this firm's can be touched."""
    form = request.state.form
    ids = [int(v) for v in form.getlist("message")[:MAX_BULK] if v.isascii() and v.isdigit() and len(v) <= 18]
    note, problem = _note(form)
    if problem:
        raise HTTPException(400, problem)
    service.set_handled_many(request.state.user.tenant, ids, form.get("handled", "1") == "1", request.state.user,
                             note or None)
    return _back(request, "/portal")


# --------------------------------------------------------------------------------------------
# live: a message saved for this firm reaches its open inboxes

def live_row(request: Request, user: User, message_id: int, filters_query) -> str | None:
    """The inbox row of a just-saved message as an SSE event, when it is this user's firm's and the
    open view's filters show it; else None."""
    firm = user.tenant
    message = _firm_messages(firm).where(Message.id == message_id).first()
    if message is None:  # another firm's, or gone: nothing of it leaves
        return None
    staff = _staff(firm)
    filters = inbox.Filters.from_params(filters_query, firm, {s.key for s in staff})
    shown = filters.apply(_firm_messages(firm).where(Message.id == message_id), firm).exists()
    if not shown:
        return None
    html = templates.get_template("portal/_row.html").render({
        **row_context(firm, staff), "m": message, "unread": True, "request": request,
        "csrf_token": csrf.token_for(request) if "csrf_cookie" in request.scope else "", "here": filters.url()})
    return streams.event("message", html)


async def events(request: Request):
    """Server-sent events for an open inbox: each new message of the firm the view shows, as its
    row, and a count of the firm's new messages (noise left out) for the badge. Client users only."""
    session = await stream_session(request, CLIENTS)
    if session is None:
        raise HTTPException(404)
    user = session.user
    bus = request.app.state.events
    filters_query = request.query_params
    new = 0

    def update(message_id: int) -> tuple[str | None, bool]:
        with db.connection_context(), i18n.use_locale(user.language):
            if session_for(request, touch=False) is None:
                return None, False
            counted = Message.select().where((Message.id == message_id) & (Message.tenant == user.tenant_id)
                                             & Message.category.not_in(NOISE_CATEGORIES)).exists()
            return live_row(request, user, message_id, filters_query) or "", counted

    def badge(count: int) -> str:
        with i18n.use_locale(user.language):
            return streams.event("badge", templates.get_template("portal/_badge.html").render({"count": count}))

    async def stream():
        nonlocal new
        async with bus.subscribe() as subscription:
            yield ": connected\n\n"
            async for item in streams.bus_events(request, subscription):
                if item is None:
                    yield streams.KEEP_ALIVE
                    continue
                topic, data = item
                if topic != "messages" or data.get("event") != "saved" or not isinstance(data.get("message"), int):
                    continue
                row, counted = await run_in_threadpool(update, data["message"])
                if row is None:
                    return  # signed out: the browser reconnects, and is refused
                if counted:
                    new += 1
                    yield badge(new)
                if row:
                    yield row

    return streams.response(stream())

