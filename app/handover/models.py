"""Handover notes (引き継ぎ): what one shift tells the next, for every operator or about one firm, until
it expires; and who has read each one."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from ..accounts.models import User
from ..db import BaseModel, UTCDateTimeField, utcnow
from ..tenants.models import Tenant

MAX_TEXT = 1000
MAX_DAYS = 31  # a note is for the next shifts, not a standing instruction (that is the firm's configuration)


class HandoverNote(BaseModel):
    """「山田様から折り返しの電話があれば、至急扱いで」: in force from ``created_at`` until ``expires_at``
    unless withdrawn; about one firm (shown on its screen pop) or, without one, for everyone."""

    text = pw.TextField()
    author = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="handover_notes")
    tenant = pw.ForeignKeyField(Tenant, null=True, on_delete="CASCADE", backref="handover_notes")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    withdrawn_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("expires_at",), False),)

    @classmethod
    def in_force(cls, now: dt.datetime | None = None):
        """Every note not expired nor withdrawn, newest first."""
        now = now or utcnow()
        return (cls.select(cls, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER)
                .where(cls.withdrawn_at.is_null() & (cls.expires_at > now))
                .order_by(cls.created_at.desc(), cls.id.desc()))

    @classmethod
    def for_firm(cls, tenant: Tenant | int, now: dt.datetime | None = None):
        """The notes about one firm, for its screen pop."""
        return cls.in_force(now).where(cls.tenant == tenant)

    @classmethod
    def unread_by(cls, user: User, now: dt.datetime | None = None) -> list["HandoverNote"]:
        """The notes in force ``user`` has not acknowledged (their own count as read)."""
        read = HandoverRead.select(HandoverRead.note).where(HandoverRead.user == user)
        return list(cls.in_force(now).where(cls.id.not_in(read) & ((cls.author != user) | cls.author.is_null())))

    @classmethod
    def write(cls, text: str, author: User, tenant: Tenant | None, expires_at: dt.datetime) -> "HandoverNote":
        note = cls.create(text=text.strip(), author=author, tenant=tenant, expires_at=expires_at)
        HandoverRead.mark(author, [note.id])  # the writer has read it
        return note

    def withdraw(self) -> bool:
        return type(self).update(withdrawn_at=utcnow()).where(
            (type(self).id == self.id) & type(self).withdrawn_at.is_null()).execute() > 0

    def readers(self) -> list["HandoverRead"]:
        return list(HandoverRead.select(HandoverRead, User).join(User).where(HandoverRead.note == self)
                    .order_by(HandoverRead.read_at, HandoverRead.id))


class HandoverRead(BaseModel):
    """When a user acknowledged a note: the first acknowledgement is kept."""

    note = pw.ForeignKeyField(HandoverNote, backref="reads", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE", backref="handover_reads")
    read_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("note", "user"), True),)

    @classmethod
    def mark(cls, user: User, note_ids) -> None:
        """Acknowledge these notes; a second acknowledgement (or two tabs at once) changes nothing."""
        now = utcnow()
        rows = [{"note": i, "user": user.id, "read_at": now} for i in note_ids]
        if rows:
            cls.insert_many(rows).on_conflict_ignore().execute()
