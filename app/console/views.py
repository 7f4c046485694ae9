"""The operators' console. Calls reach it in step 2; until then it is the firm directory."""

from __future__ import annotations

from starlette.requests import Request

from ..accounts.models import STAFF_ROLES
from ..web.auth import view
from ..web.templates import render


@view(roles=STAFF_ROLES)
def console(request: Request):
    return render(request, "console/index.html")
