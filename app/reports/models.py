"""Scheduled reports as they ran: one row per firm, report and scheduled time, kept as rendered."""

from __future__ import annotations

import peewee as pw

from ..db import BaseModel, UTCDateTimeField, utcnow
from ..messages.models import Message
from ..tenants.models import ReportRule, Tenant


class ReportRun(BaseModel):
    """A report for one scheduled time. Its uniqueness (firm, report, time) is what makes a report
    go out once, however many workers or `dengon reports run` invocations race for it."""

    tenant = pw.ForeignKeyField(Tenant, backref="report_runs", on_delete="CASCADE")
    rule = pw.ForeignKeyField(ReportRule, null=True, on_delete="SET NULL")  # the archive outlives the rule
    rule_key = pw.CharField(max_length=40)
    scheduled_at = UTCDateTimeField()
    period_start = UTCDateTimeField()  # the previous scheduled time of the same report (excluded)
    created_at = UTCDateTimeField(default=utcnow)
    message_count = pw.IntegerField(default=0)
    skipped = pw.BooleanField(default=False)  # empty and when_empty = "skip": recorded, not sent
    subject = pw.CharField(max_length=300, default="")
    text = pw.TextField(default="")
    html = pw.TextField(default="")
    sms = pw.TextField(default="")
    pdf = pw.BlobField(null=True)

    class Meta:
        indexes = ((("tenant", "rule_key", "scheduled_at"), True),)


class ReportRunMessage(BaseModel):
    """Which messages a report run carried: the firm's delivery log of a message lists its reports."""

    run = pw.ForeignKeyField(ReportRun, backref="covered", on_delete="CASCADE")
    message = pw.ForeignKeyField(Message, backref="report_runs", on_delete="CASCADE", index=True)

    class Meta:
        indexes = ((("run", "message"), True),)
