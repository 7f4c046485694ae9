"""The message form of each call type, and the one validator both doors use (the console's form and
the JSON API): the call type's fields in order, required ones filled, values of their type, and
every read-back field confirmed for the very value saved."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .. import phones
from ..i18n import N_, _
from ..tenants.config import DEFAULT_CALL_TYPE
from ..tenants.labels import CATEGORY_LABELS, FIELD_LABELS
from ..tenants.models import CATEGORIES, CallType, CallTypeField, Staff, Tenant, by_version

# Calls nobody needs a message for: recorded with one click, no name asked, nothing read back.
NOISE_CATEGORIES = ("sales", "wrong_number", "prank", "silent", "hangup")
# Standard fields whose type is not plain text.
STANDARD_TYPES = {"callback_number": "phone", "body": "textarea", "for_staff": "staff"}
MAX_LENGTH = {"textarea": 4000}
DEFAULT_MAX_LENGTH = 200
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # a catalogue message id for a standard field, the firm's own words for an extra one
    type: str  # text, textarea, phone, email, date, select, staff
    required: bool = False
    readback: bool = False
    options: tuple[str, ...] = ()
    standard: bool = True

    @property
    def title(self) -> str:
        return _(self.label) if self.standard else self.label


@dataclass(frozen=True)
class Form:
    key: str
    label: str
    category: str
    script: str
    fields: tuple[Field, ...]
    urgent: bool = False  # its messages start marked urgent
    transfer_to_staff: tuple[str, ...] = ()  # staff keys the call may be put through to (取次)

    @property
    def title(self) -> str:
        return self.label or _("Message")

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


def _standard(key: str, required: bool, readback: bool) -> Field:
    return Field(key, FIELD_LABELS[key], STANDARD_TYPES.get(key, "text"), required, readback)


DEFAULT_FORM = Form(
    DEFAULT_CALL_TYPE["key"], "", DEFAULT_CALL_TYPE["category"], "",
    tuple(_standard(k, k in DEFAULT_CALL_TYPE["required"], k in DEFAULT_CALL_TYPE["readback"])
          for k in DEFAULT_CALL_TYPE["fields"]))


def forms_of(tenant: Tenant) -> list[Form]:
    """The firm's call types with their forms, in the firm's order; the default one when it has none.
    Read once per version of the firm's configuration (every save reads them, twice)."""
    return list(by_version(tenant, "forms", lambda t: tuple(forms_by_tenant([t.id])[t.id])))


def forms_by_tenant(tenant_ids: list[int]) -> dict[int, list[Form]]:
    """``forms_of`` for many firms in two queries (a report time renders hundreds)."""
    types = list(CallType.select().where(CallType.tenant.in_(tenant_ids)).order_by(CallType.position))
    by_type: dict[int, list[Field]] = {t.id: [] for t in types}
    if by_type:
        for f in (CallTypeField.select().where(CallTypeField.call_type.in_(list(by_type)))
                  .order_by(CallTypeField.position)):
            by_type[f.call_type_id].append(
                _standard(f.key, f.required, f.readback) if f.standard else
                Field(f.key, f.label, f.type, f.required, f.readback, tuple(f.options or ()), standard=False))
    found: dict[int, list[Form]] = {tenant_id: [] for tenant_id in tenant_ids}
    for t in types:
        found[t.tenant_id].append(Form(t.key, t.label, t.category, t.script, tuple(by_type[t.id]), t.urgent,
                                       tuple(t.transfer_to_staff or ())))
    return {tenant_id: forms or [DEFAULT_FORM] for tenant_id, forms in found.items()}


def forms_from_config(config: dict) -> list[Form]:
    """``forms_of`` for a configuration not saved yet (the editor's preview)."""
    found = [Form(ct["key"], ct["label"], ct["category"], ct["script"], tuple(
        [_standard(k, k in ct["required"], k in ct["readback"]) for k in ct["fields"]] +
        [Field(f["key"], f["label"], f["type"], f["required"], f["readback"], tuple(f["options"] or ()),
               standard=False) for f in ct["extra_fields"]]), ct["urgent"], tuple(ct["transfer_to_staff"]))
        for ct in config["call_types"]]
    return found or [DEFAULT_FORM]


def form_of(tenant: Tenant, key: str | None) -> Form | None:
    """The call type ``key`` of the firm (its first when ``key`` is empty), or None."""
    forms = forms_of(tenant)
    if not key:
        return forms[0]
    return next((f for f in forms if f.key == key), None)


@dataclass
class Entry:
    """What somebody submitted, from either door."""

    call_type: str | None = None
    category: str | None = None
    urgent: bool | None = False  # None: as the call type presets it
    fields: dict[str, str] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)  # read-back fields confirmed for the value given


@dataclass
class Clean:
    form: Form
    category: str
    urgent: bool
    fields: dict[str, str]  # filled fields only, in the form's order, normalised (phone numbers in E.164)
    readback: list[str]  # the filled read-back fields, all confirmed
    labels: dict[str, str]  # the firm-specific fields' labels


