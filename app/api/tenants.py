"""JSON API v1, firm configuration (interfaces.md, "Firm configuration"): the tenant file as JSON,
checked by the same validator as files and the editor, saved as versions, with optimistic locking."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..accounts.models import ADMIN, MANAGERS, STAFF_ROLES, User
from ..i18n import _
from ..tenants import store
from ..tenants.config import TenantFileError, from_json, validate
from ..reports import preview
from ..tenants.models import ReportRule, Tenant
from ..tenants.versions import TenantVersion
from .v1 import ApiError, endpoint, firm


def _require(user: User, roles) -> None:
    if user.role not in roles:
        raise ApiError(403, {"token": _("This token may not do this.")})


def config_json(tenant: Tenant) -> dict:
    return {**store.snapshot(tenant), "version": tenant.version}


def _validated(request: Request, body: dict, slug: str | None) -> dict:
    """The body checked as a tenant file would be: 422 keyed by the file's key path."""
    raw = from_json({k: v for k, v in body.items() if k != "version"})
    if slug is not None:
        raw.setdefault("slug", slug)
    config, problems = validate(raw, default_region=request.app.state.settings.DEFAULT_REGION)
    errors = _errors(problems)
    if slug is not None and config["slug"] != slug and "slug" not in errors:
        errors["slug"] = _("A firm's slug does not change: expected {slug}, as in the URL.").format(slug=slug)
    if errors:
        raise ApiError(422, errors)
    return config


def _errors(problems) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in problems:
        errors.setdefault(problem.path or "body", problem.message)
    return errors


def _save(user: User, config: dict, **kwargs) -> store.Saved:
    try:
        return store.save(config, actor=user, via="api", **kwargs)
    except TenantFileError as exc:
        raise ApiError(422, _errors(p for _source, p in exc.problems)) from exc
    except store.StaleVersion as exc:
        raise ApiError(412, {"version": _("Version {expected} is no longer the latest: version {current} was saved "
                                          "since. Read the firm again and apply your change to it.")
                                        .format(expected=exc.expected, current=exc.current)}) from exc


@endpoint
def list_tenants(request: Request, user: User, body) -> Response:
    _require(user, STAFF_ROLES)
    return JSONResponse({"tenants": [{"slug": t.slug, "name": t.name, "version": t.version} for t in Tenant.listed()]})


@endpoint
def get_tenant(request: Request, user: User, body) -> Response:
    tenant = firm(request, user)
    return JSONResponse(config_json(tenant), headers={"ETag": f'"{tenant.version}"'})


@endpoint
def create_tenant(request: Request, user: User, body: dict) -> Response:
    _require(user, {ADMIN})
    saved = _save(user, _validated(request, body, None), create=True)
    return JSONResponse(config_json(saved.tenant), status_code=201,
                        headers={"Location": f"/api/v1/tenants/{saved.tenant.slug}"})


@endpoint
def replace_tenant(request: Request, user: User, body: dict) -> Response:
    tenant = firm(request, user)
    _require(user, {ADMIN})
    expected = None
    if (match := request.headers.get("if-match")) is not None:
        try:
            expected = int(match.strip().removeprefix("W/").strip('"'))
        except ValueError:
            raise ApiError(412, {"version": _('If-Match must be a version number, such as "3".')}) from None
    config = _validated(request, body, tenant.slug)
    saved = _save(user, config, expected_version=expected)
    return JSONResponse(config_json(saved.tenant), headers={"ETag": f'"{saved.tenant.version}"'})


def version_json(version: TenantVersion, zone) -> dict:
    return {"version": version.number, "saved_at": version.saved_at.astimezone(zone).isoformat(),
            "saved_by": version.saved_by_label or None, "via": version.via, "note": version.note,
            "changes": list(version.changes)}


@endpoint
def list_versions(request: Request, user: User, body) -> Response:
    tenant = firm(request, user)
    _require(user, {ADMIN})
    return JSONResponse({"versions": [version_json(v, tenant.zone) for v in store.versions(tenant)]})


@endpoint
def get_version(request: Request, user: User, body) -> Response:
    tenant = firm(request, user)
    _require(user, {ADMIN})
    store.versions(tenant)  # a firm from before versions has its version 1 now
    version = TenantVersion.get_or_none(TenantVersion.tenant == tenant, TenantVersion.number == request.path_params["n"])
    if version is None:
        raise ApiError(404, {"n": _("This firm has no such version.")})
    return JSONResponse({**version.config, "version": version.number})


@endpoint
def preview_report(request: Request, user: User, body: dict) -> Response:
    """The report a run at ``at`` would make now (preview.py), without sending or recording anything."""
    tenant = firm(request, user)
    _require(user, MANAGERS)
    rule = ReportRule.get_or_none(ReportRule.tenant == tenant, ReportRule.key == request.path_params["key"])
    if rule is None:
        raise ApiError(404, {"key": _("This firm has no report with this key.")})
    if body.get("at") is None:
        at = preview.next_time(rule, tenant)
        if at is None:
            raise ApiError(422, {"at": _("This report has no scheduled time ahead: name one.")})
    elif (at := preview.parse_at(body["at"])) is None:
        raise ApiError(422, {"at": preview.bad_at()})
    made = preview.preview(request.app.state.settings, tenant, rule, at, forms={"sms"})
    rendered, zone = made.rendered, tenant.zone
    return JSONResponse({
        "period": {"since": made.start.astimezone(zone).isoformat(), "until": made.end.astimezone(zone).isoformat()},
        "messages": [m.id for m in made.messages],
        "email": {"subject": rendered.subject, "text": rendered.text, "html": rendered.html} if rendered else None,
        "sms": rendered.sms if rendered and "sms" in made.delivered else None,
        "skipped": made.skipped})
