"""The firm editor: every key of the tenant file as a form, built from the declaration (schema.py).

The form's input names are the file's key paths (``call_types[1].label``), so turning a posted
form back into the raw tenant table is a walk over the declaration, the one validator checks it,
and each problem lands at the input of its path. Saving goes through ``store.save``: a diff first,
then the save against the version the form was loaded from.
"""

from __future__ import annotations

import hashlib
import json
import re
from types import SimpleNamespace
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import phones
from ..accounts.models import ADMIN
from ..i18n import _
from ..messages import forms
from ..web.auth import firm_for, view
from ..web.templates import render
from . import schema, store
from .changes import label_of
from .config import Problem, TenantFileError, validate
from .models import Tenant
from .schema import LISTS, SECTIONS, TENANT, Key
from .versions import TenantVersion

ABSENT = object()
PATH_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


# The form ⇄ the raw tenant table ---------------------------------------------------------------

def from_form(form: FormData, key: Key = TENANT, prefix: str = "") -> dict:
    """The raw tenant table a posted editor form stands for: what a file with the same content would
    hold (empty optional inputs left out, so they mean what an absent key means)."""
    raw = {}
    for sub in key.keys:
        path = f"{prefix}.{sub.name}" if prefix else sub.name
        value = _from_form(sub, form, path)
        if value is not ABSENT:
            raw[sub.name] = value
    return raw


def _from_form(key: Key, form: FormData, path: str) -> Any:
    if key.kind == "table":
        return from_form(form, key, path) if form.get(path) == "1" else ABSENT
    if key.kind == "tables":
        # Each item carries an input named by its own path, so an item with nothing filled in stays.
        item = re.compile(re.escape(path) + r"\[(\d+)\]")
        indexes = sorted({int(m.group(1)) for name in form.keys() if (m := item.fullmatch(name))})
        return [from_form(form, key, f"{path}[{i}]") for i in indexes] if indexes else ABSENT
    if key.kind == "bool":
        return form.get(path) == "1"
    if key.kind == "choices":
        return form.getlist(path) or ABSENT
    # Browsers send new lines in a textarea as CRLF; a file has LF.
    value = (form.get(path) or "").replace("\r\n", "\n").strip()
    if key.kind in ("strings", "times"):
        separators = r"\n" if key.kind == "strings" else r"[,、\s]"
        return [v.strip() for v in re.split(separators, value) if v.strip()] or ABSENT
    if key.kind == "int" and re.fullmatch(r"[0-9０-９,，]+", value):
        return int(re.sub(r"[,，]", "", value))
    if path not in form or not value and not key.required:
        return ABSENT
    return form.get(path).replace("\r\n", "\n")


def to_form(config: dict, key: Key = TENANT, region: str = "") -> dict:
    """The canonical configuration as the form shows it: phone numbers as people write them."""
    region = region or config["region"]
    values = {}
    for sub in key.keys:
        value = config.get(sub.name)
        if value is None or value is False and sub.kind == "calendar":
            continue
        if sub.kind == "table":
            value = to_form(value, sub, region)
        elif sub.kind == "tables":
            value = [to_form(item, sub, region) for item in value]
        elif sub.kind in ("phone", "mobile") and value:
            value = phones.display(value, region)
        values[sub.name] = value
    return values


def _steps(path: str) -> list:
    return [int(index) if index else name for name, index in PATH_STEP.findall(path)]


def _edit_list(raw: dict, action: str) -> str | None:
    """add / remove / up / down an item of a list of tables in ``raw``, as the item buttons ask
    (without JavaScript; with it, moves happen in the page). Returns the path to focus."""
    verb, _colon, path = action.partition(":")
    steps = _steps(path)
    # add names a list (reports[0].deliver), the others an item of one (reports[0].deliver[1]).
    if (not steps or verb not in ("add", "remove", "up", "down") or key_of_list(path) is None
            or isinstance(steps[-1], int) == (verb == "add")):
        return None
    parent: Any = raw
    try:
        for step in steps[:-1]:
            parent = parent[step]
        if verb == "add":
            items = parent.setdefault(steps[-1], []) if isinstance(parent, dict) else None
            items.append({})
            return f"{path}[{len(items) - 1}]"
        items, i = parent, steps[-1]
        if verb == "remove":
            del items[i]
            return path.rpartition("[")[0]
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(items):
            items[i], items[j] = items[j], items[i]
            return f"{path.rpartition('[')[0]}[{j}]"
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return path


def key_of_list(path: str) -> Key | None:
    key = schema.key_at(path)
    return key if key is not None and key.kind == "tables" else None


# Problems at their inputs, and the diff in words ----------------------------------------------

