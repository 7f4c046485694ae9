"""Calls: every inbound call the provider announces, from arrival to its end."""

from __future__ import annotations

import peewee as pw

from ..accounts.models import User
from ..db import BaseModel, UTCDateTimeField, utcnow
from ..tenants.models import Tenant

# Life of a call:  queued → answered → completed
#                  queued → abandoned            (the caller hung up while waiting)
#                  voicemail / announced         (after hours)
QUEUED, ANSWERED, COMPLETED, ABANDONED, VOICEMAIL, ANNOUNCED = (
    "queued", "answered", "completed", "abandoned", "voicemail", "announced")
STATUSES = (QUEUED, ANSWERED, COMPLETED, ABANDONED, VOICEMAIL, ANNOUNCED)
ENDED = (COMPLETED, ABANDONED, VOICEMAIL, ANNOUNCED)


class Call(BaseModel):
    sid = pw.CharField(max_length=64, unique=True)  # the provider's CallSid
    tenant = pw.ForeignKeyField(Tenant, backref="calls", null=True, on_delete="SET NULL")  # NULL: unknown number
    to_number = pw.CharField(max_length=32, default="")
    from_number = pw.CharField(max_length=32, default="")  # E.164, or "" when the caller ID is withheld
    forwarded_from = pw.CharField(max_length=32, default="")
    status = pw.CharField(max_length=16, default=QUEUED, index=True)
    after_hours = pw.BooleanField(default=False)
    arrived_at = UTCDateTimeField(default=utcnow, index=True)
    claimed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    claimed_at = UTCDateTimeField(null=True)
    ended_at = UTCDateTimeField(null=True)
    wait_seconds = pw.IntegerField(null=True)  # arrival → answered, or → hang-up when abandoned
    talk_seconds = pw.IntegerField(null=True)  # answered → end
    recording_url = pw.CharField(max_length=500, default="")
    recording_seconds = pw.IntegerField(null=True)
    provider_status = pw.CharField(max_length=32, default="")  # the last CallStatus the provider sent

    class Meta:
        indexes = ((("tenant", "from_number", "arrived_at"), False),)


class OperatorPresence(BaseModel):
    """Whether an operator takes calls now: available, or on break with a reason."""

    user = pw.ForeignKeyField(User, unique=True, on_delete="CASCADE")
    available = pw.BooleanField(default=False)
    reason = pw.CharField(max_length=100, default="")
    since = UTCDateTimeField(default=utcnow)
