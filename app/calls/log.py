"""A firm's call log: every call the service saw for it, newest first, a page at a time, with the
kind of each call as the firm reads it (answered, noise, after hours, voicemail, …)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import peewee as pw

from ..accounts.models import User
from ..i18n import N_, _
from ..messages.forms import NOISE_CATEGORIES
from ..messages.models import Message
from ..tenants.models import Tenant
from ..web.inputs import keyset_cursor, parse_keyset_cursor
from .models import ABANDONED, ANNOUNCED, ANSWERED, BLOCKED, COMPLETED, QUEUED, VOICEMAIL, Call, Transfer

# The kinds a firm filters its log by. "noise": an answered call whose messages are all of the noise
# categories (sales, wrong number, …); "after_hours": any call outside the firm's hours, whatever became of it.
KINDS = {
    "answered": N_("Answered"), "noise": N_("Noise"), "after_hours": N_("After hours"),
    "voicemail": N_("Voicemail"), "announced": N_("After-hours announcement"),
    "abandoned": N_("Hung up while waiting"), "blocked": N_("Blocked"), "waiting": N_("Waiting now"),
}
PAGE = 50


def _noise_message(noise: bool):
    return Message.select(Message.id).where((Message.call == Call.id)
                                            & (Message.category.in_(NOISE_CATEGORIES) if noise
                                               else Message.category.not_in(NOISE_CATEGORIES)))


def _is_noise():
    return pw.fn.EXISTS(_noise_message(True)) & ~pw.fn.EXISTS(_noise_message(False))


def of_kind(kind: str):
    """The WHERE condition for calls of one kind."""
    talked = Call.status.in_((ANSWERED, COMPLETED))
    return {
        "answered": talked & ~_is_noise(), "noise": talked & _is_noise(), "after_hours": Call.after_hours == True,  # noqa: E712
        "voicemail": Call.status == VOICEMAIL, "announced": Call.status == ANNOUNCED,
        "abandoned": Call.status == ABANDONED, "blocked": Call.status == BLOCKED, "waiting": Call.status == QUEUED,
    }[kind]


def kind_of(call: Call, categories: list[str]) -> str:
    """One call's kind, given the categories of its messages."""
    if call.status in (ANSWERED, COMPLETED):
        return "noise" if categories and all(c in NOISE_CATEGORIES for c in categories) else "answered"
    return {VOICEMAIL: "voicemail", ANNOUNCED: "announced", ABANDONED: "abandoned", BLOCKED: "blocked",
            QUEUED: "waiting"}.get(call.status, call.status)


@dataclass
class Entry:
    call: Call
    kind: str
    messages: list[Message] = field(default_factory=list)  # id and category only, oldest first
    transfers: list[Transfer] = field(default_factory=list)  # 取次 attempts, first first


def cursor(call: Call) -> str:
    return keyset_cursor(call.arrived_at, call.id)


def calls(tenant: Tenant | None = None, *, kind: str | None = None, since: dt.datetime | None = None,
          until: dt.datetime | None = None, after: tuple[dt.datetime, int] | None = None,
          operator: User | None = None):
    """The calls, newest first: of one firm (or every firm's, for staff), of one kind, taken by one
    operator, arrived in [since, until), after the cursor's call (keyset paging: as fast a thousand
    pages deep)."""
    query = Call.select(Call, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER)
    if tenant is not None:
        query = query.where(Call.tenant == tenant)
    if operator is not None:
        query = query.where(Call.claimed_by == operator)
    if kind:
        query = query.where(of_kind(kind))
    if since is not None:
        query = query.where(Call.arrived_at >= since)
    if until is not None:
        query = query.where(Call.arrived_at < until)
    if after is not None:
        # to_value: the time as the column stores it (naive UTC), not as Python prints it.
        query = query.where(pw.Tuple(Call.arrived_at, Call.id) < pw.Tuple(Call.arrived_at.to_value(after[0]), after[1]))
    return query.order_by(Call.arrived_at.desc(), Call.id.desc())


def after_cursor(params, errors: dict) -> tuple[dt.datetime, int] | None:
    """The call a page link's ``after`` cursor names; a broken one is named in ``errors``."""
    if text := params.get("after"):
        try:
            return parse_keyset_cursor(text)
        except ValueError:
            errors["after"] = _("This page link is broken: start again from the newest calls.")
    return None


def page(query, limit: int = PAGE) -> tuple[list[Entry], str | None]:
    """One page of ``calls(...)`` with each call's kind, messages and 取次 attempts (two more queries), and the
    next cursor."""
    rows = list(query.limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    messages: dict[int, list[Message]] = {}
    if rows:
        for m in (Message.select(Message.id, Message.call, Message.category, Message.after_call_seconds)
                  .where(Message.call.in_([c.id for c in rows])).order_by(Message.id)):
            messages.setdefault(m.call_id, []).append(m)
    transfers: dict[int, list[Transfer]] = {}
    if rows:
        for t in Transfer.select().where(Transfer.call.in_([c.id for c in rows])).order_by(Transfer.id):
            transfers.setdefault(t.call_id, []).append(t)
    entries = [Entry(c, kind_of(c, [m.category for m in messages.get(c.id, [])]), messages.get(c.id, []),
                     transfers.get(c.id, [])) for c in rows]
    return entries, cursor(rows[-1]) if more else None
