"""Report previews (the API and the page) show the report a run would make, from the real messages
of its period, without sending or recording anything; a test send mails it to one address only."""

import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from app.accounts.service import create_token
from app.audit import AuditEntry
from app.delivery.models import Delivery
from app.reports import preview, service as reports
from app.reports.models import ReportRun
from app.tenants import store
from app.tenants.models import ReportRule

from .conftest import csrf_token, log_in, minimal_config
from .test_reports import jst, law_config, pdf_text, take

SMS_TOO = [{"channel": "email", "to": ["office@law.example.jp"]}, {"channel": "fax", "to": ["03-1234-5679"]},
           {"channel": "sms", "to_staff": ["yamada"]}]
FRIDAY = jst(2026, 11, 20, 18)  # a scheduled time of the law firm's evening report
PREVIEW = "/api/v1/tenants/law/reports/evening/preview"


@pytest.fixture
def law(database):
    firm = store.import_config(law_config(deliver=SMS_TOO))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    return firm


@pytest.fixture
def mail_client(settings, inbox):
    """The app with its mail going to the test's SMTP server (and faxes to a mail gateway on it)."""
    from app.main import create_app

    app = create_app(settings.replace(SMTP_URL=inbox.url, FAX_TRANSPORT="email-gateway",
                                      FAX_GATEWAY_DOMAIN="fax.example"))
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {create_token(user.email)[1]}"}


def friday_messages(firm):
    return [take(firm, jst(2026, 11, 20, 10), caller_name="佐藤 花子", body="契約書の件"),
            take(firm, jst(2026, 11, 20, 11), urgent=True, caller_name="木村 一郎", body="本日中にご連絡ください"),
            take(firm, jst(2026, 11, 20, 12), category="sales", caller_name="営業 太郎", body="複合機のご案内"),
            take(firm, jst(2026, 11, 20, 19), caller_name="翌日 次郎", body="翌日分")]


def nothing_went_out(inbox, settings) -> bool:
    outbox = Path(settings.OUTBOX_DIR)
    return (not inbox.received and ReportRun.select().count() == 0 and Delivery.select().count() == 0
            and not (outbox.exists() and any(p.is_file() for p in outbox.rglob("*"))))


def test_the_api_preview_is_the_report_of_that_time_and_nothing_is_sent_or_recorded(
        law, mail_client, admin, inbox, settings):
    sato, kimura, _sales, _later = friday_messages(law)
    response = mail_client.post(PREVIEW, json={"at": FRIDAY.isoformat()}, headers=bearer(admin))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["period"] == {"since": "2026-11-19T18:00:00+09:00", "until": "2026-11-20T18:00:00+09:00"}
    assert data["messages"] == [kimura.id, sato.id]  # urgent first; sales left out; 19:00 is the next report's
    assert data["email"]["subject"] == "山田法律事務所 様: 11/20 18:00 までの伝言 2 件"
    for part in (data["email"]["text"], data["email"]["html"]):
        assert "本日中にご連絡ください" in part and "契約書の件" in part and "複合機のご案内" not in part
    assert data["email"]["html"].lstrip().lower().startswith("<!doctype html")
    assert data["sms"].startswith("山田法律事務所 様: 伝言 2 件 (うち至急 1 件)。\n・至急: 木村 一郎") and "・佐藤 花子 契約書の件" in data["sms"]
    assert data["skipped"] is False
    assert nothing_went_out(inbox, settings)
    # The real run of that time makes the same report.
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    run = ReportRun.get_by_id(made.id)
    assert (run.subject, run.text, run.html, run.sms) == (data["email"]["subject"], data["email"]["text"],
                                                           data["email"]["html"], data["sms"])


def test_without_a_time_the_preview_is_of_the_next_scheduled_report(law, client, supervisor):
    response = client.post(PREVIEW, json={}, headers=bearer(supervisor))
    assert response.status_code == 200, response.text
    until = dt.datetime.fromisoformat(response.json()["period"]["until"])
    assert until == preview.next_time(ReportRule.get(), law)
    assert until > dt.datetime.now(dt.UTC) and until.strftime("%H:%M") == "18:00"


