"""A new firm in five minutes: the wizard (checked as typed, errors at their fields with the input
kept), the owner's invitation by e-mail, and the test call that opens the screen pop as operators see it."""

import re

import pytest
from starlette.testclient import TestClient

from app.accounts.models import User
from app.calls.models import ANSWERED, Call
from app.tenants import store
from app.tenants.models import Tenant
from app.tenants.versions import TenantVersion

from .conftest import csrf_token, log_in, minimal_config


@pytest.fixture
def mailing(settings, inbox):
    """The app sending mail to the test's SMTP server."""
    from app.main import create_app

    with TestClient(create_app(settings.replace(SMTP_URL=inbox.url)), base_url="http://testserver") as c:
        yield c


def wizard(client, **overrides):
    form = {"name": "青空会計事務所", "name_kana": "あおぞらかいけいじむしょ", "slug": "aozora", "language": "ja",
            "answer_phrase": "", "number": ["03-6000-1234", "", ""], "kind": ["forwarded", "forwarded", "forwarded"],
            "hours_template": "weekdays-9-18", "holidays": "on", "after_hours": "voicemail",
            "after_hours_message": "", "report_at": "18:00", "owner_name": "青空 一郎",
            "owner_email": "ichiro@aozora.example.jp", **{f"hours-{d}": "" for d in
                                                         ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    form.update(overrides)
    return client.post("/firms/new", data={**form, "csrf_token": csrf_token(client, "/firms/new")})


def error_at(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{re.escape(field)}-error">(.*?)</p>', page, re.S)
    return match.group(1) if match else ""


def test_the_wizard_creates_a_firm_at_version_1_and_mails_its_owner_an_invitation(mailing, admin, inbox):
    log_in(mailing, admin)
    page = mailing.get("/firms/new").text
    assert "平日 9:00〜18:00" in page and 'value="weekdays-9-18" checked' in page
    response = wizard(mailing)
    assert response.status_code == 200, response.text
    assert "顧客を登録しました（第 1 版、新規登録ウィザード）。" in response.text
    assert "ichiro@aozora.example.jp に招待メールを送りました" in response.text
    assert 'action="/firms/aozora/test-call"' in response.text
    assert 'href="/firms/aozora/reports/evening/preview"' in response.text

    firm = Tenant.by_slug("aozora")
    config = store.snapshot(firm)
    assert config["answer_phrase"] == "お電話ありがとうございます。青空会計事務所でございます。"
    assert config["numbers"] == [{"number": "+81360001234", "kind": "forwarded"}]
    assert config["hours"]["mon"] == "09:00-18:00" and config["hours"]["sat"] == ""
    assert config["hours"]["closed_on_holidays"] == "JP" and config["hours"]["after_hours"] == "voicemail"
    (call_type,) = config["call_types"]
    assert (call_type["label"], call_type["fields"]) == ("伝言", ["caller_company", "caller_name", "callback_number",
                                                             "body"])
    assert call_type["required"] == call_type["readback"] == ["caller_name", "callback_number"]
    (report,) = config["reports"]
    assert (report["at"], report["days"], report["deliver"]) == (
        ["18:00"], ["mon", "tue", "wed", "thu", "fri"], [{"channel": "email", "to": ["ichiro@aozora.example.jp"],
                                                          "to_staff": []}])
    (version,) = TenantVersion.select().where(TenantVersion.tenant == firm)
    assert (version.number, version.via, version.saved_by_id) == (1, "wizard", admin.id)

    (recipients, mail), = inbox.wait_for(1)
    assert recipients == ["ichiro@aozora.example.jp"] and "青空会計事務所" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "あなたが顧客の管理者になります。" in text
    (link,) = set(re.findall(r"http://testserver(/invite/\S+)", text))
    mailing.post("/logout", data={"csrf_token": csrf_token(mailing, "/admin")})
    accepted = mailing.post(link, data={"password": "a long enough password", "confirm_password":
                                        "a long enough password", "name": "青空 一郎",
                                        "csrf_token": csrf_token(mailing, link)})
    assert accepted.url.path == "/portal"
    owner = User.by_email("ichiro@aozora.example.jp")
    assert (owner.tenant_id, owner.is_owner) == (firm.id, True)


def test_mistakes_are_shown_at_their_fields_with_everything_typed_kept_and_nothing_saved(client, admin, alice):
    log_in(client, admin)
    response = wizard(client, name="", slug="Aozora Kaikei", number=["03-1234", "03-1111-2222", ""],
                      hours_template="custom", **{"hours-mon": "9-18", "hours-tue": "09:00-18:00"},
                      after_hours="announce", report_at="25:00", owner_email=alice.email)
    assert response.status_code == 422
    page = response.text
    assert error_at(page, "name")
    assert "Aozora Kaikei" in error_at(page, "slug")
    assert "03-1234" in error_at(page, "number-0") and "firm-a" in error_at(page, "number-1")
    assert "9-18" in error_at(page, "hours-mon") and error_at(page, "hours-tue") == ""
    assert "announce" in error_at(page, "after_hours_message")
    assert "25:00" in error_at(page, "report_at")
    assert "alice@firm-a.example.jp にはすでに Dengon のアカウントがあります" in error_at(page, "owner_email")
    for kept in ('value="Aozora Kaikei"', 'value="03-1234"', 'value="9-18"', 'value="25:00"',
                 f'value="{alice.email}"', 'value="custom" checked', 'value="announce" checked'):
        assert kept in page, kept
    assert Tenant.by_slug("aozora-kaikei") is None and Tenant.select().count() == 1


def test_a_slug_or_number_another_firm_has_is_refused_at_its_field(client, admin, firm_a):
    log_in(client, admin)
    page = wizard(client, slug="firm-a").text
    assert "firm-a は顧客「firm-a 株式会社」のスラッグとして使われています" in error_at(page, "slug")
    page = wizard(client, number=["", "０３－１１１１－２２２２", ""]).text
    assert "firm-a" in error_at(page, "number-1") and error_at(page, "number-0") == ""
    assert Tenant.by_slug("aozora") is None


def test_numbers_and_slugs_are_checked_as_they_are_typed(client, admin, firm_a):
    log_in(client, admin)
    htmx = {"HX-Request": "true"}

    def number(text):
        return client.get("/firms/new/number", params={"number": text}, headers=htmx).text

    assert "03-1111-2222 はすでに firm-a 株式会社 の番号です。" in number("0311112222")
    assert "電話番号として正しくありません" in number("03-12")
    assert "050-1234-5678: まだどの顧客も使っていません。" in number("+81 50 1234 5678")

    def slug(text):
        return client.get("/firms/new/slug", params={"slug": text}, headers=htmx).text

    assert "すでに firm-a 株式会社 のスラッグです。" in slug("firm-a")
    assert "半角英小文字・数字・ハイフン" in slug("Firm A")
    assert "別のページに使われています" in slug("new")
    assert "/firms/aozora" in slug("aozora") and 'class="check ok"' in slug("aozora")


def test_the_wizard_is_for_account_managers_only(client, operator, alice):
    log_in(client, operator)
    assert client.get("/firms/new").status_code == 403
    assert client.get("/firms/new/number", params={"number": "03-1111-2222"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    log_in(client, alice)
    for path in ("/firms/new", "/firms/new/number?number=0311112222", "/firms/new/slug?slug=firm-a"):
        assert client.get(path).status_code == 404, path


def test_a_test_call_is_routed_by_the_firms_number_and_opens_the_screen_pop_with_its_answer_phrase(
        client, admin, operator, alice, firm_a):
    log_in(client, admin)
    page = client.get(f"/firms/{firm_a.slug}").text
    assert f'action="/firms/{firm_a.slug}/test-call"' in page
    response = client.post(f"/firms/{firm_a.slug}/test-call", data={"csrf_token": csrf_token(client, "/admin")})
    call = Call.get(Call.test == True)  # noqa: E712
    assert response.url.path == f"/console/calls/{call.id}"
    assert "テスト通話" in response.text and "お電話ありがとうございます。" in response.text
    assert firm_a.name in response.text
    # Found as a real call finds its firm: the firm's own line, forwarded.
    assert (call.tenant_id, call.forwarded_from, call.to_number) == (firm_a.id, "+81311112222", "")
    # Taken by the manager at once: never offered to an operator.
    assert (call.status, call.claimed_by_id) == (ANSWERED, admin.id)
    assert call.id not in [c.id for c in Call.waiting()]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    log_in(client, operator)
    assert f"/console/calls/{call.id}" not in client.get("/console").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/console")})
    # The firm sees it in its call log, labelled.
    log_in(client, alice)
    log = client.get("/portal/calls").text
    row = log[log.index(f'data-sid="{call.sid}"'):]
    assert "テスト通話" in row[:row.index("</tr>")]


def test_a_test_call_to_a_firm_with_a_dedicated_number_is_dialled_to_it(client, admin, database):
    firm = store.import_config(minimal_config("dedicated-firm", numbers=[
        {"number": "050-3786-5120", "kind": "dedicated"}]))
    log_in(client, admin)
    response = client.post(f"/firms/{firm.slug}/test-call", data={"csrf_token": csrf_token(client, "/admin")})
    call = Call.get(Call.test == True)  # noqa: E712
    assert (call.tenant_id, call.to_number, call.forwarded_from) == (firm.id, "+815037865120", "")
    assert "テスト通話" in response.text


def test_the_wizards_last_step_opens_the_new_firms_test_call(client, admin):
    log_in(client, admin)
    wizard(client)
    firm = Tenant.by_slug("aozora")
    response = client.post("/firms/aozora/test-call", data={"csrf_token": csrf_token(client, "/admin")})
    assert "お電話ありがとうございます。青空会計事務所でございます。" in response.text
    assert Call.get(Call.test == True).tenant_id == firm.id  # noqa: E712
