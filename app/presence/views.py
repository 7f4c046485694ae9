"""The firm's own in/out board (/portal/staff) and notices (/portal/notices), for its client users."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..accounts.models import CLIENT
from ..db import utcnow
from ..i18n import _
from ..tenants.models import Staff, Tenant
from ..web.auth import view
from ..web.templates import render
from . import service
from .models import Notice

CLIENTS = frozenset({CLIENT})


def local_time(tenant: Tenant, date_text: str, time_text: str, now: dt.datetime) -> dt.datetime | None:
    """A date and/or a time typed in the firm's zone → an aware time; a time alone is today's, a date
    alone its first minute ("back on Thursday"). Raises ValueError for what is neither."""
    date_text, time_text = date_text.strip(), time_text.strip()
    if not date_text and not time_text:
        return None
    day = dt.date.fromisoformat(date_text) if date_text else now.astimezone(tenant.zone).date()
    clock = dt.time.fromisoformat(time_text) if time_text else dt.time(0, 0)
    return dt.datetime.combine(day, clock.replace(tzinfo=None), tzinfo=tenant.zone)


def _staff_of(request: Request) -> Staff:
    staff = Staff.get_or_none((Staff.id == request.path_params["id"]) & (Staff.tenant == request.state.user.tenant_id))
    if staff is None:
        raise HTTPException(404)
    return staff


@view(roles=CLIENTS)
def staff_board(request: Request):
    firm = request.state.user.tenant
    return render(request, "presence/staff.html", {"firm": firm, "board": Staff.board(firm), "forms": {}})


@view(roles=CLIENTS)
def set_presence(request: Request):
    """One tap: the state pressed, with the note and "until" typed beside it."""
    staff, firm, form, now = _staff_of(request), request.state.user.tenant, request.state.form, utcnow()
    presence, note = form.get("presence", ""), form.get("note", "")
    errors = {}
    try:
        until = local_time(firm, form.get("until_date", ""), form.get("until_time", ""), now)
    except ValueError:
        until, errors = None, {"until": _("Expected a time such as 15:00, and a date if not today.")}
    errors = errors or service.presence_errors(presence, note, until, now)
    if not errors:
        entry = service.set_presence(staff, presence, note, until, request.state.user, now)
        service.announce(request.app, firm)
        if not request.headers.get("hx-request"):
            return RedirectResponse("/portal/staff", status_code=303)
        return render(request, "presence/_staff_card.html", {"firm": firm, "entry": entry, "form": {}, "errors": {},
                                                             "saved": True})
    context = {"firm": firm, "entry": staff.effective_presence(now), "form": form, "errors": errors, "saved": False}
    if request.headers.get("hx-request"):
        return render(request, "presence/_staff_card.html", context, status_code=422)
    return render(request, "presence/staff.html", {**context, "board": Staff.board(firm, now),
                                                   "forms": {staff.id: (form, errors)}}, status_code=422)


def _notices_page(request: Request, firm: Tenant, form=None, errors=None, status_code: int = 200):
    now = utcnow()
    return render(request, "presence/notices.html", {
        "firm": firm, "notices": list(Notice.current_and_upcoming(firm, now)), "now": now,
        "staff": list(firm.staff.order_by(Staff.position)), "form": form or {}, "errors": errors or {},
    }, status_code=status_code)


@view(roles=CLIENTS)
def notices(request: Request):
    firm = request.state.user.tenant
    if request.method == "GET":
        return _notices_page(request, firm)
    form, now, errors = request.state.form, utcnow(), {}
    times = {}
    for name in ("starts_at", "ends_at"):
        try:
            times[name] = local_time(firm, form.get(name, "")[:10], form.get(name, "")[11:16], now)
        except ValueError:
            times[name], errors[name] = None, _("Expected a date and time.")
    staff, problems = service.notice_errors(firm, form.get("text", ""), form.get("staff", ""), times["starts_at"],
                                            times["ends_at"], now)
    errors = {**problems, **errors}
    if errors:
        return _notices_page(request, firm, form, errors, status_code=422)
    service.post_notice(firm, form["text"], staff, times["starts_at"], times["ends_at"], request.state.user, now)
    service.announce(request.app, firm)
    return RedirectResponse("/portal/notices", status_code=303)


@view(roles=CLIENTS)
def withdraw_notice(request: Request):
    notice = Notice.get_or_none((Notice.id == request.path_params["id"])
                                & (Notice.tenant == request.state.user.tenant_id))
    if notice is None:
        raise HTTPException(404)
    if service.withdraw(notice, request.state.user):
        service.announce(request.app, notice.tenant_id)
    return RedirectResponse("/portal/notices", status_code=303)
