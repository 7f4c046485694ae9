"""A firm's messages as its people look through them: the inbox and the noise bucket, filters that
combine (and live in the URL), keyset pages newest first. The portal's inbox, its live stream and
its CSV all narrow the same way."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import peewee as pw

from ..i18n import _
from ..tenants.models import CATEGORIES, NOISE_CATEGORIES, Tenant
from ..web.inputs import keyset_cursor, parse_keyset_cursor
from . import search
from .models import Message

INBOX, NOISE = "inbox", "noise"
PAGE = 30


def cursor_of(message: Message) -> str:
    """The keyset cursor after ``message``: its time and id, opaque to whoever hands it back."""
    return keyset_cursor(message.taken_at, message.id)


def after_cursor(query: pw.ModelSelect, at: dt.datetime, last_id: int) -> pw.ModelSelect:
    # to_value: the time converted as the column stores it (naive UTC), not as Python prints it.
    return query.where(pw.Tuple(Message.taken_at, Message.id) < pw.Tuple(Message.taken_at.to_value(at), last_id))


def newest_first(query: pw.ModelSelect) -> pw.ModelSelect:
    return query.order_by(Message.taken_at.desc(), Message.id.desc())


def addressed_to(staff_key: str) -> pw.Expression:
    """Messages whose "for" field names this staff member (the fields are JSON text, written compactly)."""
    text = '"for_staff":' + json.dumps(staff_key, ensure_ascii=False)
    escaped = text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    # Unconverted: the JSON field would otherwise quote the pattern as a JSON string.
    return pw.Expression(Message.fields, pw.OP.ILIKE, pw.NodeList((
        pw.Value(f"%{escaped}%", converter=False), pw.SQL("ESCAPE"), pw.Value("\\", converter=False))))


@dataclass(frozen=True)
class Filters:
    """What the firm's user asked to see. Built from the URL's query; problems are named per field
    and the field's filter left out, the typed text kept."""

    bucket: str = INBOX
    category: str = ""
    addressee: str = ""
    urgent: bool = False
    handled: str = ""  # "", "yes", "no"
    since: str = ""  # YYYY-MM-DD in the firm's zone, as typed
    until: str = ""
    q: str = ""
    errors: dict = field(default_factory=dict)

    KEYS = ("bucket", "category", "addressee", "urgent", "handled", "since", "until", "q")

    @classmethod
    def from_params(cls, params, tenant: Tenant, staff_keys: set[str]) -> "Filters":
        errors = {}
        category = params.get("category", "")
        if category and category not in CATEGORIES:
            errors["category"] = _("Unknown category.")
            category = ""
        # A noise category lives in the noise bucket, whatever bucket the link said.
        bucket = NOISE if category in NOISE_CATEGORIES else INBOX if category else (
            NOISE if params.get("bucket") == NOISE else INBOX)
        addressee = params.get("addressee", "")
        if addressee and addressee not in staff_keys:
            errors["addressee"] = _("Nobody of that name works at the firm.")
        handled = params.get("handled", "")
        if handled not in ("", "yes", "no"):
            errors["handled"] = _("Expected handled or not handled.")
            handled = ""
        dates = {}
        for key in ("since", "until"):
            text = params.get(key, "").strip()
            if text and _date(text) is None:
                errors[key] = _("Expected a date such as 2026-03-31.")
            dates[key] = text
        return cls(bucket, category, addressee, params.get("urgent") == "1", handled, dates["since"],
                   dates["until"], params.get("q", "").strip()[:search.MAX_QUERY], errors)

    def apply(self, query: pw.ModelSelect, tenant: Tenant) -> pw.ModelSelect:
        """``query`` (of Message, already the firm's) narrowed to what these filters show."""
        noise = Message.category.in_(NOISE_CATEGORIES)
        query = query.where(noise if self.bucket == NOISE else ~noise)
        if self.category:
            query = query.where(Message.category == self.category)
        if self.addressee and "addressee" not in self.errors:
            query = query.where(addressed_to(self.addressee))
        if self.urgent:
            query = query.where(Message.urgent == True)  # noqa: E712
        if self.handled:
            query = query.where(Message.handled == (self.handled == "yes"))
        zone = tenant.zone
        if (since := _date(self.since)) is not None:
            query = query.where(Message.taken_at >= dt.datetime.combine(since, dt.time(), zone))
        if (until := _date(self.until)) is not None:  # the whole of that day
            query = query.where(Message.taken_at < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone))
        if self.q:
            query = search.narrow(query, self.q)
        return query

    def params(self, **changes) -> dict[str, str]:
        """The query parameters that say these filters (only those set), with ``changes``."""
        values = {**{k: getattr(self, k) for k in self.KEYS}, **changes}
        out = {}
        for key in self.KEYS:
            value = values[key]
            if key == "bucket" and value == INBOX:
                continue
            if key == "urgent":
                value = "1" if value else ""
            if value:
                out[key] = value
        return out

    def url(self, path: str = "/portal", cursor: str | None = None, **changes) -> str:
        params = self.params(**changes)
        if cursor:
            params["cursor"] = cursor
        query = urlencode(params)
        return path + ("?" + query if query else "")

    def but(self, **changes) -> "Filters":
        return replace(self, **changes)

    @property
    def narrowed(self) -> bool:
        """Anything chosen besides the bucket."""
        return bool(self.params(bucket=INBOX))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def page(query: pw.ModelSelect, cursor: str | None, size: int = PAGE) -> tuple[list[Message], str | None, bool]:
    """One page of ``query`` newest first after ``cursor``: (messages, next cursor, whether the cursor
    was good). A bad cursor gives the first page."""
    good = True
    if cursor:
        try:
            query = after_cursor(query, *parse_keyset_cursor(cursor))
        except (ValueError, OverflowError):
            good = False
    rows = list(newest_first(query).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return rows, cursor_of(rows[-1]) if more else None, good


def every(query: pw.ModelSelect, each_page, size: int = 500):
    """``each_page(rows)`` for every message of ``query``, newest first, a keyset page at a time, its
    results yielded: each page is its own query on its own connection, so a long export holds no
    cursor open for minutes and may be iterated from different threads."""
    from ..db import db

    last = None
    while True:
        with db.connection_context():
            rows = list(newest_first(query if last is None else after_cursor(query, *last)).limit(size))
            if rows:
                result = each_page(rows)
        if not rows:
            return
        yield result
        if len(rows) < size:
            return
        last = (rows[-1].taken_at, rows[-1].id)
