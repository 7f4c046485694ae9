"""A firm's own users: its owner (the firm's first client user) invites colleagues by e-mail with a
one-time link where they choose their password, and removes them; removal ends their sessions and
tokens at once. Nobody else manages the firm's users."""

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.accounts import service
from app.accounts.models import Invitation, User, hash_secret
from app.audit import AuditEntry

from .conftest import PASSWORD, csrf_token, log_in


@pytest.fixture
def bob(alice, firm_a):
    """alice's colleague: a client user of firm A who is not its owner."""
    return service.add_user("bob@firm-a.example.jp", "client", password=PASSWORD, tenant_slug=firm_a.slug)


@pytest.fixture
def another(app):
    """A second browser."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def invite(client, email_address="dana@firm-a.example.jp", name="田中 一郎"):
    return client.post("/portal/users", data={"email": email_address, "name": name,
                                              "csrf_token": csrf_token(client, "/portal/users")})


def sent_invitation(settings) -> tuple[email.message.EmailMessage, str]:
    """The last invitation mail in the outbox, and the link in it."""
    (path,) = sorted((Path(settings.OUTBOX_DIR) / "email").glob("invitation-*.eml"))[-1:]
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    (link,) = set(re.findall(r"http://testserver(/invite/\S+)", mail.get_body(("plain",)).get_content()))
    return mail, link


def test_a_firms_first_client_user_owns_it(alice, bob, charlie):
    assert (alice.is_owner, bob.is_owner, charlie.is_owner) == (True, False, True)


def test_an_owner_invites_a_colleague_who_chooses_a_password_and_is_signed_in(client, another, alice, firm_a,
                                                                              settings):
    log_in(client, alice)
    page = client.get("/portal/users")
    assert page.status_code == 200 and "alice@firm-a.example.jp" in page.text and "管理者" in page.text
    sent = invite(client)
    assert sent.status_code == 200 and "dana@firm-a.example.jp に招待メールを送りました" in sent.text
    assert "招待中" in sent.text

    mail, link = sent_invitation(settings)
    assert mail["To"] == "dana@firm-a.example.jp" and "firm-a 株式会社" in mail["Subject"]
    assert f"http://testserver{link}" in mail.get_body(("html",)).get_content()
    token = link.removeprefix("/invite/")
    (stored,) = Invitation.select()
    assert stored.token_hash == hash_secret(token) and token not in str(stored.__data__)  # only a digest kept

    form = another.get(link)
    assert form.status_code == 200 and "dana@firm-a.example.jp" in form.text and "田中 一郎" in form.text
    short = another.post(link, data={"name": "田中 一郎", "password": "short", "confirm_password": "short",
                                     "csrf_token": csrf_token(another, link)})
    assert short.status_code == 400 and "10 文字以上" in short.text and 'value="田中 一郎"' in short.text
    joined = another.post(link, data={"name": "田中 一郎", "password": "a long new password",
                                      "confirm_password": "a long new password",
                                      "csrf_token": csrf_token(another, link)}, follow_redirects=False)
    assert (joined.status_code, joined.headers["location"]) == (303, "/portal")
    assert another.get("/portal").status_code == 200  # signed in

    dana = User.by_email("dana@firm-a.example.jp")
    assert (dana.role, dana.tenant_id, dana.is_owner, dana.name) == ("client", firm_a.id, False, "田中 一郎")
    assert dana.check_password("a long new password")
    actions = [e.action for e in AuditEntry.select().where(AuditEntry.tenant == firm_a)]
    assert {"user.invite", "user.create", "user.invite.accept"} <= set(actions)


def test_the_invitation_link_works_once(client, another, alice, settings):
    log_in(client, alice)
    invite(client)
    _mail, link = sent_invitation(settings)
    data = {"password": "a long new password", "confirm_password": "a long new password", "name": ""}
    first = another.post(link, data={**data, "csrf_token": csrf_token(another, link)}, follow_redirects=False)
    assert first.status_code == 303
    with TestClient(another.app, base_url="http://testserver") as third:
        page = third.get(link)
        assert page.status_code == 404 and "使用済みか、有効期限が切れています" in page.text
        again = third.post(link, data={**data, "csrf_token": csrf_token(third)})
        assert again.status_code == 404
    assert User.select().where(User.email == "dana@firm-a.example.jp").count() == 1


def test_an_invitation_link_expires_after_seven_days(client, another, alice, settings):
    log_in(client, alice)
    invite(client)
    _mail, link = sent_invitation(settings)
    (stored,) = Invitation.select()
    assert stored.expires_at - stored.created_at == dt.timedelta(days=7)
    Invitation.update(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).execute()
    assert another.get(link).status_code == 404


def test_a_client_who_is_not_the_owner_cannot_invite_or_remove(client, alice, bob):
    log_in(client, bob)
    assert client.get("/portal/users").status_code == 404
    assert 'href="/portal/users"' not in client.get("/portal").text
    token = csrf_token(client, "/portal")
    assert client.post("/portal/users", data={"email": "eve@example.jp", "csrf_token": token}).status_code == 404
    assert client.post(f"/portal/users/{alice.id}/remove", data={"csrf_token": token}).status_code == 404
    assert Invitation.select().count() == 0 and User.by_email(alice.email).is_active


def test_removing_a_user_ends_their_session_and_token_at_once(client, another, alice, bob):
    log_in(another, bob)
    _user, api_token = service.create_token(bob.email)
    auth = {"Authorization": f"Bearer {api_token}"}
    assert another.get("/portal").status_code == 200 and another.get("/api/v1/messages", headers=auth).status_code == 200

    log_in(client, alice)
    removed = client.post(f"/portal/users/{bob.id}/remove", data={"csrf_token": csrf_token(client, "/portal/users")})
    assert removed.status_code == 200 and "bob@firm-a.example.jp はログインできなくなりました" in removed.text
    assert "bob@firm-a.example.jp</div>" not in removed.text  # no longer listed

    assert another.get("/portal", follow_redirects=False).headers["location"].startswith("/login")
    assert another.get("/api/v1/messages", headers=auth).status_code == 401
    assert {"user.disable", "token.revoke", "user.remove"} <= {e.action for e in AuditEntry.select()}


def test_a_removed_colleague_can_be_invited_back(client, another, alice, bob, settings):
    log_in(client, alice)
    client.post(f"/portal/users/{bob.id}/remove", data={"csrf_token": csrf_token(client, "/portal/users")})
    assert invite(client, bob.email, "").status_code == 200
    _mail, link = sent_invitation(settings)
    data = {"password": "bob's new password", "confirm_password": "bob's new password", "name": "ボブ"}
    assert another.post(link, data={**data, "csrf_token": csrf_token(another, link)},
                        follow_redirects=False).status_code == 303
    assert another.get("/portal").status_code == 200 and User.by_email(bob.email).is_active


def test_an_owner_cannot_remove_themself(client, alice):
    log_in(client, alice)
    page = client.post(f"/portal/users/{alice.id}/remove", data={"csrf_token": csrf_token(client, "/portal/users")})
    assert page.status_code == 400 and "ご自身は削除できません" in page.text
    assert User.by_email(alice.email).is_active


def test_another_firms_owner_gets_404_on_removing_a_user_of_firm_a(client, bob, charlie):
    log_in(client, charlie)
    token = csrf_token(client, "/portal/users")
    assert client.post(f"/portal/users/{bob.id}/remove", data={"csrf_token": token}).status_code == 404
    assert User.by_email(bob.email).is_active
    assert "bob@firm-a.example.jp" not in client.get("/portal/users").text


def test_an_invitation_form_names_the_wrong_field_and_keeps_the_input(client, alice, bob, charlie):
    log_in(client, alice)
    for address, error in (("not-an-address", "メールアドレスを入力してください"),
                           (bob.email, "すでにメンバーです"),
                           (charlie.email, "別のアカウントで使われています")):
        page = invite(client, address, "名前")
        assert page.status_code == 400 and error in page.text and f'value="{address}"' in page.text
    assert Invitation.select().count() == 0


def _at_width(driver, width: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})


def _no_sideways_scroll(driver, width: int) -> None:
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width, f"{driver.current_url} is {scroll} px wide at {width} px"


@pytest.mark.browser
def test_an_owner_invites_from_a_phone_and_the_colleague_joins_from_theirs(server, demo_logins, environ, tmp_path):
    from selenium.webdriver.common.by import By

    from .browser import chromium
    from .test_browser import log_in as browser_log_in, wait

    owner_email, password, _role, _slug = next(l for l in demo_logins if l[0] == "yamada-law@example.com")
    owner, colleague = chromium(tmp_path / "owner"), chromium(tmp_path / "colleague")
    try:
        browser_log_in(owner, server, owner_email, password)
        for width in (1280, 375):
            _at_width(owner, width)
            owner.get(server.url + "/portal/users")
            _no_sideways_scroll(owner, width)
            owner.save_screenshot(str(tmp_path / f"portal-users-{width}.png"))
        owner.find_element(By.NAME, "email").send_keys("tanaka@yamada-law.example.jp")
        owner.find_element(By.NAME, "name").send_keys("田中 一郎")
        owner.find_element(By.CSS_SELECTOR, ".invite-form button[type=submit]").click()
        wait(owner).until(lambda d: "招待メールを送りました" in d.find_element(By.TAG_NAME, "body").text)
        _no_sideways_scroll(owner, 375)
        owner.save_screenshot(str(tmp_path / "portal-users-invited-375.png"))

        (mail,) = (Path(environ["OUTBOX_DIR"]) / "email").glob("invitation-*.eml")
        text = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default).get_body(("plain",))
        (link,) = set(re.findall(r"/invite/\S+", text.get_content()))
        _at_width(colleague, 375)
        colleague.get(server.url + link)
        colleague.save_screenshot(str(tmp_path / "invite-375.png"))
        _no_sideways_scroll(colleague, 375)
        for name in ("password", "confirm_password"):
            colleague.find_element(By.NAME, name).send_keys("a long new password")
        colleague.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
        wait(colleague).until(lambda d: d.current_url == server.url + "/portal")
        assert "田中 一郎" in colleague.find_element(By.CSS_SELECTOR, ".who").text
    finally:
        owner.quit()
        colleague.quit()


def test_the_invitation_mail_is_in_the_firms_language(client, database, settings):
    from app.tenants import store

    from .conftest import minimal_config

    store.import_config(minimal_config("harbor", "03-5555-1000", name="Harbor IT", language="en"))
    owner = service.add_user("pat@harbor.example", "client", password=PASSWORD, tenant_slug="harbor", name="Pat")
    log_in(client, owner)
    invite(client, "sam@harbor.example", "Sam Lee")
    mail, _link = sent_invitation(settings)
    text = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == "Harbor IT: you are invited to read the firm's messages"
    assert text.startswith("Dear Sam Lee,") and "Pat invites you to read Harbor IT's telephone messages" in text
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text + mail.get_body(("html",)).get_content())


def test_on_migrating_each_firms_first_client_user_becomes_its_owner(tmp_path):
    from playhouse.migrations import Runner

    from app import db

    from .test_migrations import old_firm

    db.bind(f"sqlite:///{tmp_path / 'old.db'}")
    with db.db.connection_context():
        Runner(db.db.obj, directory=str(db.MIGRATIONS_DIR)).up(target="0007_blocked_numbers")
        firm = old_firm()  # today's Tenant model would write columns 0007 has not got
        for email_address, role, tenant in (("op@x.jp", "operator", None), ("first@law.jp", "client", firm),
                                            ("second@law.jp", "client", firm)):
            db.db.execute_sql("INSERT INTO user (email, name, password_hash, role, tenant_id, language, is_active,"
                              " created_at) VALUES (?, '', 'x', ?, ?, 'ja', 1, '2026-11-20T00:00:00+00:00')",
                              (email_address, role, tenant))
    db.migrate()
    with db.db.connection_context():
        owners = [u.email for u in User.select().where(User.is_owner == True)]  # noqa: E712
    db.db.close_all()
    assert owners == ["first@law.jp"]
