"""The figures' sums, straight from calls and messages in SQL (the raw path), and kept per firm and
local day (``StatsDay``), split by operator (``StatsOperatorDay``) and added up per zone, local
day and operator (``StatsZoneDay``), so that a year for every firm reads a row per zone, day and
operator. The zone rows move with the day rows, by what leaves and enters them, in the same
transaction.

The day rows stay exact by being recomputed, never patched: triggers on ``call`` and ``message``
(migration 0023) note the firm and time of every change that can move a figure (``StatsDirty``);
``current()`` recomputes the days those notes name from the raw rows: every reader calls it first,
and the worker every minute, so notes never pile up. Only the worker (``refresh()``) rebuilds a firm
whose zone (or the service level) changed since its rows were made, or that has none yet
(``StatsFirm``); until then readers read that firm from its calls and messages.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections import defaultdict
from functools import reduce
from typing import NamedTuple
from zoneinfo import ZoneInfo

import peewee as pw

from ..calls.models import ABANDONED, BLOCKED, VOICEMAIL
from ..days import SERVICE_ZONE, midnight
from ..db import BaseModel, UTCDateTimeField, db, is_postgres, read_then_write
from ..messages.forms import NOISE_CATEGORIES
from ..tenants.models import Tenant

UNKNOWN = 0  # the firm key of calls to numbers no firm has
NOBODY = 0  # the operator key of calls no operator took
UTC = dt.timezone.utc

# The sums every figure is worked out from: means and rates need sums and counts, never means,
# so that any set of days, intervals or firms adds up exactly.
SUMS = ("offered", "answered", "abandoned", "within_sl", "wait_sum", "talk_n", "talk_sum", "acw_n", "acw_sum",
        "aht_n", "aht_sum", "after_hours", "voicemails", "blocked", "messages", "noise")
OFFERED = ("queued", "answered", "completed", "abandoned")  # the statuses of a call that waited for an operator
TAKEN = ("answered", "completed")


class _Sums(BaseModel):
    """The sums every figure is worked out from (``SUMS``), as columns."""

    offered = pw.IntegerField(default=0)
    answered = pw.IntegerField(default=0)
    abandoned = pw.IntegerField(default=0)
    within_sl = pw.IntegerField(default=0)
    wait_sum = pw.BigIntegerField(default=0)
    talk_n = pw.IntegerField(default=0)
    talk_sum = pw.BigIntegerField(default=0)
    acw_n = pw.IntegerField(default=0)
    acw_sum = pw.BigIntegerField(default=0)
    aht_n = pw.IntegerField(default=0)
    aht_sum = pw.BigIntegerField(default=0)
    after_hours = pw.IntegerField(default=0)
    voicemails = pw.IntegerField(default=0)
    blocked = pw.IntegerField(default=0)
    messages = pw.IntegerField(default=0)
    noise = pw.IntegerField(default=0)

    def sums(self) -> dict:
        return {k: getattr(self, k) for k in SUMS}


class StatsDay(_Sums):
    """One firm's sums for one of its local days (calls by arrival, messages by when taken)."""

    tenant_id = pw.IntegerField()  # UNKNOWN for unknown numbers (their days are Japan's)
    day = pw.DateField()

    class Meta:
        table_name = "stats_day"
        indexes = ((("tenant_id", "day"), True), (("day", "tenant_id"), False))


class StatsZoneDay(_Sums):
    """The day rows of one local day of every firm whose rows were made in this zone, added up by
    operator (``NOBODY`` for calls no one took), so that a year or a month of every firm, in total or
    per operator, reads a row per zone, day and operator. Kept with the day rows, in the same
    transaction, by what leaves and enters them (``_replace``)."""

    timezone = pw.CharField(max_length=64)
    day = pw.DateField()
    operator_id = pw.IntegerField()

    class Meta:
        table_name = "stats_zone_day"
        indexes = ((("timezone", "day", "operator_id"), True),)


class StatsOperatorDay(_Sums):
    """One firm's sums for one of its local days, of the calls and messages one operator took (the
    firm's day row split by operator, nobody's left out): the per-operator tables read these."""

    tenant_id = pw.IntegerField()
    operator_id = pw.IntegerField()
    day = pw.DateField()

    class Meta:
        table_name = "stats_operator_day"
        indexes = ((("tenant_id", "day", "operator_id"), True), (("day", "tenant_id"), False))


