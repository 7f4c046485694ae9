"""Creating users and tokens and taking access away: the rules shared by the command line, the demo,
the account page and (later) the console. Every change is written to the audit log."""

from __future__ import annotations

import secrets

from ..audit import AuditEntry
from ..db import db
from ..tenants.config import EMAIL_RE
from ..tenants.models import Tenant
from .models import CLIENT, ROLES, ApiToken, Session, User

MIN_PASSWORD = 10


class AccountError(Exception):
    pass


def _user(email: str) -> User:
    if (user := User.by_email(email)) is None:
        raise AccountError(f"no user with the e-mail address {User.normalise_email(email)}")
    return user


def add_user(email: str, role: str, *, password: str | None, tenant_slug: str | None = None, name: str = "",
             language: str = "ja", actor: User | None = None) -> User:
    """``password`` None: the user has none anyone knows until they set one by a link (PasswordReset)."""
    email = User.normalise_email(email)
    if not EMAIL_RE.match(email):
        raise AccountError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    tenant = None
    if role == CLIENT:
        if not tenant_slug:
            raise AccountError("a client user needs --tenant SLUG (the firm it belongs to)")
        if (tenant := Tenant.by_slug(tenant_slug)) is None:
            raise AccountError(f"--tenant {tenant_slug!r}: no such firm")
    elif tenant_slug:
        raise AccountError(f"--tenant is only for client users; a {role} serves every firm")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"password: expected at least {MIN_PASSWORD} characters")
    with db.atomic():
        if User.by_email(email):
            raise AccountError(f"a user with the e-mail address {email} already exists")
        # The firm's first client user owns it: they invite and remove its other users (the command
        # line has no flag for it; interfaces.md fixes its arguments).
        owner = role == CLIENT and not has_owner(tenant)
        user = User(email=email, role=role, tenant=tenant, name=name, language=language, is_owner=owner)
        user.set_password(password if password is not None else secrets.token_urlsafe(32))
        user.save()
        AuditEntry.record("user.create", actor=actor, tenant=tenant, target=email,
                          changes={"role": [None, role], **({"is_owner": [False, True]} if owner else {})})
    return user


def has_owner(tenant: Tenant) -> bool:
    """Whether one of the firm's client users owns it (a user moved in from elsewhere does not make a second)."""
    return User.select().where(User.tenant == tenant, User.role == CLIENT, User.is_owner == True).exists()  # noqa: E712


def create_token(email: str, actor: User | None = None) -> tuple[User, str]:
    user = _user(email)
    with db.atomic():
        row, token = ApiToken.issue(user)
        AuditEntry.record("token.create", actor=actor, tenant=user.tenant, target=f"{user.email} {row.prefix}…")
    return user, token


def revoke_tokens(email: str | None, actor: User | None = None) -> dict[str, list[str]]:
    """Revoke the API tokens in use of one user, or of every user when ``email`` is None.
    Returns each affected user's e-mail with the prefixes of the tokens revoked."""
    users = [_user(email)] if email is not None else list(
        User.select().join(ApiToken).where(ApiToken.revoked_at.is_null()).distinct().order_by(User.email))
    revoked = {}
    with db.atomic():
        for user in users:
            if prefixes := ApiToken.revoke_for(user):
                revoked[user.email] = prefixes
                AuditEntry.record("token.revoke", actor=actor, tenant=user.tenant, target=user.email,
                                  changes={"tokens": [f"{p}…" for p in prefixes]})
    return revoked


def set_active(email: str, active: bool, actor: User | None = None) -> tuple[User, bool, int]:
    """Disable or enable a user. Returns the user, whether anything changed, and how many of their
    sessions were ended (disabling signs them out everywhere)."""
    user = _user(email)
    if user.is_active == active:
        return user, False, 0
    with db.atomic():
        ended = user.set_active(active)
        AuditEntry.record("user.enable" if active else "user.disable", actor=actor, tenant=user.tenant,
                          target=user.email, changes={"is_active": [not active, active]})
    return user, True, ended


def change_password(user: User, new: str, keep_session=None) -> list[str]:
    """Set a new password: every other browser signed in as the user is signed out, and their API
    tokens are revoked (a token made with the old password must not outlive it). Returns the
    prefixes of the tokens revoked; tokens created afterwards work."""
    with db.atomic():
        user.set_password(new)
        user.save(only=[User.password_hash])
        others = Session.delete().where(Session.user == user)
        if keep_session is not None:
            others = others.where(Session.id != keep_session.id)
        others.execute()
        revoked = ApiToken.revoke_for(user)
        AuditEntry.record("user.password", actor=user, tenant=user.tenant, target=user.email)
        if revoked:
            AuditEntry.record("token.revoke", actor=user, tenant=user.tenant, target=user.email,
                              changes={"tokens": [f"{p}…" for p in revoked], "reason": "password changed"})
    return revoked
