"""Firm pages: the directory, a firm's configuration as operators and the firm see it, its export."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import phones
from ..accounts.models import ADMIN
from ..web.auth import firm_for, view
from ..web.templates import render
from . import store
from .models import CallType, CallTypeField, NotifyRule, ReportRule, Staff, Tenant, TenantNumber


def search(query: str, region: str):
    """Firms whose name, reading or slug contains ``query``, or that own the number it spells."""
    firms = Tenant.listed()
    query = query.strip()
    if not query:
        return firms
    condition = (Tenant.name.contains(query) | Tenant.name_kana.contains(query) | Tenant.slug.contains(query))
    if number := phones.lenient_e164(query, region):
        condition |= Tenant.id.in_(TenantNumber.select(TenantNumber.tenant).where(TenantNumber.number == number))
    return firms.where(condition)


def numbers_of(firms: list[Tenant]) -> dict[int, list[TenantNumber]]:
    """Each firm's numbers in its order, in one query."""
    numbers: dict[int, list[TenantNumber]] = {}
    for row in TenantNumber.select().where(TenantNumber.tenant.in_([f.id for f in firms])).order_by(
            TenantNumber.position):
        numbers.setdefault(row.tenant_id, []).append(row)
    return numbers


@view()
def directory(request: Request):
    user = request.state.user
    if not user.is_staff:
        return RedirectResponse(f"/firms/{user.tenant.slug}", status_code=303)
    query = request.query_params.get("q", "")
    firms = list(search(query, request.app.state.settings.DEFAULT_REGION))
    context = {"firms": firms, "numbers": numbers_of(firms), "q": query}
    # Active search: htmx asks for the rows only.
    template = "firms/_rows.html" if request.headers.get("hx-request") else "firms/directory.html"
    return render(request, template, context)


@view()
def detail(request: Request):
    tenant = firm_for(request, request.path_params["slug"])
    call_types = list(tenant.call_types.order_by(CallType.position))
    fields = {}
    for f in CallTypeField.select().where(CallTypeField.call_type.in_([c.id for c in call_types])).order_by(
            CallTypeField.position):
        fields.setdefault(f.call_type_id, []).append(f)
    return render(request, "firms/detail.html", {
        "firm": tenant,
        "numbers": tenant.numbers.order_by(TenantNumber.position),
        "staff": tenant.staff.order_by(Staff.position),
        "call_types": call_types,
        "fields": fields,
        "reports": tenant.reports.order_by(ReportRule.position),
        "notify_rules": tenant.notify_rules.order_by(NotifyRule.position),
        # After a save in the editor: its version number, to say it was saved.
        "saved": request.query_params.get("saved", "") if request.query_params.get("saved", "").isdigit() else "",
    })


@view()
def export(request: Request):
    tenant = firm_for(request, request.path_params["slug"])
    if request.state.user.role != ADMIN:
        raise HTTPException(403)
    return Response(store.export(tenant.slug), media_type="application/toml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{tenant.slug}.toml"'})
