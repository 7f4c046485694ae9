"""Every key of the tenant file, declared once. This is the place to add or change a key.

The declaration drives the file validator (config.py: each key's type, default, limits and the
unknown-key lists), the firm editor's form (tenants/editor.py), the API's JSON Schema
(api/openapi.py) and a test that docs/tenant-toml.md documents every key. What involves more than
one key — required fields among the call type's fields, a staff key named by a report — is an
explicit rule in config.py.

Kinds: text, textarea (text on several lines), key (an identifier unique in its list), choice,
choices (a list of some of ``choices``), bool, int, phone, mobile (a phone that takes SMS), email,
strings (a free list of text, one per line in the form), times (a list of "HH:MM"), ranges
(opening hours of a day), calendar (a holiday calendar or false), table, tables (a list of tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..days import SERVICE_ZONE
from ..i18n import N_
from . import labels
from .models import (
    AFTER_HOURS_RULES, CATEGORIES, CHANNELS, FIELD_TYPES, LANGUAGES, NUMBER_KINDS, STANDARD_FIELDS, WEEKDAYS,
    WHEN_EMPTY,
)

SHORT_TEXT = 200  # names, readings, titles and labels: what the database keeps
LONG_TEXT = 4000  # scripts, instructions and spoken messages
MONEY = 100_000_000  # yen; more is a typing mistake
STAFF = "staff"  # choices that are the firm's own staff keys (as typed in the same form)


@dataclass(frozen=True)
class Key:
    name: str
    kind: str
    label: str
    help: str = ""
    required: bool = False
    default: Any = None  # what an absent key means; None: "" for text, False for bool, 0 for int
    choices: tuple[str, ...] | str = ()  # or STAFF
    choice_labels: dict | None = None
    limit: int | None = None  # characters of text, or the largest int
    nonempty: bool = False  # a list given must not be empty
    missing: str = ""  # what to say when a required key is absent, if more helpful than the kind's
    keys: tuple["Key", ...] = ()  # of a table, or of each table of a list

    def sub(self, name: str) -> "Key | None":
        return next((k for k in self.keys if k.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    @property
    def empty(self) -> Any:
        if self.default is not None:
            return list(self.default) if isinstance(self.default, (list, tuple)) else self.default
        return {"bool": False, "int": 0, "table": None, "tables": [], "calendar": False}.get(
            self.kind, None if self.kind in LISTS else "")


LISTS = ("choices", "strings", "times")  # lists of text: an error's [i] is shown at the whole list

DELIVER = Key("deliver", "tables", N_("Deliveries"), N_("Where it goes: e-mail, SMS or fax, to addresses or "
                                                        "numbers and/or to staff."),
              required=True, nonempty=True, missing=N_("missing; expected at least one { channel, to / to_staff }"),
              keys=(
    Key("channel", "choice", N_("Channel"), choices=CHANNELS, choice_labels=labels.CHANNEL_LABELS, required=True),
    Key("to", "strings", N_("To"), N_("Addresses or numbers, one per line."), default=()),
    Key("to_staff", "choices", N_("To staff"), N_("By their e-mail, mobile or fax."), default=(), choices=STAFF),
))

TENANT = Key("", "table", N_("Firm"), keys=(
    # Basics and 名乗り
    Key("slug", "text", N_("Slug"), N_("2–40 lower-case letters, digits and hyphens; never changes."),
        required=True),
    Key("name", "text", N_("Firm name"), N_("As the operator says it."), required=True, limit=SHORT_TEXT),
    Key("name_kana", "text", N_("Reading"), N_("In kana, for pronunciation."), limit=SHORT_TEXT),
    Key("language", "choice", N_("Language"), N_("Of operator prompts and reports."), default="ja",
        choices=LANGUAGES, choice_labels={"ja": "日本語", "en": "English"}),
    Key("timezone", "text", N_("Time zone"), N_('An IANA name such as "Asia/Tokyo".'), default=SERVICE_ZONE.key),
    Key("region", "text", N_("Region"), N_('Country of national-format phone numbers, such as "JP".'),
        default="JP"),
    Key("answer_phrase", "textarea", N_("Answer phrase (名乗り)"), N_("What the operator says on picking up."),
        required=True, limit=LONG_TEXT),
    Key("instructions", "textarea", N_("Instructions"), N_("Markdown, shown to the operator on every call."),
        limit=LONG_TEXT),
    Key("numbers", "tables", N_("Numbers"), N_("Unique across all firms."), required=True, nonempty=True,
        missing=N_("missing; expected a list of { number, kind }"), keys=(
        Key("number", "phone", N_("Number"), N_("Any format; kept as +81…"), required=True,
            missing=N_("missing; expected a phone number")),
        Key("kind", "choice", N_("Kind"), choices=NUMBER_KINDS, choice_labels=labels.NUMBER_KIND_LABELS,
            required=True),
    )),
    Key("hours", "table", N_("Hours"), N_('Each day "09:00-18:00", several separated by commas; empty: closed. '
                                          'Without hours, operators answer 24 hours a day.'), keys=(
        *(Key(day, "ranges", labels.WEEKDAY_LABELS[day], required=True,
              missing=N_('missing; expected "HH:MM-HH:MM", several separated by commas, or "" for closed'))
          for day in WEEKDAYS),
        Key("closed_on_holidays", "calendar", N_("Closed on public holidays of"),
            N_('A country code such as "JP"; empty: open on holidays.')),
        Key("after_hours", "choice", N_("After hours"), default="answer", choices=AFTER_HOURS_RULES,
            choice_labels=labels.AFTER_HOURS_LABELS),
        Key("after_hours_message", "textarea", N_("After-hours message"),
            N_("Spoken to the caller when the rule is to play it."), limit=LONG_TEXT),
    )),
    Key("staff", "tables", N_("Staff"), keys=(
        Key("key", "key", N_("Key"), N_("Lower-case letters, digits and hyphens; unique in the firm."),
            required=True),
        Key("name", "text", N_("Name"), required=True, limit=SHORT_TEXT),
        Key("name_kana", "text", N_("Reading"), limit=SHORT_TEXT),
        Key("title", "text", N_("Title"), limit=SHORT_TEXT),
        Key("email", "email", N_("E-mail")),
        Key("mobile", "mobile", N_("Mobile")),
        Key("fax", "phone", N_("Fax")),
    )),
    Key("call_types", "tables", N_("Call types"), N_("Without call types, operators use the standard message "
                                                     "form."), keys=(
        Key("key", "key", N_("Key"), required=True),
        Key("label", "text", N_("Label"), N_("What the operator sees."), required=True, limit=SHORT_TEXT),
        Key("category", "choice", N_("Category"), default="message", choices=CATEGORIES,
            choice_labels=labels.CATEGORY_LABELS),
        Key("urgent", "bool", N_("Urgent"), N_("Messages taken under this call type start marked urgent.")),
        Key("script", "textarea", N_("Script"), N_("Markdown: what to say and ask."), limit=LONG_TEXT),
        Key("fields", "choices", N_("Fields"), N_("Asked for, in this order."), default=(), choices=STANDARD_FIELDS,
            choice_labels=labels.FIELD_LABELS),
        Key("required", "choices", N_("Required"), default=(), choices=STANDARD_FIELDS,
            choice_labels=labels.FIELD_LABELS),
        Key("readback", "choices", N_("Read back"), N_("Read back to the caller and confirmed before saving."),
            default=(), choices=STANDARD_FIELDS, choice_labels=labels.FIELD_LABELS),
        Key("transfer_to_staff", "choices", N_("Put through to (取次)"),
            N_("Staff the operator may put this kind of call through to, on their mobile; when nobody answers, "
               "the operator takes a message."), default=(), choices=STAFF),
        Key("extra_fields", "tables", N_("Extra fields"), N_("The firm's own fields, after the standard ones."),
            keys=(
            Key("key", "text", N_("Key"), N_("Lower-case letters, digits, hyphens and underscores."),
                required=True),
            Key("label", "text", N_("Label"), required=True, limit=SHORT_TEXT),
            Key("type", "choice", N_("Type"), default="text", choices=FIELD_TYPES),
            Key("options", "strings", N_("Options"), N_("For a select field: one per line.")),
            Key("required", "bool", N_("Required")),
            Key("readback", "bool", N_("Read back")),
        )),
    )),
    Key("reports", "tables", N_("Reports"), N_("Scheduled reports of the messages taken."), keys=(
        Key("key", "key", N_("Key"), required=True),
        Key("at", "times", N_("At"), N_('Local times "HH:MM", separated by commas.'), required=True,
            default=(), nonempty=True, missing=N_('missing; expected a list of local times such as ["18:00"]')),
        Key("days", "choices", N_("Days"), N_("None ticked: every day."), default=WEEKDAYS, choices=WEEKDAYS,
            choice_labels=labels.WEEKDAY_LABELS, nonempty=True),
        Key("skip_holidays", "bool", N_("Not on public holidays"),
            N_("Their messages go into the next report; needs a holiday calendar in the hours.")),
        Key("include_categories", "choices", N_("Only these categories"), choices=CATEGORIES,
            choice_labels=labels.CATEGORY_LABELS, nonempty=True),
        Key("exclude_categories", "choices", N_("Leave out these categories"), choices=CATEGORIES,
            choice_labels=labels.CATEGORY_LABELS, nonempty=True),
        Key("only_for_staff", "choices", N_("Only messages for"), choices=STAFF, nonempty=True),
        Key("urgent_only", "bool", N_("Urgent messages only")),
        Key("when_empty", "choice", N_("When there are no messages"), default="notice", choices=WHEN_EMPTY,
            choice_labels={"notice": N_("send a short notice"), "skip": N_("send nothing")}),
        DELIVER,
    )),
    Key("notify", "tables", N_("Immediate notifications"), N_("Sent when a message is saved."), keys=(
        Key("urgent", "bool", N_("Urgent messages only")),
        Key("categories", "choices", N_("Only these categories"), choices=CATEGORIES,
            choice_labels=labels.CATEGORY_LABELS, nonempty=True),
        DELIVER,
    )),
    Key("plan", "table", N_("Plan"), N_("What the firm pays for."), keys=(
        Key("name", "text", N_("Plan name"), N_("Shown on statements."), limit=SHORT_TEXT),
        Key("monthly_fee", "int", N_("Monthly fee (yen)"), limit=MONEY),
        Key("overage_fee", "int", N_("Fee per call over the included ones (yen)"), limit=MONEY),
        Key("included_calls", "int", N_("Calls included each month"), limit=MONEY),
        Key("bill_noise", "bool", N_("Bill noise calls"), N_("Sales, wrong numbers, pranks, silent calls.")),
        Key("bill_voicemail", "bool", N_("Bill voicemails"), default=True),
        Key("statement_to", "strings", N_("Statement to"), N_("Addresses for the monthly statement, one per line."),
            default=()),
    )),
))

# The editor's sections: each a heading and the top-level keys under it.
SECTIONS = (
    ("basics", N_("Basics and 名乗り"),
     ("slug", "name", "name_kana", "answer_phrase", "instructions", "language", "timezone", "region")),
    ("numbers", N_("Numbers"), ("numbers",)),
    ("hours", N_("Hours, holidays and after hours"), ("hours",)),
    ("staff", N_("Staff"), ("staff",)),
    ("call_types", N_("Call types"), ("call_types",)),
    ("reports", N_("Reports"), ("reports",)),
    ("notify", N_("Notifications"), ("notify",)),
    ("plan", N_("Plan"), ("plan",)),
)


def every_key(key: Key = TENANT, path: str = ""):
    """(path, key) of every declared key, depth first; list items as ``[]``."""
    for sub in key.keys:
        where = f"{path}.{sub.name}" if path else sub.name
        yield where, sub
        yield from every_key(sub, where + ("[]" if sub.kind == "tables" else ""))


def key_at(path: str) -> Key | None:
    """The declared key a key path names (``call_types[1].required[0]`` → call types' ``required``)."""
    key = TENANT
    for part in path.replace("]", "").split("."):
        name, _, index = part.partition("[")
        key = key.sub(name) if key.kind in ("table", "tables") else None
        if key is None:
            return None
    return key


def json_schema(key: Key = TENANT) -> dict:
    """The JSON Schema of a key (of the whole file by default). Keys that are not required may be
    null (the API's answers have null where a file leaves the key out, and a null sent means absent)."""
    item = {"type": "string"}
    if key.choices and key.choices != STAFF:
        item["enum"] = list(key.choices)
    schema: dict[str, Any] = {
        "text": lambda: {"type": "string", **({"maxLength": key.limit} if key.limit else {})},
        "choice": lambda: item,
        "bool": lambda: {"type": "boolean"},
        "int": lambda: {"type": "integer", "minimum": 0, "maximum": key.limit},
        "calendar": lambda: {"type": ["string", "boolean"]},
        "table": lambda: {"type": "object", "additionalProperties": False,
                          "properties": {k.name: json_schema(k) for k in key.keys},
                          "required": [k.name for k in key.keys if k.required]},
        "tables": lambda: {"type": "array", "items": json_schema(Key("", "table", "", keys=key.keys))},
        "list": lambda: {"type": "array", "items": item},
    }[_json_kind(key.kind)]()
    if key.label:
        schema["description"] = str(key.label)
    if not key.required and key is not TENANT:
        schema["type"] = [*([schema["type"]] if isinstance(schema["type"], str) else schema["type"]), "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def _json_kind(kind: str) -> str:
    if kind in LISTS:
        return "list"
    return kind if kind in ("choice", "bool", "int", "calendar", "table", "tables") else "text"
