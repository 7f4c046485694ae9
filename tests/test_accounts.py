"""Log-in, sessions, CSRF and throttling: the doors of the web app."""

import re

from app.accounts.models import LoginAttempt, Session, User
from app.web.auth import SESSION_COOKIE

from .conftest import PASSWORD, csrf_token, log_in


def test_passwords_are_stored_as_argon2id_hashes(admin):
    stored = User.get_by_id(admin.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert admin.check_password(PASSWORD) and not admin.check_password(PASSWORD + "!")


def test_each_role_lands_on_its_own_page_after_log_in(client, admin, supervisor, operator, alice):
    for user, landing, heading in [(admin, "/admin", "顧客一覧"), (supervisor, "/supervisor", "スーパーバイザー"),
                                   (operator, "/console", "オペレーター"), (alice, "/portal", "firm-a 株式会社")]:
        response = log_in(client, user)
        assert response.headers["location"] == landing
        page = client.get(landing)
        assert page.status_code == 200 and heading in page.text
        client.post("/logout", data={"csrf_token": csrf_token(client, landing)})


def test_a_wrong_password_is_refused_and_the_email_is_kept(client, admin):
    response = client.post("/login", data={"email": admin.email, "password": "wrong password",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "メールアドレスまたはパスワードが正しくありません" in response.text
    assert f'value="{admin.email}"' in response.text
    assert SESSION_COOKIE not in client.cookies


def test_repeated_failed_log_ins_lock_the_account_even_for_the_right_password(client, admin):
    token = csrf_token(client)
    for _ in range(LoginAttempt.MAX_PER_EMAIL):
        client.post("/login", data={"email": admin.email, "password": "guess", "csrf_token": token})
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 429
    assert re.search(r"ログインの失敗が続いたため.*\d+ 分後", response.text)
    assert SESSION_COOKIE not in client.cookies


def test_simultaneous_guesses_cannot_slip_past_the_throttle(database, admin):
    import threading

    from app import db

    barrier, allowed = threading.Barrier(20), []

    def guess():
        with db.db.connection_context():
            attempt = LoginAttempt.begin(admin.email, "203.0.113.9")
            barrier.wait()  # every guess is recorded before any is checked
            if attempt.locked_for() is None:
                allowed.append(attempt)

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) <= LoginAttempt.MAX_PER_EMAIL


def test_a_successful_log_in_clears_earlier_failures(client, admin):
    token = csrf_token(client)
    for _ in range(LoginAttempt.MAX_PER_EMAIL - 1):
        client.post("/login", data={"email": admin.email, "password": "guess", "csrf_token": token})
    log_in(client, admin)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    client.post("/login", data={"email": admin.email, "password": "guess", "csrf_token": csrf_token(client)})
    log_in(client, admin)


def test_a_post_without_the_csrf_token_is_rejected(client, admin):
    csrf_token(client)  # the browser has the cookie, but the form lacks the token
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "フォームの有効期限が切れたか" in response.text
    assert SESSION_COOKIE not in client.cookies


def test_a_post_with_a_forged_csrf_token_is_rejected(client, admin):
    csrf_token(client)
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": "0" * 64})
    assert response.status_code == 403


def test_a_token_from_another_browser_does_not_work(client, app, admin):
    from starlette.testclient import TestClient

    with TestClient(app) as other:
        stolen = csrf_token(other)
    csrf_token(client)
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": stolen})
    assert response.status_code == 403


def test_a_planted_cookie_and_its_token_do_not_work_once_the_victim_is_logged_in(client, app, admin):
    from starlette.testclient import TestClient

    from app.web.csrf import COOKIE

    with TestClient(app) as attacker:
        planted_token = csrf_token(attacker)
        planted_cookie = attacker.cookies[COOKIE]
    log_in(client, admin)
    client.cookies.delete(COOKIE)
    client.cookies.set(COOKIE, planted_cookie)
    response = client.post("/language", data={"language": "en", "csrf_token": planted_token})
    assert response.status_code == 403
    assert User.get_by_id(admin.id).language == "ja"


def test_a_multipart_form_is_checked_too(client, admin):
    token = csrf_token(client)
    fields = {"email": (None, admin.email), "password": (None, PASSWORD)}
    assert client.post("/login", files=fields).status_code == 403
    response = client.post("/login", files={**fields, "csrf_token": (None, token)}, follow_redirects=False)
    assert response.status_code == 303


def test_htmx_requests_may_send_the_token_in_a_header(client, admin):
    token = csrf_token(client)
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD},
                           headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert response.status_code == 303


def test_the_session_cookie_is_http_only_and_logging_out_ends_the_session(client, admin):
    response = log_in(client, admin)
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)][0]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    stolen = client.cookies[SESSION_COOKIE]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    assert Session.select().count() == 0
    client.cookies.set(SESSION_COOKIE, stolen)
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/login?next=/admin"


