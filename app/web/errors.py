"""Error pages a person can act on, in their language; under /api/, the API's JSON errors."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import i18n
from ..i18n import _
from .auth import LANG_COOKIE, BadInput
from .templates import render


def _locale_for(request: Request) -> str:
    user = getattr(request.state, "user", None)
    return user.language if user else request.cookies.get(LANG_COOKIE, i18n.DEFAULT_LOCALE)


def _api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request, status: int, reason: str | None = None, field: str | None = None):
    with i18n.use_locale(_locale_for(request)):
        return render(request, "error.html", {"status": status, "reason": reason, "field": field},
                      status_code=status)


async def http_exception(request: Request, exc: HTTPException):
    if _api(request):
        return JSONResponse({"errors": {"detail": exc.detail}}, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, BadInput):
        return error_page(request, 400, "input", exc.field)
    return error_page(request, exc.status_code)


async def server_error(request: Request, exc: Exception):
    if _api(request):
        # Programs read the documented {"errors": …} shape, whatever went wrong; in the language asked for.
        asked = request.headers.get("accept-language", "")[:2].lower()
        with i18n.use_locale(asked if asked in i18n.LOCALES else "en"):
            return JSONResponse({"errors": {"server": _("Something went wrong on our side; please try again.")}},
                                status_code=500)
    return error_page(request, 500)


def csrf_failure_response(request: Request):
    return error_page(request, 403, "csrf")
