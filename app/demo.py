"""``dengon demo``: a working service on a fresh machine, with the demo firms and one user per role."""

from __future__ import annotations

import secrets
import subprocess
import sys

from . import db
from .accounts import service
from .accounts.models import User
from .settings import PROJECT_ROOT
from .tenants import store

# (e-mail, role, firm, name)
STAFF_USERS = [
    ("admin@example.com", "admin", None, "管理 太郎"),
    ("supervisor@example.com", "supervisor", None, "監督 花子"),
    ("operator1@example.com", "operator", None, "応対 一美"),
    ("operator2@example.com", "operator", None, "応対 二郎"),
]


def demo_users() -> list[tuple[str, str, str | None, str]]:
    from .tenants.models import Tenant

    return STAFF_USERS + [(f"{t.slug}@example.com", "client", t.slug, t.name) for t in Tenant.listed()]


def prepare(settings) -> list[tuple[str, str, str | None, str]]:
    """Migrate, import the demo firms, and (re)set every demo user's password. Returns who can log in."""
    db.bind(settings.DATABASE_URL)
    db.migrate()
    with db.db.connection_context():
        store.import_files(store.tenant_files(PROJECT_ROOT / "tenants"), default_region=settings.DEFAULT_REGION)
        logins = []
        for email, role, slug, name in demo_users():
            password = secrets.token_urlsafe(9)
            user = User.by_email(email)
            if user is None:
                service.add_user(email, role, tenant_slug=slug, name=name, password=password)
            else:
                user.set_password(password)
                user.save(only=[User.password_hash])
            logins.append((email, password, role, slug))
    return logins


def run(settings, host: str | None = None, port: int | None = None) -> None:
    from .cli import _listen_address

    logins = prepare(settings)
    host, port = _listen_address(settings, host, port)
    print("\nDemo users (passwords are new on every 'dengon demo'):\n")
    for email, password, role, slug in logins:
        print(f"  {email:<32} {password:<14} {role}{' of ' + slug if slug else ''}")
    print(f"\nOpen {settings.PUBLIC_URL}/ and log in. Ctrl-C stops web and worker.\n", flush=True)

    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"])
    try:
        import uvicorn

        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info",
                    timeout_graceful_shutdown=3)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
