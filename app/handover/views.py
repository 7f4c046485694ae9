"""Handover notes: written by operators and supervisors (/handover), acknowledged by operators on
starting (the console), read receipts for supervisors."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..accounts.models import MANAGERS, OPERATOR, STAFF_ROLES, SUPERVISOR, User
from ..days import SERVICE_ZONE
from ..db import utcnow
from ..i18n import _
from ..tenants.models import Tenant
from ..web.auth import row_or_404, view
from ..web.inputs import row_id
from ..web.templates import render
from .models import MAX_DAYS, MAX_TEXT, HandoverNote, HandoverRead

ZONE = SERVICE_ZONE  # the service's shifts; a note's expiry is typed in its clock
DEFAULT_HOURS = 24


def _page(request: Request, form=None, errors=None, status_code: int = 200):
    user, now = request.state.user, utcnow()
    notes = list(HandoverNote.in_force(now))
    context = {"notes": notes, "form": form or {}, "errors": errors or {}, "firms": list(Tenant.listed()),
               "default_expiry": (now + dt.timedelta(hours=DEFAULT_HOURS)).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M"),
               "can_see_readers": user.role in MANAGERS, "me": user}
    if user.role in MANAGERS:
        # Who should read the notes: the operators and supervisors who can sign in.
        team = list(User.select().where(User.role.in_([OPERATOR, SUPERVISOR]) & User.is_active)
                    .order_by(User.name, User.email))
        for note in notes:
            note.read_list = note.readers()
            done = {r.user_id for r in note.read_list}
            note.not_read = [u for u in team if u.id not in done and u.id != note.author_id]
    return render(request, "handover/index.html", context, status_code=status_code)


def _errors(text: str, expires_text: str, firm_text: str, now: dt.datetime):
    errors, firm, expires_at = {}, None, None
    if not text.strip():
        errors["text"] = _("Write the note.")
    elif len(text) > MAX_TEXT:
        errors["text"] = _("At most {n} characters.").format(n=MAX_TEXT)
    try:
        expires_at = dt.datetime.fromisoformat(expires_text.strip())
        if expires_at.tzinfo is None:  # typed in the service's clock; a given offset stands
            expires_at = expires_at.replace(tzinfo=ZONE)
    except ValueError:
        errors["expires_at"] = _("Expected a date and time.")
    else:
        if expires_at <= now:
            errors["expires_at"] = _("The note must expire later than now.")
        elif expires_at > now + dt.timedelta(days=MAX_DAYS):
            errors["expires_at"] = _("At most {n} days ahead: a standing instruction belongs in the firm's instructions.").format(n=MAX_DAYS)
    if firm_text:
        firm = Tenant.get_or_none(Tenant.id == row_id(firm_text))
        if firm is None:
            errors["tenant"] = _("Choose a firm from the list.")
    return errors, firm, expires_at


@view(roles=STAFF_ROLES)
def handover(request: Request):
    """GET: the notes in force (with who read them, for supervisors) and the form; POST: a new note."""
    if request.method == "GET":
        return _page(request)
    form = request.state.form
    errors, firm, expires_at = _errors(form.get("text", ""), form.get("expires_at", ""), form.get("tenant", ""), utcnow())
    if errors:
        return _page(request, form, errors, status_code=422)
    HandoverNote.write(form["text"], request.state.user, firm, expires_at)
    announce(request.app)
    return RedirectResponse("/handover", status_code=303)


TOPIC = "handover"


def announce(app) -> None:
    """Tell every open console to fetch its unread notes again (call after committing)."""
    app.state.events.publish(TOPIC, {"event": "changed"})


@view(roles=STAFF_ROLES)
def unread(request: Request):
    """The console's panel of unread notes (and the availability it holds back), fetched again when a
    note is written or withdrawn."""
    from ..console.views import _presence_context

    user = request.state.user
    return render(request, "console/_handover_acked.html",
                  {**_presence_context(user), "handover": HandoverNote.unread_by(user)})


@view(roles=STAFF_ROLES)
def acknowledge(request: Request):
    """The operator has read the notes shown to them on starting: each is marked read, and they may
    become available."""
    from ..console.views import _presence_context

    user = request.state.user
    shown = {row_id(v) for v in request.state.form.getlist("note")} - {None}
    # Only notes in force: an id of a withdrawn or unknown note is ignored, not stored.
    HandoverRead.mark(user, [n.id for n in HandoverNote.in_force().where(HandoverNote.id.in_(shown or {0}))])
    if not request.headers.get("hx-request"):
        return RedirectResponse("/console", status_code=303)
    return render(request, "console/_handover_acked.html",
                  {**_presence_context(user), "handover": HandoverNote.unread_by(user)})


@view(roles=STAFF_ROLES)
def withdraw(request: Request):
    """A note no longer true: its author or a supervisor takes it back before it expires."""
    note = row_or_404(HandoverNote, request)
    if note.author_id != request.state.user.id and request.state.user.role not in MANAGERS:
        raise HTTPException(403)
    if note.withdraw():
        announce(request.app)
    return RedirectResponse("/handover", status_code=303)