def test_a_time_that_is_not_scheduled_previews_the_period_up_to_it(law, client, admin):
    take(law, jst(2026, 11, 20, 10), body="午前の伝言")
    take(law, jst(2026, 11, 20, 16), body="夕方の伝言")
    data = client.post(PREVIEW, json={"at": "2026-11-20T15:00:00+09:00"}, headers=bearer(admin)).json()
    assert data["period"] == {"since": "2026-11-19T18:00:00+09:00", "until": "2026-11-20T15:00:00+09:00"}
    assert len(data["messages"]) == 1 and "午前の伝言" in data["email"]["text"] and "夕方" not in data["email"]["text"]


def test_a_report_without_sms_recipients_has_no_sms_and_an_empty_skipped_period_no_email(database, client, admin):
    store.import_config(law_config(when_empty="skip"))
    data = client.post(PREVIEW, json={"at": FRIDAY.isoformat()}, headers=bearer(admin)).json()
    assert data == {"period": {"since": "2026-11-19T18:00:00+09:00", "until": "2026-11-20T18:00:00+09:00"},
                    "messages": [], "email": None, "sms": None, "skipped": True}


def test_the_preview_is_refused_to_clients_operators_other_firms_and_unknown_reports(
        law, client, admin, operator, firm_a, alice, charlie):
    own = store.import_config(minimal_config("firm-a", "03-1111-2222", reports=[
        {"key": "evening", "at": ["18:00"], "deliver": [{"channel": "email", "to": ["a@firm-a.example.jp"]}]}]))
    url = f"/api/v1/tenants/{own.slug}/reports/evening/preview"
    assert client.post(url, json={}, headers=bearer(alice)).status_code == 403  # a client, even of the firm
    assert client.post(url, json={}, headers=bearer(operator)).status_code == 403
    other = client.post(url, json={}, headers=bearer(charlie))
    assert other.status_code == 404 and "slug" in other.json()["errors"]
    unknown = client.post("/api/v1/tenants/law/reports/morning/preview", json={}, headers=bearer(admin))
    assert unknown.status_code == 404 and list(unknown.json()["errors"]) == ["key"]
    assert client.post(url, json={}, headers=bearer(admin)).status_code == 200


@pytest.mark.parametrize("at", ["tomorrow", "2026-11-20T18:00:00", "2026-11-20", 20261120, "0001-01-01T00:00:00+09:00",
                                "9999-12-31T23:59:59+09:00"])
def test_a_time_that_is_no_iso_time_with_an_offset_is_refused_naming_at(law, client, admin, at):
    response = client.post(PREVIEW, json={"at": at}, headers=bearer(admin))
    assert response.status_code == 422 and list(response.json()["errors"]) == ["at"]


def page_url(at: dt.datetime | str = FRIDAY, suffix: str = "") -> str:
    at = at if isinstance(at, str) else at.isoformat()
    return f"/firms/law/reports/evening/preview{suffix}?at={quote(at)}"


def test_the_preview_page_shows_the_periods_messages_the_email_sms_and_fax_and_sends_nothing(
        law, mail_client, supervisor, inbox, settings, tmp_path):
    friday_messages(law)
    log_in(mail_client, supervisor)
    page = mail_client.get(page_url())
    assert page.status_code == 200
    for seen in ("佐藤 花子", "木村 一郎", "山田法律事務所 様: 11/20 18:00 までの伝言 2 件", "2026-11-19 18:00"):
        assert seen in page.text
    assert "営業 太郎" not in page.text and "翌日 次郎" not in page.text
    assert 'sandbox src="/firms/law/reports/evening/preview/email.html?at=' in page.text
    assert "124 文字、SMS 2 通分" in page.text  # a Japanese SMS over 70 characters is billed as two

    email = mail_client.get(page_url(suffix="/email.html"))
    assert "本日中にご連絡ください" in email.text
    assert email.headers["content-security-policy"].startswith("sandbox;")
    fax = mail_client.get(page_url(suffix="/fax.pdf"))
    assert fax.headers["content-type"] == "application/pdf" and fax.content.startswith(b"%PDF")
    text = pdf_text(fax.content, tmp_path)
    assert "佐藤 花子" in text and "契約書の件" in text and "複合機のご案内" not in text
    assert nothing_went_out(inbox, settings)


def test_the_page_offers_recent_and_next_scheduled_times_and_the_next_by_default(law, client, admin):
    log_in(client, admin)
    page = client.get("/firms/law/reports/evening/preview").text
    upcoming = preview.next_time(ReportRule.get(), law).astimezone(law.zone).isoformat()
    assert f'<option value="{upcoming}" selected>' in page
    assert page.count("<option") == preview.RECENT + preview.NEXT


