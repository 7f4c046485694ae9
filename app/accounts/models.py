"""Who may use Dengon: users with one role each, their sessions, API tokens and log-in attempts."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..db import BaseModel, Prepared, UTCDateTimeField, utcnow
from ..tenants.models import Tenant

ADMIN, SUPERVISOR, OPERATOR, CLIENT = "admin", "supervisor", "operator", "client"
ROLES = (ADMIN, SUPERVISOR, OPERATOR, CLIENT)
STAFF_ROLES = frozenset({ADMIN, SUPERVISOR, OPERATOR})
MANAGERS = frozenset({ADMIN, SUPERVISOR})  # who answer for what goes out: deliveries, report previews

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


def hash_secret(value: str) -> str:
    """Digest for high-entropy random secrets (session and API tokens), looked up by equality."""
    return hashlib.sha256(value.encode()).hexdigest()


class User(BaseModel):
    email = pw.CharField(max_length=254, unique=True)
    name = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=200)
    role = pw.CharField(max_length=16)
    # Client users belong to exactly one firm; staff to none (they serve every firm).
    tenant = pw.ForeignKeyField(Tenant, backref="users", null=True, on_delete="CASCADE")
    language = pw.CharField(max_length=2, default="ja")
    is_active = pw.BooleanField(default=True)
    # A client user who may invite and remove the firm's other users: the firm's first client user.
    is_owner = pw.BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def label(self) -> str:
        """How other people see this user named."""
        return self.name or self.email

    @classmethod
    def staff(cls):
        """The service's own people, who take calls (operators, supervisors, account managers), by name."""
        return cls.select().where(cls.role.in_(STAFF_ROLES)).order_by(cls.name, cls.email)

    @staticmethod
    def normalise_email(email: str) -> str:
        return email.strip().lower()

    @classmethod
    def by_email(cls, email: str) -> "User | None":
        return cls.get_or_none(cls.email == cls.normalise_email(email))

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if _hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
            self.save(only=[User.password_hash])
        return True

    def can_see(self, tenant: Tenant) -> bool:
        return self.is_staff or self.tenant_id == tenant.id

    def set_active(self, active: bool) -> int:
        """Disable or enable the user. Disabling ends their sessions (enabling does not bring them
        back); their API tokens are refused while disabled. Returns the number of sessions ended."""
        type(self).update(is_active=active).where(type(self).id == self.id).execute()
        self.is_active = active
        return 0 if active else Session.delete().where(Session.user == self).execute()


# A log-in attempt for an unknown e-mail is checked against this, so it takes as long as a real one.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def verify_dummy(password: str) -> None:
    try:
        _hasher.verify(DUMMY_HASH, password)
    except VerificationError:
        pass


class Session(BaseModel):
    """A logged-in browser. The cookie holds a random token; only its digest is stored."""

    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()

    IDLE = dt.timedelta(hours=12)  # a shift, with margin
    REFRESH = dt.timedelta(minutes=5)

    @classmethod
    def start(cls, user: User) -> tuple["Session", str]:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        session = cls.create(token_hash=hash_secret(token), user=user, expires_at=now + cls.IDLE)
        return session, token

    @classmethod
    def find(cls, token: str, *, touch: bool = True) -> "Session | None":
        """The live session of ``token``: not expired, its user not disabled. ``touch`` counts the
        look-up as activity (a page asked for), which keeps the session from idling out."""
        now = utcnow()
        session = (cls.select(cls, User).join(User)
                   .where(cls.token_hash == hash_secret(token), cls.expires_at > now, User.is_active == True)  # noqa: E712
                   .first())
        if session and touch and now - session.last_seen_at > cls.REFRESH:
            session.last_seen_at, session.expires_at = now, now + cls.IDLE
            session.save(only=[cls.last_seen_at, cls.expires_at])
        return session

    @classmethod
    def _live_staff(cls, now: dt.datetime):
        return (cls.select().join(User)
                .where(cls.expires_at > now, User.is_active == True, User.role.in_(list(STAFF_ROLES))))  # noqa: E712

    @classmethod
    def live_staff_ids(cls) -> set[int]:
        """The staff sessions live now: a live page of a session not among them is ended."""
        return {session_id for (session_id,) in cls._live_staff(utcnow()).select(cls.id).tuples()}

    @classmethod
    def signed_in_staff(cls, now: dt.datetime) -> dict[int, dt.datetime]:
        """Each active staff user with a live session, and since when: their earliest live session."""
        return dict(cls._live_staff(now).select(cls.user, pw.fn.MIN(cls.created_at)).group_by(cls.user).tuples())


