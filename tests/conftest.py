"""Test set-up: a real database per test (SQLite file, or a throw-away PostgreSQL database when
DATABASE_URL points at a server), the app with a TestClient, and the people of every test:
alice (client of firm A), charlie (client of firm B, the outsider), and one user per staff role."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee as pw
import pytest
from starlette.testclient import TestClient

from app import db, settings as settings_module
from app.accounts import service
from app.models import MODELS
from app.tenants import store
from app.tenants.config import validate

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
BASE_URL = os.environ.get("DATABASE_URL", "sqlite:///var/dengon.db")
POSTGRES = urlsplit(BASE_URL).scheme in ("postgres", "postgresql")


def _admin_connection(url: str):
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
                            host=parts.hostname, port=parts.port)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per test run: into a SQLite file that each test copies, or into a fresh
    PostgreSQL database (created here, dropped at the end) that each test empties afterwards."""
    if not POSTGRES:
        path = tmp_path_factory.mktemp("template") / "dengon.db"
        db.bind(f"sqlite:///{path}")
        db.migrate()
        db.db.close_all()  # the last connection closed checkpoints the WAL into the file copied
        yield path
        return
    name = f"dengon_test_{uuid.uuid4().hex[:10]}"
    conn = _admin_connection(BASE_URL)
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(BASE_URL)._replace(path=f"/{name}"))
    db.bind(url)
    db.migrate()
    yield url
    db.db.close_all()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


@pytest.fixture
def database_url(database_template, tmp_path):
    if not POSTGRES:
        path = tmp_path / "dengon.db"
        shutil.copy(database_template, path)
        yield f"sqlite:///{path}"
        return
    yield database_template
    db.bind(database_template)
    tables = ", ".join(f'"{m._meta.table_name}"' for m in MODELS)
    with db.db.connection_context():
        db.db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    db.db.close_all()


@pytest.fixture
def environ(database_url, tmp_path):
    """The environment a Dengon process of this test runs with."""
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "PUBLIC_URL": "http://testserver",
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }


@pytest.fixture
def settings(environ, tmp_path):
    return settings_module.load(environ, var_dir=tmp_path / "var")


@pytest.fixture
def database(settings):
    """The test's database, bound and connected, for tests that use models directly."""
    db.bind(settings.DATABASE_URL)
    with db.db.connection_context():
        yield db.db
    if POSTGRES:
        db.db.close_all()


@pytest.fixture
def app(settings):
    from app.main import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def minimal_config(slug: str, *numbers: str, **extra) -> dict:
    raw = {"slug": slug, "name": f"{slug} 株式会社", "answer_phrase": "お電話ありがとうございます。",
           "numbers": [{"number": n, "kind": "forwarded"} for n in numbers] or
                      [{"number": f"03-5555-{secrets.randbelow(9000) + 1000}", "kind": "forwarded"}], **extra}
    config, problems = validate(raw)
    assert not problems, problems
    return config


@pytest.fixture
def firm_a(database):
    return store.import_config(minimal_config("firm-a", "03-1111-2222"))


@pytest.fixture
def firm_b(database):
    return store.import_config(minimal_config("firm-b", "06-3333-4444"))


@pytest.fixture
def demo_firms(database):
    store.import_files(store.tenant_files(ROOT / "tenants"), default_region="JP")


def _user(email, role, tenant=None):
    return service.add_user(email, role, password=PASSWORD, tenant_slug=tenant.slug if tenant else None)


@pytest.fixture
def alice(firm_a):
    return _user("alice@firm-a.example.jp", "client", firm_a)


@pytest.fixture
def charlie(firm_b):
    return _user("charlie@firm-b.example.jp", "client", firm_b)


@pytest.fixture
def admin(database):
    return _user("admin@dengon.example", "admin")


@pytest.fixture
def supervisor(database):
    return _user("sv@dengon.example", "supervisor")


@pytest.fixture
def operator(database):
    return _user("op@dengon.example", "operator")


def csrf_token(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def log_in(client: TestClient, user, password: str = PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password,
                                           "csrf_token": csrf_token(client)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


@pytest.fixture
def demo_logins(settings):
    """The demo firms and users, as `dengon demo` makes them: [(email, password, role, firm slug)]."""
    from app import demo

    return demo.prepare(settings)


@pytest.fixture
def server(environ, demo_logins, tmp_path):
    """A real `dengon serve` process on a free port, over the test's database with the demo data."""
    from .browser import Server

    server = Server(environ, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def inbox():
    """A real SMTP server on loopback; point SMTP_URL at ``inbox.url``."""
    from .mail import Inbox

    server = Inbox().start()
    yield server
    server.stop()


def old_firm() -> int:
    """A firm written into a schema older than 0015: today's model would also write tenant.version."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return pw.Table("tenant").bind(db.db.obj).insert(
        slug="law", name="山田法律事務所", name_kana="", language="ja", timezone="Asia/Tokyo", region="JP",
        answer_phrase="お電話ありがとうございます。", instructions="", after_hours="answer", after_hours_message="",
        created_at=now, updated_at=now).execute()
