"""Messages: what the caller wanted, taken down for the firm, read back, corrected, escalated."""

from __future__ import annotations

import peewee as pw

from ..accounts.models import User
from ..calls.models import Call
from ..db import BaseModel, JSONField, UTCDateTimeField, utcnow
from ..tenants.models import Tenant

# Where a message came from.
OPERATOR, API, VOICEMAIL = "operator", "api", "voicemail"


class Message(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="messages", on_delete="CASCADE")
    call = pw.ForeignKeyField(Call, backref="messages", null=True, on_delete="SET NULL")
    call_type = pw.CharField(max_length=40)
    call_type_label = pw.CharField(max_length=200, default="")  # as it was when taken
    category = pw.CharField(max_length=20)
    urgent = pw.BooleanField(default=False)
    fields = JSONField(default=dict)  # {key: value} in the form's order; phone numbers in E.164
    labels = JSONField(default=dict)  # the firm-specific fields' labels when taken: the firm may rename them
    # {key: {"by": user id, "by_name": name, "at": ISO time}}: which fields the operator read back to the
    # caller and confirmed, for the value now stored (a correction of such a field removes its mark).
    readback = JSONField(default=dict)
    taken_at = UTCDateTimeField(default=utcnow)
    taken_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    source = pw.CharField(max_length=16, default=OPERATOR)
    after_call_seconds = pw.IntegerField(null=True)  # the call's end → the message saved
    recording_url = pw.CharField(max_length=500, default="")
    recording_seconds = pw.IntegerField(null=True)
    handled = pw.BooleanField(default=False)
    handled_at = UTCDateTimeField(null=True)
    handled_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="handled_messages")
    handled_note = pw.TextField(default="")
    # The firm said it has seen the message (acknowledged, or marked handled): an urgent message's
    # escalation stops at the first acknowledgement, which is the one kept.
    acknowledged_at = UTCDateTimeField(null=True)
    acknowledged_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="acknowledged_messages")
    version = pw.IntegerField(default=1)

    @property
    def is_noise(self) -> bool:
        from ..tenants.models import NOISE_CATEGORIES

        return self.category in NOISE_CATEGORIES

    @property
    def kind_label(self) -> str:
        """What was taken, in words: a noise call is recorded as what it was, never under the call
        type the form had open (it is no message)."""
        from ..i18n import _
        from ..tenants.labels import CATEGORY_LABELS

        if self.is_noise:
            return _("Recorded as: {category}").format(category=_(CATEGORY_LABELS[self.category]))
        return self.call_type_label or _("Message")

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def acknowledge(self, user: User | None) -> bool:
        """The firm has seen it: who and when, kept from the first acknowledgement on (a second, or
        two at once, change nothing). Returns whether this one was the first; either way this object
        then holds the acknowledgement kept."""
        first = self.acknowledge_all(Message.id == self.id, user) > 0
        kept = Message.select(Message.acknowledged_at, Message.acknowledged_by).where(Message.id == self.id).get()
        self.acknowledged_at, self.acknowledged_by_id = kept.acknowledged_at, kept.acknowledged_by_id
        return first

    @classmethod
    def acknowledge_all(cls, where, user: User | None) -> int:
        """Acknowledge the messages ``where`` selects that nobody has acknowledged yet, in one UPDATE."""
        return cls.update(acknowledged_at=utcnow(), acknowledged_by=user).where(
            where & cls.acknowledged_at.is_null()).execute()

    def state(self) -> dict:
        """What a correction can change, as a version records it."""
        return {"call_type": self.call_type, "category": self.category, "urgent": self.urgent,
                "fields": dict(self.fields), "readback": dict(self.readback)}


# A firm's messages, newest first, page by page (keyset), and every message by when taken. Both carry
# what the figures count (stats/rollup.py), so that a month of messages is read from the index alone.
_FIGURES = (Message.category, Message.call, Message.taken_by)
Message.add_index(Message.index(Message.tenant, Message.taken_at, Message.id, *_FIGURES, name="message_firm_taken"))
Message.add_index(Message.index(Message.taken_at, Message.id, Message.tenant, *_FIGURES, name="message_taken"))


class MessageRead(BaseModel):
    """When each of the firm's users first opened a message: unread marks in the inbox, and "read by
    the firm at …" for staff."""

    message = pw.ForeignKeyField(Message, backref="reads", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="reads", on_delete="CASCADE")
    read_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("message", "user"), True),)

    @classmethod
    def mark(cls, message: Message, user: User) -> None:
        """The first opening counts; later ones change nothing (and two tabs racing insert once)."""
        cls.insert(message=message, user=user, read_at=utcnow()).on_conflict_ignore().execute()

    @classmethod
    def first(cls, message: Message) -> "MessageRead | None":
        """The firm's first reading of ``message``, with who read it."""
        return (cls.select(cls, User).join(User).where(cls.message == message)
                .order_by(cls.read_at, cls.id).first())

    @classmethod
    def read_ids(cls, user: User, message_ids: list[int]) -> set[int]:
        if not message_ids:
            return set()
        return {row[0] for row in cls.select(cls.message).where(
            (cls.user == user) & cls.message.in_(message_ids)).tuples()}


class MessageVersion(BaseModel):
    """Every version of a message: the first as taken, then each correction with who, when and what."""

    message = pw.ForeignKeyField(Message, backref="versions", on_delete="CASCADE")
    number = pw.IntegerField()
    edited_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    edited_by_name = pw.CharField(max_length=200, default="")
    edited_at = UTCDateTimeField(default=utcnow)
    changes = JSONField(default=dict)  # {"fields.body": [before, after], "category": [before, after], …}
    state = JSONField()
    note = pw.TextField(default="")

    class Meta:
        indexes = ((("message", "number"), True),)


class Draft(BaseModel):
    """What an operator has typed for a call and not saved yet, kept as they type."""

    user = pw.ForeignKeyField(User, backref="drafts", on_delete="CASCADE")
    call = pw.ForeignKeyField(Call, on_delete="CASCADE")
    # {"call_type", "category", "urgent", "fields": {key: value}, "confirmed": {key: {"value", "at"}}}
    data = JSONField(default=dict)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "call"), True),)


class Escalation(BaseModel):
    """A call or message an operator hands to a supervisor, with the reason, until resolved."""

    tenant = pw.ForeignKeyField(Tenant, null=True, on_delete="CASCADE")
    call = pw.ForeignKeyField(Call, null=True, on_delete="SET NULL")
    message = pw.ForeignKeyField(Message, null=True, backref="escalations", on_delete="SET NULL")
    raised_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="escalations_raised")
    raised_at = UTCDateTimeField(default=utcnow)
    reason = pw.TextField()
    resolved_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="escalations_resolved")
    resolved_at = UTCDateTimeField(null=True, index=True)
    resolution = pw.TextField(default="")

    @classmethod
    def open(cls):
        """The open ones, oldest first, with their firm and who raised them read in the same query: a
        board renders them without one query per escalation (it links the call and message by id)."""
        return (cls.select(cls, Tenant, User)
                .join(Tenant, pw.JOIN.LEFT_OUTER, on=(cls.tenant == Tenant.id)).switch(cls)
                .join(User, pw.JOIN.LEFT_OUTER, on=(cls.raised_by == User.id))
                .where(cls.resolved_at.is_null()).order_by(cls.raised_at, cls.id))