class ApiToken(BaseModel):
    """A bearer token for the JSON API. Shown once when created; only its digest is stored."""

    token_hash = pw.CharField(max_length=64, unique=True)
    prefix = pw.CharField(max_length=12)  # lets people tell their tokens apart
    user = pw.ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    last_used_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)

    PREFIX = "dgn_"

    @classmethod
    def issue(cls, user: User) -> tuple["ApiToken", str]:
        token = cls.PREFIX + secrets.token_urlsafe(32)
        return cls.create(token_hash=hash_secret(token), prefix=token[:12], user=user), token

    @classmethod
    def authenticate(cls, token: str) -> User | None:
        user = _TOKEN_USER.first(hash_secret(token))
        if user is None:
            return None
        now, last_used_at = utcnow(), cls.last_used_at.python_value(user.token_last_used_at)
        if last_used_at is None or now - last_used_at > Session.REFRESH:
            cls.update(last_used_at=now).where(cls.id == user.token_id).execute()
        return user

    @classmethod
    def revoke_for(cls, user: User) -> list[str]:
        """Revoke every token of ``user`` still in use: each gets 401 from its next request on.
        Returns their prefixes, for the audit log."""
        rows = list(cls.select(cls.id, cls.prefix).where(cls.user == user, cls.revoked_at.is_null()))
        if rows:
            cls.update(revoked_at=utcnow()).where(cls.id.in_([r.id for r in rows])).execute()
        return [r.prefix for r in rows]


# Every API request: the live token's user, with the token's id and last use (db.Prepared).
_TOKEN_USER = Prepared(User, lambda digest: ApiToken.select(
    User, ApiToken.id.alias("token_id"), ApiToken.last_used_at.alias("token_last_used_at")).join(User).where(
    ApiToken.token_hash == digest, ApiToken.revoked_at.is_null(), User.is_active == True).limit(1))  # noqa: E712


class OneTimeLink:
    """A link mailed to someone that works once: the row has ``used_at``."""

    def use(self) -> bool:
        """Spend the link: True for the one request that does (two racing get one True)."""
        return bool(type(self).update(used_at=utcnow()).where(
            (type(self).id == self.id) & type(self).used_at.is_null()).execute())


class Invitation(OneTimeLink, BaseModel):
    """A firm's owner asked a colleague in: a one-time link, stored as a digest, where they set their
    own password. Used once (``used_at``), or never after ``expires_at``."""

    tenant = pw.ForeignKeyField(Tenant, backref="invitations", on_delete="CASCADE")
    email = pw.CharField(max_length=254)
    name = pw.CharField(max_length=200, default="")
    token_hash = pw.CharField(max_length=64, unique=True)
    invited_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    LIFETIME = dt.timedelta(days=7)

    @classmethod
    def issue(cls, tenant: Tenant, email: str, name: str, by: User | None) -> tuple["Invitation", str]:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        return cls.create(tenant=tenant, email=email, name=name, token_hash=hash_secret(token), invited_by=by,
                          created_at=now, expires_at=now + cls.LIFETIME), token

    @classmethod
    def open_by_token(cls, token: str) -> "Invitation | None":
        """The invitation of this link while it can still be used."""
        return (cls.select(cls, Tenant).join(Tenant)
                .where(cls.token_hash == hash_secret(token), cls.used_at.is_null(), cls.expires_at > utcnow())
                .first())

    @classmethod
    def pending(cls, tenant: Tenant):
        return (cls.select().where(cls.tenant == tenant, cls.used_at.is_null(), cls.expires_at > utcnow())
                .order_by(cls.created_at.desc()))

    @classmethod
    def withdraw_for(cls, tenant: Tenant, email: str) -> int:
        """Links not used yet for this address stop working (its user was removed)."""
        return cls.update(expires_at=utcnow()).where(
            cls.tenant == tenant, cls.email == email, cls.used_at.is_null(), cls.expires_at > utcnow()).execute()