class StatsFirm(BaseModel):
    """What a firm's day rows were made with: its zone then, and the service level. Missing: not made yet."""

    tenant_id = pw.IntegerField(primary_key=True)
    timezone = pw.CharField(max_length=64)
    service_level = pw.IntegerField()

    class Meta:
        table_name = "stats_firm"


class StatsDirty(BaseModel):
    """A note, written by the triggers, that the figures of this firm at this time may have changed."""

    tenant_id = pw.IntegerField(null=True)  # NULL: an unknown number's call
    at = UTCDateTimeField()

    class Meta:
        table_name = "stats_dirty"


# --- the raw path -----------------------------------------------------------------------------------

def zero() -> dict:
    return dict.fromkeys(SUMS, 0)


def add(into: dict, sums: dict) -> dict:
    for key in SUMS:
        into[key] += sums[key]
    return into


def subtract(into: dict, sums: dict) -> dict:
    for key in SUMS:
        into[key] -= sums[key]
    return into


def _epoch(column: str) -> str:
    """Seconds since 1970 of a stored (naive UTC) time, as an integer."""
    if is_postgres():
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def _test_calls_index() -> str:
    """SQLite would read every call's ``test`` from a wider index rather than the test calls' own."""
    return "" if is_postgres() else " INDEXED BY call_test"


def _naive(at: dt.datetime):
    return UTCDateTimeField().db_value(at)


def bucket(column: str, first: dt.datetime, seconds: int) -> tuple[str, list]:
    """SQL numbering fixed-length intervals from ``first``: 0, 1, 2, …"""
    return f"(({_epoch(column)} - {db.param}) / {seconds})", [int(first.timestamp())]


def _tenant_filter(column: str, tenant_ids) -> tuple[str, list]:
    if tenant_ids is None:
        return "", []
    ids = [t for t in tenant_ids if t != UNKNOWN]
    parts = []
    if ids:
        parts.append(f"{column} IN ({', '.join([db.param] * len(ids))})")
    if UNKNOWN in tenant_ids:
        parts.append(f"{column} IS NULL")
    return f" AND ({' OR '.join(parts) or '1 = 0'})", ids


