"""The tenant file (tenants/<slug>/tenant.toml): validation, canonical form and TOML rendering.

``validate`` turns what ``tomllib`` read into the canonical configuration — every key present,
defaults filled in, phone numbers in E.164 — or lists every problem with its key path. Each key is
read as schema.py declares it (its kind, default, choices, limits); the rules below ``validate``
check what involves several keys. The
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
from ..days import SERVICE_ZONE
from ..i18n import _
from .models import CATEGORIES, CHANNELS, STANDARD_FIELDS, WEEKDAYS  # noqa: F401  (named by tests)
from .schema import TENANT, Key

SLUG_RE = re.compile(r"^[a-z0-9-]{2,40}$")
KEY_RE = re.compile(r"^[a-z0-9-]{1,40}$")
FIELD_KEY_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
# [0-9], not \d: full-width digits are for phone numbers, not for times.
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
RANGE_RE = re.compile(r"^([0-9][0-9]:[0-9][0-9])-([0-9][0-9]:[0-9][0-9])$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
        self.default_region = self.region = default_region
        self.folder_slug: str | None = None

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

    def read_table(self, key: Key, raw: Any, path: str, seen: dict | None = None) -> dict:
        """A table as ``key`` declares it: unknown keys reported, each declared key read by its kind."""
        raw = self.table(raw, path, key.names)
        return {sub.name: self.read(sub, raw, f"{path}.{sub.name}" if path else sub.name, seen) for sub in key.keys}

    def read(self, key: Key, raw: dict, where: str, seen: dict | None) -> Any:
        if key.name not in raw:
            if key.required:
                self.add(where, _(key.missing) if key.missing else
                         _("missing; expected one of: {choices}").format(choices=", ".join(key.choices))
                         if key.kind == "choice" else _("missing; expected a text value"))
            value = key.empty
            return FORMATS[where](self, "", where) if where in FORMATS else value
        value, path = raw[key.name], where.rpartition(".")[0]
        if key.kind in ("text", "textarea", "key", "ranges"):
            text = self.string(raw, key.name, path, required=key.required and key.kind != "ranges", limit=key.limit)
            if key.kind == "key":
                text = self.key_of(text, where, seen.setdefault(key.name, set()))
            elif key.kind == "ranges":
                text = _check_ranges(self, text, where)
            return FORMATS[where](self, text, where) if where in FORMATS else text or key.empty
        if key.kind == "choice":
            return self.choice(raw, key.name, path, key.choices, key.default)
        if key.kind == "bool":
            if not isinstance(value, bool):
                self.add(where, _("expected true or false, got {value}").format(value=_q(value)))
                return key.empty
            return value
        if key.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= key.limit:
                self.add(where, _("expected a whole number from 0 to {limit}, got {value}").format(
                    limit=key.limit, value=_q(value)))
                return key.empty
            return value
        if key.kind in ("choices", "strings", "times"):
            choices = key.choices if isinstance(key.choices, tuple) and key.choices else None
            values = self.strings(raw, key.name, path, choices=choices, nonempty=key.nonempty)
            if key.kind == "times":
                for i, time in enumerate(values):
                    if not TIME_RE.match(time):
                        self.add(f"{where}[{i}]", _('{value} is not a time; expected "HH:MM" from 00:00 to 23:59')
                                 .format(value=_q(time)))
                values = sorted(values)
            return values
        if key.kind in ("phone", "mobile", "email") and value == "" and not key.required:
            return key.empty  # "" is how the canonical form (the API's JSON, a blank input) says "none"
        if key.kind in ("phone", "mobile"):
            return self.phone(value, where, self.region, mobile=key.kind == "mobile")
        if key.kind == "email":
            return self.email(value, where)
        if key.kind == "calendar":
            if value is not False and (not isinstance(value, str) or len(value) != 2
                                       or value not in holidays.list_supported_countries()):
                self.add(where, _('{value} is not a holiday calendar; expected a country code such as '
                                  '"JP", or false').format(value=_q(value)))
                return False
            return value
        if key.kind == "table":
            return self.read_table(key, value, where)
        items = self.tables(value, where, key.names)  # tables
        if key.nonempty and isinstance(value, list) and not value:
            self.add(where, _(key.missing) if key.missing else _("must not be empty"))
        keys_seen: dict = {}
        return [self.read_table(key, item, item_path, keys_seen) for item_path, item in items]

    def key_of(self, key: str, where: str, seen: set[str]) -> str:
        """An identifier, unique among its list's."""
        if key and not KEY_RE.match(key):
            self.add(where, _("{value} is not a valid key; expected up to 40 lower-case letters, digits "
                              "and hyphens").format(value=_q(key)))
        elif key in seen:
            self.add(where, _("{value} is used twice").format(value=_q(key)))
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
    """Check a tenant table; return its canonical form and every problem found (empty when valid).
    Each key is read as schema.py declares it; then the rules that involve several keys."""
    c = _Checker(default_region)
    c.folder_slug = folder_slug
    config = c.read_table(TENANT, raw, "")
    _numbers(c, config, raw)
    staff = {s["key"]: s for s in config["staff"]}
    if config["hours"] and config["hours"]["after_hours"] == "announce" and not config["hours"]["after_hours_message"]:
        c.add("hours.after_hours_message", _('missing; after_hours = "announce" needs the message to speak'))
    for i, call_type in enumerate(config["call_types"]):
        _call_type(c, f"call_types[{i}]", call_type, staff)
    calendar = config["hours"]["closed_on_holidays"] if config["hours"] else False
    for i, report in enumerate(config["reports"]):
        _report(c, f"reports[{i}]", report, staff, calendar)
    for i, rule in enumerate(config["notify"]):
        _deliveries(c, f"notify[{i}]", rule["deliver"], staff)
    return config, c.problems