class PasswordReset(OneTimeLink, BaseModel):
    """A one-time link where a user sets a new password: sent by an account manager, for a new user
    (``welcome``) or one who forgot theirs (``reset``). Only its digest is stored; used once, dead after
    ``expires_at``, and refused while its user is disabled."""

    user = pw.ForeignKeyField(User, backref="password_resets", on_delete="CASCADE")
    kind = pw.CharField(max_length=8, default="reset")
    token_hash = pw.CharField(max_length=64, unique=True)
    requested_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    WELCOME, RESET = "welcome", "reset"
    # A forgotten password is fixed the same day; a new colleague may open the mail after a weekend.
    LIFETIME = {RESET: dt.timedelta(hours=24), WELCOME: dt.timedelta(days=7)}

    @classmethod
    def issue(cls, user: User, kind: str, by: User | None) -> tuple["PasswordReset", str]:
        """A new link for ``user``; links sent before and not used stop working."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        cls.update(expires_at=now).where(cls.user == user, cls.used_at.is_null(), cls.expires_at > now).execute()
        return cls.create(user=user, kind=kind, token_hash=hash_secret(token), requested_by=by, created_at=now,
                          expires_at=now + cls.LIFETIME[kind]), token

    @classmethod
    def open_by_token(cls, token: str) -> "PasswordReset | None":
        return (cls.select(cls, User).join(User, on=(cls.user == User.id))
                .where(cls.token_hash == hash_secret(token), cls.used_at.is_null(), cls.expires_at > utcnow(),
                       User.is_active == True)  # noqa: E712
                .first())

    @classmethod
    def pending(cls, users) -> dict[int, "PasswordReset"]:
        """The open link of each of ``users`` that has one, by user id."""
        ids = [u.id for u in users]
        rows = cls.select().where(cls.user.in_(ids), cls.used_at.is_null(), cls.expires_at > utcnow()) if ids else []
        return {row.user_id: row for row in rows}


class LoginAttempt(BaseModel):
    email = pw.CharField(max_length=254, index=True)
    ip = pw.CharField(max_length=64, index=True)
    succeeded = pw.BooleanField()
    at = UTCDateTimeField(default=utcnow, index=True)

    WINDOW = dt.timedelta(minutes=15)
    MAX_PER_EMAIL = 5
    MAX_PER_IP = 100  # generous: an office behind one NAT shares an address

    @classmethod
    def begin(cls, email: str, ip: str) -> "LoginAttempt":
        """Record the attempt as failed *before* checking the password, so that simultaneous guesses
        all count: each sees the others' rows when it asks ``locked_for``."""
        return cls.create(email=email, ip=ip, succeeded=False)

    def succeed(self) -> None:
        type(self).update(succeeded=True).where(type(self).id == self.id).execute()

    def withdraw(self) -> None:
        """A refused (locked-out) attempt does not count against the user again."""
        self.delete_instance()

    def locked_for(self) -> dt.timedelta | None:
        """How long log-in stays refused for this e-mail or address, or None when it is allowed."""
        cls = type(self)
        since = utcnow() - cls.WINDOW
        # For an e-mail, only failures since its last success count, so a user who gets in
        # starts afresh; for an address, every failure counts.
        last_ok = (cls.select(cls.at).where(cls.email == self.email, cls.succeeded == True, cls.at > since)  # noqa: E712
                   .order_by(cls.at.desc()).first())
        waits = []
        for field, value, limit, start in ((cls.email, self.email, cls.MAX_PER_EMAIL, last_ok.at if last_ok else since),
                                           (cls.ip, self.ip, cls.MAX_PER_IP, since)):
            failures = (cls.select(cls.at)
                        .where(field == value, cls.succeeded == False, cls.at > start, cls.id != self.id)  # noqa: E712
                        .order_by(cls.at.desc()).limit(limit))
            times = [row.at for row in failures]
            if len(times) >= limit:
                waits.append(times[-1] + cls.WINDOW - utcnow())
        return max(waits) if waits else None