def aggregate(since: dt.datetime, until: dt.datetime, *, tenant_ids=None, operator_id: int | None = None,
              group: str | None = None, per_operator: bool = False, service_level: int) -> dict:
    """Sums of the calls arrived and the messages taken in [since, until), by ``group``: None (one
    total, key None), "tenant" (firm id, UNKNOWN for unknown numbers), "operator" (who took the call or
    message; None for nobody), "quarter" (15-minute intervals since 1970) or ("bucket", first, seconds).
    ``tenant_ids``: only these firms (UNKNOWN: calls to unknown numbers). ``per_operator``: keyed
    (group key, operator id or None) instead. Test calls and their messages never count."""
    p = db.param

    def grouping(call_side: bool) -> tuple[str, list]:
        time = "c.arrived_at" if call_side else "m.taken_at"
        if group is None:
            return "NULL", []
        if group == "tenant":
            return (f"COALESCE(c.tenant_id, {UNKNOWN})" if call_side else "m.tenant_id"), []
        if group == "operator":
            return ("c.claimed_by_id" if call_side else "m.taken_by_id"), []
        if group == "quarter":
            return f"({_epoch(time)} / 900)", []
        _kind, first, seconds = group
        return bucket(time, first, seconds)

    key, key_params = grouping(True)
    # ``o``: who took the call (or the message), for a split by operator.
    o_select, o_group = (", c.claimed_by_id AS o", ", o") if per_operator else ("", "")
    where_t, t_params = _tenant_filter("c.tenant_id", tenant_ids)
    where_op = f" AND c.claimed_by_id = {p}" if operator_id is not None else ""
    op_params = [operator_id] if operator_id is not None else []
    offered = f"c.status IN ({', '.join(repr(s) for s in OFFERED)})"
    taken = f"c.status IN ({', '.join(repr(s) for s in TAKEN)})"
    # Each call's first message gives its after-call work, as the call's JSON does (acw_s): kept on
    # the call by triggers (migration 0027).
    sql = f"""
        SELECT k{o_group}, SUM(CASE WHEN {offered} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.status = '{ABANDONED}' THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} AND COALESCE(c.wait_seconds, 0) <= {p} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} THEN COALESCE(c.wait_seconds, 0) ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.talk_seconds IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.talk_seconds IS NOT NULL THEN c.talk_seconds ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.acw IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.acw IS NOT NULL THEN c.acw ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.acw IS NOT NULL AND c.talk_seconds IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN {taken} AND c.acw IS NOT NULL AND c.talk_seconds IS NOT NULL
                        THEN c.talk_seconds + c.acw ELSE 0 END),
               SUM(CASE WHEN c.after_hours THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.status = '{VOICEMAIL}' THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.status = '{BLOCKED}' THEN 1 ELSE 0 END)
        FROM (SELECT {key} AS k{o_select}, c.status, c.after_hours, c.wait_seconds, c.talk_seconds,
                     c.acw_seconds AS acw
              FROM "call" c
              WHERE c.arrived_at >= {p} AND c.arrived_at < {p} AND c.test = {p}{where_t}{where_op}) AS c
        GROUP BY k{o_group}"""
    params = [service_level, *key_params, _naive(since), _naive(until), False, *t_params, *op_params]
    out: dict = {}
    width = 2 if per_operator else 1

    def keyed(row):
        return (_key(row[0]), _key(row[1])) if per_operator else _key(row[0])

    for row in db.execute_sql(sql, params):
        out[keyed(row)] = dict(zip(SUMS[:14], (int(v or 0) for v in row[width:])), messages=0, noise=0)
    key, key_params = grouping(False)
    o_select = ", m.taken_by_id AS o" if per_operator else ""
    where_t, t_params = _tenant_filter("m.tenant_id", tenant_ids)
    where_op = f" AND m.taken_by_id = {p}" if operator_id is not None else ""
    noise = ", ".join(repr(c) for c in NOISE_CATEGORIES)
    # Test calls are few, and indexed as such (migration 0027): their ids are read once, not each
    # message's call.
    sql = f"""
        SELECT {key} AS k{o_select}, COUNT(*), SUM(CASE WHEN m.category IN ({noise}) THEN 1 ELSE 0 END)
        FROM message m
        WHERE m.taken_at >= {p} AND m.taken_at < {p}
          AND (m.call_id IS NULL OR m.call_id NOT IN (SELECT id FROM "call"{_test_calls_index()} WHERE test)){where_t}{where_op}
        GROUP BY k{o_group}"""
    params = [*key_params, _naive(since), _naive(until), *t_params, *op_params]
    for row in db.execute_sql(sql, params):
        count, noisy = row[width:]
        sums = out.setdefault(keyed(row), zero())
        sums["messages"] += int(count)
        sums["noise"] += int(noisy or 0)
    return out


def _key(value):
    return int(value) if value is not None else None


# --- the day rows -----------------------------------------------------------------------------------

def zones() -> dict[int, ZoneInfo]:
    """Every firm's zone, and Japan's for unknown numbers."""
    out = {t: ZoneInfo(z) for t, z in Tenant.select(Tenant.id, Tenant.timezone).tuples()}
    out[UNKNOWN] = SERVICE_ZONE
    return out


def _lock() -> None:
    """One refresh at a time: two would each write what they computed, the older last."""
    if is_postgres():
        db.execute_sql("SELECT pg_advisory_xact_lock(7023)")


def _made() -> dict[int, tuple[str, int]]:
    """What each firm's day rows were made with: (zone name, service level)."""
    return {t: (z, s) for t, z, s in StatsFirm.select(StatsFirm.tenant_id, StatsFirm.timezone,
                                                      StatsFirm.service_level).tuples()}


def _stale(service_level: int) -> tuple[dict[int, ZoneInfo], list[int], list[int]]:
    """(every firm's zone, firms whose day rows were made otherwise or never, firms deleted since)."""
    zone_of, made = zones(), _made()
    stale = [t for t, z in zone_of.items() if made.get(t) != (z.key, service_level)]
    return zone_of, stale, [t for t in made if t not in zone_of]


