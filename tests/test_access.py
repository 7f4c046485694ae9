"""Taking access away: revoked tokens, disabled users, and a password change that revokes tokens.
Each takes effect on the very next request, and each is written to the audit log."""

from __future__ import annotations

import datetime as dt
import os
import queue
import re
import subprocess
import sys
import threading
import uuid

import httpx2
import pytest
from starlette.testclient import TestClient

from app import settings as settings_module
from app.accounts import service
from app.accounts.models import ApiToken, Session
from app.audit import AuditEntry
from app.calls import webhooks

from .conftest import PASSWORD, csrf_token, log_in


@pytest.fixture
def dengon(environ, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60, env={"PATH": os.environ["PATH"], **environ})
    return run


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_status(client, token: str) -> int:
    return client.get("/api/v1/messages", headers=bearer(token)).status_code


def test_a_tokens_last_use_is_kept_and_written_again_only_after_a_few_minutes(client, operator):
    token = service.create_token(operator.email)[1]
    assert api_status(client, token) == 200
    first = ApiToken.get().last_used_at
    assert first is not None
    assert api_status(client, token) == 200 and ApiToken.get().last_used_at == first
    ApiToken.update(last_used_at=first - Session.REFRESH - dt.timedelta(seconds=1)).execute()
    assert api_status(client, token) == 200 and ApiToken.get().last_used_at > first


def test_a_revoked_token_gets_401_at_once_and_other_users_tokens_still_work(dengon, client, operator, supervisor):
    _, first = service.create_token(operator.email)
    _, second = service.create_token(operator.email)
    _, theirs = service.create_token(supervisor.email)
    assert api_status(client, first) == api_status(client, second) == 200  # in use before

    result = dengon("tokens", "revoke", "OP@dengon.example")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("revoked 2 API tokens of op@dengon.example: dgn_")
    assert api_status(client, first) == api_status(client, second) == 401
    assert api_status(client, theirs) == 200
    (entry,) = AuditEntry.select().where(AuditEntry.action == "token.revoke")
    assert entry.target == operator.email and entry.actor_label == "cli" and len(entry.changes["tokens"]) == 2

    # Revoked is revoked: a second run finds nothing, and a new token works.
    assert dengon("tokens", "revoke", operator.email).stdout == "op@dengon.example has no API token in use\n"
    assert api_status(client, service.create_token(operator.email)[1]) == 200


def test_revoke_all_revokes_every_users_tokens(dengon, client, operator, supervisor, alice):
    tokens = [service.create_token(u.email)[1] for u in (operator, supervisor, alice)]
    result = dengon("tokens", "revoke", "--all")
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "revoked 1 API token of alice@firm-a.example.jp", "revoked 1 API token of op@dengon.example",
        "revoked 1 API token of sv@dengon.example"]
    assert [api_status(client, t) for t in tokens] == [401, 401, 401]
    assert AuditEntry.select().where(AuditEntry.action == "token.revoke").count() == 3
    assert ApiToken.select().where(ApiToken.revoked_at.is_null()).count() == 0


def test_tokens_revoke_takes_an_email_or_all_but_not_both(dengon, operator):
    _, token = service.create_token(operator.email)
    for args, reason in ((("tokens", "revoke"), "give EMAIL (that user's tokens) or --all (every user's tokens)"),
                         (("tokens", "revoke", operator.email, "--all"), "give EMAIL or --all, not both")):
        result = dengon(*args)
        assert result.returncode == 1 and result.stderr == f"dengon: tokens revoke: {reason}\n", args
    assert ApiToken.authenticate(token) is not None  # nothing revoked


def test_commands_on_an_unknown_email_exit_1_with_the_reason(dengon, database):
    for command in (("tokens", "revoke"), ("users", "disable"), ("users", "enable")):
        result = dengon(*command, "Nobody@Example.com")
        assert result.returncode == 1, command
        assert result.stderr == "dengon: no user with the e-mail address nobody@example.com\n", command
        assert result.stdout == ""


def test_disable_and_enable_from_the_command_line_say_what_they_did(dengon, client, app, operator):
    with TestClient(app) as other:
        log_in(client, operator)
        log_in(other, operator)
        result = dengon("users", "disable", operator.email)
        assert result.returncode == 0, result.stderr
        assert result.stdout == ("disabled op@dengon.example: 2 sessions ended; their API tokens are refused until "
                                 "they are enabled ('dengon tokens revoke' ends them for good)\n")
    assert dengon("users", "disable", operator.email).stdout == "op@dengon.example is already disabled\n"
    result = dengon("users", "enable", operator.email)
    assert result.returncode == 0
    assert result.stdout == ("enabled op@dengon.example: they can sign in again; "
                             "their API tokens work again unless revoked\n")
    assert dengon("users", "enable", operator.email).stdout == "op@dengon.example is already enabled\n"
    actions = [(e.action, e.target, e.changes) for e in AuditEntry.select().order_by(AuditEntry.id)
               if e.action.startswith("user.") and e.action != "user.create"]
    assert actions == [("user.disable", operator.email, {"is_active": [True, False]}),
                       ("user.enable", operator.email, {"is_active": [False, True]})]


