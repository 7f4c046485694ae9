"""Deliveries: every e-mail, SMS and fax, recorded before it is sent and holding its outcome after."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from ..db import BaseModel, UTCDateTimeField, utcnow
from ..messages.models import Message
from ..reports.models import ReportRun, ReportRunMessage
from ..tenants.models import Tenant

# pending → sending → sent (→ delivered, for SMS with a receipt)
#                   → retry → sending …      (a transient failure, after a back-off)
#                   → failed                 (permanent, or too many attempts: shown to staff)
PENDING, SENDING, SENT, DELIVERED, RETRY, FAILED = "pending", "sending", "sent", "delivered", "retry", "failed"


class Delivery(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="deliveries", on_delete="CASCADE")
    run = pw.ForeignKeyField(ReportRun, backref="deliveries", null=True, on_delete="CASCADE")  # a report
    message = pw.ForeignKeyField(Message, backref="deliveries", null=True, on_delete="CASCADE")  # a notification
    channel = pw.CharField(max_length=8)
    recipient = pw.CharField(max_length=254)  # e-mail address, or E.164 number for sms and fax
    status = pw.CharField(max_length=12, default=PENDING, index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(default=utcnow, index=True)
    claimed_at = UTCDateTimeField(null=True)
    last_error = pw.TextField(default="")
    provider_ref = pw.CharField(max_length=300, default="")  # SMS SID, Message-ID or outbox file
    segments = pw.IntegerField(null=True)  # SMS
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)

    class Meta:
        # Once per report run (or message), channel and recipient.
        indexes = ((("run", "channel", "recipient"), True), (("message", "channel", "recipient"), True))

    @classmethod
    def log_of(cls, message: Message):
        """Every delivery that carried ``message``: its notifications and the reports it was in, oldest first."""
        runs = ReportRunMessage.select(ReportRunMessage.run).where(ReportRunMessage.message == message)
        return (cls.select(cls, ReportRun).join(ReportRun, pw.JOIN.LEFT_OUTER)
                .where((cls.message == message) | cls.run.in_(runs)).order_by(cls.created_at, cls.id))

    @classmethod
    def claimable(cls, now: dt.datetime, lease: dt.timedelta) -> pw.Expression:
        """Due and nobody's: waiting for its time, or claimed by a sender that has stopped renewing
        its claim for ``lease`` (its process died mid-send)."""
        return ((cls.status.in_([PENDING, RETRY]) & (cls.next_attempt_at <= now))
                | ((cls.status == SENDING) & (cls.claimed_at < now - lease)))

    @classmethod
    def renew_claims(cls, ids: list[int], now: dt.datetime) -> int:
        """The sender of these is alive: their claims start again from ``now`` (never moved back)."""
        return cls.update(claimed_at=now).where(
            cls.id.in_(ids) & (cls.status == SENDING) & (cls.claimed_at < now)).execute()
