"""Local days, the one place that knows them: the service's time zone (Japan's: every firm's default,
and the days of several firms together), a day's midnight in a zone, today's bounds, a zone's name."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .i18n import N_, _

SERVICE_ZONE = ZoneInfo("Asia/Tokyo")
UTC = dt.timezone.utc

# Zones people know by a name of their own; any other is shown by its IANA name.
ZONE_NAMES = {"Asia/Tokyo": N_("Japan time")}


def midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The start of local day ``day`` in ``zone``, in UTC."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def day_bounds(first: dt.date, last: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) from the start of ``first`` to the end of ``last``, local days in ``zone`` (in UTC).
    OverflowError past 9999-12-31."""
    return midnight(first, zone), midnight(last + dt.timedelta(days=1), zone)


def today(now: dt.datetime, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[since, until) of the local day ``now`` falls in, in ``zone`` (in UTC)."""
    day = now.astimezone(zone).date()
    return day_bounds(day, day, zone)


def zone_name(zone: dt.tzinfo | str) -> str:
    """The name people read for a zone: 日本時間 for Japan's, else its IANA name."""
    key = zone if isinstance(zone, str) else getattr(zone, "key", str(zone))
    return _(ZONE_NAMES[key]) if key in ZONE_NAMES else key