def refresh(service_level: int, *, batch: int = 50_000) -> int:
    """The worker's: rebuild the firms made with another zone or service level (or never), one firm per
    transaction so that saves and readers wait for one firm at most, then take the notes in
    (``current``). Returns the number of notes used."""
    _zone_of, stale, gone = _stale(service_level)
    if gone:  # firms deleted since: their days go with them
        with read_then_write():
            _lock()
            made = _made()
            for tenant_id in gone:
                if tenant_id in made:
                    _replace([tenant_id], made[tenant_id][0], None, None, {})
            StatsFirm.delete().where(StatsFirm.tenant_id.in_(gone)).execute()
    for tenant_id in stale:
        with read_then_write():
            _lock()
            zone_of, made = zones(), _made()  # again under the lock: another refresh may have done it
            if tenant_id in zone_of and made.get(tenant_id) != (zone_of[tenant_id].key, service_level):
                _rebuild(tenant_id, zone_of[tenant_id], made.get(tenant_id, ("", 0))[0], service_level)
    return current(service_level, batch=batch).notes


class Kept(NamedTuple):
    fresh: set[int]  # the firms whose day rows hold their days in their zone at the service level asked
    zones: set[str]  # the zones whose zone rows are the sums of exactly their fresh firms' day rows
    notes: int  # the notes taken in


def _kept(zone_of: dict[int, ZoneInfo], made: dict[int, tuple[str, int]], service_level: int, notes: int) -> Kept:
    fresh = {t for t, z in zone_of.items() if made.get(t) == (z.key, service_level)}
    made_in: dict[str, set[int]] = defaultdict(set)
    for t, (zone_key, _level) in made.items():
        made_in[zone_key].add(t)
    # A zone's rows add up every firm made in it: usable when each of those is fresh there (none
    # moved away, deleted or made at another service level).
    whole = {z for z, ids in made_in.items() if ids <= fresh}
    return Kept(fresh, whole, notes)


def current(service_level: int, *, batch: int = 50_000) -> Kept:
    """Every reader's: recompute the (firm, day)s the notes name, never a rebuild. Returns which firms'
    day rows and which zones' rows hold exact figures at ``service_level`` (the others are read from
    the calls and messages until the worker rebuilds them), and the number of notes used. Writes
    (and waits for another refresh) only when there is a note."""
    if not StatsDirty.select().exists():
        return _kept(zones(), _made(), service_level, 0)
    used = 0
    with read_then_write():
        _lock()
        zone_of, made = zones(), _made()
        notes = _notes(batch)
        while notes:
            # A firm's rows are kept at the zone and service level they were made with; a firm with
            # none, or made in another zone, waits for the worker's rebuild, which reads every call.
            days: dict[tuple[ZoneInfo, int, dt.date], set[int]] = defaultdict(set)
            for _id, tenant_id, at in notes:
                tenant_id = tenant_id if tenant_id is not None else UNKNOWN
                if tenant_id in zone_of and made.get(tenant_id, ("", 0))[0] == zone_of[tenant_id].key:
                    zone, level = zone_of[tenant_id], made[tenant_id][1]
                    days[(zone, level, StatsDirty.at.python_value(at).astimezone(zone).date())].add(tenant_id)
            for (zone, level, day), tenant_ids in days.items():
                _recompute(sorted(tenant_ids), day, zone, level)
            ids = [n[0] for n in notes]
            for i in range(0, len(ids), 1000):  # by id: a note committed meanwhile stays for the next time
                StatsDirty.delete().where(StatsDirty.id.in_(ids[i:i + 1000])).execute()
            used += len(notes)
            notes = _notes(batch)
        return _kept(zone_of, made, service_level, used)


def _notes(batch: int) -> list[tuple]:
    return list(StatsDirty.select(StatsDirty.id, StatsDirty.tenant_id, StatsDirty.at)
                .order_by(StatsDirty.id).limit(batch).tuples())


def _chunks(items: list, size: int = 500):
    return (items[i:i + size] for i in range(0, len(items), size))


