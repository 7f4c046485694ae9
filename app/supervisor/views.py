"""The supervisors' area: open escalations to resolve (the live board comes later)."""

from __future__ import annotations

from starlette.requests import Request

from ..accounts.models import ADMIN, SUPERVISOR
from ..messages.models import Escalation
from ..web.auth import view
from ..web.templates import render


@view(roles=frozenset({ADMIN, SUPERVISOR}))
def board(request: Request):
    return render(request, "supervisor/index.html", {"escalations": list(Escalation.open())})
