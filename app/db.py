"""The database: one deferred peewee handle, bound from DATABASE_URL at start-up.

Models declare ``database = db`` through ``BaseModel``; ``bind(url)`` points it at SQLite or
PostgreSQL, so tests and tools choose the database with one argument.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee as pw
from playhouse.migrations import Runner
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase, PooledSqliteDatabase

from .settings import PROJECT_ROOT

db = pw.DatabaseProxy()

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"

# Sizing, in one place. A web request does its database work in one of the web process's worker
# threads (the app sets anyio's default thread limiter to WEB_THREADS at start-up), holding one
# pooled connection: the pool has one for each thread, and a few for work outside those threads
# (the spool's replay, the threads that send deliveries beside a request). So a request
# never waits for a connection in normal operation; when one does (those few are busy), it waits up
# to POOL_WAIT_SECONDS, which rides out a burst yet leaves time to answer the provider (it gives up
# on a webhook after 15 s): past that, the database counts as unavailable (see calls/spool.py).
# README "Running in production" relates these numbers to PostgreSQL's max_connections.
WEB_THREADS = 32
POOL_SIZE = WEB_THREADS + 4
POOL_WAIT_SECONDS = 5
# A PostgreSQL server that does not answer at all (a dead host, not a refused port) is given up on
# after this long, not after the minutes TCP retries for: connecting, and a query sent on a
# connection whose host vanished (its data unacknowledged). The URL's ?connect_timeout= and
# ?tcp_user_timeout= (milliseconds) override them.
UNREACHABLE_AFTER_SECONDS = 5

# What "the database is unavailable" looks like, as opposed to a query it refuses: no connection to
# be had (server down or unreachable, pool exhausted past its wait), a connection lost mid-way, a lock
# not granted in time. Callers that can do without the database for a while (calls/spool.py) catch these.
UNAVAILABLE = (pw.OperationalError, pw.InterfaceError, MaxConnectionsExceeded)

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
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, max_connections=POOL_SIZE,
                                    timeout=POOL_WAIT_SECONDS, stale_timeout=300, check_same_thread=False)
    if parts.scheme in ("postgresql", "postgres"):
        return PooledPostgresqlDatabase(
            unquote(parts.path.lstrip("/")),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname,
            port=parts.port,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS,
            stale_timeout=300,
            # libpq options such as ?sslmode=require&connect_timeout=5 pass through.
            **{"connect_timeout": str(UNREACHABLE_AFTER_SECONDS),
               "tcp_user_timeout": str(UNREACHABLE_AFTER_SECONDS * 1000), **dict(parse_qsl(parts.query))},
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


def read_then_write():
    """A transaction that reads, then writes what it read decided. SQLite's default (deferred) one
    cannot wait for a concurrent writer when it turns from reading to writing: it fails at once with
    "database is locked". Taking the write lock first makes it wait its turn (busy_timeout) instead.
    PostgreSQL's row locks do this by themselves."""
    return db.atomic() if is_postgres() else db.atomic("IMMEDIATE")


def migrate() -> list[str]:
    """Apply pending migrations; returns their names."""
    with db.connection_context():
        return Runner(db.obj, directory=str(MIGRATIONS_DIR)).up()


def pending_migrations() -> list[str]:
    with db.connection_context():
        return [m.name for m in Runner(db.obj, directory=str(MIGRATIONS_DIR)).status() if not m.applied]


_now: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("dengon_now", default=None)


def utcnow() -> dt.datetime:
    """The time now, or the time ``as_of`` set (work done late dated when it happened)."""
    return _now.get() or dt.datetime.now(dt.timezone.utc)


@contextlib.contextmanager
def as_of(at: dt.datetime):
    """Within this block (and this thread), ``utcnow()`` is ``at``: a webhook replayed from the
    spool records its call as arriving, or ending, when the provider told us, not when it was replayed."""
    token = _now.set(at)
    try:
        yield
    finally:
        _now.reset(token)


class Prepared:
    """A query that every request runs, its SQL built by peewee once per kind of database instead of
    at each run: building the SQL of a select of a dozen columns costs more CPU than SQLite takes to
    run it (~0.2 ms; bench/messages.py). ``build`` makes the query from its parameters, which must
    be text compared with text columns; each run gives new values to the same SQL, and peewee makes
    the rows into ``model`` instances (``Model.raw``: each column of the model's converted by its field,
    any other kept as the driver gives it, under its alias)."""

    def __init__(self, model: type[pw.Model], build):
        self.model, self.build = model, build
        self.arity = build.__code__.co_argcount
        self._built: dict[type, tuple[str, list]] = {}

    def _sql(self) -> tuple[str, list]:
        kind = type(db.obj)  # the SQL differs between SQLite and PostgreSQL, not between two databases of one
        if (built := self._built.get(kind)) is None:
            marks = [f"\0dengon-parameter-{i}\0" for i in range(self.arity)]
            sql, params = self.build(*marks).sql()
            # Each mark must come back as one parameter of its own, never inlined into the SQL.
            if any(params.count(m) != 1 for m in marks) or any(m in sql for m in marks):
                raise ValueError(f"{sql}: each parameter must be a value of its own")
            # (index of the value given, None) for a parameter; (None, value) for one the query fixes
            built = self._built[kind] = (sql, [(marks.index(p), None) if p in marks else (None, p) for p in params])
        return built

    def rows(self, *values: str) -> list[pw.Model]:
        if not all(isinstance(v, str) for v in values):
            raise TypeError("a Prepared query takes text values")
        sql, params = self._sql()
        return list(self.model.raw(sql, *[values[i] if i is not None else fixed for i, fixed in params]))

    def first(self, *values: str) -> pw.Model | None:
        found = self.rows(*values)
        return found[0] if found else None


class PreparedInsert:
    """``Model.create`` for a row that every save writes, its INSERT built by peewee once per kind of
    database (a message's takes more CPU to build than to run): every column but the primary key,
    each value converted by its field's ``db_value`` as peewee converts it, the new id returned."""

    def __init__(self, model: type[pw.Model]):
        self.model, self.key = model, model._meta.primary_key
        self.fields = [f for f in model._meta.sorted_fields if f is not self.key]
        self._built: dict[type, str] = {}

    def _sql(self) -> str:
        kind = type(db.obj)
        if (sql := self._built.get(kind)) is None:
            marks = [f"\0dengon-column-{i}\0" for i in range(len(self.fields))]
            # pw.Value: the marks as they are, not converted; each run converts its own values.
            sql, params = self.model.insert({f: pw.Value(m) for f, m in zip(self.fields, marks)}).returning(
                self.key).sql()
            if params != marks:
                raise ValueError(f"{sql}: expected one parameter per column, in order")
            sql = self._built[kind] = sql
        return sql

    def insert(self, row: pw.Model) -> pw.Model:
        """Write a new ``row`` (made with its fields' defaults, as ``Model.create`` makes it); it gets its id."""
        # A foreign key's value is the id it holds: never a query for the row it names.
        params = [f.db_value(getattr(row, f.object_id_name if isinstance(f, pw.ForeignKeyField) else f.name))
                  for f in self.fields]
        ((new_id,),) = db.execute_sql(self._sql(), params).fetchall()
        setattr(row, self.key.name, new_id)
        return row

    def create(self, **values) -> pw.Model:
        return self.insert(self.model(**values))


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
