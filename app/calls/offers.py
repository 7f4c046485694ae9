"""Offering: each waiting call goes first to the operator who has been idle longest, so the fastest
clicker does not take every call. Computed on read from the calls and the presences (no job, no
state of its own): the longest-waiting call is offered to the longest-idle operator, the next call
to the next, and so on. For ``OFFER_SECONDS`` only the offered operator may take it; then anyone
available may. A call beyond the idle operators is offered to nobody: anyone available takes it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..accounts.models import STAFF_ROLES, Session, User
from ..db import utcnow
from .models import OperatorPresence


@dataclass(frozen=True)
class Offer:
    user_id: int
    until: dt.datetime  # others may take the call from then on

    def closed_to(self, user_id: int, now: dt.datetime) -> int:
        """Seconds until ``user_id`` may take the call (0: now)."""
        if user_id == self.user_id or now >= self.until:
            return 0
        return max(1, int((self.until - now).total_seconds() + 0.999))


def idle_operators(now: dt.datetime | None = None) -> list[tuple[int, dt.datetime]]:
    """Operators who could answer now, longest idle first, each with since when: available, signed in
    (a live session), neither on a call nor in after-call work. Idle since the end of their last work
    or since they became available, whichever is later; a tie goes to the one available first."""
    now = now or utcnow()
    signed_in = Session.select(Session.user).where(Session.expires_at > now)
    presences = list(OperatorPresence.select().join(User).where(
        OperatorPresence.available & User.is_active & User.role.in_(list(STAFF_ROLES))
        & OperatorPresence.user.in_(signed_in)))
    work = OperatorPresence.work(p.user_id for p in presences)
    idle = []
    for p in presences:
        kind, last_end = work[p.user_id]
        if kind == "idle":
            idle.append((max(p.since, last_end) if last_end else p.since, p.since, p.user_id))
    return [(user_id, idle_since) for idle_since, _available, user_id in sorted(idle)]


def departures(after: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """When operators who could have been offered a call left the queue after ``after``: went on break
    or signed out while idle (a break that began as a call's work ended moved no offer). Oldest first."""
    left = list(OperatorPresence.select(OperatorPresence.user, OperatorPresence.since).where(
        ~OperatorPresence.available & (OperatorPresence.since > after) & (OperatorPresence.since <= now)))
    if not left:
        return []
    work = OperatorPresence.work(p.user_id for p in left)
    # A break put off until the message was saved begins a moment after it: the operator was busy until then.
    return sorted(p.since for p in left
                  if work[p.user_id][1] is None or work[p.user_id][1] < p.since - dt.timedelta(seconds=1))


def offers(calls, seconds: int, now: dt.datetime | None = None) -> dict[int, Offer]:
    """The offer of each of ``calls`` (waiting, longest-waiting first) that has one, by call id. The
    window counts from when the call and its operator were both there (its arrival, or the operator
    becoming idle); when an operator leaves during it, the offer may have moved to the next operator,
    who gets the whole head start from then. A call whose head start had run out stays open to all."""
    now = now or utcnow()
    idle = idle_operators(now)
    if not calls or not idle:
        return {}
    window = dt.timedelta(seconds=seconds)
    left = departures(min(c.arrived_at for c in calls), now) if seconds else []
    found = {}
    for call, (user_id, idle_since) in zip(calls, idle):
        start = max(call.arrived_at, idle_since)
        for at in left:
            if start < at < start + window:
                start = at
        found[call.id] = Offer(user_id, start + window)
    return found
