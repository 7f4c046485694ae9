"""More than one web process: a call posted to one process reaches an operator connected to another."""

import os
import queue
import re
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest

from app import db, demo, settings as settings_module
from app.calls import webhooks

from .browser import Server
from .conftest import POSTGRES, _admin_connection

REDIS = "redis://127.0.0.1:6379/0"
POSTGRES_SERVER = os.environ.get("DATABASE_URL") if POSTGRES else "postgresql://postgres@127.0.0.1:5432/test"


def _answers(url: str, port: int) -> bool:
    try:
        socket.create_connection((urlsplit(url).hostname, urlsplit(url).port or port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["redis", "postgres"])
def environ_for_two(request, environ, tmp_path):
    """The environment both processes share: Redis pub/sub over the test's database, or
    PostgreSQL LISTEN/NOTIFY (a throw-away database when the suite itself runs on SQLite)."""
    if request.param == "redis":
        if not _answers(REDIS, 6379):
            pytest.skip("no Redis server on 127.0.0.1:6379")
        yield {**environ, "REDIS_URL": REDIS}
        return
    if POSTGRES:
        yield environ
        return
    if not _answers(POSTGRES_SERVER, 5432):
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"dengon_mp_{uuid.uuid4().hex[:8]}"
    conn = _admin_connection(POSTGRES_SERVER)
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    yield {**environ, "DATABASE_URL": urlunsplit(urlsplit(POSTGRES_SERVER)._replace(path=f"/{name}"))}
    if hasattr(db.db.obj, "close_all"):
        db.db.close_all()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.close()


def test_a_call_posted_to_one_process_reaches_an_operator_on_another(environ_for_two, tmp_path):
    settings = settings_module.load(environ_for_two, var_dir=tmp_path / "var")
    logins = demo.prepare(settings)
    email, password = next((e, p) for e, p, role, _ in logins if role == "operator")
    first, second = Server(environ_for_two, tmp_path), Server(environ_for_two, tmp_path)
    try:
        with httpx2.Client(base_url=first.url, timeout=10) as browser:
            token = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/login").text).group(1)
            assert browser.post("/login", data={"email": email, "password": password,
                                                "csrf_token": token}).status_code == 303
            lists: queue.Queue[str] = queue.Queue()

            def listen():
                try:
                    with browser.stream("GET", "/console/events") as stream:
                        event = []
                        for line in stream.iter_lines():
                            if line.startswith("data: "):
                                event.append(line[6:])
                            elif not line and event:
                                lists.put("\n".join(event))
                                event = []
                except httpx2.HTTPError:
                    pass  # the servers stop under the stream at the end of the test

            threading.Thread(target=listen, daemon=True).start()
            assert "waiting-call" not in lists.get(timeout=5)  # the stream opens with the (empty) list

            params = {"CallSid": "CA" + uuid.uuid4().hex, "To": "+815037865120", "From": "+819011112222"}
            on_second = settings.replace(PUBLIC_URL=second.url)
            posted = time.monotonic()
            response = httpx2.post(second.url + "/twilio/voice", data=params,
                                   headers={"X-Twilio-Signature": webhooks.sign(on_second, "/twilio/voice", params)})
            assert response.status_code == 200
            update = lists.get(timeout=5)
            assert time.monotonic() - posted < 1.0
            assert "大和建設株式会社" in update and "waiting-call" in update
    finally:
        first.stop()
        second.stop()
