"""The figures supervisors, firms and the wallboard read (interfaces.md "Stats keys"), exact and
the same everywhere: the API, the KPI pages and the wallboard all call ``figures()``.

Every call counts in the interval of its *arrival*, whatever happens to it later (its wait, talk
and after-call work included); a message counts when it was taken. Test calls, and the messages
taken on them, never count. A call waiting now is offered, and neither answered nor abandoned yet.
Whole local days come from the kept rows (stats/rollup.py), the rest from the calls and messages.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import peewee as pw

from ..accounts.models import STAFF_ROLES, User
from ..days import SERVICE_ZONE, midnight
from ..tenants.models import Tenant
from . import rollup
from .rollup import SUMS, StatsDay, StatsOperatorDay, StatsZoneDay, add, aggregate, zero

KEYS = ("offered", "answered", "abandoned", "abandon_rate", "service_level", "asa_s", "aht_s",
        "talk_s", "acw_s", "after_hours", "voicemails", "blocked", "messages", "noise")
INTERVALS = {"15m": dt.timedelta(minutes=15), "30m": dt.timedelta(minutes=30), "1h": dt.timedelta(hours=1),
             "1d": None}  # a day is a local day: 23, 24 or 25 hours
UTC = dt.timezone.utc


@dataclass
class Figures:
    totals: dict
    intervals: list[dict] = field(default_factory=list)  # each {"start": aware datetime, **KEYS}
    # The period counted, in UTC: the one asked for, or with an interval widened to whole intervals.
    since: dt.datetime | None = None
    until: dt.datetime | None = None


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


# --- the interface --------------------------------------------------------------------------------

def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("since and until must be timezone-aware")
    return value.astimezone(UTC)


def _groups(tenant: Tenant | None) -> dict[ZoneInfo, list[int]]:
    """The firms asked for (with unknown numbers' calls, in Japan's zone, for every firm), by zone: a
    firm's days are its own."""
    if tenant is not None:
        return {tenant.zone: [tenant.id]}
    out: dict[ZoneInfo, list[int]] = defaultdict(list)
    for tenant_id, zone in rollup.zones().items():
        out[zone].append(tenant_id)
    return out


def _whole_days(since: dt.datetime, until: dt.datetime, zone: ZoneInfo) -> tuple[dt.date, dt.date] | None:
    """The local days wholly inside [since, until): [first, last) — None when there is none."""
    first = since.astimezone(zone).date()
    if midnight(first, zone) < since:
        first += dt.timedelta(days=1)
    last = until.astimezone(zone).date()
    return (first, last) if first < last else None


def _day_rows(first: dt.date, last: dt.date, ids: list[int], by: str | None, zone: ZoneInfo,
              kept: rollup.Kept, every_firm: bool, operator_id: int | None = None) -> dict:
    """Sums of the kept rows of the local days [first, last) of these firms (of ``zone``), by None,
    "day", "tenant" or "operator": the zone rows (a row per day and operator) when they stand for
    exactly these firms (all firms asked, none of the zone waiting for a rebuild), else a row per firm
    and day (and operator). ``operator_id``: only what that operator took."""
    if every_firm and by != "tenant" and zone.key in kept.zones:
        model = StatsZoneDay
    elif by == "operator" or operator_id is not None:
        model = StatsOperatorDay
    else:
        model = StatsDay
    if model is StatsZoneDay:
        filters = [StatsZoneDay.timezone == zone.key]
    else:
        filters = [model.tenant_id.in_(ids[i:i + 1000]) for i in range(0, len(ids), 1000)]
    if operator_id is not None:
        filters = [where & (model.operator_id == operator_id) for where in filters]
    key = {None: pw.Value(None), "day": model.day, "tenant": StatsDay.tenant_id,
           "operator": getattr(model, "operator_id", None)}[by]
    columns = [pw.fn.SUM(getattr(model, k)) for k in SUMS]
    out: dict = {}
    for where in filters:
        query = model.select(key, *columns).where((model.day >= first) & (model.day < last) & where)
        if by is not None:
            query = query.group_by(key)
        for k, *values in query.tuples():
            if values[0] is None:  # SUM over no rows
                continue
            if by == "operator" and k == rollup.NOBODY:
                k = None
            add(out.setdefault(k, zero()), dict(zip(SUMS, (int(v) for v in values))))
    return out


def _sums(since: dt.datetime, until: dt.datetime, *, tenant: Tenant | None, operator_id: int | None,
          group: str | None, service_level: int, kept: rollup.Kept | None) -> dict:
    """Sums over exactly [since, until) by None, "tenant" or "operator": from the kept rows for the
    whole local days of the firms ``kept`` holds (None: no kept rows), from the calls and messages for
    the rest."""
    tenant_ids = [tenant.id] if tenant is not None else None
    if kept is None:
        return aggregate(since, until, tenant_ids=tenant_ids, operator_id=operator_id, group=group,
                         service_level=service_level)
    out: dict = {}
    for zone, ids in _groups(tenant).items():
        fresh, raw = [t for t in ids if t in kept.fresh], [t for t in ids if t not in kept.fresh]
        whole = _whole_days(since, until, zone) if fresh else None
        parts = [(since, until, ids)] if whole is None else [
            (since, midnight(whole[0], zone), fresh), (midnight(whole[1], zone), until, fresh), (since, until, raw)]
        if whole is not None:
            for key, sums in _day_rows(*whole, fresh, group, zone, kept, tenant is None, operator_id).items():
                add(out.setdefault(key, zero()), sums)
        for lo, hi, part_ids in parts:
            if lo < hi and part_ids:
                for key, sums in aggregate(lo, hi, tenant_ids=part_ids, operator_id=operator_id, group=group,
                                           service_level=service_level).items():
                    add(out.setdefault(key, zero()), sums)
    return out


