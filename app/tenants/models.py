"""A tenant is one client firm, with everything operators and reports need to know about it."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import peewee as pw

from ..days import SERVICE_ZONE
from ..db import BaseModel, JSONField, Prepared, UTCDateTimeField, db, utcnow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NUMBER_KINDS = ("forwarded", "dedicated")
AFTER_HOURS_RULES = ("answer", "voicemail", "announce")
LANGUAGES = ("ja", "en")
CATEGORIES = (
    "message", "callback", "inquiry", "complaint", "appointment",
    "sales", "wrong_number", "prank", "silent", "hangup", "other",
)
NOISE_CATEGORIES = ("sales", "wrong_number", "prank", "silent", "hangup")
STANDARD_FIELDS = (
    "caller_company", "caller_name", "caller_name_kana", "callback_number",
    "callback_time", "for_staff", "body",
)
FIELD_TYPES = ("text", "textarea", "phone", "email", "date", "select")
CHANNELS = ("email", "sms", "fax")
WHEN_EMPTY = ("notice", "skip")
IN, OUT, AWAY, OFF = "in", "out", "away", "off"
PRESENCES = (IN, OUT, AWAY, OFF)  # in the office; out (外出); away from the desk (離席); off today (休み)


class Tenant(BaseModel):
    slug = pw.CharField(max_length=40, unique=True)
    name = pw.CharField(max_length=200)
    name_kana = pw.CharField(max_length=200, default="")
    language = pw.CharField(max_length=2, default="ja")
    timezone = pw.CharField(max_length=64, default=SERVICE_ZONE.key)
    region = pw.CharField(max_length=2, default="JP")
    answer_phrase = pw.TextField()
    instructions = pw.TextField(default="")
    # {"mon": "09:00-12:00,13:00-18:00", ..., "sun": ""}; NULL means 24 hours, every day.
    hours = JSONField(null=True)
    holiday_calendar = pw.CharField(max_length=2, null=True)  # country whose holidays close the firm
    after_hours = pw.CharField(max_length=16, default="answer")
    after_hours_message = pw.TextField(default="")
    plan = JSONField(null=True)  # the tenant file's [plan] as validated; NULL: none given
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    # The number of the configuration's latest TenantVersion; a save names the version it started
    # from, and only one save can move it on (optimistic locking). 0: never saved since versions began.
    version = pw.IntegerField(default=0)

    @classmethod
    def by_slug(cls, slug: str) -> "Tenant | None":
        if not isinstance(slug, str):
            return cls.get_or_none(cls.slug == slug)
        return _BY_SLUG.first(slug)

    @classmethod
    def listed(cls):
        return cls.select().order_by(cls.name_kana, cls.name)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, day: dt.date) -> bool:
        return bool(self.holiday_calendar) and day in _holidays(self.holiday_calendar, day.year)

    def is_open(self, at: dt.datetime) -> bool:
        """Whether operators answer for this firm at ``at``: its hours in its time zone, closed on the
        public holidays of its calendar. No [hours] means always open."""
        if self.hours is None:
            return True
        local = at.astimezone(self.zone)
        if self.is_holiday(local.date()):
            return False
        now = local.strftime("%H:%M")
        return any(start <= now < end for start, end in parse_ranges(self.hours.get(WEEKDAYS[local.weekday()], "")))


# Most requests look a firm up by its slug: its SQL built once (db.Prepared).
_BY_SLUG = Prepared(Tenant, lambda slug: Tenant.select().where(Tenant.slug == slug).limit(1))


def parse_ranges(text: str) -> list[tuple[str, str]]:
    """'09:00-12:00,13:00-18:00' → [('09:00', '12:00'), ('13:00', '18:00')] (already validated on import)."""
    return [tuple(part.split("-", 1)) for part in text.split(",") if part]


# What is read from a firm's configuration, kept per process for as long as the configuration is
# the same: every change to it goes through store.apply, in the transaction that moves the firm's
# version on and sets updated_at. updated_at is in the key too: a test database emptied and filled
# again starts its firms' ids and versions over, never their times.
_BY_VERSION: OrderedDict = OrderedDict()
_BY_VERSION_LOCK = threading.Lock()
BY_VERSION_SIZE = 4096  # entries (firms × kinds): a few MB at most


def by_version(tenant: Tenant, kind: str, load):
    """``load(tenant)`` (its forms, its notification rules …), read once per version of the firm's
    configuration in this process. ``tenant`` must be as read in this request: the key is its
    version. What ``load`` returns is shared between requests and threads: never change it."""
    # Read without its version: no key to trust. In a transaction: it may read what the transaction
    # wrote and then roll back, or a tenant object from before its own save.
    if tenant.version is None or tenant.updated_at is None or db.in_transaction():
        return load(tenant)
    key = (kind, tenant.id, tenant.version, tenant.updated_at)
    with _BY_VERSION_LOCK:
        if key in _BY_VERSION:
            _BY_VERSION.move_to_end(key)
            return _BY_VERSION[key]
    value = load(tenant)  # outside the lock: two threads may both read it, then both keep the same
    with _BY_VERSION_LOCK:
        _BY_VERSION[key] = value
        while len(_BY_VERSION) > BY_VERSION_SIZE:
            _BY_VERSION.popitem(last=False)
    return value


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


class TenantNumber(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="numbers", on_delete="CASCADE")
    number = pw.CharField(max_length=20, unique=True)  # E.164
    kind = pw.CharField(max_length=16)
    position = pw.IntegerField(default=0)


class Staff(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="staff", on_delete="CASCADE")
    key = pw.CharField(max_length=40)
    name = pw.CharField(max_length=200)
    name_kana = pw.CharField(max_length=200, default="")
    title = pw.CharField(max_length=200, default="")
    email = pw.CharField(max_length=254, default="")
    mobile = pw.CharField(max_length=20, default="")  # E.164
    fax = pw.CharField(max_length=20, default="")  # E.164
    position = pw.IntegerField(default=0)
    # The in/out board operators see on the screen pop: live state the firm sets, never in the tenant file.
    presence = pw.CharField(max_length=8, default=IN)
    presence_note = pw.CharField(max_length=200, default="")  # "外出中、15時戻り"
    presence_at = UTCDateTimeField(null=True)  # when the firm last set it
    # Back to "in" by itself from this moment: worked out on every read (effective_presence), so it is
    # exact to the second without a worker, and nothing is lost if none runs.
    presence_until = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("tenant", "key"), True),)

    def expired(self, now: dt.datetime) -> bool:
        return self.presence != IN and self.presence_until is not None and self.presence_until <= now

    def effective_presence(self, now: dt.datetime | None = None) -> "BoardEntry":
        """What the board shows at ``now``: the state set, or plain "in" once its "until" has passed."""
        now = now or utcnow()
        if self.expired(now):
            return BoardEntry(self, IN, "", None)
        return BoardEntry(self, self.presence, self.presence_note, self.presence_until)

    @classmethod
    def of_firm(cls, tenant: "Tenant | int") -> list["Staff"]:
        """The firm's staff in the tenant file's order."""
        return list(cls.select().where(cls.tenant == tenant).order_by(cls.position))

    @classmethod
    def board(cls, tenant: "Tenant | int", now: dt.datetime | None = None,
              staff: list["Staff"] | None = None) -> list["BoardEntry"]:
        """The firm's in/out board as the operator's screen pop shows it, in the tenant file's order;
        from ``staff`` (``of_firm``) when the caller has them already."""
        now = now or utcnow()
        return [s.effective_presence(now) for s in (cls.of_firm(tenant) if staff is None else staff)]


@dataclass(frozen=True)
class BoardEntry:
    staff: Staff
    presence: str  # one of PRESENCES
    note: str
    until: dt.datetime | None

    @property
    def key(self) -> str:
        return self.staff.key

    @property
    def name(self) -> str:
        return self.staff.name


class CallType(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="call_types", on_delete="CASCADE")
    key = pw.CharField(max_length=40)
    label = pw.CharField(max_length=200)
    category = pw.CharField(max_length=20, default="message")
    urgent = pw.BooleanField(default=False)  # its messages start marked urgent
    script = pw.TextField(default="")
    transfer_to_staff = JSONField(default=list)  # staff keys the operator may put the call through to (取次)
    position = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("tenant", "key"), True),)


class CallTypeField(BaseModel):
    """One field of a call type's form: a standard field, or a firm-specific (extra) one."""

    call_type = pw.ForeignKeyField(CallType, backref="fields", on_delete="CASCADE")
    key = pw.CharField(max_length=40)
    standard = pw.BooleanField(default=True)
    label = pw.CharField(max_length=200, default="")  # extra fields only
    type = pw.CharField(max_length=16, default="text")
    options = JSONField(null=True)  # select fields
    required = pw.BooleanField(default=False)
    readback = pw.BooleanField(default=False)
    position = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("call_type", "key"), True),)


