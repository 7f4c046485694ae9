"""The staff's call log: every firm's calls, as the firm's own log shows them (app/calls/log.py), with
the firm and the operator of each, filtered by firm, operator, kind and period."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from ..accounts.models import MANAGERS, User
from ..calls import log
from ..i18n import _
from ..tenants.models import Tenant
from ..web import periods
from ..web.auth import view
from ..web.inputs import row_id
from ..web.templates import render

FILTERS = ("firm", "operator", "kind", "from", "to")


def chosen(params, errors: dict) -> tuple[list[Tenant], list[User], Tenant | None, User | None]:
    """Every firm and every staff user (for a filter's lists), and the ``firm`` (slug) and ``operator``
    (user id) a staff page's filter names; a name not in the lists is named in ``errors``."""
    firms, staff = list(Tenant.listed()), list(User.staff())
    firm = operator = None
    if slug := params.get("firm", ""):
        firm = next((f for f in firms if f.slug == slug), None)
        if firm is None:
            errors["firm"] = _("Choose a firm from the list.")
    if text := params.get("operator", ""):
        operator = next((u for u in staff if u.id == row_id(text)), None)
        if operator is None:
            errors["operator"] = _("Choose an operator from the list.")
    return firms, staff, firm, operator


@view(roles=MANAGERS)
def call_log(request: Request):
    """Newest first. Days are the chosen firm's, or the service's when every firm is shown."""
    params, errors = request.query_params, {}
    firms, staff, firm, operator = chosen(params, errors)
    kind = params.get("kind", "")
    if kind and kind not in log.KINDS:
        errors["kind"] = _("Choose a kind from the list.")
    zone = firm.zone if firm else periods.SERVICE_ZONE
    since, until = periods.days(params, zone, errors)
    after = log.after_cursor(params, errors)
    entries, next_cursor = [], None
    if not errors:
        entries, next_cursor = log.page(log.calls(firm, kind=kind or None, since=since, until=until, after=after,
                                                  operator=operator))
    names = {u.id: u.label for u in staff}
    # Whoever took a call and is no longer staff (their role changed) is still named.
    if gone := {e.call.claimed_by_id for e in entries} - set(names) - {None}:
        names.update((u.id, u.label) for u in User.select().where(User.id.in_(gone)))
    filters = {k: params.get(k, "") for k in FILTERS if params.get(k)}
    return render(request, "supervisor/calls.html", {
        "entries": entries, "kinds": log.KINDS, "filters": filters, "errors": errors, "firms": firms,
        "staff": staff, "names": names, "zone": zone.key,
        "next_url": f"/supervisor/calls?{urlencode({**filters, 'after': next_cursor})}" if next_cursor else None,
    }, status_code=422 if errors else 200)
