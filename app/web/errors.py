"""Error pages a person can act on, in their language."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from .. import i18n
from .auth import LANG_COOKIE
from .templates import render


def _locale_for(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return user.language if user else request.cookies.get(LANG_COOKIE, i18n.DEFAULT_LOCALE)


def error_page(request: Request, status: int, reason: str | None = None):
    with i18n.use_locale(_locale_for(request)):
        return render(request, "error.html", {"status": status, "reason": reason}, status_code=status)


async def http_exception(request: Request, exc: HTTPException):
    if request.url.path.startswith("/api/"):
        from starlette.responses import JSONResponse

        return JSONResponse({"errors": {"detail": exc.detail}}, status_code=exc.status_code)
    return error_page(request, exc.status_code)


async def server_error(request: Request, exc: Exception):
    return error_page(request, 500)


def csrf_failure_response(request: Request):
    return error_page(request, 403, "csrf")
