"""When a report is due, and which messages it covers.

A report's scheduled times are its `at` times, in the firm's time zone, on its `days`, leaving out
the firm's public holidays when it skips them. A report covers the messages taken after the
previous scheduled time of the same report (by its schedule, whether or not that run happened)
up to its own scheduled time: consecutive reports share a boundary, so no message is left out or
reported twice, and a report missed during downtime still covers exactly its own period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from ..tenants.models import WEEKDAYS, ReportRule, Tenant

MAX_GAP_DAYS = 400  # a schedule with no time this long before a given one has none at all


def _times_on(rule: ReportRule, tenant: Tenant, day: dt.date) -> list[dt.datetime]:
    """The scheduled times on a local date, in UTC. A time the clocks skip (a DST gap) is taken at
    the offset before the change, a time they repeat at its first occurrence: one send either way."""
    if WEEKDAYS[day.weekday()] not in rule.days:
        return []
    if rule.skip_holidays and tenant.is_holiday(day):
        return []
    zone = tenant.zone
    times = []
    for text in sorted(rule.at):
        hour, minute = (int(part) for part in text.split(":"))
        local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
        times.append(local.astimezone(dt.timezone.utc))
    return times


def times_between(rule: ReportRule, tenant: Tenant, start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Scheduled times in (start, end], oldest first."""
    zone = tenant.zone
    day, last = start.astimezone(zone).date() - dt.timedelta(days=1), end.astimezone(zone).date() + dt.timedelta(days=1)
    while day <= last:
        for at in _times_on(rule, tenant, day):
            if start < at <= end:
                yield at
        day += dt.timedelta(days=1)


def times_on_date(rule: ReportRule, tenant: Tenant, day: dt.date) -> list[dt.datetime]:
    """Scheduled times on a local date (for `dengon reports run --date`)."""
    return _times_on(rule, tenant, day)


def previous_time(rule: ReportRule, tenant: Tenant, at: dt.datetime) -> dt.datetime:
    """The scheduled time before ``at``: where the report at ``at`` starts."""
    day = at.astimezone(tenant.zone).date()
    for _ in range(MAX_GAP_DAYS):
        earlier = [t for t in _times_on(rule, tenant, day) if t < at]
        if earlier:
            return earlier[-1]
        day -= dt.timedelta(days=1)
    return at - dt.timedelta(days=MAX_GAP_DAYS)
