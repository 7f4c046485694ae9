"""The client firms' portal: their own firm only."""

from __future__ import annotations

from starlette.requests import Request

from ..accounts.models import CLIENT
from ..tenants.models import Staff, TenantNumber
from ..web.auth import view
from ..web.templates import render


@view(roles=frozenset({CLIENT}))
def portal(request: Request):
    firm = request.state.user.tenant
    return render(request, "portal/index.html", {
        "firm": firm,
        "numbers": firm.numbers.order_by(TenantNumber.position),
        "staff": firm.staff.order_by(Staff.position),
    })
