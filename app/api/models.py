"""What the API remembers between requests: the results of idempotent writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import peewee as pw

from ..accounts.models import User
from ..db import BaseModel, JSONField, UTCDateTimeField, utcnow


class IdempotencyKey(BaseModel):
    """The first result of a write sent with an ``Idempotency-Key`` header, kept for a day, so that a
    client retrying after a lost answer gets that result instead of a second message. Written in
    the same transaction as the message: a concurrent twin waits on the unique index, fails, and
    returns the stored result."""

    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    key = pw.CharField(max_length=255)
    body_hash = pw.CharField(max_length=64)
    status = pw.SmallIntegerField()
    response = JSONField()
    created_at = UTCDateTimeField(default=utcnow, index=True)

    LIFETIME = dt.timedelta(hours=24)
    MAX_LENGTH = 255

    class Meta:
        indexes = ((("user", "key"), True),)

    @classmethod
    def is_valid(cls, key: str) -> bool:
        """1–255 printable ASCII characters (a UUID, say)."""
        return 0 < len(key) <= cls.MAX_LENGTH and all(" " <= c <= "~" for c in key)

    @staticmethod
    def digest(body) -> str:
        """The body's fingerprint: the same JSON however it is spaced or its keys ordered."""
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def recall(cls, user: User, key: str) -> "IdempotencyKey | None":
        """The stored result of ``key`` for this user, unless it is older than a day."""
        return cls.get_or_none(cls.user == user, cls.key == key, cls.created_at > utcnow() - cls.LIFETIME)

    @classmethod
    def remember(cls, user: User, key: str, body, status: int, response) -> "IdempotencyKey":
        """Keep a result; raises IntegrityError when a live one for the key exists (a concurrent twin
        committed first). Call inside the transaction that made the result."""
        # An expired use of the key would hold the unique index: it is forgotten, and this is new.
        cls.delete().where(cls.user == user, cls.key == key, cls.created_at <= utcnow() - cls.LIFETIME).execute()
        return cls.create(user=user, key=key, body_hash=cls.digest(body), status=status, response=response)

    @classmethod
    def purge(cls) -> int:
        return cls.delete().where(cls.created_at <= utcnow() - cls.LIFETIME).execute()
