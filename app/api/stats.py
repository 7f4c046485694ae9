"""JSON API v1, figures (interfaces.md "Figures"): ``GET /api/v1/stats``, the figures of stats/figures.py."""

from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import days
from ..accounts.models import ADMIN, CLIENT, STAFF_ROLES, SUPERVISOR, User
from ..i18n import _
from ..stats import figures as stats
from ..tenants.models import Tenant
from .v1 import ApiError, _parse_time, endpoint

# More intervals than this in one answer is a mistake (15 minutes over a year is 35,040).
MAX_INTERVALS = 40_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _operator(text: str) -> User | None:
    """A staff user by id or e-mail."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        user = User.get_or_none(User.id == int(text))
    else:
        user = User.by_email(text) if len(text) <= 254 else None
    return user if user is not None and user.role in STAFF_ROLES else None


@endpoint
def get_stats(request: Request, user: User, body) -> Response:
    if user.role not in (SUPERVISOR, ADMIN, CLIENT):
        raise ApiError(403, {"token": _("Only supervisors, account managers and firms read figures.")})
    params, errors = request.query_params, {}
    tenant = None
    if slug := params.get("tenant"):
        tenant = Tenant.by_slug(slug) if len(slug) <= 200 else None
        if tenant is None or not user.can_see(tenant):
            raise ApiError(404, {"tenant": _("No such firm.")})
    elif not user.is_staff:
        tenant = user.tenant
    operator = None
    if (text := params.get("operator")) is not None:
        if not user.is_staff:
            errors["operator"] = _("Only the answering service's staff ask for one operator's figures.")
        elif (operator := _operator(text)) is None:
            errors["operator"] = _("No such operator: give their user id or e-mail address.")
    interval = params.get("interval")
    if interval is not None and interval not in stats.INTERVALS:
        errors["interval"] = _("Expected one of: {options}.").format(options=", ".join(stats.INTERVALS))
        interval = None
    zone = tenant.zone if tenant is not None else days.SERVICE_ZONE
    since, until = _parse_time(params, "since", errors), _parse_time(params, "until", errors)
    for key, value in (("since", since), ("until", until)):
        # Before 1970 no call was answered; and zones then had offsets of seconds, no RFC 3339 time.
        if value is not None and value < EPOCH:
            errors[key] = _("Expected a time from 1970 on.")
            since, until = (None, until) if key == "since" else (since, None)
    # Without a period: today, in the firm's zone (Japan's for all firms).
    today = days.today(dt.datetime.now(days.UTC), zone)
    if since is None and "since" not in errors:
        since = today[0]
    if until is None and "until" not in errors:
        until = today[1]
    if since is not None and until is not None:
        if until <= since:
            errors["until"] = _("Expected a time after since.")
        elif interval and interval != "1d" and (until - since) / stats.INTERVALS[interval] > MAX_INTERVALS:
            errors["interval"] = _("Too many intervals: at most {n}; choose a longer interval or a shorter period."
                                   ).format(n=MAX_INTERVALS)
        elif interval == "1d" and (until - since).days > MAX_INTERVALS:
            errors["interval"] = _("Too many intervals: at most {n}; choose a longer interval or a shorter period."
                                   ).format(n=MAX_INTERVALS)
    if errors:
        raise ApiError(422, errors)
    try:
        result = stats.figures(since, until, tenant=tenant, operator=operator, interval=interval, zone=zone,
                               service_level=request.app.state.settings.service_level_seconds)
        return JSONResponse({
            "tenant": tenant.slug if tenant is not None else None,
            # The period counted: with an interval, widened to whole intervals.
            "since": result.since.astimezone(zone).isoformat(), "until": result.until.astimezone(zone).isoformat(),
            "totals": result.totals,
            "intervals": [{**row, "start": row["start"].isoformat()} for row in result.intervals],
        })
    except OverflowError:  # a period at the very ends of the calendar
        raise ApiError(422, {"until": _("Expected a time between the years 1 and 9999.")}) from None
