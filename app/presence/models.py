"""Notices a firm posts for the operators answering its phone, each shown while its window is open."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from ..accounts.models import User
from ..db import BaseModel, UTCDateTimeField, utcnow
from ..tenants.models import Staff, Tenant

MAX_TEXT = 500


class Notice(BaseModel):
    """「12/29〜1/3は休業。急ぎは山田携帯へ」: in force from ``starts_at`` until ``ends_at`` (open-ended
    when none) unless withdrawn; optionally about one staff member."""

    tenant = pw.ForeignKeyField(Tenant, backref="notices", on_delete="CASCADE")
    text = pw.TextField()
    # The tenant file keeps a staff member's row while their key stays, so the link survives re-imports.
    staff = pw.ForeignKeyField(Staff, null=True, on_delete="SET NULL")
    starts_at = UTCDateTimeField(default=utcnow)
    ends_at = UTCDateTimeField(null=True)
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    withdrawn_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("tenant", "withdrawn_at", "starts_at"), False),)

    @classmethod
    def _live(cls, tenant: Tenant | int, now: dt.datetime):
        return (cls.select(cls, Staff).join(Staff, pw.JOIN.LEFT_OUTER)
                .where((cls.tenant == tenant) & cls.withdrawn_at.is_null()
                       & (cls.ends_at.is_null() | (cls.ends_at > now))))

    @classmethod
    def in_force(cls, tenant: Tenant | int, now: dt.datetime | None = None):
        """The notices the operator's screen pop shows at ``now``, oldest start first."""
        now = now or utcnow()
        return cls._live(tenant, now).where(cls.starts_at <= now).order_by(cls.starts_at, cls.id)

    @classmethod
    def current_and_upcoming(cls, tenant: Tenant | int, now: dt.datetime | None = None):
        """What the firm manages: every notice not withdrawn whose window has not closed."""
        return cls._live(tenant, now or utcnow()).order_by(cls.starts_at, cls.id)

    def is_in_force(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.withdrawn_at is None and self.starts_at <= now and (self.ends_at is None or self.ends_at > now)
