"""Hostile bodies: an oversized body is refused with 413 before anything parses it, and no body the
limits let in (however many fields it has) holds up anybody else's request.

The timing tests run a real `dengon serve`: only a real server shows one request waiting on another.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time

from urllib.parse import parse_qsl

import pytest
from starlette.datastructures import ImmutableMultiDict

from app import settings as settings_module
from app.accounts.service import create_token
from app.calls import webhooks
from app.web.auth import MAX_FIELD_BYTES
from app.web.limits import API_BODY_LIMIT, FORM_BODY_LIMIT, WEBHOOK_BODY_LIMIT

from .conftest import csrf_token

MB = 1024 * 1024


@pytest.fixture
def live(environ, database_url, tmp_path):
    """A real server process over the test's (empty, migrated) database."""
    from .browser import Server

    server = Server(environ, tmp_path)
    yield server
    server.stop()


def many_fields(size: int) -> bytes:
    return (b"a=1&" * (size // 4 + 1))[:size]


def padded(form: bytes, size: int) -> bytes:
    """``form`` and fields of 60 KB (under the limit of one field) up to exactly ``size`` bytes."""
    return form + ((b"&p=" + b"x" * (60 * 1024 - 3)) * (size // (60 * 1024) + 1))[:size - len(form)]


def distinct_fields(size: int) -> bytes:
    """A form of as many distinct names as fit in ``size`` bytes (a few thousand in 60 KB)."""
    fields, total, i = [], 0, 0
    while total + 8 < size:
        field = f"{i:x}=".encode()
        fields.append(field)
        total += len(field) + 1
        i += 1
    return b"&".join(fields)


def raw_post(port: int, path: str, headers: dict, payload) -> tuple[int, float]:
    """POST by hand (headers as given, then the payload's chunks, sent from a thread while the answer
    is read): the status and the seconds from the first byte sent to the status line received."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())

    def write():
        try:
            sock.sendall(head.encode() + b"\r\n")
            for chunk in payload:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed before the rest was sent: that is the point

    started = time.monotonic()
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    elapsed = time.monotonic() - started
    sock.close()
    writer.join(10)
    return int(answer.split(b" ", 2)[1]), elapsed


def while_getting_login(port: int, action):
    """Run ``action`` while GET /login is asked again and again (the first at the same moment):
    the action's result, and the longest any GET waited."""
    done, waits, start = threading.Event(), [], threading.Event()

    def get_again_and_again():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.set()
        while not done.is_set() or not waits:
            started = time.monotonic()
            conn.request("GET", "/login")
            response = conn.getresponse()
            response.read()
            waits.append(time.monotonic() - started if response.status == 200 else float("inf"))
        conn.close()

    getter = threading.Thread(target=get_again_and_again)
    getter.start()
    start.wait()
    try:
        outcome = action()
    finally:
        done.set()
        getter.join(30)
    return outcome, max(waits)


def chunks(body: bytes, size: int = 64 * 1024):
    for i in range(0, len(body), size):
        yield body[i:i + size]


def http_chunks(body: bytes):
    for chunk in chunks(body):
        yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
    yield b"0\r\n\r\n"


FORM = "application/x-www-form-urlencoded"
FORTY_MB = many_fields(40 * MB)


@pytest.mark.parametrize("sent_as", ["declared", "chunked", "lying"])
def test_a_40_mb_webhook_body_is_refused_at_once_and_holds_up_nobody(live, sent_as):
    port = int(live.url.rsplit(":", 1)[1])
    headers = {"Content-Type": FORM, "Content-Length": str(len(FORTY_MB))}
    payload = chunks(FORTY_MB)
    expected = {413}
    if sent_as == "chunked":
        headers = {"Content-Type": FORM, "Transfer-Encoding": "chunked"}
        payload = http_chunks(FORTY_MB)
    elif sent_as == "lying":
        # The server reads only the declared bytes as the body (an unsigned one: 403); what follows is
        # not a request, which the server refuses (400) and hangs up: whichever answer comes first.
        headers = {"Content-Type": FORM, "Content-Length": "16"}
        expected = {400, 403}

    (status, seconds), login = while_getting_login(port, lambda: raw_post(port, "/twilio/status", headers, payload))

    assert status in expected
    assert seconds < 0.1, f"answered after {seconds * 1000:.0f} ms"
    assert login < 0.2, f"GET /login waited {login * 1000:.0f} ms"


def test_a_signed_webhook_of_thousands_of_names_is_answered_at_once_and_holds_up_nobody(live, environ):
    port = int(live.url.rsplit(":", 1)[1])
    settings = settings_module.load({**environ, "PUBLIC_URL": live.url})
    body = distinct_fields(60 * 1024)
    params = [tuple(field.split(b"=")) for field in body.split(b"&")]
    signature = webhooks.sign(settings, "/twilio/status", {k.decode(): v.decode() for k, v in params})
    headers = {"Content-Type": FORM, "Content-Length": str(len(body)), "X-Twilio-Signature": signature}

    (status, seconds), login = while_getting_login(port, lambda: raw_post(port, "/twilio/status", headers, [body]))

    assert len(params) > 7000
    assert status == 200
    assert seconds < 0.2, f"answered after {seconds * 1000:.0f} ms"
    assert login < 0.2, f"GET /login waited {login * 1000:.0f} ms"


def test_big_page_forms_of_many_fields_hold_up_nobody(live):
    port = int(live.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    cookie = page.getheader("set-cookie").split(";")[0]
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page.read())[1]
    # With a valid token, so that the form is read in full. Just under the limit, each a worst case:
    # a quarter of a million short fields; fields as long as they may be, all escapes.
    prefix = b"csrf_token=" + token
    escapes = b"".join(b"&e=" + b"%41" * (MAX_FIELD_BYTES // 3 - 1) for _ in range(FORM_BODY_LIMIT // MAX_FIELD_BYTES - 1))
    bodies = [prefix + b"&" + many_fields(FORM_BODY_LIMIT - len(prefix) - 1), prefix + escapes] * 2

    def post(body):
        # To a cheap page (logging out nobody), so that only reading the form costs anything.
        headers = {"Content-Type": FORM, "Content-Length": str(len(body)), "Cookie": cookie}
        return raw_post(port, "/logout", headers, [body])[0]

    statuses, login = while_getting_login(port, lambda: [post(body) for body in bodies])

    assert statuses == [400, 303, 400, 303]  # too many fields; read in full
    assert login < 0.2, f"GET /login waited {login * 1000:.0f} ms"


def signed_post(client, settings, body: bytes):
    signature = webhooks.sign(settings, "/twilio/status", ImmutableMultiDict(parse_qsl(body.decode())))
    return client.post("/twilio/status", content=body, headers={"Content-Type": FORM, "X-Twilio-Signature": signature})


def test_webhook_bodies_are_limited_to_64_kb_signed_or_not(client, settings):
    assert WEBHOOK_BODY_LIMIT == 64 * 1024
    assert signed_post(client, settings, many_fields(WEBHOOK_BODY_LIMIT)).status_code == 200

    response = signed_post(client, settings, many_fields(WEBHOOK_BODY_LIMIT + 1))

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/plain")
    assert client.post("/twilio/status", content=chunks(many_fields(WEBHOOK_BODY_LIMIT + 1), 1000)).status_code == 413


def test_api_bodies_are_limited_to_1_mb_and_refused_in_json(client, operator):
    headers = {"Authorization": f"Bearer {create_token(operator.email)[1]}", "Content-Type": "application/json",
               "Accept-Language": "en"}
    padding = API_BODY_LIMIT - len(json.dumps({"pad": ""}))
    just_fits = json.dumps({"pad": "x" * padding}).encode()
    assert len(just_fits) == API_BODY_LIMIT == MB

    accepted = client.post("/api/v1/messages", content=just_fits, headers=headers)
    refused = client.post("/api/v1/messages", content=just_fits + b" ", headers=headers)
    streamed = client.post("/api/v1/messages", content=chunks(just_fits + b" "), headers=headers)

    assert accepted.status_code == 422  # read and checked: it is not a message
    assert refused.status_code == streamed.status_code == 413
    assert refused.json() == {"errors": {"body": "The request body is larger than 1 MB."}}


def test_page_forms_are_limited_to_1_mb_and_refused_with_a_page_in_the_persons_language(client, admin):
    form = f"email=x%40example.jp&password=x&csrf_token={csrf_token(client)}".encode()
    just_fits = padded(form, FORM_BODY_LIMIT)
    headers = {"Content-Type": FORM}

    accepted = client.post("/login", content=just_fits, headers=headers)
    refused = client.post("/login", content=just_fits + b"x", headers=headers)
    client.cookies.set("dengon_lang", "en")
    streamed = client.post("/login", content=chunks(just_fits + b"x"), headers=headers)

    assert len(just_fits) == FORM_BODY_LIMIT == MB
    assert accepted.status_code == 400  # read and checked: a wrong password
    assert "メールアドレスまたはパスワードが正しくありません" in accepted.text
    assert refused.status_code == streamed.status_code == 413
    assert "送信された内容が大きすぎる" in refused.text
    assert "What you sent is too large to accept" in streamed.text


def test_a_page_form_field_over_64_kb_is_refused_with_413(client, admin):
    form = f"email=x%40example.jp&password=x&csrf_token={csrf_token(client)}&pad=".encode()

    assert client.post("/login", content=form + b"%41" * (MAX_FIELD_BYTES // 3 - 2), headers={"Content-Type": FORM}
                       ).status_code == 400  # a wrong password
    response = client.post("/login", content=form + b"x" * MAX_FIELD_BYTES, headers={"Content-Type": FORM})

    assert response.status_code == 413
    assert "送信された内容が大きすぎる" in response.text
