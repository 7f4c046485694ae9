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

    @property
    def label(self) -> str:
        from .i18n import _
        from .tenants.labels import AUDIT_ACTION_LABELS

        return _(AUDIT_ACTION_LABELS[self.action]) if self.action in AUDIT_ACTION_LABELS else self.action

    def shown_target(self) -> str:
        """What the entry is about, as a person names it: a staff member by name, a number in national
        format, how a firm was saved in words."""
        from . import phones
        from .i18n import _
        from .tenants.labels import VIA_LABELS
        from .tenants.models import Staff

        region = self.tenant.region if self.tenant_id else "JP"
        if self.action == "staff.presence" and self.tenant_id:
            person = Staff.get_or_none((Staff.tenant == self.tenant_id) & (Staff.key == self.target))
            return person.name if person else self.target
        if self.target.startswith("+") and self.target[1:].isdigit():
            return phones.display(self.target, region)
        if self.action.startswith("tenant.") and self.target in VIA_LABELS:
            return _(VIA_LABELS[self.target])
        return self.target

    def shown_changes(self) -> list[tuple[str, str, str]]:
        """(key, before, after) of an entry that is no firm's or message's diff, values as people read
        them: a staff member by name, numbers in national format."""
        from .i18n import _
        from .tenants.changes import shown
        from .tenants.labels import PRESENCE_LABELS, ROLE_LABELS
        from .tenants.models import Staff

        region = self.tenant.region if self.tenant_id else "JP"
        names = {s.key: s.name for s in Staff.select().where(Staff.tenant == self.tenant_id)} if self.tenant_id else {}
        coded = {"role": ROLE_LABELS, "presence": PRESENCE_LABELS}

        def word(path, v):
            if path == "staff" and v:
                return names.get(v, v)
            return _(coded[path][v]) if path in coded and v in coded[path] else shown(v, region=region)

        return [(path, *(word(path, v) for v in change))
                for path, change in (self.changes or {}).items()
                if isinstance(change, (list, tuple)) and len(change) == 2]

    @classmethod
    def recent(cls, tenant: Tenant | None = None, limit: int = 200):
        query = cls.select().order_by(cls.at.desc(), cls.id.desc()).limit(limit)
        return query.where(cls.tenant == tenant) if tenant else query