def _replace(tenant_ids: list[int], old_zone: str, day: dt.date | None, new_zone: str | None,
             rows: dict[tuple[int, dt.date, int | None], dict]) -> None:
    """Put ``rows`` ((firm, day, operator or None) → sums) in place of these firms' day rows and
    operator day rows (of ``day``; None: of every day), and keep the zone rows their sums: the old
    day rows' sums leave ``old_zone``'s (the zone they were made in; "" for none), the new ones'
    enter ``new_zone``'s. Integer sums, in one transaction: exact."""
    # (zone, day, operator) → what the zone rows gain (negative: lose); a firm-day's part no operator
    # took is its day row less its operator rows.
    change: dict[tuple[str, dt.date, int], dict] = defaultdict(zero)
    for chunk in _chunks(tenant_ids):
        where = StatsDay.tenant_id.in_(chunk)
        if day is not None:
            where &= StatsDay.day == day
        for old in StatsDay.select().where(where):
            subtract(change[(old_zone, old.day, NOBODY)], old.sums())
        StatsDay.delete().where(where).execute()
        where = StatsOperatorDay.tenant_id.in_(chunk)
        if day is not None:
            where &= StatsOperatorDay.day == day
        for old in StatsOperatorDay.select().where(where):
            add(change[(old_zone, old.day, NOBODY)], old.sums())
            subtract(change[(old_zone, old.day, old.operator_id)], old.sums())
        StatsOperatorDay.delete().where(where).execute()
    days: dict[tuple[int, dt.date], dict] = defaultdict(zero)
    operators = []
    for (tenant_id, row_day, operator_id), sums in rows.items():
        add(days[(tenant_id, row_day)], sums)
        add(change[(new_zone, row_day, operator_id or NOBODY)], sums)
        if operator_id is not None and any(sums.values()):
            operators.append({"tenant_id": tenant_id, "day": row_day, "operator_id": operator_id, **sums})
    for chunk in _chunks([{"tenant_id": t, "day": d, **s} for (t, d), s in days.items() if any(s.values())]):
        StatsDay.insert_many(chunk).execute()
    for chunk in _chunks(operators):
        StatsOperatorDay.insert_many(chunk).execute()
    _shift_zones(change)


def _shift_zones(change: dict[tuple[str, dt.date, int], dict]) -> None:
    """Add ``change`` ((zone, day, operator) → sums, negative for what left) to the zone rows: one
    upsert of the rows that move (a small firm rebuilt touches few), then the rows left at zero go."""
    rows = [{"timezone": z, "day": d, "operator_id": o, **sums} for (z, d, o), sums in change.items()
            if z and any(sums.values())]  # rows of a firm never made belong to no zone
    columns = [StatsZoneDay.timezone, StatsZoneDay.day, StatsZoneDay.operator_id]
    grow = {getattr(StatsZoneDay, k): getattr(StatsZoneDay, k) + pw.EXCLUDED[k] for k in SUMS}
    for chunk in _chunks(rows):
        StatsZoneDay.insert_many(chunk).on_conflict(conflict_target=columns, update=grow).execute()
    nothing = [getattr(StatsZoneDay, k) == 0 for k in SUMS]
    by_zone: dict[str, set[dt.date]] = defaultdict(set)
    for row in rows:
        by_zone[row["timezone"]].add(row["day"])
    for zone_key, zone_days in by_zone.items():
        for chunk in _chunks(sorted(zone_days)):
            StatsZoneDay.delete().where((StatsZoneDay.timezone == zone_key) & StatsZoneDay.day.in_(chunk)
                                        & reduce(operator.and_, nothing)).execute()


def _recompute(tenant_ids: list[int], day: dt.date, zone: ZoneInfo, service_level: int) -> None:
    sums = aggregate(midnight(day, zone), midnight(day + dt.timedelta(days=1), zone), tenant_ids=tenant_ids,
                     group="tenant", per_operator=True, service_level=service_level)
    _replace(tenant_ids, zone.key, day, zone.key, {(t, day, o): s for (t, o), s in sums.items() if t in tenant_ids})


def _rebuild(tenant_id: int, zone: ZoneInfo, old_zone: str, service_level: int) -> None:
    """Every day of one firm, from its calls and messages: by quarter hour in SQL (every zone's day
    begins on one, since every offset in use is a whole number of quarter hours), then into local
    days. ``old_zone``: the zone its rows were made in ("" for none)."""
    everything = (dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(9999, 1, 1, tzinfo=UTC))
    rows: dict[tuple[int, dt.date, int | None], dict] = defaultdict(zero)
    # Its index (tenant, arrived_at) finds its calls.
    for (quarter, operator_id), sums in aggregate(*everything, tenant_ids=[tenant_id], group="quarter",
                                                  per_operator=True, service_level=service_level).items():
        day = dt.datetime.fromtimestamp(quarter * 900, UTC).astimezone(zone).date()
        add(rows[(tenant_id, day, operator_id)], sums)
    _replace([tenant_id], old_zone, None, zone.key, rows)
    StatsFirm.delete().where(StatsFirm.tenant_id == tenant_id).execute()
    StatsFirm.create(tenant_id=tenant_id, timezone=zone.key, service_level=service_level)
