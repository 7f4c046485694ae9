"""JSON API v1, a firm's self-service: its in/out board and the notices operators see
(interfaces.md). A client token acts on its own firm only; staff tokens on any. Another firm is 404."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..accounts.models import User
from ..db import utcnow
from ..i18n import _
from ..presence import service
from ..presence.models import Notice
from ..tenants.models import Staff, Tenant
from .v1 import ApiError, _parse_time, endpoint, firm


def _time(body: dict, key: str, errors: dict) -> dt.datetime | None:
    """A time in a JSON body: ISO 8601 with its offset (as the API's query parameters), or null."""
    value = body.get(key)
    return None if value is None else _parse_time({key: value if isinstance(value, str) else ""}, key, errors)


def _optional_text(body: dict, key: str, errors: dict) -> str:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        errors[key] = _("Expected text.")
        return ""
    return value or ""


@endpoint
def list_staff(request: Request, user: User, body) -> Response:
    tenant = firm(request, user)
    return JSONResponse({"staff": [service.staff_json(e, tenant.zone) for e in Staff.board(tenant)]})


@endpoint
def update_staff(request: Request, user: User, body: dict) -> Response:
    """Set one staff member's presence, with an optional note and time to come back (then "in" again)."""
    tenant = firm(request, user)
    staff = Staff.get_or_none((Staff.tenant == tenant) & (Staff.key == request.path_params["key"]))
    if staff is None:
        raise ApiError(404, {"key": _("No staff member of this firm has this key.")})
    errors, now = {}, utcnow()
    note = _optional_text(body, "note", errors)
    until = _time(body, "until", errors)
    problems = service.presence_errors(body.get("presence"), note, until, now)
    errors = {**problems, **errors}
    if errors:
        raise ApiError(422, errors)
    entry = service.set_presence(staff, body["presence"], note, until, user, now)
    service.announce(request.app, tenant)
    return JSONResponse(service.staff_json(entry, tenant.zone))


@endpoint
def list_notices(request: Request, user: User, body) -> Response:
    tenant, now = firm(request, user), utcnow()
    return JSONResponse({"notices": [service.notice_json(n, tenant.zone, now)
                                     for n in Notice.current_and_upcoming(tenant, now)]})


@endpoint
def create_notice(request: Request, user: User, body: dict) -> Response:
    tenant, errors, now = firm(request, user), {}, utcnow()
    starts_at, ends_at = _time(body, "starts_at", errors), _time(body, "ends_at", errors)
    staff_key = _optional_text(body, "staff", errors)
    staff, problems = service.notice_errors(tenant, body.get("text"), staff_key, starts_at, ends_at, now)
    errors = {**problems, **errors}
    if errors:
        raise ApiError(422, errors)
    notice = service.post_notice(tenant, body["text"], staff, starts_at, ends_at, user, now)
    service.announce(request.app, tenant)
    notice = Notice.get_by_id(notice.id)
    return JSONResponse(service.notice_json(notice, tenant.zone, now), status_code=201)


@endpoint
def withdraw_notice(request: Request, user: User, body) -> Response:
    """Withdraw a notice: operators stop seeing it at once. Withdrawing it again changes nothing."""
    tenant = firm(request, user)
    notice = Notice.get_or_none((Notice.id == request.path_params["id"]) & (Notice.tenant == tenant))
    if notice is None:
        raise ApiError(404, {"id": _("Not found.")})
    if service.withdraw(notice, user):
        service.announce(request.app, tenant)
    return Response(status_code=204)
