"""The figures pages: supervisors' (every firm, or one; every operator, or one), an operator's own on
the console, a firm's own in the portal; each with its tables as CSV."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .. import i18n
from ..days import SERVICE_ZONE
from ..accounts.models import CLIENT, MANAGERS, STAFF_ROLES, User
from ..supervisor.calls import chosen
from ..i18n import N_, _
from ..tenants.models import Tenant
from ..web import periods
from ..web.auth import view
from ..web.templates import render
from . import report as kpi
from .figures import KEYS

TABLES = ("intervals", "firms", "operators")
FIELD_NAMES = {"period": N_("Period"), "from": N_("First day"), "to": N_("Last day"), "interval": N_("Interval"),
               "firm": N_("Firm"), "operator": N_("Operator"), "table": N_("Table")}


def _filters(request: Request, names) -> dict:
    return {k: request.query_params[k] for k in names if request.query_params.get(k)}


def _read(request: Request, zone, errors: dict) -> kpi.Period:
    return kpi.read_period(request.query_params, zone, dt.datetime.now(dt.timezone.utc), errors)


def _render(request: Request, page: str, context: dict, errors: dict):
    context = {**context, "errors": errors, "field_names": {k: _(v) for k, v in FIELD_NAMES.items()},
               "labels": {k: _(v) for k, v in kpi.LABELS.items()}, "short": kpi.SHORT, "keys": KEYS,
               "shown": kpi.shown, "presets": periods.PRESETS, "intervals": kpi.INTERVAL_LABELS, "page": page,
               # What the preset links keep of the filters: whose figures, not which days or intervals.
               "keep": {k: v for k, v in context["filters"].items() if k in ("firm", "operator")}}
    return render(request, "stats/page.html", context, status_code=422 if errors else 200)


def _table(request: Request, allowed: tuple[str, ...], errors: dict) -> str:
    """The table a CSV download asks for (``table``, default the intervals)."""
    table = request.query_params.get("table", "intervals")
    if table not in allowed:
        errors["table"] = _("Choose a table from the list.")
    return table


def _csv(report: kpi.Report | None, table: str, errors: dict, name: str) -> Response:
    if errors or report is None:
        return PlainTextResponse("\n".join(f"{_(FIELD_NAMES.get(k, k))}: {v}" for k, v in errors.items()),
                                 status_code=422)
    period = report.period
    filename = f"figures-{name + '-' if name else ''}{period.first:%Y%m%d}-{period.last:%Y%m%d}-{table}.csv"
    return Response(kpi.csv_bytes(report, table, i18n.current_locale()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _supervisors_report(request: Request, csv_table: bool = False):
    errors: dict = {}
    firms, staff, firm, operator = chosen(request.query_params, errors)
    period = _read(request, firm.zone if firm else SERVICE_ZONE, errors)
    # One operator's figures have no per-firm or per-operator table.
    table = _table(request, TABLES if operator is None else ("intervals",), errors) if csv_table else None
    report = None
    if not errors:
        report = kpi.build(period, service_level=request.app.state.settings.service_level_seconds, tenant=firm,
                           operator=operator, per_firm=True, per_operator=operator is None, only=table)
    return report, period, errors, {"firms": firms, "staff": staff, "firm": firm, "operator": operator,
                                    "table": table}


@view(roles=MANAGERS)
def supervisors(request: Request):
    """Every firm's figures, or one firm's, or one operator's; per interval, per firm, per operator."""
    report, period, errors, context = _supervisors_report(request)
    filters = _filters(request, ("period", "from", "to", "interval", "firm", "operator"))
    return _render(request, "supervisor", {
        **context, "report": report, "period": period, "filters": filters, "action": "/supervisor/stats",
        "csv": f"/supervisor/stats.csv?{urlencode(filters)}", "title": _("Figures"),
    }, errors)


@view(roles=MANAGERS)
def supervisors_csv(request: Request):
    report, _period, errors, context = _supervisors_report(request, csv_table=True)
    return _csv(report, context["table"], errors, context["firm"].slug if context["firm"] else "")


def _own_report(request: Request, *, tenant: Tenant | None = None, operator: User | None = None,
                csv_table: bool = False):
    errors: dict = {}
    period = _read(request, tenant.zone if tenant else SERVICE_ZONE, errors)
    table = _table(request, ("intervals",), errors) if csv_table else None
    report = None
    if not errors:
        report = kpi.build(period, service_level=request.app.state.settings.service_level_seconds, tenant=tenant,
                           operator=operator, only=table)
    return report, period, errors


@view(roles=STAFF_ROLES)
def operators_own(request: Request):
    """An operator's own figures: the calls they took and the messages they took, nobody else's."""
    report, period, errors = _own_report(request, operator=request.state.user)
    filters = _filters(request, ("period", "from", "to", "interval"))
    return _render(request, "console", {
        "report": report, "period": period, "filters": filters, "action": "/console/stats",
        "csv": f"/console/stats.csv?{urlencode(filters)}", "title": _("My figures"),
    }, errors)


@view(roles=STAFF_ROLES)
def operators_own_csv(request: Request):
    report, _period, errors = _own_report(request, operator=request.state.user, csv_table=True)
    return _csv(report, "intervals", errors, "")


def _firm(request: Request) -> Tenant:
    """The client's own firm; naming another in ``firm`` is 404, as every other firm's page is."""
    firm = request.state.user.tenant
    if request.query_params.get("firm", firm.slug) != firm.slug:
        raise HTTPException(404)
    return firm


@view(roles=frozenset({CLIENT}))
def firms_own(request: Request):
    """The firm's own figures: its calls, in its time zone."""
    firm = _firm(request)
    report, period, errors = _own_report(request, tenant=firm)
    filters = _filters(request, ("period", "from", "to", "interval"))
    return _render(request, "portal", {
        "report": report, "period": period, "filters": filters, "action": "/portal/stats", "firm": firm,
        "csv": f"/portal/stats.csv?{urlencode(filters)}", "title": _("Figures"),
    }, errors)


@view(roles=frozenset({CLIENT}))
def firms_own_csv(request: Request):
    firm = _firm(request)
    report, _period, errors = _own_report(request, tenant=firm, csv_table=True)
    return _csv(report, "intervals", errors, firm.slug)
