"""The tenant file (tenants/<slug>/tenant.toml): validation, canonical form and TOML rendering.

``validate`` turns what ``tomllib`` read into the canonical configuration — every key present,
defaults filled in, phone numbers in E.164 — or lists every problem with its key path. The
canonical form is also what ``store.snapshot`` builds from the database, so "nothing changed"
is a plain equality and export → import → export is stable by construction.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

import holidays
import phonenumbers
import tomli_w

from .. import phones
from ..i18n import _
from .models import (
    AFTER_HOURS_RULES, CATEGORIES, CHANNELS, FIELD_TYPES, LANGUAGES, NUMBER_KINDS,
    STANDARD_FIELDS, WEEKDAYS, WHEN_EMPTY,
)

SLUG_RE = re.compile(r"^[a-z0-9-]{2,40}$")
KEY_RE = re.compile(r"^[a-z0-9-]{1,40}$")
FIELD_KEY_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
# [0-9], not \d: full-width digits are for phone numbers, not for times.
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
RANGE_RE = re.compile(r"^([0-9][0-9]:[0-9][0-9])-([0-9][0-9]:[0-9][0-9])$")
SHORT_TEXT = 200  # names, readings, titles and labels: what the database keeps
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

TOP_KEYS = ("slug", "name", "name_kana", "language", "timezone", "region", "answer_phrase",
            "instructions", "numbers", "hours", "staff", "call_types", "reports", "notify")
HOURS_KEYS = (*WEEKDAYS, "closed_on_holidays", "after_hours", "after_hours_message")
STAFF_KEYS = ("key", "name", "name_kana", "title", "email", "mobile", "fax")
CALL_TYPE_KEYS = ("key", "label", "category", "script", "fields", "required", "readback", "extra_fields")
EXTRA_FIELD_KEYS = ("key", "label", "type", "options", "required", "readback")
REPORT_KEYS = ("key", "at", "days", "skip_holidays", "include_categories", "exclude_categories",
               "only_for_staff", "urgent_only", "when_empty", "deliver")
NOTIFY_KEYS = ("urgent", "categories", "deliver")
DELIVER_KEYS = ("channel", "to", "to_staff")
STAFF_CONTACT = {"email": "email", "sms": "mobile", "fax": "fax"}

# Used when a tenant declares no call types (tenant-toml.md).
DEFAULT_CALL_TYPE = {
    "key": "message", "label": "", "category": "message", "script": "",
    "fields": list(STANDARD_FIELDS), "required": ["caller_name", "callback_number"],
    "readback": ["caller_name", "callback_number"], "extra_fields": [],
}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TenantFileError(Exception):
    """One or more tenant files are invalid. Carries every problem, each with file and key."""

    def __init__(self, problems: list[tuple[str, Problem]]):
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for source, problem in problems))


def _q(value: Any) -> str:
    """A value as the user wrote it, quoted the way TOML would."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