def _by_local_day(lo: dt.datetime, hi: dt.datetime, zone: ZoneInfo, tenant_ids, operator_id, service_level) -> dict:
    """Sums by local date in ``zone`` from the calls and messages: by quarter hour in SQL (every zone's
    day begins on one), then into days."""
    out: dict = {}
    for quarter, sums in aggregate(lo, hi, tenant_ids=tenant_ids, operator_id=operator_id, group="quarter",
                                   service_level=service_level).items():
        day = dt.datetime.fromtimestamp(quarter * 900, UTC).astimezone(zone).date()
        add(out.setdefault(day, zero()), sums)
    return out


def figures(since: dt.datetime, until: dt.datetime, *, tenant: Tenant | None = None, operator: User | None = None,
            interval: str | None = None, zone: ZoneInfo | None = None,
            service_level: int, rollup_days: bool = True) -> Figures:
    """The figures of calls arrived (and messages taken) in [since, until): of one firm or of all
    (unknown numbers' calls included), of one operator's calls and messages or everyone's.

    With ``interval`` (15m, 30m, 1h, 1d) also per interval, aligned in ``zone`` (the firm's zone when
    ``tenant`` is given, else ``zone`` or Asia/Tokyo), every interval listed even without calls; the
    range then runs over whole intervals (``since`` back to its interval's start, ``until`` on to
    its interval's end), and the totals are those of the intervals. Days are local days. For all
    firms, a day holds each firm's calls of that date in the firm's own zone.

    ``rollup_days=False`` reads only calls and messages (the tests compare both ways)."""
    since, until = _aware(since), _aware(until)
    if interval is not None and interval not in INTERVALS:
        raise ValueError(f"interval: one of {', '.join(INTERVALS)}")
    zone = tenant.zone if tenant is not None else (zone or SERVICE_ZONE)
    operator_id = operator.id if operator is not None else None
    kept = rollup.current(service_level) if rollup_days else None
    if interval is None:
        sums = _sums(since, until, tenant=tenant, operator_id=operator_id, group=None,
                     service_level=service_level, kept=kept).get(None, zero())
        return Figures(finish(sums), [], since, until)
    bounds = starts(since, until, interval, zone)
    if not bounds:
        return Figures(finish(zero()), [], since, until)
    if interval == "1d":
        wanted = [b.astimezone(zone).date() for b in bounds]
        first, last = wanted[0], wanted[-1] + dt.timedelta(days=1)
        found = {}
        for group_zone, ids in _groups(tenant).items():  # each firm's own local days
            fresh = [t for t in ids if t in kept.fresh] if kept is not None else []
            raw = [t for t in ids if t not in kept.fresh] if fresh else ids
            if fresh:
                for day, sums in _day_rows(first, last, fresh, "day", group_zone, kept, tenant is None,
                                           operator_id).items():
                    add(found.setdefault(day, zero()), sums)
            if raw:
                for day, sums in _by_local_day(midnight(first, group_zone), midnight(last, group_zone), group_zone,
                                               raw, operator_id, service_level).items():
                    add(found.setdefault(day, zero()), sums)
        keyed = [found.get(day, zero()) for day in wanted]
        end = midnight(last, zone)
    else:
        step = int(INTERVALS[interval].total_seconds())
        found = aggregate(bounds[0], bounds[-1] + INTERVALS[interval], tenant_ids=[tenant.id] if tenant else None,
                          operator_id=operator_id, group=("bucket", bounds[0], step), service_level=service_level)
        # Fixed-length intervals from an aligned start stay aligned (zones move by whole hours).
        keyed = [found.get(i, zero()) for i in range(len(bounds))]
        end = bounds[-1] + INTERVALS[interval]
    totals, rows = zero(), []
    for start, sums in zip(bounds, keyed):
        add(totals, sums)
        rows.append({"start": start.astimezone(zone), **finish(sums)})
    return Figures(finish(totals), rows, bounds[0], end)


def by_tenant(since: dt.datetime, until: dt.datetime, *, service_level: int,
              rollup_days: bool = True) -> list[tuple[Tenant, dict]]:
    """Every firm's totals over [since, until), in the order firms are listed (zero for a quiet firm)."""
    since, until = _aware(since), _aware(until)
    kept = rollup.current(service_level) if rollup_days else None
    found = _sums(since, until, tenant=None, operator_id=None, group="tenant", service_level=service_level,
                  kept=kept)
    return [(t, finish(found.get(t.id, zero()))) for t in Tenant.listed()]


def by_operator(since: dt.datetime, until: dt.datetime, *, tenant: Tenant | None = None,
                service_level: int, rollup_days: bool = True) -> list[tuple[User, dict]]:
    """Each operator's totals over [since, until) (the calls they took and messages they took), for
    every staff user who took one, by name. Their ``offered`` is what they answered."""
    since, until = _aware(since), _aware(until)
    found = _sums(since, until, tenant=tenant, operator_id=None, group="operator", service_level=service_level,
                  kept=rollup.current(service_level) if rollup_days else None)
    found.pop(None, None)
    if not found:
        return []
    users = User.select().where(User.id.in_(list(found)) & User.role.in_(list(STAFF_ROLES))).order_by(User.name, User.id)
    return [(u, finish(found[u.id])) for u in users]