def normalise(f: Field, value: str, tenant: Tenant, staff: list[Staff]) -> tuple[str, str | None]:
    """``value`` as stored, and the problem with it (None when fine). Empty stays empty."""
    value = (value or "").strip()
    if not value:
        return "", None
    limit = MAX_LENGTH.get(f.type, DEFAULT_MAX_LENGTH)
    if len(value) > limit:
        return value, _("At most {n} characters.").format(n=limit)
    if f.type == "phone":
        try:
            return phones.to_e164(value, tenant.region), None
        except phones.InvalidNumber:
            return value, _("Not a valid phone number in region {region}.").format(region=tenant.region)
    if f.type == "email":
        return (value, None) if EMAIL_RE.match(value) else (value, _("Not a valid e-mail address."))
    if f.type == "date":
        try:
            return dt.date.fromisoformat(value).isoformat(), None
        except ValueError:
            return value, _("Expected a date (YYYY-MM-DD).")
    if f.type == "select":
        if value not in f.options:
            return value, _("Expected one of: {options}.").format(options=", ".join(f.options))
    if f.type == "staff":
        # One of the firm's people (stored by key), or whoever the caller named, as typed.
        squeezed = value.replace(" ", "").replace("\u3000", "")
        for person in staff:
            if value == person.key or squeezed == person.name.replace(" ", "").replace("\u3000", ""):
                return person.key, None
    return value, None


def same_value(f: Field, a: str, b: str, tenant: Tenant, staff: list[Staff]) -> bool:
    """Whether two entries of a field say the same (090-1234-5678 is 09012345678)."""
    return normalise(f, a, tenant, staff)[0] == normalise(f, b, tenant, staff)[0]


def check(tenant: Tenant, entry: Entry, *, enforce_readback: bool = True) -> tuple[Clean | None, dict[str, str]]:
    """Validate ``entry`` for ``tenant``: the cleaned message, or None and {field: problem}.
    Noise calls (sales, wrong number, …) need no field and no read-back."""
    errors: dict[str, str] = {}
    form = form_of(tenant, entry.call_type)
    if form is None:
        return None, {"call_type": _("This firm has no call type {key}.").format(key=entry.call_type)}
    category = entry.category or form.category
    if category not in CATEGORIES:
        errors["category"] = _("Expected one of: {options}.").format(options=", ".join(CATEGORIES))
    noise = category in NOISE_CATEGORIES
    # The firm's people, to recognise an addressee by name: read only when one is given.
    staff = list(tenant.staff) if any(f.type == "staff" and (entry.fields.get(f.key) or "").strip()
                                      for f in form.fields) else []
    fields, readback = {}, []
    for key in entry.fields:
        if form.field(key) is None:
            errors[key] = _("Not a field of the call type {label}.").format(label=form.title)
    for f in form.fields:
        value, problem = normalise(f, entry.fields.get(f.key, ""), tenant, staff)
        if problem:
            errors[f.key] = problem
        elif not value:
            if f.required and not noise:
                errors[f.key] = _("Required.")
        else:
            fields[f.key] = value
            if f.readback and not noise:
                if f.key in entry.confirmed:
                    readback.append(f.key)
                elif enforce_readback:
                    errors[f.key] = _("Read this back to the caller and confirm it.")
    if errors:
        return None, errors
    labels = {f.key: f.label for f in form.fields if not f.standard}
    urgent = entry.urgent if entry.urgent is not None else form.urgent and not noise
    return Clean(form, category, bool(urgent), fields, readback, labels), {}


def rows_of(message, form: Form | None) -> list[dict]:
    """A saved message's fields as shown (screens, reports): the call type's labels, a firm-specific
    field's label as it was when taken, each with its read-back mark."""
    rows = []
    for key, value in message.fields.items():
        f = form.field(key) if form else None
        title = f.title if f else message.labels.get(key) or (_(FIELD_LABELS[key]) if key in FIELD_LABELS else key)
        rows.append({"key": key, "title": title, "value": value, "type": f.type if f else STANDARD_TYPES.get(key, "text"),
                     "readback": message.readback.get(key)})
    return rows


def category_choices() -> list[tuple[str, str]]:
    return [(key, _(CATEGORY_LABELS[key])) for key in CATEGORIES]


NOISE_LABELS = {"sales": N_("Sales"), "wrong_number": N_("Wrong number"), "prank": N_("Prank"),
                "silent": N_("Silent"), "hangup": N_("Hung up")}


def change_rows(changes: dict, forms: list[Form], staff: dict[str, Staff], region: str) -> list[tuple[str, str, str]]:
    """A correction's changes as people read them: (what, before, after), with field titles, call-type
    and category names, staff names and national-format numbers instead of the stored keys."""
    by_key = {f.key: f for f in forms}
    fields = {fl.key: fl for f in forms for fl in f.fields}
    rows = []
    for path, (old, new) in changes.items():
        key = path.removeprefix("fields.")
        if path == "call_type":
            title, shown = _("Call type"), lambda v: by_key[v].title if v in by_key else v
        elif path == "category":
            title, shown = _("Category"), lambda v: _(CATEGORY_LABELS[v]) if v in CATEGORY_LABELS else v
        elif path == "urgent":
            title, shown = _("Urgent"), lambda v: _("yes") if v else _("no")
        else:
            f = fields.get(key)
            title = f.title if f else _(FIELD_LABELS[key]) if key in FIELD_LABELS else key
            kind = f.type if f else STANDARD_TYPES.get(key, "text")
            shown = (lambda v: phones.display(v, region) if v else v) if kind == "phone" else (
                lambda v: staff[v].name if v in staff else v) if kind == "staff" else (lambda v: v)
        rows.append((title, shown(old), shown(new)))
    return rows