# Slugs that are pages of their own under /firms/ (the new-firm wizard): a firm there could not be reached.
RESERVED_SLUGS = frozenset({"new"})


# One key's own format, beyond its kind.
def _slug(c: _Checker, slug: str, where: str) -> str:
    if slug and not SLUG_RE.match(slug):
        c.add(where, _("{value} is not a valid slug; expected 2–40 lower-case letters, digits and hyphens")
              .format(value=_q(slug)))
    elif slug in RESERVED_SLUGS:
        c.add(where, _("“{slug}” is a page of its own: choose another slug.").format(slug=slug))
    elif slug and c.folder_slug is not None and slug != c.folder_slug:
        c.add(where, _("{value} must equal the folder name {folder}").format(value=_q(slug), folder=_q(c.folder_slug)))
    return slug


def _timezone(c: _Checker, timezone: str, where: str) -> str:
    timezone = timezone or SERVICE_ZONE.key
    if timezone not in _time_zones():
        c.add(where, _("{value} is not an IANA time zone such as \"Asia/Tokyo\"").format(value=_q(timezone)))
    return timezone


def _region(c: _Checker, region: str, where: str) -> str:
    region = region or c.default_region
    if region not in phonenumbers.SUPPORTED_REGIONS:
        c.add(where, _("{value} is not a country code such as \"JP\"").format(value=_q(region)))
        region = c.default_region
    c.region = region  # phone numbers after it are read in this region
    return region


FORMATS = {"slug": _slug, "timezone": _timezone, "region": _region}


def _numbers(c: _Checker, config: dict, raw: Any) -> None:
    seen: dict[str, str] = {}
    for i, entry in enumerate(config["numbers"]):
        path = f"numbers[{i}]"
        if entry["number"] in seen:
            typed = _raw(raw, "numbers", i, "number") or entry["number"]
            c.add(f"{path}.number", _("{value} is the same number as {other}").format(
                value=_q(typed), other=seen[entry["number"]]))
        elif entry["number"]:
            seen[entry["number"]] = path


def _raw(raw: Any, *steps) -> Any:
    """What the file had at ``steps`` (keys and indexes), or None."""
    for step in steps:
        try:
            raw = raw[step]
        except (KeyError, IndexError, TypeError):
            return None
    return raw


