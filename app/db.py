"""The database: one deferred peewee handle, bound from DATABASE_URL at start-up.

Models declare ``database = db`` through ``BaseModel``; ``bind(url)`` points it at SQLite or
PostgreSQL, so tests and tools choose the database with one argument.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from .settings import PROJECT_ROOT

db = pw.DatabaseProxy()

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # A saved message must survive a power cut, not only a crash of the process.
    "synchronous": "full",
    "busy_timeout": 10_000,
}


def connect(url: str) -> pw.Database:
    """A database object for ``url`` (not yet connected)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Pooled: opening a connection costs its pragmas, and closing the last one checkpoints the
        # WAL, both far dearer than a webhook's own queries. A pooled connection serves one thread
        # at a time, but not always the same one.
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, max_connections=32, stale_timeout=300,
                                    check_same_thread=False)
    if parts.scheme in ("postgresql", "postgres"):
        return PooledPostgresqlDatabase(
            unquote(parts.path.lstrip("/")),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname,
            port=parts.port,
            max_connections=32,
            stale_timeout=300,
            # libpq options such as ?sslmode=require&connect_timeout=5 pass through.
            **dict(parse_qsl(parts.query)),
        )
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")


def bind(url: str) -> pw.Database:
    """Point ``db`` at ``url``; binding the URL already bound keeps the open connections."""
    if db.obj is not None and getattr(db.obj, "dengon_url", None) == url:
        return db.obj
    if db.obj is not None and hasattr(db.obj, "close_all"):
        db.obj.close_all()  # another database now: its idle pooled connections would only leak
    database = connect(url)
    database.dengon_url = url
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return isinstance(db.obj, pw.PostgresqlDatabase)


def migrate() -> list[str]:
    """Apply pending migrations; returns their names."""
    with db.connection_context():
        return Runner(db.obj, directory=str(MIGRATIONS_DIR)).up()


def pending_migrations() -> list[str]:
    with db.connection_context():
        return [m.name for m in Runner(db.obj, directory=str(MIGRATIONS_DIR)).status() if not m.applied]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTimeField(pw.DateTimeField):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned timezone-aware."""

    def db_value(self, value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


class JSONField(pw.TextField):
    """JSON kept as text, the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False
