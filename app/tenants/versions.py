"""Every saved configuration of a firm, kept whole: the history, the diff between two, restore."""

from __future__ import annotations

import peewee as pw

from ..accounts.models import User
from ..db import BaseModel, JSONField, UTCDateTimeField, utcnow
from .models import Tenant


VIA = ("file", "browser", "api", "restore", "wizard", "request", "baseline")


class TenantVersion(BaseModel):
    """One saved configuration of a firm: the canonical form whole, with who saved it, how, and what
    changed against the version before. Restoring is saving an old one's config again."""

    tenant = pw.ForeignKeyField(Tenant, backref="versions", on_delete="CASCADE")
    number = pw.IntegerField()
    config = JSONField()
    changes = JSONField(default=dict)  # {key path: [old, new]} against the previous version
    saved_at = UTCDateTimeField(default=utcnow)
    saved_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    saved_by_label = pw.CharField(max_length=254, default="")  # kept when the user is gone; "cli" for files
    via = pw.CharField(max_length=16)  # one of VIA
    note = pw.TextField(default="")  # "restored version 3", a change request's number …

    class Meta:
        indexes = ((("tenant", "number"), True),)