def input_of(path: str) -> str:
    """The input that shows a problem at ``path``: a list of text is one input, so ``[i]`` goes."""
    key = schema.key_at(path)
    if key is not None and key.kind in LISTS:
        return re.sub(r"\[\d+\]$", "", path)
    return path


def errors_of(problems: list[Problem]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for problem in problems:
        where = input_of(problem.path)
        errors[where] = f"{errors[where]} / {problem.message}" if where in errors else problem.message
    return errors


def fingerprint(config: dict) -> str:
    """Of the configuration the manager reviewed: a save of anything else shows the diff again."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


# Pages ------------------------------------------------------------------------------------------

def _editable(request: Request) -> Tenant:
    tenant = firm_for(request, request.path_params["slug"])
    if request.state.user.role != ADMIN:
        raise HTTPException(403)
    return tenant


def _page(request: Request, tenant: Tenant, values: dict, version: int, *, errors=None, diff=None,
          conflict=None, reviewed: str = "", focus: str | None = None, status_code: int = 200):
    staff = [(s.get("key", ""), s.get("name", "")) for s in values.get("staff", []) if isinstance(s, dict)]
    return render(request, "firms/edit.html", {
        "firm": tenant, "values": values, "version": version, "errors": errors or {}, "diff": diff,
        "problems": [{"path": path, "label": label_of(path), "message": message}
                     for path, message in (errors or {}).items()],
        "conflict": conflict, "reviewed": reviewed, "focus": focus, "sections": SECTIONS, "tenant_key": TENANT,
        "staff_keys": [k for k, _name in staff if k],
        # The staff choices (report recipients, 取次) show people by name; the key stays the value.
        "staff_names": {k: name for k, name in staff if k and name},
    }, status_code=status_code)


@view()
def edit(request: Request):
    tenant = _editable(request)
    if request.method == "GET":
        return _page(request, tenant, to_form(store.snapshot(tenant)), tenant.version)
    form = request.state.form
    raw = {**from_form(form), "slug": tenant.slug}  # a firm's slug is its address: it does not change here
    try:
        version = int(form.get("_version", ""))
    except ValueError:
        version = tenant.version
    action = form.get("_action", "check")
    if action not in ("check", "save"):
        focus = _edit_list(raw, action)
        return _page(request, tenant, raw, version, focus=focus)
    config, problems = validate(raw, default_region=request.app.state.settings.DEFAULT_REGION,
                                folder_slug=tenant.slug)
    if problems:
        return _page(request, tenant, raw, version, errors=errors_of(problems), status_code=422)
    changes = store.diff(store.snapshot(tenant), config)
    if action == "check" or form.get("_reviewed") != fingerprint(config):
        return _page(request, tenant, raw, version, diff=changes, reviewed=fingerprint(config))
    try:
        saved = store.save(config, actor=request.state.user, via="browser", expected_version=version)
    except store.StaleVersion as exc:
        theirs = TenantVersion.get_or_none(TenantVersion.tenant == tenant, TenantVersion.number == exc.current)
        conflict = {"current": exc.current, "by": theirs.saved_by_label if theirs else "",
                    "changes": exc.changes}
        return _page(request, tenant, raw, exc.current, conflict=conflict, status_code=409)
    except TenantFileError as exc:
        return _page(request, tenant, raw, version, errors=errors_of([p for _source, p in exc.problems]),
                     status_code=422)
    number = saved.version.number if saved.version else saved.tenant.version
    return RedirectResponse(f"/firms/{tenant.slug}?saved={number}", status_code=303)


@view()
def preview(request: Request):
    """The operator's screen pop as the unsaved form would make it."""
    _editable(request)
    return render(request, "firms/_preview.html", _preview_context(request, from_form(request.state.form)))


def _preview_context(request: Request, raw: dict) -> dict:
    config, _problems = validate(raw, default_region=request.app.state.settings.DEFAULT_REGION)
    all_forms = forms.forms_from_config(config)
    try:
        shown_type = int((request.state.form or {}).get("_preview_type", 0))
    except ValueError:
        shown_type = 0
    form = all_forms[shown_type] if 0 <= shown_type < len(all_forms) else all_forms[0]
    firm = SimpleNamespace(**{k: config[k] for k in ("name", "name_kana", "language", "answer_phrase",
                                                      "instructions", "region", "timezone", "slug")})
    return {"firm": firm, "call": SimpleNamespace(id="preview"), "form": form, "forms": all_forms,
            "shown_type": all_forms.index(form), "values": {}, "confirmed": {}, "category": form.category,
            "urgent": False, "categories": forms.category_choices(), "staff": config["staff"], "errors": {},
            "noise": forms.NOISE_LABELS, "saved_at": None}
