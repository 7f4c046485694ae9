"""The supervisors' area: the live board and corrections arrive with calls and messages."""

from __future__ import annotations

from starlette.requests import Request

from ..accounts.models import ADMIN, SUPERVISOR
from ..web.auth import view
from ..web.templates import render


@view(roles=frozenset({ADMIN, SUPERVISOR}))
def board(request: Request):
    return render(request, "supervisor/index.html")
