"""The account managers' area: firms at a glance and the audit log (users: users.py)."""

from __future__ import annotations

import peewee as pw
from starlette.requests import Request

from ..accounts.models import ADMIN, User
from ..audit import AuditEntry
from ..tenants.models import Staff, Tenant, TenantNumber
from ..web.auth import view
from ..web.templates import render

ADMINS = frozenset({ADMIN})


@view(roles=ADMINS)
def dashboard(request: Request):
    counts = {}
    for model in (TenantNumber, Staff, User):
        for tenant_id, n in (model.select(model.tenant, pw.fn.COUNT(model.id)).where(model.tenant.is_null(False))
                             .group_by(model.tenant).tuples()):
            counts.setdefault(tenant_id, {})[model.__name__] = n
    return render(request, "admin/dashboard.html", {"firms": Tenant.listed(), "counts": counts})


@view(roles=ADMINS)
def audit(request: Request):
    entries = (AuditEntry.select(AuditEntry, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER)
               .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(200))
    return render(request, "admin/audit.html", {"entries": entries})
