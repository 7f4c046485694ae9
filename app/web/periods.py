"""Periods people pick on a page: whole days from a first to a last day, counted in a time zone (the
firm's, or the service's for several firms), and the presets of the figures pages."""

from __future__ import annotations

import datetime as dt

from ..days import SERVICE_ZONE, day_bounds  # noqa: F401 (SERVICE_ZONE: the call log reads it here)
from ..i18n import N_, _

PRESETS = {"today": N_("Today"), "yesterday": N_("Yesterday"), "week": N_("This week"),
           "month": N_("This month"), "custom": N_("Choose days")}


def day(params, key: str, errors: dict) -> dt.date | None:
    """The date query parameter ``key`` holds, or None when empty; a wrong one is named in ``errors``."""
    text = params.get(key, "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[key] = _("Expected a date (YYYY-MM-DD).")
        return None


def bounds(first: dt.date | None, last: dt.date | None, zone: dt.tzinfo, errors: dict,
           last_key: str = "to") -> tuple[dt.datetime | None, dt.datetime | None]:
    """[since, until): from the start of ``first`` to the end of ``last``, local days in ``zone``."""
    try:
        since = day_bounds(first, first, zone)[0].astimezone(zone) if first else None
        until = day_bounds(last, last, zone)[1].astimezone(zone) if last else None
    except OverflowError:  # the day after 9999-12-31
        errors[last_key] = _("Expected a date (YYYY-MM-DD).")
        return None, None
    return since, until


def days(params, zone: dt.tzinfo, errors: dict, first_key: str = "from",
         last_key: str = "to") -> tuple[dt.datetime | None, dt.datetime | None]:
    """The period of the ``from`` and ``to`` days a page's filter form sent (either may be left empty)."""
    first, last = day(params, first_key, errors), day(params, last_key, errors)
    return bounds(first, last, zone, errors, last_key)


def preset(name: str, zone: dt.tzinfo, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The first and last day of a preset, as the calendar reads in ``zone`` at ``now``; weeks start
    on Monday, as Japanese calendars at work do."""
    today = now.astimezone(zone).date()
    if name == "yesterday":
        return today - dt.timedelta(days=1), today - dt.timedelta(days=1)
    if name == "week":
        return today - dt.timedelta(days=today.weekday()), today
    if name == "month":
        return today.replace(day=1), today
    return today, today