def test_a_bad_time_on_the_page_is_shown_at_the_field_with_the_next_report_instead(law, client, admin):
    log_in(client, admin)
    page = client.get(page_url("yesterday"))
    assert page.status_code == 400
    assert 'id="at-error"' in page.text and "ISO 8601" in page.text


def test_a_test_send_mails_the_report_to_that_address_only_and_is_no_run(law, mail_client, admin, inbox, settings):
    friday_messages(law)
    log_in(mail_client, admin)
    page = mail_client.post("/firms/law/reports/evening/preview", data={
        "csrf_token": csrf_token(mail_client, page_url()), "at": FRIDAY.isoformat(), "email": "manager@answering.example"})
    assert page.status_code == 200
    assert "manager@answering.example" in page.text and "テスト送信しました" in page.text
    (rcpts, mail), = inbox.wait_for(1)
    assert rcpts == ["manager@answering.example"]
    assert mail["Subject"] == "【テスト】山田法律事務所 様: 11/20 18:00 までの伝言 2 件"
    assert "本日中にご連絡ください" in mail.get_body(("html",)).get_content()
    assert not list(mail.iter_attachments())  # the e-mail, not the fax
    assert ReportRun.select().count() == 0 and Delivery.select().count() == 0
    entry = AuditEntry.get(AuditEntry.action == "report.test")
    assert (entry.actor_label, entry.tenant_id, entry.target) == (admin.email, law.id, "evening")
    assert entry.changes["to"] == "manager@answering.example"
    # The real report of that time still carries its whole period.
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    assert made.message_count == 2


def test_a_test_send_to_a_bad_address_is_refused_at_the_field_with_the_address_kept(law, mail_client, admin, inbox):
    log_in(mail_client, admin)
    page = mail_client.post("/firms/law/reports/evening/preview", data={
        "csrf_token": csrf_token(mail_client, page_url()), "at": FRIDAY.isoformat(), "email": "manager@@example"})
    assert page.status_code == 400
    assert 'id="email-error"' in page.text and 'value="manager@@example"' in page.text
    assert not inbox.received and not AuditEntry.select().where(AuditEntry.action == "report.test").exists()


def test_a_test_send_of_an_english_firm_is_marked_test_in_english(database, mail_client, admin, inbox):
    store.import_config(minimal_config("harbor", "03-5555-1234", name="Harbor K.K.", language="en", reports=[
        {"key": "daily", "at": ["09:00"], "when_empty": "skip", "deliver": [{"channel": "email", "to": ["a@h.example"]}]}]))
    log_in(mail_client, admin)
    mail_client.post("/firms/harbor/reports/daily/preview", data={
        "csrf_token": csrf_token(mail_client, "/firms/harbor/reports/daily/preview"),
        "at": "2026-11-20T09:00:00+09:00", "email": "desk@answering.example"})
    (rcpts, mail), = inbox.wait_for(1)  # sent even though the period is empty and the report skips it
    assert rcpts == ["desk@answering.example"] and mail["Subject"].startswith("[TEST] ")


def test_the_firm_page_links_each_report_to_its_preview_for_managers_only(law, client, admin, operator):
    log_in(client, admin)
    assert 'href="/firms/law/reports/evening/preview"' in client.get("/firms/law").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    log_in(client, operator)
    assert "/preview" not in client.get("/firms/law").text
    assert client.get("/firms/law/reports/evening/preview").status_code == 403


def test_fuzzing_the_preview_as_a_supervisor_finds_no_server_error_and_no_undocumented_answer(law, client, supervisor):
    """The shared fuzz test uses tokens the preview refuses (403); here one it serves."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st
    from schemathesis import GenerationMode

    from .test_fuzz_api import CHECKS, _send

    take(law, jst(2026, 11, 20, 10))
    headers = bearer(supervisor)
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json())
    operation = schema.find_operation_by_path("POST", "/api/v1/tenants/{slug}/reports/{key}/preview")
    real = {"slug": law.slug, "key": "evening"}
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode, **extra)
                           for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                           for extra in ({}, {"path_parameters": real})))
    failures, served = [], []

    @hypothesis_settings(max_examples=120, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        response = _send(client, case, headers)
        served.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:
            failures.append(f"{case.method} {case.formatted_path} {case.body!r} → {response.status_code}: {exc}"[:2000])

    fuzz()
    assert not failures, "\n\n".join(failures[:5])
    assert 200 in served and 422 in served  # real previews were made, and bad times refused
