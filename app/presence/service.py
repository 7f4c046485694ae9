"""Setting the in/out board and posting notices: checked the same way for the portal and the API,
audited with who did it, and announced to every open screen pop of the firm once committed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..accounts.models import User
from ..audit import AuditEntry
from ..db import db, utcnow
from ..i18n import _
from ..tenants.models import IN, PRESENCES, BoardEntry, Staff, Tenant
from .models import MAX_TEXT, Notice

MAX_NOTE = 200
TOPIC = "firms"  # the bus topic: {"event": "changed", "tenant": id}; the console forwards it as firm-<id>


def presence_errors(presence, note, until: dt.datetime | None, now: dt.datetime) -> dict[str, str]:
    errors = {}
    if presence not in PRESENCES:
        errors["presence"] = _("Expected one of: {options}.").format(options=", ".join(PRESENCES))
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        errors["note"] = _("Expected text of at most {n} characters.").format(n=MAX_NOTE)
    if until is not None:
        if presence == IN:
            errors["until"] = _("Only for out, away or off: in needs no time to come back.")
        elif until <= now:
            errors["until"] = _("This time has already passed.")
    return errors


def set_presence(staff: Staff, presence: str, note: str, until: dt.datetime | None, actor: User,
                 now: dt.datetime | None = None) -> BoardEntry:
    """Write an already-checked state; the change goes to the audit log with its old and new values."""
    now = now or utcnow()
    before = staff.effective_presence(now)
    with db.atomic():
        Staff.update(presence=presence, presence_note=note.strip(), presence_until=until, presence_at=now
                     ).where(Staff.id == staff.id).execute()
        staff = Staff.get_by_id(staff.id)
        after = staff.effective_presence(now)
        changes = {k: [v, w] for k, v, w in (
            ("presence", before.presence, after.presence), ("note", before.note, after.note),
            ("until", _iso(before.until), _iso(after.until))) if v != w}
        AuditEntry.record("staff.presence", actor=actor, tenant=staff.tenant_id, target=staff.key, changes=changes)
    return after


def notice_errors(tenant: Tenant, text, staff_key, starts_at: dt.datetime | None, ends_at: dt.datetime | None,
                  now: dt.datetime) -> tuple[Staff | None, dict[str, str]]:
    errors, staff = {}, None
    if not isinstance(text, str) or not text.strip():
        errors["text"] = _("Write what operators should know.")
    elif len(text) > MAX_TEXT:
        errors["text"] = _("Expected text of at most {n} characters.").format(n=MAX_TEXT)
    if staff_key:
        staff = Staff.get_or_none((Staff.tenant == tenant) & (Staff.key == str(staff_key)))
        if staff is None or not isinstance(staff_key, str):
            errors["staff"] = _("No staff member of this firm has this key.")
    if ends_at is not None:
        if ends_at <= (starts_at or now):
            errors["ends_at"] = _("The end must come after the start.")
        elif ends_at <= now:
            errors["ends_at"] = _("This time has already passed.")
    return staff, errors


def post_notice(tenant: Tenant, text: str, staff: Staff | None, starts_at: dt.datetime | None,
                ends_at: dt.datetime | None, actor: User, now: dt.datetime | None = None) -> Notice:
    now = now or utcnow()
    with db.atomic():
        notice = Notice.create(tenant=tenant, text=text.strip(), staff=staff, starts_at=starts_at or now,
                               ends_at=ends_at, created_by=actor, created_at=now)
        AuditEntry.record("notice.post", actor=actor, tenant=tenant, target=str(notice.id), changes={
            "text": [None, notice.text], "staff": [None, staff.key if staff else None],
            "starts_at": [None, _iso(notice.starts_at)], "ends_at": [None, _iso(ends_at)]})
    return notice


def withdraw(notice: Notice, actor: User, now: dt.datetime | None = None) -> bool:
    """Withdraw a notice; False when it already was (nothing written twice)."""
    now = now or utcnow()
    with db.atomic():
        if not Notice.update(withdrawn_at=now).where((Notice.id == notice.id) & Notice.withdrawn_at.is_null()).execute():
            return False
        AuditEntry.record("notice.withdraw", actor=actor, tenant=notice.tenant_id, target=str(notice.id),
                          changes={"text": [notice.text, None]})
    return True


def announce(app, tenant: Tenant | int) -> None:
    """Tell every open screen pop of this firm to fetch its board again (call after committing)."""
    app.state.events.publish(TOPIC, {"event": "changed", "tenant": getattr(tenant, "id", tenant)})


def staff_json(entry: BoardEntry, zone: ZoneInfo) -> dict:
    s = entry.staff
    return {"key": s.key, "name": s.name, "name_kana": s.name_kana, "title": s.title, "presence": entry.presence,
            "note": entry.note, "until": _iso(entry.until, zone),
            "changed_at": _iso(s.presence_at, zone)}


def notice_json(notice: Notice, zone: ZoneInfo, now: dt.datetime | None = None) -> dict:
    return {"id": notice.id, "text": notice.text, "staff": notice.staff.key if notice.staff_id else None,
            "starts_at": _iso(notice.starts_at, zone), "ends_at": _iso(notice.ends_at, zone),
            "in_force": notice.is_in_force(now), "created_at": _iso(notice.created_at, zone)}


def screen(tenant: Tenant, now: dt.datetime | None = None) -> dict:
    """What the operator's screen pop shows of the board, as JSON: ``{"notices": [...], "staff": [...]}``
    (for ``GET /api/v1/calls/{sid}`` ``screen``)."""
    now = now or utcnow()
    zone = tenant.zone
    return {"notices": [notice_json(n, zone, now) for n in Notice.in_force(tenant, now)],
            "staff": [staff_json(e, zone) for e in Staff.board(tenant, now)]}


def next_change(tenant: Tenant, now: dt.datetime | None = None, staff: list[Staff] | None = None,
                notices: list[Notice] | None = None) -> dt.datetime | None:
    """The next moment the screen pop's board changes by itself (a state back to in, a notice starting or
    ending), so an open screen pop can refresh then, without polling. ``staff`` and ``notices`` (current and
    upcoming): the firm's, when loaded already."""
    now = now or utcnow()
    if staff is None:
        times = [s.presence_until for s in Staff.select(Staff.presence_until).where(
            (Staff.tenant == tenant) & (Staff.presence != IN) & (Staff.presence_until > now))]
    else:
        times = [s.presence_until for s in staff
                 if s.presence != IN and s.presence_until is not None and s.presence_until > now]
    for n in Notice.current_and_upcoming(tenant, now) if notices is None else notices:
        times += [t for t in (n.starts_at, n.ends_at) if t is not None and t > now]
    return min(times, default=None)


def _iso(value: dt.datetime | None, zone: ZoneInfo | None = None) -> str | None:
    if value is None:
        return None
    local = value.astimezone(zone) if zone else value
    # Before standard time a zone keeps local mean time (Tokyo: +09:18:59); ISO 8601 / RFC 3339
    # offsets are whole minutes, so such a time (a notice "starting" in 1122) is written in UTC.
    offset = local.utcoffset()
    return (local if offset is None or offset.seconds % 60 == 0 else value.astimezone(dt.UTC)).isoformat()
