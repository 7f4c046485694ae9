"""Change requests in the portal (/portal/requests): the firm's owner proposes new instructions,
staff, hours or report recipients, starting from the current values; every client user of the
firm sees the requests and what became of them."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import phones
from ..accounts.models import CLIENT
from ..tenants import requests as change_requests, store
from ..tenants.config import Problem
from ..tenants.schema import TENANT
from ..tenants.models import WEEKDAYS
from ..tenants.requests import ChangeRequest
from ..web.auth import view
from ..web.templates import render

CLIENTS = frozenset({CLIENT})
STAFF_FIELDS = TENANT.sub("staff").names[1:]  # the key is ours to give, not the firm's to type
PHONE_FIELDS = ("mobile", "fax")
# Mon–Fri 9–18: what a firm answered around the clock starts from when it chooses hours.
USUAL_HOURS = {d: "09:00-18:00" if d not in ("sat", "sun") else "" for d in WEEKDAYS}


def form_from(config: dict) -> dict:
    """The form prefilled with the firm's current values, as a person writes them."""
    region, hours = config["region"], config["hours"]
    return {
        "instructions": config["instructions"],
        "staff": [{"key": s["key"], "remove": False,
                   **{f: phones.display(s[f], region) if f in PHONE_FIELDS and s[f] else s[f] for f in STAFF_FIELDS}}
                  for s in config["staff"]] + [_blank_person()],
        "always_open": hours is None,
        "hours": {d: hours[d].replace(",", ", ") for d in WEEKDAYS} if hours else dict(USUAL_HOURS),
        "closed_on_holidays": (hours or {}).get("closed_on_holidays") or "",
        "after_hours": hours["after_hours"] if hours else "answer",
        "after_hours_message": hours["after_hours_message"] if hours else "",
        "reports": [{"key": r["key"], "deliver": [
            {"channel": d["channel"], "to_staff": d["to_staff"],
             "to": "\n".join(phones.display(t, region) if d["channel"] != "email" else t for t in d["to"])}
            for d in r["deliver"]]} for r in config["reports"]],
        "note": "",
    }


def _blank_person() -> dict:
    return {"key": "", "remove": False, **{f: "" for f in STAFF_FIELDS}}


def form_posted(posted, config: dict) -> dict:
    """What the owner typed, kept whole to show again. Reports and their deliveries are the firm's
    own: only their recipients come from the form."""
    data = _Lines(posted)
    current_keys = {s["key"] for s in config["staff"]}
    staff = []
    for row in range(_count(data.get("staff_rows"))):
        key = data.get(f"staff-{row}-key", "")
        staff.append({"key": key if key in current_keys else "", "remove": bool(data.get(f"staff-{row}-remove")),
                      **{f: data.get(f"staff-{row}-{f}", "") for f in STAFF_FIELDS}})
    if data.get("action") == "add-person":
        staff.append(_blank_person())
    return {
        "instructions": data.get("instructions", ""),
        "staff": staff,
        "always_open": bool(data.get("always_open")),
        "hours": {d: data.get(f"hours-{d}", "") for d in WEEKDAYS},
        "closed_on_holidays": data.get("closed_on_holidays", ""),
        "after_hours": data.get("after_hours", ""),
        "after_hours_message": data.get("after_hours_message", ""),
        "reports": [{"key": r["key"], "deliver": [
            {"channel": d["channel"], "to": data.get(f"report-{i}-deliver-{j}-to", ""),
             "to_staff": data.getlist(f"report-{i}-deliver-{j}-to_staff")}
            for j, d in enumerate(r["deliver"])]} for i, r in enumerate(config["reports"])],
        "note": data.get("note", ""),
    }


class _Lines:
    """The posted form with browsers' CRLF line ends as the "\\n" the configuration keeps: an
    untouched text box is no change."""

    def __init__(self, form):
        self.form = form

    def get(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).replace("\r\n", "\n")

    def getlist(self, name: str) -> list[str]:
        return self.form.getlist(name)


def _count(text) -> int:
    return min(int(text), 200) if text and text.isdigit() else 0


