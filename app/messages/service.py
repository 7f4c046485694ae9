"""Recording, correcting and marking messages; operators' drafts. Both doors (the console and the
JSON API) come through here after ``forms.check``."""

from __future__ import annotations

import datetime as dt

from ..accounts.models import User
from ..audit import AuditEntry
from ..calls.models import QUEUED, Call, OperatorPresence
from ..db import PreparedInsert, db, utcnow
from ..tenants.models import Tenant
from . import forms, search
from .models import OPERATOR, VOICEMAIL, Draft, Message, MessageVersion


def _name(user: User | None) -> str:
    return user.name or user.email if user else ""


def _mark(user: User | None, at: dt.datetime) -> dict:
    return {"by": user.id if user else None, "by_name": _name(user), "at": at.isoformat()}


# What every save writes: its INSERTs built once (db.PreparedInsert).
_INSERT_MESSAGE, _INSERT_VERSION = PreparedInsert(Message), PreparedInsert(MessageVersion)


def record(tenant: Tenant, clean: forms.Clean, user: User | None, *, call: Call | None = None,
           source: str = OPERATOR, confirmed_at: dict[str, str] | None = None) -> Message:
    """Save a checked message: its first version, its read-back marks (when each field was confirmed,
    from the draft, else now), the after-call work time; the operator's draft for the call goes."""
    now = utcnow()
    confirmed_at = confirmed_at or {}
    readback = {}
    for key in clean.readback:
        mark = _mark(user, now)
        if key in confirmed_at:
            mark["at"] = confirmed_at[key]
        readback[key] = mark
    after_call = None
    if call is not None and call.ended_at is not None:
        after_call = max(0, round((now - call.ended_at).total_seconds()))
    with db.atomic():
        message = _INSERT_MESSAGE.create(
            tenant=tenant, call=call, call_type=clean.form.key, call_type_label=clean.form.label,
            category=clean.category, urgent=clean.urgent, fields=clean.fields, labels=clean.labels,
            readback=readback, taken_at=now, taken_by=user, source=source, after_call_seconds=after_call)
        _INSERT_VERSION.insert(first_version(message, user))
        search.index(message, (call.from_number,) if call is not None and call.from_number else ())
        if call is not None and user is not None:
            Draft.delete().where((Draft.user == user) & (Draft.call == call)).execute()
    if call is not None and user is not None:
        OperatorPresence.wrap_up(user.id)  # after-call work over: the break they asked for begins
    return message


def first_version(message: Message, user: User | None) -> MessageVersion:
    """The version ``record`` writes first, not saved: what the message was when taken, by whom."""
    return MessageVersion(message=message, number=1, edited_by=user, edited_by_name=_name(user),
                          edited_at=message.taken_at, state=message.state())


def announce(app, message: Message) -> None:
    """After a message is saved: its immediate notifications go out at once (the worker retries
    what fails), and the live screens hear of it."""
    from ..delivery import service as delivery

    if ids := delivery.notify(message):
        delivery.send_soon(app.state.settings, ids)
    app.state.events.publish("messages", {"event": "saved", "message": message.id})
    if message.call_id is not None and Call.select().where(Call.status == QUEUED).exists():
        # Its operator's after-call work is over: they may now be the one a waiting call is offered to.
        app.state.events.publish("calls", {"event": "operator"})


def correct(message: Message, clean: forms.Clean, user: User, note: str = "") -> bool:
    """A supervisor's correction: a new version with who, when and what changed. A read-back field
    whose value changes loses its mark: the caller never heard the new value. Returns whether
    anything changed."""
    before = message.state()
    readback = {k: v for k, v in message.readback.items() if clean.fields.get(k) == message.fields.get(k)}
    after = {"call_type": clean.form.key, "category": clean.category, "urgent": clean.urgent,
             "fields": clean.fields, "readback": readback}
    changes = _changes(before, after)
    if not changes:
        return False
    now = utcnow()
    with db.atomic():
        number = message.version + 1
        updated = (Message.update(call_type=clean.form.key, call_type_label=clean.form.label, category=clean.category,
                                  urgent=clean.urgent, fields=clean.fields,
                                  labels={**message.labels, **clean.labels}, readback=readback, version=number)
                   .where((Message.id == message.id) & (Message.version == message.version)).execute())
        if not updated:
            raise Conflict()
        search.index(message, fields=clean.fields)
        MessageVersion.create(message=message, number=number, edited_by=user, edited_by_name=user.name or user.email,
                              edited_at=now, changes=changes, state=after, note=note)
        AuditEntry.record("message.correct", actor=user, tenant=message.tenant, target=str(message.id),
                          changes=changes)
    return True


