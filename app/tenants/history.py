"""A firm's versions in the browser: the history, the diff between any two, restoring an old one."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..accounts.models import ADMIN
from ..i18n import _
from ..web.auth import firm_for, view
from ..web.templates import render
from . import store
from .config import TenantFileError
from .versions import TenantVersion

ADMINS = frozenset({ADMIN})


def _page(request: Request, tenant, *, notice: str = "", errors: list[str] | None = None,
          changes: dict | None = None, status_code: int = 200):
    versions = list(store.versions(tenant))
    return render(request, "firms/history.html", {
        "firm": tenant, "versions": versions, "notice": notice, "errors": errors or [], "changes": changes,
        "latest": versions[0].number if versions else 0,
    }, status_code=status_code)


@view(roles=ADMINS)
def history(request: Request):
    """Every version, newest first: when, who, how, what changed; pick two to compare; restore one."""
    tenant = firm_for(request, request.path_params["slug"])
    params, notice = request.query_params, ""
    if (restored := params.get("restored", "")).isdigit() and (made := params.get("as", "")).isdigit():
        notice = _("Version {old} restored: the firm is as it was then, saved as version {new}.").format(
            old=restored, new=made)
    elif restored.isdigit():
        notice = _("Version {old} is what the firm is already: nothing changed.").format(old=restored)
    return _page(request, tenant, notice=notice)


def _version_number(params, key: str, numbers: set[int], errors: dict) -> int | None:
    text = params.get(key, "").strip()
    if not text.isascii() or not text.isdigit() or int(text) not in numbers:
        errors[key] = _("Choose a version of this firm: a number from 1 to {n}.").format(n=max(numbers))
        return None
    return int(text)


@view(roles=ADMINS)
def diff(request: Request):
    """What differs between two versions (?from=3&to=5), key path by key path, old → new. Without
    numbers: the latest version against the one before."""
    tenant = firm_for(request, request.path_params["slug"])
    versions = {v.number: v for v in store.versions(tenant)}
    latest = max(versions)
    params = request.query_params
    if "from" not in params and "to" not in params:
        params = {"from": str(max(latest - 1, 1)), "to": str(latest)}
    errors: dict[str, str] = {}
    first = _version_number(params, "from", set(versions), errors)
    second = _version_number(params, "to", set(versions), errors)
    changes = None
    if not errors:
        changes = store.diff(versions[first].config, versions[second].config)
    return render(request, "firms/diff.html", {
        "firm": tenant, "errors": errors, "changes": changes,
        "picked": {"from": params.get("from", ""), "to": params.get("to", "")},
        "first": versions.get(first), "second": versions.get(second),
    }, status_code=422 if errors else 200)


@view(roles=ADMINS)
def restore(request: Request):
    """Save an old version again, as a new version, in one step. The form carries the version the page
    showed as the latest: a save made since then is not overwritten unseen."""
    tenant = firm_for(request, request.path_params["slug"])
    number = request.path_params["n"]
    if not TenantVersion.select().where(TenantVersion.tenant == tenant, TenantVersion.number == number).exists():
        raise HTTPException(404)
    expected = request.state.form.get("version", "")
    try:
        saved = store.restore(tenant, number, actor=request.state.user,
                              expected_version=int(expected) if expected.isascii() and expected.isdigit() else None,
                              default_region=request.app.state.settings.DEFAULT_REGION)
    except TenantFileError as exc:
        return _page(request, tenant, status_code=409, errors=[
            _("Version {n} cannot be restored as it is:").format(n=number),
            *(str(problem) for _source, problem in exc.problems)])
    except store.StaleVersion as stale:
        return _page(request, tenant, status_code=409, changes=stale.changes, errors=[
            _("Someone saved this firm (version {current}) after you opened this page, so nothing was restored. "
              "Their changes are below; look at the history again and decide.").format(current=stale.current)])
    query = {"restored": number, **({"as": saved.version.number} if saved.version else {})}
    return RedirectResponse(f"/firms/{tenant.slug}/history?{urlencode(query)}", status_code=303)
