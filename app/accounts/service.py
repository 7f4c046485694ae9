"""Creating users and tokens: the rules shared by the command line, the demo and (later) the console."""

from __future__ import annotations

from ..audit import AuditEntry
from ..db import db
from ..tenants.config import EMAIL_RE
from ..tenants.models import Tenant
from .models import CLIENT, ROLES, ApiToken, User

MIN_PASSWORD = 10


class AccountError(Exception):
    pass


def add_user(email: str, role: str, *, password: str, tenant_slug: str | None = None, name: str = "",
             language: str = "ja", actor: User | None = None) -> User:
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
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: expected at least {MIN_PASSWORD} characters")
    with db.atomic():
        if User.by_email(email):
            raise AccountError(f"a user with the e-mail address {email} already exists")
        user = User(email=email, role=role, tenant=tenant, name=name, language=language)
        user.set_password(password)
        user.save()
        AuditEntry.record("user.create", actor=actor, tenant=tenant, target=email, changes={"role": [None, role]})
    return user


def create_token(email: str, actor: User | None = None) -> tuple[User, str]:
    user = User.by_email(email)
    if user is None:
        raise AccountError(f"no user with the e-mail address {User.normalise_email(email)}")
    with db.atomic():
        row, token = ApiToken.issue(user)
        AuditEntry.record("token.create", actor=actor, tenant=user.tenant, target=f"{user.email} {row.prefix}…")
    return user, token