class Conflict(Exception):
    """Somebody else corrected the message meanwhile."""


def _changes(before: dict, after: dict) -> dict:
    changes = {}
    for key in ("call_type", "category", "urgent"):
        if before[key] != after[key]:
            changes[key] = [before[key], after[key]]
    for key in list(before["fields"]) + [k for k in after["fields"] if k not in before["fields"]]:
        old, new = before["fields"].get(key, ""), after["fields"].get(key, "")
        if old != new:
            changes[f"fields.{key}"] = [old, new]
    return changes


MAX_NOTE = 2000


def _handled(handled: bool, user: User, note: str | None) -> dict:
    """The one rule for marking, from every door: who and when while handled; a note given replaces
    the old one, none keeps it."""
    values = {"handled": handled, "handled_at": utcnow() if handled else None, "handled_by": user if handled else None}
    if note is not None:
        values["handled_note"] = note
    return values


def set_handled(message: Message, handled: bool, user: User, note: str | None = None) -> None:
    """Marking it handled is also acknowledging it (the first acknowledgement stays; unmarking keeps it)."""
    with db.atomic():
        Message.update(**_handled(handled, user, note)).where(Message.id == message.id).execute()
        if handled:
            Message.acknowledge_all(Message.id == message.id, user)


def set_handled_many(tenant: Tenant, ids: list[int], handled: bool, user: User, note: str | None = None) -> int:
    """Several of one firm's messages at once, in one UPDATE: ids of other firms' messages match nothing."""
    if not ids:
        return 0
    these = (Message.tenant == tenant) & Message.id.in_(ids)
    with db.atomic():
        count = Message.update(**_handled(handled, user, note)).where(these).execute()
        if handled:
            Message.acknowledge_all(these, user)
    return count


def from_voicemail(call: Call) -> Message | None:
    """An after-hours recording becomes a message of the call's firm, once."""
    if call.tenant_id is None or Message.select().where(Message.call == call).exists():
        return None
    form = forms.form_of(call.tenant, None)
    fields = {"callback_number": call.from_number} if call.from_number else {}
    clean = forms.Clean(form, "message", False, fields, [], {})
    message = record(call.tenant, clean, None, call=call, source=VOICEMAIL)
    Message.update(recording_url=call.recording_url, recording_seconds=call.recording_seconds,
                   taken_at=call.arrived_at).where(Message.id == message.id).execute()
    return Message.get_by_id(message.id)


def earlier_messages(call: Call, limit: int = 10):
    """Messages taken from this caller for the same firm before this call, newest first."""
    if not call.from_number or call.tenant_id is None:
        return Message.select().where(False)
    return (Message.select().join(Call).where(
        (Message.tenant == call.tenant_id) & (Call.from_number == call.from_number) & (Call.id != call.id))
        .order_by(Message.taken_at.desc()).limit(limit))


# --------------------------------------------------------------------------------------------
# drafts: what an operator has typed for a call, kept on every change

def draft_for(user: User, call: Call) -> dict:
    row = Draft.get_or_none((Draft.user == user) & (Draft.call == call))
    return row.data if row else {}


def save_draft(user: User, call: Call, data: dict) -> None:
    values = {"data": data, "updated_at": utcnow()}
    if Draft.update(**values).where((Draft.user == user) & (Draft.call == call)).execute() == 0:
        Draft.insert(user=user, call=call, **values).on_conflict(
            conflict_target=[Draft.user, Draft.call], update=values).execute()


def drafts_of(user: User):
    return (Draft.select(Draft, Call).join(Call).where(Draft.user == user).order_by(Draft.updated_at.desc()))