def _call_type(c: _Checker, path: str, call_type: dict, staff: dict) -> None:
    fields = call_type["fields"]
    for i, key in enumerate(call_type["transfer_to_staff"]):
        # The provider dials the staff member's mobile: without one there is nobody to put the call through to.
        if key not in staff:
            c.add(f"{path}.transfer_to_staff[{i}]", _("{value} is not a staff key of this firm").format(value=_q(key)))
        elif not staff[key]["mobile"]:
            c.add(f"{path}.transfer_to_staff[{i}]", _("{value} has no mobile to put calls through to").format(
                value=_q(key)))
    for name in ("required", "readback"):
        for i, field in enumerate(call_type[name]):
            if field not in fields:
                c.add(f"{path}.{name}[{i}]", _("{value} is not in this call type's fields").format(value=_q(field)))
    extra_keys = set(STANDARD_FIELDS)
    for i, extra in enumerate(call_type["extra_fields"]):
        extra_path, extra_key = f"{path}.extra_fields[{i}]", extra["key"]
        if extra_key and not FIELD_KEY_RE.match(extra_key):
            c.add(f"{extra_path}.key", _("{value} is not a valid field key; expected lower-case letters, digits, "
                                         "hyphens and underscores").format(value=_q(extra_key)))
        elif extra_key in extra_keys:
            c.add(f"{extra_path}.key", _("{value} is already a field of this call type").format(value=_q(extra_key)))
        extra_keys.add(extra_key)
        if extra["type"] == "select" and not extra["options"]:
            c.add(f"{extra_path}.options", _('missing; type = "select" needs a list of options'))
        elif extra["type"] != "select" and extra["options"] is not None:
            c.add(f"{extra_path}.options", _('only select fields have options'))
            extra["options"] = None
    if not fields and not call_type["extra_fields"]:
        c.add(f"{path}.fields", _("missing; a call type needs at least one field"))


def _report(c: _Checker, path: str, report: dict, staff: dict, calendar) -> None:
    # Canonical order: the week's order, so a reordered list is not a change.
    report["days"] = [d for d in WEEKDAYS if d in (report["days"] or WEEKDAYS)]
    if report["include_categories"] is not None and report["exclude_categories"] is not None:
        c.add(f"{path}.exclude_categories", _("use include_categories or exclude_categories, not both"))
    for i, key in enumerate(report["only_for_staff"] or []):
        if key not in staff:
            c.add(f"{path}.only_for_staff[{i}]", _("{value} is not a staff key of this firm").format(value=_q(key)))
    if report["skip_holidays"] and not calendar:
        c.add(f"{path}.skip_holidays", _("needs hours.closed_on_holidays to name a holiday calendar"))
    _deliveries(c, path, report["deliver"], staff)


def _deliveries(c: _Checker, path: str, deliveries: list[dict], staff: dict) -> None:
    for j, d in enumerate(deliveries):
        dpath, channel = f"{path}.deliver[{j}]", d["channel"]
        if not d["to"] and not d["to_staff"]:
            c.add(dpath, _("expected to or to_staff with at least one recipient"))
        if channel == "email":
            d["to"] = [c.email(a, f"{dpath}.to[{i}]") for i, a in enumerate(d["to"])]
        elif channel in ("sms", "fax"):
            d["to"] = [c.phone(n, f"{dpath}.to[{i}]", c.region, mobile=channel == "sms") for i, n in enumerate(d["to"])]
        for i, key in enumerate(d["to_staff"]):
            if key not in staff:
                c.add(f"{dpath}.to_staff[{i}]", _("{value} is not a staff key of this firm").format(value=_q(key)))
            elif channel and not staff[key][STAFF_CONTACT[channel]]:
                c.add(f"{dpath}.to_staff[{i}]", _("{value} has no {contact} for {channel}").format(
                    value=_q(key), contact=STAFF_CONTACT[channel], channel=channel))


def from_json(value: Any) -> Any:
    """The canonical form as JSON gives it back (the API's GET, a stored version) → what ``validate``
    reads: a null means the key is absent."""
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def as_file(config: dict) -> dict:
    """A canonical configuration as its tenant file holds it (keys that mean what leaving them out
    means, left out): what ``validate`` reads back into the same configuration."""
    return _prune(config, TENANT)


def to_toml(config: dict) -> str:
    """The canonical configuration as a tenant file; keys that mean what leaving them out means (empty,
    false) left out, but a required key stays (a closed day stays as ``""``: [hours] lists every day)."""
    return tomli_w.dumps(as_file(config), multiline_strings=True)


def _prune(value: Any, key: Key | None) -> Any:
    if isinstance(value, dict):
        subs = {k: key.sub(k) if key else None for k in value}
        return {k: _prune(v, subs[k]) for k, v in value.items()
                if v not in (None, "", [], False) or subs[k] and (subs[k].required or v != subs[k].empty)}
    if isinstance(value, list):
        return [_prune(v, key) for v in value]
    return value
