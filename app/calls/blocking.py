"""The signed "block this number" link of the report e-mail (blocking itself: ``BlockedNumber.block``),
which works without logging in: whoever holds the mail may block the caller it names for that firm, and
nothing else."""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "dengon.block"
# As long as a report e-mail is likely to be acted on; a forwarded old mail cannot block for ever.
LINK_LIFETIME = dt.timedelta(days=30)


class BadLink(Exception):
    """The link was altered, or it has expired (``tenant_id`` is then known: the page speaks its language)."""

    def __init__(self, expired: bool, tenant_id: int | None = None):
        super().__init__("expired" if expired else "tampered")
        self.expired, self.tenant_id = expired, tenant_id


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def link_token(secret: str, tenant_id: int, number: str) -> str:
    return _serializer(secret).dumps([tenant_id, number])


def read_link(secret: str, token: str, now: dt.datetime | None = None) -> tuple[int, str]:
    """(firm id, E.164 number) of a link signed within LINK_LIFETIME, else BadLink."""
    serializer = _serializer(secret)
    try:
        payload = serializer.loads(token, max_age=LINK_LIFETIME.total_seconds())
    except SignatureExpired as exc:  # well signed, so what it carries can be read: the firm's language
        try:
            payload = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadSignature:
            payload = None
        tenant_id = payload[0] if isinstance(payload, list) and payload else None
        raise BadLink(True, tenant_id if isinstance(tenant_id, int) else None) from exc
    except (BadSignature, ValueError) as exc:
        raise BadLink(False) from exc
    if (not isinstance(payload, list) or len(payload) != 2 or not isinstance(payload[0], int)
            or not isinstance(payload[1], str) or not payload[1].startswith("+")):
        raise BadLink(False)
    return payload[0], payload[1]

