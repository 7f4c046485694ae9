"""Under load and faults no call is lost: a burst of inbound calls is answered and recorded in full,
and a call that arrives while the database is away still hears the queue and is recorded once it is back."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest

from app import db, settings as settings_module
from app.calls import webhooks
from app.calls.models import ABANDONED, Call
from app.calls.spool import Spool
from app.tenants import store
from app.tenants.models import Tenant

from .browser import Server, free_port
from .conftest import POSTGRES, _admin_connection, minimal_config

BURST = 200
FIRM_LINE = "03-1111-2222"
SERVICE_NUMBER = "+815069990000"


def inbound(sid: str | None = None) -> dict:
    """A call to the service's number, forwarded from the firm's own line."""
    return {"CallSid": sid or "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "To": SERVICE_NUMBER,
            "From": "+819012345678", "ForwardedFrom": "+81311112222", "CallStatus": "ringing",
            "Direction": "inbound", "ApiVersion": "2010-04-01"}


def signed_headers(settings, path: str, params: dict) -> dict:
    return {"X-Twilio-Signature": webhooks.sign(settings, path, params)}


def _call(sid: str) -> Call:
    with db.db.connection_context():
        return Call.select(Call, Tenant).join(Tenant).where(Call.sid == sid).get()


def calls_recorded(sids: set[str], within: float = 0.0) -> set[str]:
    """The CallSids among ``sids`` the database holds, waiting up to ``within`` seconds for all of them."""
    deadline = time.monotonic() + within
    while True:
        with db.db.connection_context():
            found = {sid for (sid,) in Call.select(Call.sid).where(Call.sid.in_(list(sids))).tuples()}
        if found == sids or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def firm(database):
    return store.import_config(minimal_config("firm", FIRM_LINE))


def test_a_burst_of_200_concurrent_inbound_calls_is_answered_and_recorded_in_full(environ, firm, tmp_path):
    server = Server(environ, tmp_path)
    try:
        settings = settings_module.load({**environ, "PUBLIC_URL": server.url}, var_dir=tmp_path / "var")
        calls = [inbound() for _ in range(BURST)]

        async def burst():
            limits = httpx2.Limits(max_connections=BURST, max_keepalive_connections=BURST)
            async with httpx2.AsyncClient(base_url=server.url, timeout=20, limits=limits) as client:
                return await asyncio.gather(*(
                    client.post("/twilio/voice", data=params, headers=signed_headers(settings, "/twilio/voice", params))
                    for params in calls))

        answers = asyncio.run(burst())
    finally:
        server.stop()
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == BURST, {s: statuses.count(s) for s in set(statuses)}
    assert all("<Enqueue" in a.text for a in answers)
    sids = {params["CallSid"] for params in calls}
    assert calls_recorded(sids) == sids


def post(client, settings, path: str, params: dict):
    return client.post(path, data=params, headers=signed_headers(settings, path, params))


def test_a_call_still_hears_the_queue_when_no_connection_is_free_and_is_recorded_once_one_is(
        client, settings, firm, monkeypatch):
    pool = db.db.obj
    # A small pool, every connection busy past the wait: as a long burst beside a slow database would make it.
    monkeypatch.setattr(pool, "_max_connections", 3)
    monkeypatch.setattr(pool, "_wait_timeout", 0.3)
    pool.close_idle()
    release, holding = threading.Event(), threading.Barrier(3)

    def hold():
        with db.db.connection_context():
            db.db.execute_sql("SELECT 1")
            holding.wait()
            release.wait()

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for holder in holders:
        holder.start()
    holding.wait()  # with the test's own connection, the pool's three are taken
    try:
        params = inbound()
        arrived = db.utcnow()
        answer = post(client, settings, "/twilio/voice", params)
        assert answer.status_code == 200 and "<Enqueue" in answer.text
        assert post(client, settings, "/twilio/wait", params).status_code == 200  # the ringback needs no database
        time.sleep(1)
        hung_up = db.utcnow()
        assert post(client, settings, "/twilio/status", {**params, "CallStatus": "completed"}).status_code == 200
        assert calls_recorded({params["CallSid"]}) == set()
    finally:
        release.set()
        for holder in holders:
            holder.join()
    assert calls_recorded({params["CallSid"]}, within=10) == {params["CallSid"]}
    deadline = time.monotonic() + 5
    while (call := Call.get(Call.sid == params["CallSid"])).ended_at is None and time.monotonic() < deadline:
        time.sleep(0.2)
    # Replayed in order and dated when they came: the caller who hung up is abandoned, not left waiting.
    assert call.tenant_id == firm.id and call.status == ABANDONED
    assert abs((call.arrived_at - arrived).total_seconds()) < 1
    assert abs((call.ended_at - hung_up).total_seconds()) < 1


def test_a_kept_webhook_that_cannot_be_replayed_is_set_aside_and_holds_no_later_call_back(app, settings, firm):
    spool = Spool.for_settings(settings)
    spool.folder.mkdir(parents=True)
    (spool.folder / "00000000000000000001-1-0.json").write_text('{"hook": "voice", "at": ')  # a torn file
    params = inbound()
    spool.keep("voice", params)
    assert spool.replay(webhooks.replayer(app)) == 1
    assert calls_recorded({params["CallSid"]}) == {params["CallSid"]}
    assert [p.name for p in (spool.folder / "failed").iterdir()] == ["00000000000000000001-1-0.json"]
    assert not spool.backlog()


class Link:
    """The TCP path from the app to PostgreSQL, which the test can cut (the server is down: existing
    connections drop, new ones are refused) and restore, on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
        self._sockets: list[socket.socket] = []
        self.restore()

    def url(self, database_url: str) -> str:
        from urllib.parse import urlsplit, urlunsplit
        parts = urlsplit(database_url)
        credentials = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"))

    def restore(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        for s in [self._listener, *self._sockets]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                near, _ = listener.accept()
                far = socket.create_connection(self.target)
            except OSError:
                return
            self._sockets += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def postgres_environ(environ):
    """The test's environment on a PostgreSQL server, with the firm: on a PostgreSQL run its own
    database; on a SQLite run a throw-away one beside TEST_POSTGRES_URL's (skipped only when no
    server answers there: this test takes a database server down, and SQLite has none)."""
    if POSTGRES:
        db.bind(environ["DATABASE_URL"])
        with db.db.connection_context():
            store.import_config(minimal_config("firm", FIRM_LINE))
        yield environ
        return
    import psycopg2

    base = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
    try:
        admin = _admin_connection(base)
    except psycopg2.OperationalError as e:
        pytest.skip(f"no PostgreSQL server answers at {base}: {e}")
    name = f"dengon_test_{uuid.uuid4().hex[:10]}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    try:
        db.bind(url)
        db.migrate()
        with db.db.connection_context():
            store.import_config(minimal_config("firm", FIRM_LINE))
        yield {**environ, "DATABASE_URL": url}
    finally:
        db.db.close_all()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_a_call_while_the_database_server_is_down_hears_the_queue_and_is_recorded_with_its_end_when_it_is_back(
        postgres_environ, tmp_path):
    environ = postgres_environ
    parts = urlsplit(environ["DATABASE_URL"])
    link = Link((parts.hostname, parts.port or 5432))
    server = Server({**environ, "DATABASE_URL": link.url(environ["DATABASE_URL"])}, tmp_path)
    try:
        settings = settings_module.load({**environ, "PUBLIC_URL": server.url}, var_dir=tmp_path / "var")
        with httpx2.Client(base_url=server.url, timeout=20) as provider:
            link.cut()
            params = inbound()
            arrived = db.utcnow()
            answer = post(provider, settings, "/twilio/voice", params)
            assert answer.status_code == 200 and "<Enqueue" in answer.text
            assert post(provider, settings, "/twilio/wait", params).status_code == 200  # the ringback plays on
            time.sleep(1.5)
            hung_up = db.utcnow()
            ended = post(provider, settings, "/twilio/status", {**params, "CallStatus": "completed"})
            assert ended.status_code == 200
            time.sleep(1.5)  # the replayer finds the server still down, and keeps them
            assert calls_recorded({params["CallSid"]}) == set()
            link.restore()
            assert calls_recorded({params["CallSid"]}, within=10) == {params["CallSid"]}
            # The status went in after the arrival: the call ended, not a ghost left waiting, and dated when it happened.
            deadline = time.monotonic() + 5
            while (call := _call(params["CallSid"])).ended_at is None and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        server.stop()
        link.cut()
    assert call.tenant.slug == "firm" and call.status == "abandoned"
    assert abs((call.arrived_at - arrived).total_seconds()) < 1
    assert abs((call.ended_at - hung_up).total_seconds()) < 1
