"""Making report runs: every scheduled time that has come gets exactly one run, rendered and archived,
with its deliveries recorded in the same transaction. Sending is the deliveries' business."""

from __future__ import annotations

import datetime as dt
import logging
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


def make_run(settings, tenant: Tenant, rule: ReportRule, at: dt.datetime) -> Made | None:
    """The run of ``rule`` at ``at``, with its deliveries; None when it exists already."""
    exists = ReportRun.select().where((ReportRun.tenant == tenant) & (ReportRun.rule_key == rule.key)
                                      & (ReportRun.scheduled_at == at)).exists()
    if exists:
        return None
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
            if not skipped:  # recorded with the run: a run made is a run that will be sent
                delivery.create(tenant, delivery.targets(recipients, staff), at, run=run)
    except pw.IntegrityError:  # another worker (or `dengon reports run`) made it meanwhile
        return None
    log.info("report %s/%s at %s: %d messages%s", tenant.slug, rule.key, at.isoformat(), len(messages),
             " (empty: skipped)" if skipped else "")
    return Made(run.id, tenant, rule.key, at, start, len(messages), skipped)


def make_due_runs(settings, now: dt.datetime | None = None) -> list[Made]:
    """Every run whose time has come (within the catch-up window, not before its rule existed)."""
    now = now or utcnow()
    made = []
    for rule in ReportRule.select(ReportRule, Tenant).join(Tenant):
        since = max(now - CATCH_UP, rule.created_at)
        for at in schedule.times_between(rule, rule.tenant, since, now):
            if run := make_run(settings, rule.tenant, rule, at):
                made.append(run)
    return made


def make_runs_on(settings, day: dt.date | None, tenant: Tenant | None = None,
                 now: dt.datetime | None = None) -> list[Made]:
    """`dengon reports run`: the runs of a local date (each firm's today by default) that are due."""
    now = now or utcnow()
    query = ReportRule.select(ReportRule, Tenant).join(Tenant)
    if tenant is not None:
        query = query.where(ReportRule.tenant == tenant)
    made = []
    for rule in query:
        local_day = day or now.astimezone(rule.tenant.zone).date()
        for at in schedule.times_on_date(rule, rule.tenant, local_day):
            if at <= now and (run := make_run(settings, rule.tenant, rule, at)):
                made.append(run)
    return made
