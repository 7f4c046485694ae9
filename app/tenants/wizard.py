"""A new firm in five minutes: the wizard (one page, checked as typed), then a test call to it.

The wizard builds a raw tenant table, exactly what a tenant file would hold, and sends it through the
one validator (config.validate) and the one door (store.save, via "wizard"); the firm's owner gets
the portal's invitation mail."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import phones
from ..accounts import firm_users
from ..accounts.models import ADMIN, User
from ..calls import service as call_service
from ..i18n import N_, _
from ..web.auth import firm_for, view
from ..web.templates import render
from . import store
from .config import EMAIL_RE, RESERVED_SLUGS, SLUG_RE, TenantFileError, validate
from .models import AFTER_HOURS_RULES, LANGUAGES, NUMBER_KINDS, WEEKDAYS, Tenant, TenantNumber

ADMINS = frozenset({ADMIN})
NUMBER_ROWS = 3
# Paths of their own under /firms/: a firm with one of these slugs could not be reached.

# The 名乗り a firm starts with, in its language; the manager edits it at will.
ANSWER_PHRASES = {"ja": "お電話ありがとうございます。{name}でございます。",
                  "en": "Thank you for calling {name}. How may I help you?"}
# The default call type, labelled in the firm's language.
MESSAGE_LABELS = {"ja": "伝言", "en": "Message"}


@dataclass(frozen=True)
class HoursTemplate:
    label: str
    days: dict[str, str] | None  # None: open 24 hours, no [hours] table


def _week(weekdays: str, sat: str = "") -> dict[str, str]:
    return {**{d: weekdays for d in WEEKDAYS[:5]}, "sat": sat, "sun": ""}


HOURS_TEMPLATES = {
    "weekdays-9-18": HoursTemplate(N_("Weekdays 9:00–18:00"), _week("09:00-18:00")),
    "weekdays-9-1730": HoursTemplate(N_("Weekdays 9:00–17:30"), _week("09:00-17:30")),
    "weekdays-830-1730": HoursTemplate(N_("Weekdays 8:30–17:30"), _week("08:30-17:30")),
    "weekdays-sat-am": HoursTemplate(N_("Weekdays 9:00–18:00 and Saturday mornings 9:00–12:00"),
                                     _week("09:00-18:00", "09:00-12:00")),
    "always": HoursTemplate(N_("24 hours, every day"), None),
}
CUSTOM = "custom"  # the day fields as typed


def blank_form() -> dict:
    return {"name": "", "name_kana": "", "slug": "", "language": "ja", "answer_phrase": "",
            "numbers": [{"number": "", "kind": "forwarded"} for _ in range(NUMBER_ROWS)],
            "hours_template": "weekdays-9-18", "hours": dict(HOURS_TEMPLATES["weekdays-9-18"].days),
            "holidays": True, "after_hours": "answer", "after_hours_message": "", "report_at": "18:00",
            "owner_name": "", "owner_email": ""}


def read_form(data) -> dict:
    """The posted wizard, as typed (every value kept to show again with the errors)."""
    form = blank_form()
    for key in ("name", "name_kana", "slug", "language", "answer_phrase", "hours_template", "after_hours",
                "after_hours_message", "report_at", "owner_name", "owner_email"):
        form[key] = data.get(key, "").strip()
    numbers, kinds = data.getlist("number"), data.getlist("kind")
    form["numbers"] = [{"number": (numbers[i] if i < len(numbers) else "").strip(),
                        "kind": kinds[i] if i < len(kinds) else "forwarded"} for i in range(NUMBER_ROWS)]
    form["hours"] = {d: data.get(f"hours-{d}", "").strip() for d in WEEKDAYS}
    form["holidays"] = data.get("holidays") == "on"
    if not form["answer_phrase"] and form["name"]:
        form["answer_phrase"] = ANSWER_PHRASES.get(form["language"], ANSWER_PHRASES["ja"]).format(name=form["name"])
    return form


def raw_table(form: dict) -> tuple[dict, list[int]]:
    """The tenant table the wizard's answers make, and for each of its numbers the form row it came
    from (to put a number's problem at its field)."""
    rows = [i for i, n in enumerate(form["numbers"]) if n["number"]]
    raw = {"slug": form["slug"], "name": form["name"], "name_kana": form["name_kana"],
           "language": form["language"], "answer_phrase": form["answer_phrase"],
           "numbers": [form["numbers"][i] for i in rows]}
    template = HOURS_TEMPLATES.get(form["hours_template"])
    days = template.days if template else form["hours"]
    if days is not None:
        raw["hours"] = {**days, "closed_on_holidays": "JP" if form["holidays"] else False,
                        "after_hours": form["after_hours"] or "answer"}
        if form["after_hours_message"]:
            raw["hours"]["after_hours_message"] = form["after_hours_message"]
    label = MESSAGE_LABELS.get(form["language"], MESSAGE_LABELS["ja"])
    raw["call_types"] = [{"key": "message", "label": label, "category": "message",
                          "fields": ["caller_company", "caller_name", "callback_number", "body"],
                          "required": ["caller_name", "callback_number"],
                          "readback": ["caller_name", "callback_number"]}]
    raw["reports"] = [{"key": "evening", "at": [form["report_at"]], "days": list(WEEKDAYS[:5]),
                       "skip_holidays": days is not None and form["holidays"],
                       "deliver": [{"channel": "email", "to": [form["owner_email"]]}]}]
    return raw, rows


def field_of(path: str, rows: list[int]) -> str:
    """The wizard's field for a key path of the tenant file."""
    if match := re.match(r"numbers\[(\d+)\]", path):
        return f"number-{rows[int(match[1])]}" if int(match[1]) < len(rows) else "number-0"
    if path == "numbers":
        return "number-0"
    if path.startswith("hours."):
        key = path.split(".", 1)[1]
        return f"hours-{key}" if key in WEEKDAYS else {"closed_on_holidays": "holidays"}.get(key, key)
    if path.startswith("reports[0].at"):
        return "report_at"
    if path.startswith("reports[0].deliver"):
        return "owner_email"
    return path if path in ("slug", "name", "name_kana", "language", "answer_phrase") else "general"


def _own_checks(form: dict) -> dict[str, str]:
    """What the file format does not know: the owner's address and account, the form's own choices."""
    errors = {}
    if form["hours_template"] not in (*HOURS_TEMPLATES, CUSTOM):
        errors["hours_template"] = _("Choose the firm's hours.")
    if form["after_hours"] not in AFTER_HOURS_RULES:
        errors["after_hours"] = _("Choose what callers get outside the hours.")
    if form["language"] not in LANGUAGES:
        errors["language"] = _("Choose a language from the list.")
    for i, entry in enumerate(form["numbers"]):
        if entry["kind"] not in NUMBER_KINDS:
            errors[f"number-{i}"] = _("Choose whether the number is forwarded or dedicated.")
    email = User.normalise_email(form["owner_email"])
    if not EMAIL_RE.match(email):
        errors["owner_email"] = _("Enter the owner's e-mail address, such as tanaka@example.co.jp.")
    elif User.by_email(email) is not None:
        errors["owner_email"] = _("{email} already has a Dengon account; a firm's owner needs an address of "
                                  "their own.").format(email=email)
    if len(form["owner_name"]) > User.name.max_length:
        errors["owner_name"] = _("At most {n} characters.").format(n=User.name.max_length)
    return errors


@dataclass
class Outcome:
    tenant: Tenant | None = None  # None: nothing was saved
    errors: dict[str, str] = field(default_factory=dict)  # by the wizard's field
    invited: str = ""  # the address the owner's invitation went to
    invite_error: str = ""  # why it could not be sent (the firm is saved all the same)


def create(settings, form: dict, user: User) -> Outcome:
    """Validate and save the new firm (version 1, via "wizard"), then invite its owner."""
    raw, rows = raw_table(form)
    config, problems = validate(raw, default_region=settings.DEFAULT_REGION)
    errors = _own_checks(form)
    for problem in problems:
        errors.setdefault(field_of(problem.path, rows), problem.message)
    # Every problem at once: store.save would name a number another firm has only once the rest is right.
    for i, entry in enumerate(config["numbers"]):
        if entry["number"] and (owner := number_owner(entry["number"])) is not None:
            errors.setdefault(f"number-{rows[i]}", _("{number} is already the number of {firm}.").format(
                number=phones.display(entry["number"], config["region"]), firm=owner.name))
    if errors:
        return Outcome(errors=errors)
    try:
        tenant = store.save(config, actor=user, via="wizard", create=True).tenant
    except TenantFileError as exc:
        for _source, problem in exc.problems:
            errors.setdefault(field_of(problem.path, rows), problem.message)
        return Outcome(errors=errors)
    try:
        invitation = firm_users.invite(settings, tenant, user, form["owner_email"], form["owner_name"])
    except firm_users.Problems as problems:
        return Outcome(tenant, invite_error=" ".join(problems.errors.values()))
    return Outcome(tenant, invited=invitation.email)


def _wizard(request: Request, form: dict, errors: dict | None = None, status_code: int = 200):
    return render(request, "firms/new.html", {
        "form": form, "errors": errors or {}, "templates": HOURS_TEMPLATES, "weekdays": WEEKDAYS,
        "phrases": ANSWER_PHRASES, "kinds": NUMBER_KINDS, "rules": AFTER_HOURS_RULES,
    }, status_code=status_code)


@view(roles=ADMINS)
def new(request: Request):
    if request.method == "GET":
        return _wizard(request, blank_form())
    form = read_form(request.state.form)
    outcome = create(request.app.state.settings, form, request.state.user)
    if outcome.tenant is None:
        return _wizard(request, form, outcome.errors, status_code=422)
    tenant = outcome.tenant
    return render(request, "firms/created.html", {
        "firm": tenant, "outcome": outcome, "numbers": list(tenant.numbers.order_by(TenantNumber.position)),
        "report": tenant.reports.first(),
    })


def number_owner(number: str) -> Tenant | None:
    """The firm that has this number (E.164), if any."""
    return Tenant.select().join(TenantNumber).where(TenantNumber.number == number).first()


def _check(request: Request, ok: bool, text: str):
    return render(request, "firms/_check.html", {"ok": ok, "text": text})


@view(roles=ADMINS)
def check_slug(request: Request):
    """As the slug is typed: its shape, and whether a firm has it."""
    slug = request.query_params.get("slug", "").strip()
    if not slug:
        return _check(request, False, "")
    if not SLUG_RE.match(slug):
        return _check(request, False, _("2–40 lower-case letters, digits and hyphens, such as yamada-law."))
    if slug in RESERVED_SLUGS:
        return _check(request, False, _("“{slug}” is a page of its own: choose another slug.").format(slug=slug))
    if (other := Tenant.by_slug(slug)) is not None:
        return _check(request, False, _("Already the slug of {firm}.").format(firm=other.name))
    return _check(request, True, _("Free: the firm's page will be /firms/{slug}.").format(slug=slug))


@view(roles=ADMINS)
def check_number(request: Request):
    """As a number is typed: whether it is a phone number, and whether another firm has it."""
    text = request.query_params.get("number", "").strip()
    region = request.app.state.settings.DEFAULT_REGION
    if not text:
        return _check(request, True, "")
    try:
        number = phones.to_e164(text, region)
    except phones.InvalidNumber:
        return _check(request, False, _("Not a valid phone number: write it like 03-1234-5678 or 050-1234-5678."))
    if (owner := number_owner(number)) is not None:
        return _check(request, False, _("{number} is already the number of {firm}.").format(
            number=phones.display(number, region), firm=owner.name))
    return _check(request, True, _("{number}: no firm has it yet.").format(number=phones.display(number, region)))


@view(roles=ADMINS)
def test_call(request: Request):
    """Call the firm as a caller would, and open the screen pop its operators will see."""
    tenant = firm_for(request, request.path_params["slug"])
    try:
        call = call_service.test_call(tenant, request.state.user, request.app.state.settings.DEFAULT_REGION)
    except call_service.NoTestCall:
        raise HTTPException(409) from None
    return RedirectResponse(f"/console/calls/{call.id}", status_code=303)
