"""Users in the browser, for account managers: adding a user (who chooses their password by a mailed
one-time link), changing role and firm with one owner per firm, disabling (sessions end, tokens get
401 at once) and enabling, password reset links that work once and expire. Every change is in the
audit log; nobody but an account manager reaches any of it."""

import datetime as dt
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.accounts import service
from app.accounts.models import ApiToken, PasswordReset, User, hash_secret
from app.audit import AuditEntry

from .conftest import PASSWORD, csrf_token, log_in

NEW_PASSWORD = "a brand new password"


@pytest.fixture
def mailing(settings, inbox):
    """The app sending its mail to a real SMTP server on loopback."""
    from app.main import create_app

    with TestClient(create_app(settings.replace(SMTP_URL=inbox.url)), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def another(app):
    """A second browser."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def bob(alice, firm_a):
    """alice's colleague at firm A; alice owns the firm."""
    return service.add_user("bob@firm-a.example.jp", "client", password=PASSWORD, tenant_slug=firm_a.slug)


def post(client, path, **data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/account")}, follow_redirects=False)


def mailed_link(inbox, address: str, count: int = 1) -> str:
    inbox.wait_for(count)
    mail = inbox.to(address)[-1]
    (link,) = set(re.findall(r"http://testserver(/password/\S+)", mail.get_body(("plain",)).get_content()))
    return link


def set_password(client, link, password=NEW_PASSWORD, confirm=None):
    return client.post(link, data={"password": password, "confirm_password": confirm or password,
                                   "csrf_token": csrf_token(client, "/login")}, follow_redirects=False)


def audit(action):
    return [(e.actor_label, e.target, e.changes) for e in AuditEntry.select().where(AuditEntry.action == action)
            .order_by(AuditEntry.id)]


ROUTES = [("GET", "/admin/users"), ("GET", "/admin/users/new"), ("POST", "/admin/users/new"),
          ("GET", "/admin/users/{id}"), ("POST", "/admin/users/{id}/access"), ("POST", "/admin/users/{id}/owner"),
          ("POST", "/admin/users/{id}/disable"), ("POST", "/admin/users/{id}/enable"),
          ("POST", "/admin/users/{id}/password-link")]


def test_the_tests_cover_every_user_management_route():
    from starlette.routing import Route

    from app.main import routes

    mine = {(m, r.path.replace("{id:id}", "{id}")) for r in routes if isinstance(r, Route)
            and r.path.startswith("/admin/users") for m in r.methods - {"HEAD"}}
    assert mine == set(ROUTES)


@pytest.mark.parametrize("role, status", [("supervisor", 403), ("operator", 403), ("alice", 404)])
def test_only_account_managers_reach_the_user_pages(client, request, role, status, bob):
    log_in(client, request.getfixturevalue(role))
    for method, path in ROUTES:
        url = path.format(id=bob.id)
        if method == "GET":
            response = client.get(url)
        else:
            response = post(client, url, email="eve@example.jp", role="admin", firm="")
        assert response.status_code == status, (method, url)
    bob = User.get_by_id(bob.id)
    assert (bob.role, bob.is_active) == ("client", True)
    assert not User.by_email("eve@example.jp") and PasswordReset.select().count() == 0


def test_every_action_needs_the_forms_csrf_token(client, admin, bob):
    log_in(client, admin)
    refused = client.post(f"/admin/users/{bob.id}/disable", data={})
    assert refused.status_code == 403 and User.get_by_id(bob.id).is_active


def test_an_unknown_user_id_is_404(client, admin):
    log_in(client, admin)
    assert client.get("/admin/users/99999").status_code == 404
    assert post(client, "/admin/users/99999/disable").status_code == 404


def test_an_admin_adds_a_client_user_who_chooses_a_password_by_the_mailed_link(mailing, another, admin, firm_a,
                                                                              inbox):
    log_in(mailing, admin)
    added = post(mailing, "/admin/users/new", email="Dana@Firm-A.example.jp", name="田中 一郎", role="client",
                 firm=firm_a.slug)
    assert added.status_code == 200 and "dana@firm-a.example.jp を追加しました" in added.text
    assert "パスワード設定用のリンクを送りました" in added.text and "/password/" not in added.text  # it went by mail
    dana = User.by_email("dana@firm-a.example.jp")
    assert (dana.role, dana.tenant_id, dana.name, dana.is_owner) == ("client", firm_a.id, "田中 一郎", True)
    assert not dana.check_password("")  # nobody knows a password yet

    mail = inbox.to(dana.email)[0]
    assert mail["Subject"] == "Dengon：アカウントを作成しました。パスワードを設定してください"
    assert "admin@dengon.example さんが Dengon のアカウント" in mail.get_body(("plain",)).get_content()
    link = mailed_link(inbox, dana.email)
    (reset,) = PasswordReset.select()
    assert reset.token_hash == hash_secret(link.removeprefix("/password/"))  # only a digest is kept
    assert reset.expires_at - reset.created_at == dt.timedelta(days=7) and reset.kind == "welcome"

    page = another.get(link)
    assert page.status_code == 200 and "dana@firm-a.example.jp でログインする" in page.text
    joined = set_password(another, link)
    assert (joined.status_code, joined.headers["location"]) == (303, "/portal")
    assert another.get("/portal").status_code == 200
    assert User.by_email(dana.email).check_password(NEW_PASSWORD)
    assert another.get(link).status_code == 404  # spent

    listed = mailing.get("/admin/users").text
    assert "dana@firm-a.example.jp" in listed and "最終ログイン" in listed
    assert ("admin@dengon.example", dana.email, {"role": [None, "client"], "is_owner": [False, True]}) in audit("user.create")
    assert audit("user.password_link.welcome")[0][:2] == ("admin@dengon.example", dana.email)


def test_adding_a_user_names_the_wrong_field_and_keeps_the_input(client, admin, alice, firm_a):
    log_in(client, admin)
    cases = [({"email": "not-an-address", "role": "operator", "firm": ""}, "メールアドレスを入力してください"),
             ({"email": alice.email.upper(), "role": "client", "firm": firm_a.slug}, "すでに存在します"),
             ({"email": "new@firm-a.example.jp", "role": "client", "firm": ""}, "顧客を選んでください"),
             ({"email": "new@dengon.example", "role": "supervisor", "firm": firm_a.slug}, "顧客を空欄にしてください"),
             ({"email": "new@dengon.example", "role": "", "firm": ""}, "役割を選んでください")]
    for form, error in cases:
        page = post(client, "/admin/users/new", name="新人 花子", **form)
        assert page.status_code == 400 and error in page.text, form
        assert f'value="{form["email"]}"' in page.text and 'value="新人 花子"' in page.text
        if form["role"]:
            assert f'<option value="{form["role"]}" selected>' in page.text
        if form["firm"]:
            assert f'<option value="{form["firm"]}" selected>' in page.text
    assert User.select().count() == 2 and PasswordReset.select().count() == 0


def test_disabling_a_user_ends_their_open_session_and_their_token_gets_401(client, another, admin, operator):
    log_in(another, operator)
    _user, token = service.create_token(operator.email)
    auth = {"Authorization": f"Bearer {token}"}
    assert another.get("/console").status_code == 200
    assert another.get("/api/v1/messages", headers=auth).status_code == 200

    log_in(client, admin)
    page = post(client, f"/admin/users/{operator.id}/disable")
    assert page.status_code == 200 and "op@dengon.example はログインできなくなりました。1 件のセッションを終了" in page.text
    assert "無効" in page.text and "有効にする" in page.text

    after = another.get("/console", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    assert another.get("/api/v1/messages", headers=auth).status_code == 401
    assert audit("user.disable") == [("admin@dengon.example", operator.email, {"is_active": [True, False]})]

    enabled = post(client, f"/admin/users/{operator.id}/enable")
    assert enabled.status_code == 200 and "op@dengon.example は再びログインできます" in enabled.text
    assert another.get("/api/v1/messages", headers=auth).status_code == 200  # not revoked, only refused
    log_in(another, operator)
    assert audit("user.enable") == [("admin@dengon.example", operator.email, {"is_active": [False, True]})]


def test_a_manager_cannot_disable_themselves(client, admin):
    log_in(client, admin)
    page = post(client, f"/admin/users/{admin.id}/disable")
    assert page.status_code == 400 and "ご自身のアカウントは無効にできません" in page.text
    assert User.get_by_id(admin.id).is_active and client.get("/admin/users").status_code == 200


def test_the_last_active_account_manager_stays_one(client, admin, database):
    log_in(client, admin)
    page = post(client, f"/admin/users/{admin.id}/access", role="operator", firm="")
    assert page.status_code == 400 and "最後の有効なアカウントマネージャーです" in page.text
    assert '<option value="operator" selected>' in page.text  # the choice is kept
    assert User.get_by_id(admin.id).role == "admin"

    # With another active account manager, a manager may step down, and leaves the area at once.
    other = service.add_user("admin2@dengon.example", "admin", password=PASSWORD)
    service.set_active(other.email, False)
    assert post(client, f"/admin/users/{admin.id}/access", role="operator", firm="").status_code == 400
    service.set_active(other.email, True)
    stepped_down = post(client, f"/admin/users/{admin.id}/access", role="operator", firm="")
    assert (stepped_down.status_code, stepped_down.headers["location"]) == (303, "/console")
    assert client.get("/admin/users").status_code == 403


def test_the_last_active_account_manager_cannot_be_disabled_by_anyone(database, admin):
    from app.accounts import manage

    operator_actor = service.add_user("op2@dengon.example", "operator", password=PASSWORD)
    with pytest.raises(manage.Problems) as refused:
        manage.set_active(operator_actor, admin, False)
    assert "admin@dengon.example" in refused.value.errors["user"] and User.get_by_id(admin.id).is_active


def test_changing_a_role_takes_effect_at_once_and_is_audited(client, another, admin, operator):
    log_in(another, operator)
    assert another.get("/supervisor").status_code == 403
    log_in(client, admin)
    page = post(client, f"/admin/users/{operator.id}/access", role="supervisor", firm="")
    assert page.status_code == 200 and "保存しました" in page.text
    assert another.get("/supervisor").status_code == 200
    assert audit("user.access") == [("admin@dengon.example", operator.email, {"role": ["operator", "supervisor"]})]
    assert "op@dengon.example" in client.get("/admin/audit").text


def test_moving_a_client_between_firms_keeps_one_owner_in_each(client, admin, alice, bob, charlie, firm_b):
    log_in(client, admin)
    moved = post(client, f"/admin/users/{alice.id}/access", role="client", firm=firm_b.slug)
    assert moved.status_code == 200
    alice, bob, charlie = (User.get_by_id(u.id) for u in (alice, bob, charlie))
    assert (alice.tenant_id, alice.is_owner) == (firm_b.id, False)  # firm B has its owner already
    assert bob.is_owner and charlie.is_owner  # firm A passed to its remaining user
    assert audit("user.access") == [("admin@dengon.example", alice.email,
                                     {"firm": ["firm-a", "firm-b"], "is_owner": [True, False]})]
    assert audit("user.owner") == [("admin@dengon.example", bob.email, {"is_owner": [False, True]})]

    # Staff to client: a firm is needed, and the chosen role and firm are kept with the error.
    page = post(client, f"/admin/users/{admin.id}/access", role="client", firm="")
    assert page.status_code == 400 and "顧客を選んでください" in page.text
    assert '<option value="client" selected>' in page.text


def test_a_manager_hands_a_firms_ownership_to_another_user(client, another, admin, alice, bob):
    log_in(client, admin)
    page = post(client, f"/admin/users/{bob.id}/owner")
    assert page.status_code == 200 and "bob@firm-a.example.jp が firm-a 株式会社 の管理者になりました" in page.text
    assert [User.get_by_id(u.id).is_owner for u in (alice, bob)] == [False, True]
    log_in(another, bob)
    assert another.get("/portal/users").status_code == 200
    refused = post(client, f"/admin/users/{admin.id}/owner")
    assert refused.status_code == 400 and "有効なクライアントユーザーだけ" in refused.text


def test_a_reset_link_sets_the_password_once_and_ends_sessions_and_tokens(mailing, another, admin, operator, inbox):
    log_in(another, operator)
    _user, token = service.create_token(operator.email)
    log_in(mailing, admin)
    page = post(mailing, f"/admin/users/{operator.id}/password-link")
    assert page.status_code == 200 and "op@dengon.example にパスワード設定用のリンクを送りました" in page.text
    assert "/password/" not in page.text
    assert "送信済み" in mailing.get(f"/admin/users/{operator.id}").text
    assert "パスワードリンク送信済み" in mailing.get("/admin/users").text

    mail = inbox.to(operator.email)[0]
    assert mail["Subject"] == "Dengon：パスワード再設定のご案内"
    link = mailed_link(inbox, operator.email)
    (reset,) = PasswordReset.select()
    assert reset.expires_at - reset.created_at == dt.timedelta(hours=24)

    with TestClient(mailing.app, base_url="http://testserver") as phone:
        short = set_password(phone, link, "short")
        assert short.status_code == 400 and "10 文字以上" in short.text
        differ = set_password(phone, link, NEW_PASSWORD, "something else entirely")
        assert differ.status_code == 400 and "2 つのパスワードが一致しません" in differ.text
        done = set_password(phone, link)
        assert (done.status_code, done.headers["location"]) == (303, "/console")
        assert phone.get("/console").status_code == 200  # signed in by the link

        refused = set_password(phone, link, "yet another password")
        assert refused.status_code == 404 and "使用済みか、有効期限が切れています" in refused.text
    user = User.get_by_id(operator.id)
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert another.get("/console", follow_redirects=False).status_code == 303  # the other browser is out
    assert another.get("/api/v1/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ApiToken.select().where(ApiToken.revoked_at.is_null()).count() == 0
    assert audit("user.password")[0][:2] == (operator.email, operator.email)
    assert audit("user.password_link.reset")[0][:2] == ("admin@dengon.example", operator.email)


def test_an_expired_reset_link_is_refused(mailing, admin, operator, inbox):
    log_in(mailing, admin)
    post(mailing, f"/admin/users/{operator.id}/password-link")
    link = mailed_link(inbox, operator.email)
    PasswordReset.update(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).execute()
    with TestClient(mailing.app, base_url="http://testserver") as phone:
        assert phone.get(link).status_code == 404
        assert set_password(phone, link).status_code == 404
    assert User.get_by_id(operator.id).check_password(PASSWORD)


def test_a_new_link_kills_the_earlier_one_and_disabling_kills_both(mailing, admin, operator, inbox):
    log_in(mailing, admin)
    post(mailing, f"/admin/users/{operator.id}/password-link")
    first = mailed_link(inbox, operator.email)
    post(mailing, f"/admin/users/{operator.id}/password-link")
    second = mailed_link(inbox, operator.email, 2)
    assert mailing.get(first).status_code == 404 and mailing.get(second).status_code == 200
    post(mailing, f"/admin/users/{operator.id}/disable")
    assert mailing.get(second).status_code == 404  # a disabled user's link does not work


def test_without_a_mail_server_the_link_is_shown_to_the_manager_once(client, admin, operator, settings):
    log_in(client, admin)
    page = post(client, f"/admin/users/{operator.id}/password-link")
    (link,) = re.findall(r'value="http://testserver(/password/[^"]+)"', page.text)
    assert "メールサーバーが設定されていない" in page.text
    assert link not in client.get(f"/admin/users/{operator.id}").text  # shown once, not again
    assert list((Path(settings.OUTBOX_DIR) / "email").glob("password-*.eml"))  # the mail waits in the outbox


def test_the_list_filters_by_role_and_firm_and_searches_by_email(client, admin, operator, alice, bob, charlie,
                                                                 firm_a):
    service.set_active(bob.email, False)
    log_in(client, admin)

    def shown(query=""):
        return re.findall(r'data-email="([^"]+)"', client.get("/admin/users" + query).text)

    assert set(shown()) == {admin.email, operator.email, alice.email, bob.email, charlie.email}
    assert shown("?role=operator") == [operator.email]
    assert set(shown(f"?firm={firm_a.slug}")) == {alice.email, bob.email}
    assert shown("?q=CHARLIE") == [charlie.email]
    assert shown("?role=admin&q=firm") == []
    page = client.get(f"/admin/users?firm={firm_a.slug}").text
    assert "無効" in page and "管理者" in page  # bob disabled; alice owns the firm
    assert "該当するユーザーはいません" in client.get("/admin/users?q=nobody").text


def test_the_user_page_and_the_mail_are_in_the_users_language(mailing, admin, database, inbox):
    from app.accounts.models import User as U

    pat = service.add_user("pat@dengon.example", "operator", password=PASSWORD)
    U.update(language="en").where(U.id == pat.id).execute()
    log_in(mailing, admin)
    post(mailing, f"/admin/users/{pat.id}/password-link")
    mail = inbox.wait_for(1)[0][1]
    assert mail["Subject"] == "Dengon: set a new password"
    text = mail.get_body(("plain",)).get_content()
    assert "admin@dengon.example sent you a link to set a new password" in text
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text + mail.get_body(("html",)).get_content())
    link = mailed_link(inbox, pat.email)
    assert "Choose a password to sign in with pat@dengon.example" in mailing.get(link).text


def _at_width(driver, width: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})


def _no_sideways_scroll(driver, width: int) -> None:
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, f"{driver.current_url} is {scroll} px wide at {width} px"


@pytest.mark.browser
def test_an_admin_adds_a_user_and_disables_another_in_chromium(server, demo_logins, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from .browser import chromium
    from .test_browser import log_in as browser_log_in, wait

    admin_email, password, _role, _slug = next(l for l in demo_logins if l[2] == "admin")
    operator_email, operator_password, _role, _slug = next(l for l in demo_logins if l[2] == "operator")
    firm_slug = next(l[3] for l in demo_logins if l[2] == "client")
    manager, operator = chromium(tmp_path / "manager"), chromium(tmp_path / "operator")
    try:
        browser_log_in(operator, server, operator_email, operator_password)
        browser_log_in(manager, server, admin_email, password)
        _at_width(manager, 1366)
        manager.get(server.url + "/admin/users")
        manager.save_screenshot(str(tmp_path / "users-1366.png"))
        manager.find_element(By.LINK_TEXT, "ユーザーを追加").click()
        wait(manager).until(lambda d: d.current_url.endswith("/admin/users/new"))
        manager.find_element(By.NAME, "email").send_keys("tanaka@example.jp")
        manager.find_element(By.NAME, "name").send_keys("田中 一郎")
        Select(manager.find_element(By.NAME, "role")).select_by_value("client")
        manager.find_element(By.CSS_SELECTOR, ".user-form button[type=submit]").click()
        wait(manager).until(lambda d: "顧客を選んでください" in d.find_element(By.TAG_NAME, "body").text)
        assert manager.find_element(By.NAME, "email").get_attribute("value") == "tanaka@example.jp"
        Select(manager.find_element(By.NAME, "firm")).select_by_value(firm_slug)
        manager.find_element(By.CSS_SELECTOR, ".user-form button[type=submit]").click()
        wait(manager).until(lambda d: "tanaka@example.jp を追加しました" in d.find_element(By.TAG_NAME, "body").text)
        # The demo has no mail server: the link is shown once, to hand over another way.
        assert "/password/" in manager.find_element(By.CSS_SELECTOR, ".link-once input").get_attribute("value")
        manager.save_screenshot(str(tmp_path / "user-added-1366.png"))

        manager.get(server.url + "/admin/users?role=operator")
        manager.find_element(By.CSS_SELECTOR, f'tr[data-email="{operator_email}"] a').click()
        wait(manager).until(lambda d: "/admin/users/" in d.current_url)
        user_page = manager.current_url
        manager.find_element(By.CSS_SELECTOR, "form[action$='/disable'] button").click()
        wait(manager).until(lambda d: "ログインできなくなりました" in d.find_element(By.TAG_NAME, "body").text)

        operator.get(server.url + "/console")
        wait(operator).until(lambda d: "/login" in d.current_url)  # their open session ended

        _at_width(manager, 375)
        manager.get(user_page)
        _no_sideways_scroll(manager, 375)
        manager.save_screenshot(str(tmp_path / "user-375.png"))
        manager.get(server.url + "/admin/users")
        manager.save_screenshot(str(tmp_path / "users-375.png"))
        _no_sideways_scroll(manager, 375)
        assert "無効" in manager.find_element(By.CSS_SELECTOR, f'tr[data-email="{operator_email}"]').text
        manager.save_screenshot(str(tmp_path / "users-375.png"))
        manager.get(server.url + "/admin/users/new")
        _no_sideways_scroll(manager, 375)
        manager.save_screenshot(str(tmp_path / "user-new-375.png"))
    finally:
        manager.quit()
        operator.quit()