def test_a_disabled_user_is_refused_as_a_wrong_password_would_be(client, operator):
    def attempt(password):
        return client.post("/login", data={"email": operator.email, "password": password,
                                           "csrf_token": csrf_token(client)}, follow_redirects=False)

    wrong = attempt("not the password at all")
    service.set_active(operator.email, False)
    refused = attempt(PASSWORD)
    assert refused.status_code == wrong.status_code == 400
    # Nothing tells the right password from a wrong one: the page is the same, word for word.
    assert refused.text == wrong.text
    assert "dengon_session" not in refused.cookies

    service.set_active(operator.email, True)
    assert attempt(PASSWORD).status_code == 303


def test_disabling_a_user_ends_their_browser_sessions_and_tokens_at_once(client, operator):
    log_in(client, operator)
    _, token = service.create_token(operator.email)
    assert client.get("/console", follow_redirects=False).status_code == 200
    assert api_status(client, token) == 200

    service.set_active(operator.email, False)
    page = client.get("/console", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/console"
    assert client.get("/console", headers={"HX-Request": "true"}).headers["HX-Redirect"].startswith("/login")
    assert api_status(client, token) == 401
    assert client.get("/console/events").status_code == 404  # a console reconnecting is refused
    assert Session.select().where(Session.user == operator).count() == 0

    # Enabled again: the tokens work, but the old browser must sign in afresh.
    service.set_active(operator.email, True)
    assert api_status(client, token) == 200
    assert client.get("/console", follow_redirects=False).status_code == 303
    log_in(client, operator)
    assert client.get("/console", follow_redirects=False).status_code == 200


def change_password(client, new: str):
    return client.post("/account", data={"current_password": PASSWORD, "new_password": new, "confirm_password": new,
                                         "csrf_token": csrf_token(client, "/account")})


def test_a_password_change_revokes_the_users_tokens_and_says_so(client, admin, operator):
    _, first = service.create_token(admin.email)
    _, second = service.create_token(admin.email)
    _, theirs = service.create_token(operator.email)
    log_in(client, admin)
    client.post("/language", data={"language": "en", "csrf_token": csrf_token(client, "/account")})

    response = change_password(client, "a much better passphrase")
    assert response.status_code == 200
    assert "Your 2 API tokens have been revoked: programs that used them need new ones." in response.text
    assert api_status(client, first) == api_status(client, second) == 401
    assert api_status(client, theirs) == 200
    # Re-issued afterwards, a token works.
    assert api_status(client, service.create_token(admin.email)[1]) == 200
    entries = {e.action: e for e in AuditEntry.select().where(AuditEntry.target == admin.email)}
    assert entries["token.revoke"].changes["reason"] == "password changed"
    assert entries["token.revoke"].actor_id == admin.id and "user.password" in entries


def test_a_password_change_without_tokens_says_nothing_about_them(client, admin):
    log_in(client, admin)
    response = change_password(client, "a much better passphrase")
    assert response.status_code == 200 and "パスワードを変更しました" in response.text
    assert "API" not in response.text


def test_an_open_console_of_a_disabled_operator_stops_receiving_calls(server, environ, database, demo_logins):
    """A real server: the console's event stream is open when the operator is disabled; the next
    call ends the stream instead of reaching them, and reconnecting is refused."""
    email, password = next((e, p) for e, p, role, _ in demo_logins if role == "operator")
    with httpx2.Client(base_url=server.url, timeout=10) as browser:
        token = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/login").text).group(1)
        assert browser.post("/login", data={"email": email, "password": password,
                                            "csrf_token": token}).status_code == 303
        received: queue.Queue = queue.Queue()

        def listen():
            try:
                with browser.stream("GET", "/console/events") as stream:
                    for line in stream.iter_lines():
                        if line.startswith("data: "):
                            received.put(line)
            except httpx2.HTTPError as exc:
                received.put(exc)
            received.put("closed")

        threading.Thread(target=listen, daemon=True).start()
        assert received.get(timeout=5).startswith("data: ")  # the stream opens with the waiting list
        while received.qsize() and received.get() != "closed":
            pass

        service.set_active(email, False)
        params = {"CallSid": "CA" + uuid.uuid4().hex, "To": "+815037865120", "From": "+819011112222"}
        signing = settings_module.load({**environ, "PUBLIC_URL": server.url})
        assert httpx2.post(server.url + "/twilio/voice", data=params, headers={
            "X-Twilio-Signature": webhooks.sign(signing, "/twilio/voice", params)}).status_code == 200
        seen = []
        while (item := received.get(timeout=5)) != "closed":
            seen.append(item)
        assert not any("大和建設" in str(item) for item in seen)
        assert browser.get("/console/events").status_code == 404
