"""A report before it goes out: for any scheduled time, what that run would carry and how it would
look (``service.compose``, the code a real run uses), with nothing sent and nothing recorded; and a
test send of it to one address by e-mail, which is no run either.

A time that is not one of the report's scheduled times previews the report as if it were made then:
from the scheduled time before it up to that time (so "now" shows the current period so far)."""

from __future__ import annotations

import datetime as dt

from .. import i18n
from ..accounts.models import User
from ..audit import AuditEntry
from ..db import utcnow
from ..delivery import channels
from ..i18n import _
from ..tenants.models import ReportRule, Tenant
from . import schedule, service

RECENT, NEXT = 5, 3  # the times offered to pick from, before and after now
LOOK = dt.timedelta(days=schedule.MAX_GAP_DAYS)
# Times a preview may name: far enough either way for any real report, near enough that looking a
# schedule's days back and forth from them never leaves the calendar.
EARLIEST, LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def parse_at(text) -> dt.datetime | None:
    """An ISO 8601 time with its offset, in the range a preview takes; None for anything else."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None or not EARLIEST <= value < LATEST:
        return None
    return value


def bad_at() -> str:
    return _("Expected an ISO 8601 time with its offset, such as 2026-11-23T09:00:00+09:00.")


def next_time(rule: ReportRule, tenant: Tenant, now: dt.datetime | None = None) -> dt.datetime | None:
    """The report's next scheduled time after ``now``; None for a schedule that has none."""
    now = now or utcnow()
    return next(schedule.times_between(rule, tenant, now, now + LOOK), None)


def times_around(rule: ReportRule, tenant: Tenant, now: dt.datetime | None = None) -> list[dt.datetime]:
    """The last few scheduled times and the next few, oldest first: what a manager picks from."""
    now = now or utcnow()
    earlier, at = [], now + dt.timedelta(microseconds=1)  # a time exactly now counts as made
    for _n in range(RECENT):
        at = schedule.previous_time(rule, tenant, at)
        if at <= now - LOOK:  # previous_time's answer for a schedule with no time that far back
            break
        earlier.append(at)
    later = []
    for at in schedule.times_between(rule, tenant, now, now + LOOK):
        later.append(at)
        if len(later) == NEXT:
            break
    return sorted(earlier) + later


def preview(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime,
            forms: set[str] | None = None) -> service.Composed:
    """The report at ``at`` as a run made now would make it; ``forms``: the SMS and fax to render
    (default: those its recipients get)."""
    return service.compose(settings, tenant, rule, at, channels=forms)


class NotSent(Exception):
    """The mail server refused or could not be reached: the reason, for the person who asked."""


def send_test(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime, address: str, actor: User) -> None:
    """The report at ``at``, as its e-mail would go out, to ``address`` only, marked as a test in the
    firm's language. Made even when the period is empty (the point is to see one arrive); not a run,
    so what the next real report covers is unchanged."""
    rendered = service.compose(settings, tenant, rule, at, channels=set(), even_empty=True).rendered
    with i18n.use_locale(tenant.language):
        subject = _("[TEST] {subject}").format(subject=rendered.subject)
    try:
        with channels.Sender(settings) as sender:
            sender.send(channels.Outgoing("email", address, subject, rendered.text, rendered.html))
    except (channels.Transient, channels.Permanent) as exc:
        raise NotSent(str(exc)) from exc
    AuditEntry.record("report.test", actor=actor, tenant=tenant, target=rule.key,
                      changes={"to": address, "at": at.isoformat()})