def test_a_tampered_session_cookie_is_ignored(client, admin):
    log_in(client, admin)
    value = client.cookies[SESSION_COOKIE]
    client.cookies.delete(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_pages_need_a_log_in_and_come_back_after_it(client, admin):
    response = client.get("/firms?q=abc", follow_redirects=False)
    assert response.headers["location"] == "/login?next=/firms%3Fq%3Dabc"
    response = client.post("/login?next=/firms%3Fq%3Dabc", data={
        "email": admin.email, "password": PASSWORD, "csrf_token": csrf_token(client)}, follow_redirects=False)
    assert response.headers["location"] == "/firms?q=abc"


def test_log_in_never_redirects_to_another_site(client, admin):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(f"/login?next={target}", data={
            "email": admin.email, "password": PASSWORD, "csrf_token": csrf_token(client)}, follow_redirects=False)
        assert response.headers["location"] == "/admin"
        client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})


def test_staff_without_the_role_for_a_page_get_403_and_clients_get_404(client, operator, alice):
    log_in(client, operator)
    for path in ("/admin", "/admin/users", "/admin/audit", "/supervisor", "/portal"):
        assert client.get(path).status_code == 403, path
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    log_in(client, alice)
    for path in ("/admin", "/console", "/supervisor"):
        assert client.get(path).status_code == 404, path


def test_changing_the_password_signs_out_other_browsers(client, app, admin):
    from starlette.testclient import TestClient

    with TestClient(app) as other:
        log_in(other, admin)
        log_in(client, admin)
        new = "a much better passphrase"
        response = client.post("/account", data={"current_password": PASSWORD, "new_password": new,
                                                 "confirm_password": new, "csrf_token": csrf_token(client, "/account")})
        assert response.status_code == 200 and "パスワードを変更しました" in response.text
        assert other.get("/admin", follow_redirects=False).status_code == 303
        assert client.get("/admin").status_code == 200
    assert User.get_by_id(admin.id).check_password(new)


def test_a_bad_password_change_names_the_field_and_changes_nothing(client, admin):
    log_in(client, admin)
    response = client.post("/account", data={"current_password": PASSWORD, "new_password": "short",
                                             "confirm_password": "short", "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 400
    assert 'id="new_password-error"' in response.text and "10 文字以上" in response.text
    assert User.get_by_id(admin.id).check_password(PASSWORD)


def test_the_interface_is_japanese_by_default_and_english_on_request(client, admin):
    assert "ログイン" in client.get("/login").text
    log_in(client, admin)
    client.post("/language", data={"language": "en", "next": "/admin", "csrf_token": csrf_token(client, "/admin")})
    assert "Firms" in client.get("/admin").text
    assert User.get_by_id(admin.id).language == "en"
    # The choice belongs to the user: it follows them to a new browser.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    client.cookies.clear()
    log_in(client, admin)
    assert "Audit log" in client.get("/admin").text
