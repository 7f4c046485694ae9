"""The figures supervisors, firms and the wallboard read (interfaces.md "Stats keys"), exact and
the same everywhere: the API, the KPI pages and the wallboard all call ``figures()``.

Every call counts in the interval of its *arrival*, whatever happens to it later (its wait, talk
and after-call work included); a message counts when it was taken. Test calls, and the messages
taken on them, never count.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import peewee as pw

from ..accounts.models import STAFF_ROLES, User
from ..calls.models import ABANDONED, ANSWERED, BLOCKED, COMPLETED, QUEUED, VOICEMAIL, Call
from ..messages.forms import NOISE_CATEGORIES
from ..messages.models import Message
from ..tenants.models import Tenant

KEYS = ("offered", "answered", "abandoned", "abandon_rate", "service_level", "asa_s", "aht_s",
        "talk_s", "acw_s", "after_hours", "voicemails", "blocked", "messages", "noise")
INTERVALS = {"15m": dt.timedelta(minutes=15), "30m": dt.timedelta(minutes=30), "1h": dt.timedelta(hours=1),
             "1d": None}  # a day is a local day: 23, 24 or 25 hours
DEFAULT_ZONE = ZoneInfo("Asia/Tokyo")
UTC = dt.timezone.utc

# The sums every figure is worked out from: means and rates need sums and counts, never means,
# so that any set of intervals (or a rollup of them) adds up exactly.
SUMS = ("offered", "answered", "abandoned", "within_sl", "wait_sum", "talk_n", "talk_sum", "acw_n", "acw_sum",
        "aht_n", "aht_sum", "after_hours", "voicemails", "blocked", "messages", "noise")

OFFERED = (QUEUED, ANSWERED, COMPLETED, ABANDONED)  # the statuses of a call that waited for an operator
TAKEN = (ANSWERED, COMPLETED)


@dataclass
class Figures:
    totals: dict
    intervals: list[dict] = field(default_factory=list)  # each {"start": aware datetime, **KEYS}


@functools.lru_cache(maxsize=1)
def _default_service_level() -> int:
    from .. import settings

    return settings.load().service_level_seconds


def zero() -> dict:
    return dict.fromkeys(SUMS, 0)


def add(into: dict, sums: dict) -> dict:
    for key in SUMS:
        into[key] += sums[key]
    return into


def finish(s: dict) -> dict:
    """The figures from their sums. A rate or mean is None when nothing stands under it."""
    def ratio(a, b, digits):
        return round(a / b, digits) if b else None

    return {
        "offered": s["offered"], "answered": s["answered"], "abandoned": s["abandoned"],
        "abandon_rate": ratio(s["abandoned"], s["offered"], 4), "service_level": ratio(s["within_sl"], s["offered"], 4),
        "asa_s": ratio(s["wait_sum"], s["answered"], 1), "aht_s": ratio(s["aht_sum"], s["aht_n"], 1),
        "talk_s": ratio(s["talk_sum"], s["talk_n"], 1), "acw_s": ratio(s["acw_sum"], s["acw_n"], 1),
        "after_hours": s["after_hours"], "voicemails": s["voicemails"], "blocked": s["blocked"],
        "messages": s["messages"], "noise": s["noise"],
    }


def call_sums(status: str, after_hours: bool, wait: int | None, talk: int | None, acw: int | None,
              service_level: int) -> dict:
    """One call's contribution. ``acw``: its first message's after-call work (call end → message
    saved), None when no message was saved after the call ended."""
    s = zero()
    offered = status in OFFERED
    taken = status in TAKEN
    s["offered"] = int(offered)
    s["answered"] = int(taken)
    s["abandoned"] = int(status == ABANDONED)
    if taken:
        wait = wait or 0
        s["within_sl"] = int(wait <= service_level)
        s["wait_sum"] = wait
        if talk is not None:
            s["talk_n"], s["talk_sum"] = 1, talk
        if acw is not None:
            s["acw_n"], s["acw_sum"] = 1, acw
        if talk is not None and acw is not None:
            s["aht_n"], s["aht_sum"] = 1, talk + acw
    s["after_hours"] = int(bool(after_hours))
    s["voicemails"] = int(status == VOICEMAIL)
    s["blocked"] = int(status == BLOCKED)
    return s


# --- intervals ------------------------------------------------------------------------------------

def floor(at: dt.datetime, interval: str, zone: ZoneInfo) -> dt.datetime:
    """The start of the interval ``at`` falls in, aligned in ``zone`` (in UTC)."""
    local = at.astimezone(zone)
    if interval == "1d":
        return midnight(local.date(), zone)
    step = int(INTERVALS[interval].total_seconds() // 60)
    minutes = local.hour * 60 + local.minute
    start = local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(minutes=minutes - minutes % step)
    # Built on the local wall clock: keep the offset ``at`` had (the repeated hour of a DST change).
    return start.replace(tzinfo=None).replace(tzinfo=zone, fold=local.fold).astimezone(UTC)


def midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def starts(since: dt.datetime, until: dt.datetime, interval: str, zone: ZoneInfo) -> list[dt.datetime]:
    """Every interval touching [since, until), zero-call ones included, as UTC instants."""
    out, start = [], floor(since, interval, zone)
    while start < until:
        out.append(start)
        if interval == "1d":
            start = midnight(start.astimezone(zone).date() + dt.timedelta(days=1), zone)
        else:
            start = start + INTERVALS[interval]
    return out


# --- the raw path: straight from calls and messages -----------------------------------------------

def _zones() -> dict[int, ZoneInfo]:
    return {t: ZoneInfo(z) for t, z in Tenant.select(Tenant.id, Tenant.timezone).tuples()}


def raw_rows(since: dt.datetime, until: dt.datetime, tenant_ids=None, operator_id: int | None = None):
    """(tenant id, arrival, sums) per call arrived in [since, until), then per message taken then."""
    calls = Call.select(Call.id, Call.tenant, Call.status, Call.after_hours, Call.arrived_at, Call.wait_seconds,
                        Call.talk_seconds).where((Call.arrived_at >= since) & (Call.arrived_at < until)
                                                 & (Call.test == False))  # noqa: E712
    if tenant_ids is not None:
        calls = calls.where(Call.tenant.in_(tenant_ids))
    if operator_id is not None:
        calls = calls.where(Call.claimed_by == operator_id)
    # Each call's first message gives its after-call work, as the call's JSON does (acw_s).
    acw: dict[int, int | None] = {}
    for call_id, seconds in (Message.select(Message.call, Message.after_call_seconds)
                             .where(Message.call.in_(calls.select(Call.id))).order_by(Message.id).tuples()):
        acw.setdefault(call_id, seconds)
    return calls, acw


def _messages(since, until, tenant_ids=None, operator_id=None):
    query = (Message.select(Message.tenant, Message.taken_at, Message.category).join(Call, pw.JOIN.LEFT_OUTER)
             .where((Message.taken_at >= since) & (Message.taken_at < until)
                    & (Call.id.is_null() | (Call.test == False))))  # noqa: E712
    if tenant_ids is not None:
        query = query.where(Message.tenant.in_(tenant_ids))
    if operator_id is not None:
        query = query.where(Message.taken_by == operator_id)
    return query.tuples()


def collect(since: dt.datetime, until: dt.datetime, key, *, tenant_ids=None, operator_id=None,
            service_level: int) -> dict:
    """Sums by ``key(tenant_id, at, operator_id)`` (None: leave the row out) from the raw rows."""
    out: dict = {}
    calls, acw = raw_rows(since, until, tenant_ids, operator_id)
    for c in calls.select_extend(Call.claimed_by).tuples():
        cid, tenant_id, status, after_hours, arrived, wait, talk, claimed_by = c
        k = key(tenant_id, Call.arrived_at.python_value(arrived), claimed_by)
        if k is None:
            continue
        add(out.setdefault(k, zero()), call_sums(status, after_hours, wait, talk, acw.get(cid), service_level))
    query = _messages(since, until, tenant_ids, operator_id).select_extend(Message.taken_by)
    for tenant_id, taken_at, category, taken_by in query:
        k = key(tenant_id, Message.taken_at.python_value(taken_at), taken_by)
        if k is None:
            continue
        sums = out.setdefault(k, zero())
        sums["messages"] += 1
        sums["noise"] += int(category in NOISE_CATEGORIES)
    return out


# --- the interface --------------------------------------------------------------------------------

def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    return value.astimezone(UTC)


def figures(since: dt.datetime, until: dt.datetime, *, tenant: Tenant | None = None, operator: User | None = None,
            interval: str | None = None, zone: ZoneInfo | None = None,
            service_level: int | None = None) -> Figures:
    """The figures of calls arrived (and messages taken) in [since, until): of one firm or of all
    (unknown numbers' calls included), of one operator's calls and messages or everyone's.

    With ``interval`` (15m, 30m, 1h, 1d) also per interval, aligned in ``zone`` (the firm's zone when
    ``tenant`` is given, else ``zone`` or Asia/Tokyo), every interval listed even without calls; the
    range then runs over whole intervals (``since`` back to its interval's start, ``until`` on to
    its interval's end), and the totals are those of the intervals. Days are local days. For all
    firms, a day holds each firm's calls of that date in the firm's own zone."""
    since, until = _aware(since), _aware(until)
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval: one of {', '.join(INTERVALS)}")
    zone = tenant.zone if tenant is not None else (zone or DEFAULT_ZONE)
    service_level = _default_service_level() if service_level is None else service_level
    tenant_ids = [tenant.id] if tenant is not None else None
    operator_id = operator.id if operator is not None else None
    if interval is None:
        sums = collect(since, until, lambda *_: 0, tenant_ids=tenant_ids, operator_id=operator_id,
                       service_level=service_level).get(0, zero())
        return Figures(finish(sums), [])
    bounds = starts(since, until, interval, zone)
    if not bounds:
        return Figures(finish(zero()), [])
    if interval == "1d":
        end = midnight(bounds[-1].astimezone(zone).date() + dt.timedelta(days=1), zone)
    else:
        end = bounds[-1] + INTERVALS[interval]
    index = {b: i for i, b in enumerate(bounds)}
    if interval == "1d" and tenant is None:
        # Each firm's own local day; read a day more on either side for firms east and west of ``zone``.
        zones = _zones()
        first_day, last_day = bounds[0].astimezone(zone).date(), bounds[-1].astimezone(zone).date()
        by_day = {first_day + dt.timedelta(days=i): i for i in range((last_day - first_day).days + 1)}

        def key(tenant_id, at, _op):
            return by_day.get(at.astimezone(zones.get(tenant_id, zone)).date())

        lo, hi = bounds[0] - dt.timedelta(days=1), end + dt.timedelta(days=1)
    else:
        def key(_tenant_id, at, _op):
            return index.get(floor(at, interval, zone))

        lo, hi = bounds[0], end
    found = collect(lo, hi, key, tenant_ids=tenant_ids, operator_id=operator_id, service_level=service_level)
    totals, rows = zero(), []
    for i, start in enumerate(bounds):
        sums = found.get(i, zero())
        add(totals, sums)
        rows.append({"start": start.astimezone(zone), **finish(sums)})
    return Figures(finish(totals), rows)


def by_tenant(since: dt.datetime, until: dt.datetime, *, operator: User | None = None,
              service_level: int | None = None) -> list[tuple[Tenant, dict]]:
    """Every firm's totals over [since, until), in the order firms are listed (zero for a quiet firm)."""
    since, until = _aware(since), _aware(until)
    service_level = _default_service_level() if service_level is None else service_level
    found = collect(since, until, lambda tenant_id, _at, _op: tenant_id,
                    operator_id=operator.id if operator is not None else None, service_level=service_level)
    return [(t, finish(found.get(t.id, zero()))) for t in Tenant.listed()]


def by_operator(since: dt.datetime, until: dt.datetime, *, tenant: Tenant | None = None,
                service_level: int | None = None) -> list[tuple[User, dict]]:
    """Each operator's totals over [since, until) (the calls they took and messages they took), for
    every staff user who took one, by name. Their ``offered`` is what they answered."""
    since, until = _aware(since), _aware(until)
    service_level = _default_service_level() if service_level is None else service_level
    found = collect(since, until, lambda _t, _at, op: op, tenant_ids=[tenant.id] if tenant is not None else None,
                    service_level=service_level)
    found.pop(None, None)
    users = User.select().where(User.id.in_(list(found)) & User.role.in_(list(STAFF_ROLES))).order_by(User.name, User.id)
    return [(u, finish(found[u.id])) for u in users] if found else []
