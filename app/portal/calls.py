"""The firm's call log and the numbers it blocks: client users of the firm, their own firm only."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..accounts.models import CLIENT
from ..calls import log
from ..calls.models import BlockedNumber, InvalidBlock
from ..i18n import _
from ..web import periods
from ..web.auth import safe_next, view
from ..web.templates import render

CLIENTS = frozenset({CLIENT})


@view(roles=CLIENTS)
def call_log(request: Request):
    """Every call to the firm, newest first, filtered by kind and period (days in the firm's zone)."""
    firm = request.state.user.tenant
    params, errors = request.query_params, {}
    kind = params.get("kind", "")
    if kind and kind not in log.KINDS:
        errors["kind"] = _("Choose a kind from the list.")
    since, until = periods.days(params, firm.zone, errors)
    after = log.after_cursor(params, errors)
    entries, next_cursor = [], None
    if not errors:
        entries, next_cursor = log.page(log.calls(firm, kind=kind or None, since=since, until=until, after=after))
    filters = {k: params.get(k, "") for k in ("kind", "from", "to") if params.get(k)}
    return render(request, "portal/calls.html", {
        "firm": firm, "entries": entries, "kinds": log.KINDS, "filters": filters, "errors": errors,
        "blocked": BlockedNumber.among(firm.id, (e.call.from_number for e in entries)),
        "next_url": f"/portal/calls?{urlencode({**filters, 'after': next_cursor})}" if next_cursor else None,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }, status_code=422 if errors else 200)


def _blocked_page(request: Request, errors: dict | None = None, form: dict | None = None, status_code: int = 200):
    firm = request.state.user.tenant
    return render(request, "portal/blocked.html", {
        "firm": firm, "numbers": list(BlockedNumber.of_firm(firm)), "errors": errors or {},
        "form": form or {"number": "", "note": ""}, "next": (form or {}).get("next", ""),
    }, status_code=status_code)


@view(roles=CLIENTS)
def blocked(request: Request):
    """GET: the firm's blocked numbers. POST: block ``number`` (any format) with an optional ``note``,
    then back to ``next`` (a portal page: the call log or a message) or this list."""
    if request.method == "GET":
        return _blocked_page(request)
    form = {k: request.state.form.get(k, "") for k in ("number", "note", "next")}
    try:
        BlockedNumber.block(request.state.user.tenant, form["number"], form["note"], by=request.state.user)
    except InvalidBlock as exc:
        return _blocked_page(request, {exc.field: exc.message}, form, status_code=422)
    target = safe_next(form["next"], "/portal/blocked")
    return RedirectResponse(target if target.startswith("/portal") else "/portal/blocked", status_code=303)


@view(roles=CLIENTS)
def unblock(request: Request):
    firm = request.state.user.tenant
    row = BlockedNumber.get_or_none((BlockedNumber.id == request.path_params["id"]) & (BlockedNumber.tenant == firm))
    if row is None:  # another firm's, or gone already
        raise HTTPException(404)
    BlockedNumber.unblock(firm, row.number, by=request.state.user)
    return RedirectResponse("/portal/blocked", status_code=303)