class _Checker:
    """Walks one raw tenant table, collecting problems instead of stopping at the first."""

    def __init__(self, default_region: str):
        self.problems: list[Problem] = []
        self.default_region = default_region

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def table(self, raw: Any, path: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(raw, dict):
            self.add(path, _("expected a table"))
            return {}
        for key in raw:
            if key not in allowed:
                self.add(f"{path}.{key}" if path else key,
                         _("unknown key; expected one of: {keys}").format(keys=", ".join(allowed)))
        return raw

    def tables(self, raw: Any, path: str, allowed: tuple[str, ...]) -> list[tuple[str, dict]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(path, _("expected a list of tables"))
            return []
        return [(f"{path}[{i}]", self.table(item, f"{path}[{i}]", allowed)) for i, item in enumerate(raw)]

    def string(self, raw: dict, key: str, path: str, *, required: bool = False, default: str = "",
               limit: int | None = None) -> str:
        value = raw.get(key)
        where = f"{path}.{key}" if path else key
        if value is None:
            if required:
                self.add(where, _("missing; expected a text value"))
            return default
        if not isinstance(value, str):
            self.add(where, _("expected a text value, got {value}").format(value=_q(value)))
            return default
        value = value.strip()
        if required and not value:
            self.add(where, _("must not be empty"))
        if limit and len(value) > limit:
            self.add(where, _("is {length} characters long; at most {limit} fit").format(length=len(value), limit=limit))
            value = value[:limit]
        return value

    def boolean(self, raw: dict, key: str, path: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", _("expected true or false, got {value}").format(value=_q(value)))
            return False
        return value

    def choice(self, raw: dict, key: str, path: str, choices: tuple[str, ...], default: str | None) -> str | None:
        where = f"{path}.{key}" if path else key
        value = raw.get(key, default)
        if value is None:
            self.add(where, _("missing; expected one of: {choices}").format(choices=", ".join(choices)))
        elif value not in choices:
            self.add(where, _("{value} is not one of: {choices}").format(value=_q(value), choices=", ".join(choices)))
            return default
        return value

    def strings(self, raw: dict, key: str, path: str, *, choices: tuple[str, ...] | None = None,
                nonempty: bool = False) -> list[str] | None:
        """A list of unique strings, or None when the key is absent."""
        if key not in raw:
            return None
        where = f"{path}.{key}"
        value = raw[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(where, _("expected a list of text values"))
            return []
        if nonempty and not value:
            self.add(where, _("must not be empty"))
        seen = set()
        for i, item in enumerate(value):
            if choices is not None and item not in choices:
                self.add(f"{where}[{i}]", _("{value} is not one of: {choices}").format(
                    value=_q(item), choices=", ".join(choices)))
            if item in seen:
                self.add(f"{where}[{i}]", _("{value} is listed twice").format(value=_q(item)))
            seen.add(item)
        return list(value)

    def key(self, raw: dict, path: str, seen: set[str], pattern: re.Pattern = KEY_RE) -> str:
        key = self.string(raw, "key", path, required=True)
        if key and not pattern.match(key):
            self.add(f"{path}.key", _("{value} is not a valid key; expected up to 40 lower-case letters, digits "
                                      "and hyphens").format(value=_q(key)))
        elif key in seen:
            self.add(f"{path}.key", _("{value} is used twice").format(value=_q(key)))
        seen.add(key)
        return key

    def phone(self, value: Any, where: str, region: str, *, mobile: bool = False) -> str:
        if not isinstance(value, str):
            self.add(where, _("expected a phone number as text, got {value}").format(value=_q(value)))
            return ""
        try:
            e164 = phones.to_e164(value, region)
        except phones.InvalidNumber:
            self.add(where, _("{value} is not a valid phone number in region {region}").format(
                value=_q(value), region=region))
            return ""
        if phones.parse(value, region).extension:
            self.add(where, _("{value}: an extension cannot be dialled; give the number alone").format(
                value=_q(value)))
        if mobile and not phones.is_mobile(e164, region):
            self.add(where, _("{value} is not a mobile number (SMS needs one)").format(value=_q(value)))
        return e164

    def email(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not EMAIL_RE.match(value.strip()):
            self.add(where, _("{value} is not an e-mail address").format(value=_q(value)))
            return ""
        return value.strip()


def _check_ranges(checker: _Checker, text: str, where: str) -> str:
    """'09:00-12:00, 13:00-18:00' → canonical '09:00-12:00,13:00-18:00'."""
    if not text:
        return ""
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        match = RANGE_RE.match(part)
        start, end = match.groups() if match else ("", "")
        if not match or not TIME_RE.match(start) or not (TIME_RE.match(end) or end == "24:00") or start >= end:
            checker.add(where, _('{value} is not a time range; expected "HH:MM-HH:MM" (e.g. "09:00-18:00"), '
                                 'several separated by commas, or "" for closed').format(value=_q(text)))
            return ""
        ranges.append((start, end))
    ranges.sort()
    if any(a[1] > b[0] for a, b in zip(ranges, ranges[1:])):
        checker.add(where, _("{value}: the time ranges overlap").format(value=_q(text)))
    return ",".join(f"{a}-{b}" for a, b in ranges)


@functools.cache
def _time_zones() -> frozenset[str]:
    """Read from the system's zone files once: a walk of the folder costs as much as the rest of a
    large firm's check."""
    return frozenset(zoneinfo.available_timezones())


def validate(raw: dict, *, default_region: str = "JP", folder_slug: str | None = None) -> tuple[dict, list[Problem]]:
    """Check a tenant table; return its canonical form and every problem found (empty when valid)."""
    c = _Checker(default_region)
    c.table(raw, "", TOP_KEYS)
    raw = raw if isinstance(raw, dict) else {}

    slug = c.string(raw, "slug", "", required=True)
    if slug and not SLUG_RE.match(slug):
        c.add("slug", _("{value} is not a valid slug; expected 2–40 lower-case letters, digits and hyphens")
              .format(value=_q(slug)))
    elif slug and folder_slug is not None and slug != folder_slug:
        c.add("slug", _("{value} must equal the folder name {folder}").format(value=_q(slug), folder=_q(folder_slug)))

    timezone = c.string(raw, "timezone", "", default="Asia/Tokyo") or "Asia/Tokyo"
    if timezone not in _time_zones():
        c.add("timezone", _("{value} is not an IANA time zone such as \"Asia/Tokyo\"").format(value=_q(timezone)))
    region = c.string(raw, "region", "", default=default_region) or default_region
    if region not in phonenumbers.SUPPORTED_REGIONS:
        c.add("region", _("{value} is not a country code such as \"JP\"").format(value=_q(region)))
        region = default_region

    config: dict[str, Any] = {
        "slug": slug,
        "name": c.string(raw, "name", "", required=True, limit=SHORT_TEXT),
        "name_kana": c.string(raw, "name_kana", "", limit=SHORT_TEXT),
        "language": c.choice(raw, "language", "", LANGUAGES, "ja"),
        "timezone": timezone,
        "region": region,
        "answer_phrase": c.string(raw, "answer_phrase", "", required=True),
        "instructions": c.string(raw, "instructions", ""),
    }

    numbers, seen_numbers = [], {}
    if "numbers" not in raw:
        c.add("numbers", _("missing; expected a list of { number, kind }"))
    for path, item in c.tables(raw.get("numbers"), "numbers", ("number", "kind")):
        if "number" not in item:
            c.add(f"{path}.number", _("missing; expected a phone number"))
            continue
        number = c.phone(item["number"], f"{path}.number", region)
        kind = c.choice(item, "kind", path, NUMBER_KINDS, None)
        if number in seen_numbers:
            c.add(f"{path}.number", _("{value} is the same number as {other}").format(
                value=_q(item["number"]), other=seen_numbers[number]))
        elif number:
            seen_numbers[number] = path
        numbers.append({"number": number, "kind": kind})
    if "numbers" in raw and not numbers and isinstance(raw.get("numbers"), list):
        c.add("numbers", _("must list at least one number"))
    config["numbers"] = numbers

    config["hours"] = _validate_hours(c, raw.get("hours"))
    calendar = config["hours"]["closed_on_holidays"] if config["hours"] else False

    staff, staff_keys = [], set()
    for path, item in c.tables(raw.get("staff"), "staff", STAFF_KEYS):
        entry = {"key": c.key(item, path, staff_keys),
                 "name": c.string(item, "name", path, required=True, limit=SHORT_TEXT),
                 "name_kana": c.string(item, "name_kana", path, limit=SHORT_TEXT),
                 "title": c.string(item, "title", path, limit=SHORT_TEXT),
                 "email": c.email(item["email"], f"{path}.email") if "email" in item else "",
                 "mobile": c.phone(item["mobile"], f"{path}.mobile", region, mobile=True) if "mobile" in item else "",
                 "fax": c.phone(item["fax"], f"{path}.fax", region) if "fax" in item else ""}
        staff.append(entry)
    config["staff"] = staff
    staff_by_key = {s["key"]: s for s in staff}

    call_types, call_type_keys = [], set()
    for path, item in c.tables(raw.get("call_types"), "call_types", CALL_TYPE_KEYS):
        call_types.append(_validate_call_type(c, path, item, call_type_keys))
    config["call_types"] = call_types

    reports, report_keys = [], set()
    for path, item in c.tables(raw.get("reports"), "reports", REPORT_KEYS):
        reports.append(_validate_report(c, path, item, report_keys, staff_by_key, calendar, region))
    config["reports"] = reports

    notify = []
    for path, item in c.tables(raw.get("notify"), "notify", NOTIFY_KEYS):
        notify.append({
            "urgent": c.boolean(item, "urgent", path),
            "categories": c.strings(item, "categories", path, choices=CATEGORIES, nonempty=True),
            "deliver": _validate_deliveries(c, path, item, staff_by_key, region),
        })
    config["notify"] = notify
    return config, c.problems


def _validate_hours(c: _Checker, raw: Any) -> dict | None:
    if raw is None:
        return None  # 24 hours, every day
    item = c.table(raw, "hours", HOURS_KEYS)
    hours: dict[str, Any] = {}
    for day in WEEKDAYS:
        if day not in item:
            c.add(f"hours.{day}", _('missing; expected "HH:MM-HH:MM", several separated by commas, or "" for closed'))
        hours[day] = _check_ranges(c, c.string(item, day, "hours"), f"hours.{day}")
    calendar = item.get("closed_on_holidays", False)
    if calendar is not False and (not isinstance(calendar, str) or len(calendar) != 2
                                  or calendar not in holidays.list_supported_countries()):
        c.add("hours.closed_on_holidays", _('{value} is not a holiday calendar; expected a country code such as '
                                            '"JP", or false').format(value=_q(calendar)))
        calendar = False
    hours["closed_on_holidays"] = calendar
    hours["after_hours"] = c.choice(item, "after_hours", "hours", AFTER_HOURS_RULES, "answer")
    hours["after_hours_message"] = c.string(item, "after_hours_message", "hours")
    if hours["after_hours"] == "announce" and not hours["after_hours_message"]:
        c.add("hours.after_hours_message", _('missing; after_hours = "announce" needs the message to speak'))
    return hours


def _validate_call_type(c: _Checker, path: str, item: dict, keys: set) -> dict:
    key = c.key(item, path, keys)
    fields = c.strings(item, "fields", path, choices=STANDARD_FIELDS) or []
    call_type = {
        "key": key,
        "label": c.string(item, "label", path, required=True, limit=SHORT_TEXT),
        "category": c.choice(item, "category", path, CATEGORIES, "message"),
        "script": c.string(item, "script", path),
        "fields": fields,
        "required": c.strings(item, "required", path) or [],
        "readback": c.strings(item, "readback", path) or [],
        "extra_fields": [],
    }
    for name in ("required", "readback"):
        for i, field in enumerate(call_type[name]):
            if field not in fields:
                c.add(f"{path}.{name}[{i}]", _("{value} is not in this call type's fields").format(value=_q(field)))
    extra_keys = set(STANDARD_FIELDS)
    for extra_path, extra in c.tables(item.get("extra_fields"), f"{path}.extra_fields", EXTRA_FIELD_KEYS):
        extra_key = c.string(extra, "key", extra_path, required=True)
        if extra_key and not FIELD_KEY_RE.match(extra_key):
            c.add(f"{extra_path}.key", _("{value} is not a valid field key; expected lower-case letters, digits, "
                                         "hyphens and underscores").format(value=_q(extra_key)))
        elif extra_key in extra_keys:
            c.add(f"{extra_path}.key", _("{value} is already a field of this call type").format(value=_q(extra_key)))
        extra_keys.add(extra_key)
        field_type = c.choice(extra, "type", extra_path, FIELD_TYPES, "text")
        options = c.strings(extra, "options", extra_path)
        if field_type == "select" and not options:
            c.add(f"{extra_path}.options", _('missing; type = "select" needs a list of options'))
        elif field_type != "select" and options is not None:
            c.add(f"{extra_path}.options", _('only select fields have options'))
            options = None
        call_type["extra_fields"].append({
            "key": extra_key, "label": c.string(extra, "label", extra_path, required=True, limit=SHORT_TEXT),
            "type": field_type,
            "options": options if field_type == "select" else None,
            "required": c.boolean(extra, "required", extra_path),
            "readback": c.boolean(extra, "readback", extra_path),
        })
    if not fields and not call_type["extra_fields"]:
        c.add(f"{path}.fields", _("missing; a call type needs at least one field"))
    return call_type


def _validate_report(c: _Checker, path: str, item: dict, keys: set, staff: dict, calendar, region: str) -> dict:
    report = {
        "key": c.key(item, path, keys),
        "at": c.strings(item, "at", path, nonempty=True),
        "days": c.strings(item, "days", path, choices=WEEKDAYS, nonempty=True),
        "skip_holidays": c.boolean(item, "skip_holidays", path),
        "include_categories": c.strings(item, "include_categories", path, choices=CATEGORIES, nonempty=True),
        "exclude_categories": c.strings(item, "exclude_categories", path, choices=CATEGORIES, nonempty=True),
        "only_for_staff": c.strings(item, "only_for_staff", path, nonempty=True),
        "urgent_only": c.boolean(item, "urgent_only", path),
        "when_empty": c.choice(item, "when_empty", path, WHEN_EMPTY, "notice"),
        "deliver": _validate_deliveries(c, path, item, staff, region),
    }
    if report["at"] is None:
        c.add(f"{path}.at", _('missing; expected a list of local times such as ["18:00"]'))
        report["at"] = []
    for i, time in enumerate(report["at"]):
        if not TIME_RE.match(time):
            c.add(f"{path}.at[{i}]", _('{value} is not a time; expected "HH:MM" from 00:00 to 23:59').format(
                value=_q(time)))
    report["at"] = sorted(report["at"])
    # Canonical order: the week's order, so a reordered list is not a change.
    report["days"] = [d for d in WEEKDAYS if d in (report["days"] or WEEKDAYS)]
    if report["include_categories"] is not None and report["exclude_categories"] is not None:
        c.add(f"{path}.exclude_categories", _("use include_categories or exclude_categories, not both"))
    for i, key in enumerate(report["only_for_staff"] or []):
        if key not in staff:
            c.add(f"{path}.only_for_staff[{i}]", _("{value} is not a staff key of this firm").format(value=_q(key)))
    if report["skip_holidays"] and not calendar:
        c.add(f"{path}.skip_holidays", _("needs hours.closed_on_holidays to name a holiday calendar"))
    return report


def _validate_deliveries(c: _Checker, path: str, item: dict, staff: dict, region: str) -> list[dict]:
    if not item.get("deliver"):
        c.add(f"{path}.deliver", _("missing; expected at least one { channel, to / to_staff }"))
    deliveries = []
    for dpath, d in c.tables(item.get("deliver"), f"{path}.deliver", DELIVER_KEYS):
        channel = c.choice(d, "channel", dpath, CHANNELS, None)
        to = c.strings(d, "to", dpath) or []
        to_staff = c.strings(d, "to_staff", dpath) or []
        if not to and not to_staff:
            c.add(dpath, _("expected to or to_staff with at least one recipient"))
        if channel == "email":
            to = [c.email(a, f"{dpath}.to[{i}]") for i, a in enumerate(to)]
        elif channel in ("sms", "fax"):
            to = [c.phone(n, f"{dpath}.to[{i}]", region, mobile=channel == "sms") for i, n in enumerate(to)]
        for i, key in enumerate(to_staff):
            if key not in staff:
                c.add(f"{dpath}.to_staff[{i}]", _("{value} is not a staff key of this firm").format(value=_q(key)))
            elif channel and not staff[key][STAFF_CONTACT[channel]]:
                c.add(f"{dpath}.to_staff[{i}]", _("{value} has no {contact} for {channel}").format(
                    value=_q(key), contact=STAFF_CONTACT[channel], channel=channel))
        deliveries.append({"channel": channel, "to": to, "to_staff": to_staff})
    return deliveries


def from_json(value: Any) -> Any:
    """The canonical form as JSON gives it back (the API's GET, a stored version) → what ``validate``
    reads: a null means the key is absent."""
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def to_toml(config: dict) -> str:
    """The canonical configuration as a tenant file; keys with empty or default-false values left out
    (but a closed day stays, as ``""``: [hours] lists every day)."""
    return tomli_w.dumps(_prune(config), multiline_strings=True)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if k in WEEKDAYS or v not in (None, "", [], False)}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value
