"""Making report runs: every scheduled time that has come gets exactly one run, rendered and archived,
with its deliveries recorded in the same transaction; each run's deliveries are sent as it is made."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import peewee as pw

from ..db import db, utcnow
from ..delivery import service as delivery
from ..tenants.models import Recipient, ReportRule, Staff, Tenant
from . import render, schedule
from .models import ReportRun

log = logging.getLogger("dengon.reports")

# After downtime the worker makes the runs it missed, each for its own period, this far back.
CATCH_UP = dt.timedelta(days=3)


@dataclass(frozen=True)
class Made:
    """A run just made, without what it rendered: a report time makes thousands, and their PDFs
    need not stay in memory until the last is made."""

    id: int
    tenant: Tenant
    rule_key: str
    scheduled_at: dt.datetime
    period_start: dt.datetime
    message_count: int
    skipped: bool
    deliveries: tuple[int, ...] = ()  # the ids of those it recorded


def make_run(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime) -> Made | None:
    """The run of ``rule`` at ``at``, with its deliveries; None when it exists already (the callers
    look first, in one query for many; the unique index settles a race)."""
    start = schedule.previous_time(rule, tenant, at)
    messages = render.covered(tenant, rule, start, at)
    skipped = not messages and rule.when_empty == "skip"
    values = {"tenant": tenant, "rule": rule, "rule_key": rule.key, "scheduled_at": at, "period_start": start,
              "message_count": len(messages), "skipped": skipped}
    if not skipped:
        recipients = list(Recipient.select().where(Recipient.report == rule).order_by(Recipient.position))
        staff = list(tenant.staff.order_by(Staff.position))
        rendered = render.report(settings, tenant, rule, start, at, messages, {r.channel for r in recipients}, staff)
        values.update(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=rendered.sms,
                      pdf=rendered.pdf)
    try:
        with db.atomic():
            run = ReportRun.create(**values)
            # recorded with the run: a run made is a run that will be sent
            ids = delivery.create(tenant, delivery.targets(recipients, staff), at, run=run) if not skipped else []
    except pw.IntegrityError:  # another worker (or `dengon reports run`) made it meanwhile
        return None
    log.info("report %s/%s at %s: %d messages%s", tenant.slug, rule.key, at.isoformat(), len(messages),
             " (empty: skipped)" if skipped else "")
    return Made(run.id, tenant, rule.key, at, start, len(messages), skipped, tuple(ids))


def due_runs(settings, now: dt.datetime | None = None) -> Iterator[Made]:
    """Makes every run whose time has come (within the catch-up window, not before its rule
    existed), yielding each as it is made."""
    now = now or utcnow()
    earlier = _made_since(now - CATCH_UP)
    # Read whole first: a query left open keeps SQLite's read snapshot, and the runs' inserts, after
    # the sender's writes, could not proceed from it.
    for rule in list(ReportRule.select(ReportRule, Tenant).join(Tenant)):
        since = max(now - CATCH_UP, rule.created_at)
        for at in schedule.times_between(rule, rule.tenant, since, now):
            if (rule.tenant_id, rule.key, at) not in earlier and (run := make_run(settings, rule.tenant, rule, at)):
                yield run


def make_due_runs(settings, now: dt.datetime | None = None) -> list[Made]:
    return list(due_runs(settings, now))


def runs_on(settings, day: dt.date | None, tenant: Tenant | None = None,
            now: dt.datetime | None = None) -> Iterator[Made]:
    """`dengon reports run`: makes the runs of a local date (each firm's today by default) that are
    due, yielding each as it is made."""
    now = now or utcnow()
    query = ReportRule.select(ReportRule, Tenant).join(Tenant)
    if tenant is not None:
        query = query.where(ReportRule.tenant == tenant)
    for rule in list(query):  # read whole first (see due_runs)
        local_day = day or now.astimezone(rule.tenant.zone).date()
        times = [at for at in schedule.times_on_date(rule, rule.tenant, local_day) if at <= now]
        earlier = _made_since(times[0] - dt.timedelta(seconds=1), rule) if times else set()
        for at in times:
            if (rule.tenant_id, rule.key, at) not in earlier and (run := make_run(settings, rule.tenant, rule, at)):
                yield run


def send_as_made(settings, runs: Iterator[Made], now: dt.datetime | None = None) -> tuple[list[Made], dict[str, int]]:
    """Make the runs while a thread beside sends each one's deliveries as soon as it is made: the
    first firms have their reports while the last are still being rendered, and the time spent
    waiting on mail servers is not added to the time spent rendering. Returns the runs made and how
    many deliveries ended in each status; what the sender did not get to stays due for the next
    dispatch."""
    made: list[Made] = []
    handed: queue.SimpleQueue[int | None] = queue.SimpleQueue()  # deliveries' ids, None at the end
    outcome: dict[str, int] = {}

    def sending() -> None:
        with db.connection_context():
            outcome.update(delivery.send(settings, iter(handed.get, None), now))

    sender = threading.Thread(target=sending, name="dengon-report-sender")
    sender.start()
    try:
        for run in runs:
            made.append(run)
            for delivery_id in run.deliveries:
                handed.put(delivery_id)
    finally:
        handed.put(None)
        sender.join()
    return made, outcome


def dispatch(settings, now: dt.datetime | None = None) -> tuple[list[Made], dict[str, int]]:
    """What the worker does every minute: make and send the reports that are due, then send every
    other delivery that is (notifications not yet sent, retries)."""
    now = now or utcnow()
    made, outcome = send_as_made(settings, due_runs(settings, now), now)
    rest = delivery.send_due(settings, now)
    return made, dict(Counter(outcome) + Counter(rest))


def _made_since(since: dt.datetime, rule: ReportRule | None = None) -> set[tuple[int, str, dt.datetime]]:
    """(firm, report, time) of the runs made after ``since``: one query where the dispatcher,
    looking back days every minute, would ask once per scheduled time."""
    query = ReportRun.select(ReportRun.tenant, ReportRun.rule_key, ReportRun.scheduled_at).where(
        ReportRun.scheduled_at > since)
    if rule is not None:
        query = query.where((ReportRun.tenant == rule.tenant_id) & (ReportRun.rule_key == rule.key))
    return set(query.tuples())
