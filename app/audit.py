"""The audit log: who changed what, and when. Every setting change and correction writes here."""

from __future__ import annotations

import peewee as pw

from .accounts.models import User
from .db import BaseModel, JSONField, UTCDateTimeField, utcnow
from .tenants.models import Tenant


class AuditEntry(BaseModel):
    at = UTCDateTimeField(default=utcnow, index=True)
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_label = pw.CharField(max_length=254)  # kept when the user is gone; "cli" for the command line
    tenant = pw.ForeignKeyField(Tenant, null=True, on_delete="SET NULL")
    action = pw.CharField(max_length=64)
    target = pw.CharField(max_length=200, default="")
    changes = JSONField(null=True)

    @classmethod
    def record(cls, action: str, *, actor: User | None = None, tenant: Tenant | None = None,
               target: str = "", changes=None, label: str = "") -> "AuditEntry":
        """``label`` names an actor who is no user (a signed link from an e-mail); the command line is "cli"."""
        return cls.create(action=action, actor=actor, actor_label=actor.email if actor else label or "cli",
                          tenant=tenant, target=target, changes=changes)

    @classmethod
    def recent(cls, tenant: Tenant | None = None, limit: int = 200):
        query = cls.select().order_by(cls.at.desc(), cls.id.desc()).limit(limit)
        return query.where(cls.tenant == tenant) if tenant else query