def sections(form: dict) -> tuple[dict, list[int]]:
    """The form as the tenant file's sections (what the validator reads), and for each person kept
    the form row they came from (problems name people by their place in the file)."""
    rows, people = [], []
    taken = {p["key"] for p in form["staff"] if p["key"]}
    for row, person in enumerate(form["staff"]):
        if person["remove"] or (not person["key"] and not any(person[f].strip() for f in STAFF_FIELDS)):
            continue
        key = person["key"] or _new_key(person, taken)
        people.append({"key": key, **{f: person[f] for f in STAFF_FIELDS}})
        rows.append(row)
    hours = None if form["always_open"] else {
        **form["hours"], "closed_on_holidays": form["closed_on_holidays"] or False,
        "after_hours": form["after_hours"], "after_hours_message": form["after_hours_message"]}
    recipients = {r["key"]: [{"channel": d["channel"], "to_staff": d["to_staff"],
                              "to": [t.strip() for t in re.split(r"[\n,、]", d["to"]) if t.strip()]}
                             for d in r["deliver"]] for r in form["reports"]}
    return {"instructions": form["instructions"], "staff": people, "hours": hours, "recipients": recipients}, rows


def _new_key(person: dict, taken: set[str]) -> str:
    """A key for someone new: from their e-mail address when it gives one, else staff-N."""
    base = re.sub(r"[^a-z0-9-]+", "-", person["email"].split("@")[0].lower()).strip("-")[:30] or "staff"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    taken.add(key)
    return key


def field_errors(problems: list[Problem], rows: list[int]) -> dict[str, str]:
    """Each problem at the form field it is about (the first one per field); those about no field
    of the form under "general", with their key path."""
    errors: dict[str, str] = {}
    for p in problems:
        where = _field(p.path, rows)
        errors.setdefault(where or "general", p.message if where else str(p))
    return errors


def _field(path: str, rows: list[int]) -> str | None:
    if path == "instructions":
        return "instructions"
    if m := re.fullmatch(r"staff\[(\d+)\]\.(\w+)", path):
        row, name = rows[int(m[1])], m[2]
        return f"staff-{row}-{'name' if name == 'key' else name}"
    if m := re.fullmatch(r"hours\.(\w+)", path):
        return f"hours-{m[1]}" if m[1] in WEEKDAYS else m[1]
    if m := re.fullmatch(r"reports\[(\d+)\]\.deliver\[(\d+)\](?:\.(to|to_staff)(?:\[\d+\])?)?", path):
        return f"report-{m[1]}-deliver-{m[2]}-{m[3] or 'to'}"
    if re.fullmatch(r"reports\[\d+\]\.skip_holidays", path):
        return "closed_on_holidays"  # the report skips holidays: the firm needs a holiday calendar
    return None


def _page(request: Request, firm, config: dict, *, form=None, errors=None, status_code=200):
    sent = request.query_params.get("sent", "")
    return render(request, "portal/requests.html", {
        "firm": firm, "config": config, "form": form or form_from(config), "errors": errors or {},
        "requests": list(ChangeRequest.of_firm(firm)), "sent": int(sent) if sent.isdigit() else None,
        "staff_names": {s["key"]: s["name"] for s in config["staff"]},
        "status_labels": change_requests.STATUS_LABELS,
        "open_sections": {_section(name) for name in errors or {}},
    }, status_code=status_code)


def _section(field: str) -> str:
    """The part of the form a field is in: it opens to show its error."""
    if field.startswith("staff-"):
        return "staff"
    if field.startswith("report-"):
        return "recipients"
    if field.startswith(("hours", "closed_on_holidays", "after_hours")):
        return "hours"
    return field


def _owner(request: Request):
    """Every client user of the firm sees its requests; only its owner proposes or withdraws."""
    user = request.state.user
    if not user.is_owner:
        raise HTTPException(403)
    return user


@view(roles=CLIENTS)
def requests_page(request: Request):
    firm = request.state.user.tenant
    config = store.snapshot(firm)
    if request.method == "GET":
        return _page(request, firm, config)
    owner = _owner(request)
    form = form_posted(request.state.form, config)
    if request.state.form.get("action") == "add-person":
        return _page(request, firm, config, form=form)
    proposed, rows = sections(form)
    try:
        made = change_requests.propose(firm, owner, proposed, form["note"],
                                       default_region=request.app.state.settings.DEFAULT_REGION)
    except change_requests.Invalid as invalid:
        return _page(request, firm, config, form=form, errors=field_errors(invalid.problems, rows), status_code=422)
    return RedirectResponse(f"/portal/requests?sent={made.id}", status_code=303)


@view(roles=CLIENTS)
def withdraw(request: Request):
    user = request.state.user
    found = ChangeRequest.get_or_none((ChangeRequest.id == request.path_params["id"])
                                      & (ChangeRequest.tenant == user.tenant_id))
    if found is None:
        raise HTTPException(404)
    try:
        change_requests.withdraw(found, _owner(request))
    except change_requests.AlreadyDecided:
        pass  # decided meanwhile: the list shows how
    return RedirectResponse("/portal/requests", status_code=303)