class ReportRule(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="reports", on_delete="CASCADE")
    key = pw.CharField(max_length=40)
    at = JSONField()  # ["18:00", ...] local times
    days = JSONField()  # ["mon", ...]
    skip_holidays = pw.BooleanField(default=False)
    include_categories = JSONField(null=True)
    exclude_categories = JSONField(null=True)
    only_for_staff = JSONField(null=True)
    urgent_only = pw.BooleanField(default=False)
    when_empty = pw.CharField(max_length=8, default="notice")
    position = pw.IntegerField(default=0)
    created_at = UTCDateTimeField(default=utcnow)  # no report is owed for times before the rule existed

    class Meta:
        indexes = ((("tenant", "key"), True),)


class NotifyRule(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="notify_rules", on_delete="CASCADE")
    urgent = pw.BooleanField(default=False)
    categories = JSONField(null=True)
    position = pw.IntegerField(default=0)


class Recipient(BaseModel):
    """Where a report or a notification goes: one channel, addresses and/or staff members."""

    report = pw.ForeignKeyField(ReportRule, backref="recipients", null=True, on_delete="CASCADE")
    notify = pw.ForeignKeyField(NotifyRule, backref="recipients", null=True, on_delete="CASCADE")
    channel = pw.CharField(max_length=8)
    to = JSONField(default=list)  # e-mail addresses, or E.164 numbers for sms and fax
    to_staff = JSONField(default=list)  # staff keys
    position = pw.IntegerField(default=0)

