"""Scheduled reports: when they are due, what they cover, and that each goes out exactly once by
e-mail (a real SMTP server on loopback), fax (a PDF read back) and SMS (the provider's seam)."""

import datetime as dt
import re
import subprocess
import threading
import time

import pytest

from app.delivery import service as delivery
from app.delivery.models import Delivery
from app.messages import forms, service as messages
from app.messages.models import Message
from app.reports import schedule, service as reports
from app.reports.models import ReportRun
from app.tenants import store
from app.tenants.models import ReportRule

from .conftest import csrf_token, minimal_config

JST = dt.timezone(dt.timedelta(hours=9))
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def jst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


def law_config(**report):
    rule = {"key": "evening", "at": ["18:00"], "days": WEEKDAYS, "skip_holidays": True,
            "exclude_categories": ["sales", "wrong_number"],
            "deliver": [{"channel": "email", "to": ["office@law.example.jp"]},
                        {"channel": "fax", "to": ["03-1234-5679"]}]}
    rule.update(report)
    return minimal_config(
        "law", "03-1234-5678", name="山田法律事務所",
        hours={**{d: "09:00-18:00" for d in WEEKDAYS}, "sat": "", "sun": "", "closed_on_holidays": "JP"},
        staff=[{"key": "yamada", "name": "山田 太郎", "email": "yamada@law.example.jp", "mobile": "090-1234-5678"}],
        reports=[rule], notify=[{"urgent": True, "deliver": [{"channel": "sms", "to_staff": ["yamada"]}]}])


@pytest.fixture
def law(database):
    firm = store.import_config(law_config())
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()  # set up that Friday morning
    return firm


@pytest.fixture
def mail_settings(settings, inbox):
    return settings.replace(SMTP_URL=inbox.url, FAX_TRANSPORT="email-gateway", FAX_GATEWAY_DOMAIN="fax.example")


def take(firm, at, category="message", urgent=False, **fields):
    """A message taken at ``at``, as an operator would have saved it."""
    fields = fields or {"caller_name": "佐藤 花子", "callback_number": "+819012345678", "body": "契約書の件"}
    clean = forms.Clean(forms.form_of(firm, None), category, urgent, fields, [], {})
    message = messages.record(firm, clean, None)
    Message.update(taken_at=at).where(Message.id == message.id).execute()
    return message


def test_a_report_is_due_at_its_local_times_on_its_days_but_not_on_holidays(law):
    rule = law.reports.get()
    times = list(schedule.times_between(rule, law, jst(2026, 11, 20, 0), jst(2026, 11, 26, 0)))
    # Fri 20th, then the weekend and Monday 23rd (勤労感謝の日) are skipped.
    assert times == [jst(2026, 11, 20, 18), jst(2026, 11, 24, 18), jst(2026, 11, 25, 18)]
    # So Tuesday's report covers everything since Friday's.
    assert schedule.previous_time(rule, law, jst(2026, 11, 24, 18)) == jst(2026, 11, 20, 18)


def test_report_times_follow_a_daylight_saving_zone_once_a_day(database):
    firm = store.import_config(minimal_config("nyc", "03-5555-1000", timezone="America/New_York", reports=[
        {"key": "night", "at": ["02:30"], "deliver": [{"channel": "email", "to": ["desk@nyc.example"]}]},
        {"key": "early", "at": ["01:30"], "deliver": [{"channel": "email", "to": ["desk@nyc.example"]}]}]))
    night, early = firm.reports.order_by(ReportRule.position)
    utc = dt.timezone.utc

    def times(rule, month, first, last):
        return [t.strftime("%d %H:%M") for t in schedule.times_between(
            rule, firm, dt.datetime(2026, month, first, tzinfo=utc), dt.datetime(2026, month, last, tzinfo=utc))]

    # 02:30 does not exist on 8 March: sent once, at 03:30 EDT; the days around it at 02:30 local.
    assert times(night, 3, 7, 10) == ["07 07:30", "08 07:30", "09 06:30"]
    # 01:30 happens twice on 1 November: sent once, at the first.
    assert times(early, 11, 1, 3) == ["01 05:30", "02 06:30"]


def test_the_report_email_has_every_included_message_urgent_first_and_no_excluded_category(law, mail_settings, inbox):
    take(law, jst(2026, 11, 20, 10), body="見積もりの件")
    take(law, jst(2026, 11, 20, 11), urgent=True, caller_name="木村 一郎", callback_number="+819011112222",
         body="本日中にご連絡ください")
    take(law, jst(2026, 11, 20, 12), category="sales", caller_name="営業 太郎", body="複合機のご案内")
    take(law, jst(2026, 11, 20, 19), body="翌日分")  # after the report's time: the next report's
    service = mail_settings.replace(MAIL_FROM="山田電話代行 <dengon@answering.example.jp>")
    (run,) = reports.make_due_runs(service, now=jst(2026, 11, 20, 18, 0, 30))
    assert delivery.send_due(service, now=jst(2026, 11, 20, 18, 1)) == {"sent": 2}

    (mail,) = inbox.to("office@law.example.jp")
    assert mail["Subject"] == "山田法律事務所 様: 11/20 18:00 までの伝言 2 件"
    (sender,) = mail["From"].addresses  # the name encoded, the address readable
    assert (sender.display_name, sender.addr_spec) == ("山田電話代行", "dengon@answering.example.jp")
    sent = Delivery.get(Delivery.recipient == "office@law.example.jp")
    assert mail["Message-ID"] == f"<delivery-{sent.id}-{sent.created_at:%Y%m%d%H%M%S}@answering.example.jp>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert "本日中にご連絡ください" in part and "見積もりの件" in part
        assert part.index("本日中にご連絡ください") < part.index("見積もりの件")  # urgent first
        assert "複合機のご案内" not in part and "翌日分" not in part
    assert "伝言 2 件" in text and "うち至急 1 件" in text and "090-1111-2222" in text
    assert "http://testserver/portal" in text
    assert run.message_count == 2 and run.period_start == jst(2026, 11, 19, 18)


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_fax_is_an_a4_pdf_with_the_messages_in_japanese_and_an_embedded_font(law, mail_settings, inbox, tmp_path):
    take(law, jst(2026, 11, 20, 10), caller_name="佐藤 花子", body="契約書の件で折り返しをお願いします")
    take(law, jst(2026, 11, 20, 12), category="wrong_number", caller_name="間違 一郎", body="間違い電話")
    reports.make_due_runs(mail_settings, now=jst(2026, 11, 20, 18, 1))
    delivery.send_due(mail_settings, now=jst(2026, 11, 20, 18, 2))

    (fax,) = inbox.to("0312345679@fax.example")
    (attachment,) = list(fax.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    data = attachment.get_content()
    text = pdf_text(data, tmp_path)
    assert "山田法律事務所" in text and "佐藤 花子" in text and "契約書の件で折り返しをお願いします" in text
    assert "間違い電話" not in text
    assert "1/1" in text  # page numbers
    path = tmp_path / "report.pdf"
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "Noto-Sans-CJK-JP" in line]
    assert cjk and all(" yes " in line for line in cjk)  # embedded
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89" in info  # A4 in points


def test_the_fax_header_prints_a_firm_name_with_markup_characters_as_written(database, settings, tmp_path):
    name = """A&B <"Law"> 'Office' \\ </style>"""
    firm = store.import_config(law_config(deliver=[{"channel": "fax", "to": ["03-1234-5679"]}]) | {"name": name})
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    take(firm, jst(2026, 11, 20, 10))
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    text = pdf_text(ReportRun.get_by_id(made.id).pdf, tmp_path)
    assert "&amp;" not in text and "&lt;" not in text and "&#" not in text
    header, *_rest = text.strip().splitlines()
    assert header.strip() == name  # the page header, on top of every page
    assert f"{name} 伝言報告" in text  # and the title, escaped as HTML


def test_an_empty_period_sends_a_notice_or_nothing_as_the_report_says(law, mail_settings, inbox):
    reports.make_due_runs(mail_settings, now=jst(2026, 11, 20, 18, 1))
    delivery.send_due(mail_settings, now=jst(2026, 11, 20, 18, 2))
    (mail,) = inbox.to("office@law.example.jp")
    assert "この期間にお預かりした伝言はありません。" in mail.get_body(("plain",)).get_content()

    store.import_config(law_config(when_empty="skip"))
    (made,) = reports.make_due_runs(mail_settings, now=jst(2026, 11, 24, 18, 1))
    assert made.skipped and ReportRun.get_by_id(made.id).deliveries.count() == 0
    delivery.send_due(mail_settings, now=jst(2026, 11, 24, 18, 2))
    assert len(inbox.to("office@law.example.jp")) == 1


def test_after_downtime_every_missed_report_goes_out_once_for_its_own_period(law, mail_settings, inbox):
    for day in (24, 25, 26):
        take(law, jst(2026, 11, day, 12), body=f"{day}日の伝言")
    # The worker was down from the 24th in the morning until the 27th at 09:00.
    runs = reports.make_due_runs(mail_settings, now=jst(2026, 11, 27, 9))
    assert [r.scheduled_at for r in runs] == [jst(2026, 11, 24, 18), jst(2026, 11, 25, 18), jst(2026, 11, 26, 18)]
    assert [r.period_start for r in runs] == [jst(2026, 11, 20, 18), jst(2026, 11, 24, 18), jst(2026, 11, 25, 18)]
    assert [r.message_count for r in runs] == [1, 1, 1]
    assert reports.make_due_runs(mail_settings, now=jst(2026, 11, 27, 9, 1)) == []


def test_two_workers_racing_send_each_report_once(law, mail_settings, inbox):
    take(law, jst(2026, 11, 20, 10))
    from app import db

    def worker():  # what `dengon worker` does every minute
        with db.db.connection_context():
            reports.dispatch(mail_settings, now=jst(2026, 11, 20, 18, 1))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ReportRun.select().count() == 1
    assert len(inbox.to("office@law.example.jp")) == 1 and len(inbox.to("0312345679@fax.example")) == 1
    assert {d.status for d in Delivery.select()} == {"sent"}


def test_many_reports_due_at_once_are_made_in_processes_and_each_goes_out_once(database, mail_settings, inbox,
                                                                                monkeypatch):
    monkeypatch.setattr(reports, "PARALLEL_FROM", 2)
    monkeypatch.setattr(reports, "CHUNK", 1)
    monkeypatch.setattr(reports, "PROCESSES", 2)
    in_processes = []
    parallel = reports._make_in_processes
    monkeypatch.setattr(reports, "_make_in_processes", lambda *args: in_processes.append(1) or parallel(*args))
    firms = [store.import_config(minimal_config(
        f"firm{n}", f"03-5555-10{n}0", name=f"事務所{n}",
        reports=[{"key": "evening", "at": ["18:00"], "days": WEEKDAYS,
                  "deliver": [{"channel": "email", "to": [f"office@firm{n}.example.jp"]}]}])) for n in range(3)]
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    take(firms[1], jst(2026, 11, 20, 10), body="二番目の事務所への伝言")

    made, outcome = reports.dispatch(mail_settings, now=jst(2026, 11, 20, 18, 1))
    assert in_processes and outcome == {"sent": 3}
    assert sorted((m.tenant.slug, m.message_count) for m in made) == [("firm0", 0), ("firm1", 1), ("firm2", 0)]
    (mail,) = inbox.to("office@firm1.example.jp")
    assert "二番目の事務所への伝言" in mail.get_body(("plain",)).get_content()
    assert all(len(inbox.to(f"office@firm{n}.example.jp")) == 1 for n in range(3))
    assert reports.dispatch(mail_settings, now=jst(2026, 11, 20, 18, 2)) == ([], {})


def test_a_report_time_sends_its_mails_over_one_connection_and_reconnects_when_the_server_says_enough(
        database, mail_settings, inbox):
    staff = [f"staff{i}@law.example.jp" for i in range(5)]
    store.import_config(law_config(deliver=[{"channel": "email", "to": staff}]))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    reports.make_due_runs(mail_settings, now=jst(2026, 11, 20, 18, 1))
    assert delivery.send_due(mail_settings, now=jst(2026, 11, 20, 18, 2)) == {"sent": 5}
    assert len(set(inbox.peers)) == 1

    inbox.per_connection = 2  # the server answers the third MAIL FROM with 421
    reports.make_due_runs(mail_settings, now=jst(2026, 11, 24, 18, 1))
    assert delivery.send_due(mail_settings, now=jst(2026, 11, 24, 18, 2)) == {"sent": 5}
    assert len(set(inbox.peers[5:])) == 3
    assert all(len(inbox.to(address)) == 2 for address in staff)  # each report once, both days


def test_a_connection_the_mail_server_dropped_while_idle_is_replaced_before_the_next_mail(settings):
    from app.delivery.channels import Outgoing, Sender

    from .mail import Inbox

    first = Inbox().start()
    with Sender(settings.replace(SMTP_URL=first.url)) as sender:
        sender.send(Outgoing("email", "desk@law.example.jp", "伝言", "一通目", key="delivery-1"))
        first.stop()  # the server goes away, and comes back on the same port
        again = Inbox(port=first.port).start()
        try:
            sender.send(Outgoing("email", "desk@law.example.jp", "伝言", "二通目", key="delivery-2"))
            (mail,) = again.to("desk@law.example.jp")
            assert "二通目" in mail.get_body(("plain",)).get_content()
        finally:
            again.stop()
    assert len(first.to("desk@law.example.jp")) == 1


def test_a_mail_server_down_then_back_gets_the_report_once(law, settings, tmp_path):
    from .mail import Inbox

    later = Inbox()  # its port is chosen, nothing listens there yet
    down = settings.replace(SMTP_URL=later.url)
    reports.make_due_runs(down, now=jst(2026, 11, 20, 18, 1))
    assert delivery.send_due(down, now=jst(2026, 11, 20, 18, 1)) == {"retry": 1, "sent": 1}  # the fax: outbox
    email = Delivery.get(Delivery.channel == "email")
    assert email.status == "retry" and "could not be reached" in email.last_error
    assert delivery.send_due(down, now=jst(2026, 11, 20, 18, 1, 30)) == {}  # not yet: backing off
    later.start()
    try:
        assert delivery.send_due(down, now=jst(2026, 11, 20, 18, 3)) == {"sent": 1}
        assert delivery.send_due(down, now=jst(2026, 11, 20, 19)) == {}
        assert len(later.to("office@law.example.jp")) == 1
    finally:
        later.stop()


def test_a_refused_address_fails_for_good_and_staff_can_send_it_again(law, mail_settings, inbox):
    inbox.refuse["office@law.example.jp"] = "550 5.1.1 no such mailbox"
    reports.make_due_runs(mail_settings, now=jst(2026, 11, 20, 18, 1))
    delivery.send_due(mail_settings, now=jst(2026, 11, 20, 18, 2))
    failed = Delivery.get(Delivery.channel == "email")
    assert failed.status == "failed" and "550" in failed.last_error and failed.attempts == 1
    del inbox.refuse["office@law.example.jp"]
    delivery.resend(failed)
    assert delivery.send_due(mail_settings) == {"sent": 1}
    assert len(inbox.to("office@law.example.jp")) == 1


def test_reports_run_twice_sends_once(law, environ, inbox, capsys, monkeypatch):
    from app import cli

    take(law, jst(2026, 11, 20, 10))
    for key, value in {**environ, "SMTP_URL": inbox.url}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["reports", "run", "--date", "2026-11-20", "--tenant", "law"]) == 0
    assert "law/evening at 2026-11-20 18:00: 1 messages" in capsys.readouterr().out
    assert cli.main(["reports", "run", "--date", "2026-11-20"]) == 0
    assert "0 reports made" in capsys.readouterr().out
    assert len(inbox.to("office@law.example.jp")) == 1
    assert cli.main(["reports", "run", "--date", "20-11-2026"]) == 1
    assert "--date: expected YYYY-MM-DD" in capsys.readouterr().err


def test_an_urgent_message_is_sent_by_sms_at_once_and_its_receipt_recorded(law, settings, client):
    from .fake_provider import FakeProvider
    from .test_webhooks import post

    provider = FakeProvider()
    try:
        live = settings.replace(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="f" * 32,
                                TWILIO_API_BASE=provider.url, TWILIO_SMS_FROM="+815012345678")
        message = take(law, jst(2026, 11, 20, 10), urgent=True, body="至急、折り返しをお願いします")
        ids = delivery.notify(message)
        assert delivery.send(live, ids[:1]) == {"sent": 1}
        (request,) = [r for r in provider.requests if r["path"].endswith("/Messages.json")]
        assert request["form"]["To"] == "+819012345678" and request["form"]["From"] == "+815012345678"
        assert "至急" in request["form"]["Body"] and "山田法律事務所" in request["form"]["Body"]
        assert request["form"]["StatusCallback"] == "http://testserver/twilio/sms-status"
        sent = Delivery.get_by_id(ids[0])
        assert sent.segments == delivery.channels.sms_segments(request["form"]["Body"])
    finally:
        provider.stop()
    from starlette.testclient import TestClient

    from app.main import create_app
    with TestClient(create_app(live)) as provider_side:
        receipt = {"MessageSid": sent.provider_ref, "MessageStatus": "delivered", "AccountSid": live.TWILIO_ACCOUNT_SID}
        assert post(provider_side, live, "/twilio/sms-status", receipt).status_code == 204
        assert provider_side.post("/twilio/sms-status", data=receipt).status_code == 403
    assert Delivery.get_by_id(ids[0]).status == "delivered"


def test_japanese_sms_are_counted_in_ucs2_segments():
    assert delivery.channels.sms_segments("a" * 160) == 1
    assert delivery.channels.sms_segments("a" * 161) == 2
    assert delivery.channels.sms_segments("あ" * 70) == 1
    assert delivery.channels.sms_segments("あ" * 71) == 2
    assert delivery.channels.sms_segments("あ" * 135) == 3


def test_without_a_provider_every_channel_writes_to_the_outbox(law, settings, tmp_path):
    take(law, jst(2026, 11, 20, 10))
    reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    assert delivery.send_due(settings, now=jst(2026, 11, 20, 18, 2)) == {"sent": 2}
    outbox = tmp_path / "outbox"
    (eml,) = (outbox / "email").glob("*.eml")
    assert b"office@law.example.jp" in eml.read_bytes()
    (pdf,) = (outbox / "fax").glob("*.pdf")
    assert pdf.name.startswith("0312345679-") and pdf.read_bytes().startswith(b"%PDF")


def test_a_saved_urgent_message_is_notified_at_once_and_a_normal_one_is_not(database, settings, inbox, operator):
    from starlette.testclient import TestClient

    from app.accounts.service import create_token
    from app.main import create_app

    store.import_config(minimal_config("clinic", "03-5555-2000", notify=[
        {"urgent": True, "deliver": [{"channel": "email", "to": ["doctor@clinic.example.jp"]}]}]))
    headers = {"Authorization": f"Bearer {create_token(operator.email)[1]}"}
    body = {"tenant": "clinic", "fields": {"caller_name": "佐藤 花子", "callback_number": "090-1234-5678"},
            "readback": ["caller_name", "callback_number"]}
    with TestClient(create_app(settings.replace(SMTP_URL=inbox.url))) as client:
        assert client.post("/api/v1/messages", json=body, headers=headers).status_code == 201
        assert client.post("/api/v1/messages", json={**body, "urgent": True}, headers=headers).status_code == 201
        (rcpts, mail), = inbox.wait_for(1)
    assert rcpts == ["doctor@clinic.example.jp"] and mail["Subject"].startswith("【至急】clinic 株式会社")
    assert "佐藤 花子" in mail.get_body(("plain",)).get_content()
    deadline = time.monotonic() + 5  # the mail server has it; the sender is recording that it was sent
    while Delivery.get().status != "sent" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert Delivery.get().status == "sent"


def test_every_report_is_archived_for_staff_and_for_its_own_firm_only(law, settings, client, alice, charlie, operator):
    from .conftest import log_in

    take(law, jst(2026, 11, 20, 10), body="契約書の件")
    (run,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    other = store.import_config(law_config())  # the same report for another firm
    log_in(client, operator)
    listing = client.get("/firms/law/reports").text
    assert f"/firms/law/reports/{run.id}.pdf" in listing
    pdf = client.get(f"/firms/law/reports/{run.id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    page = client.get(f"/firms/law/reports/{run.id}.html")
    assert "契約書の件" in page.text and "sandbox" in page.headers["content-security-policy"]
    assert "契約書の件" in client.get(f"/firms/law/reports/{run.id}.txt").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/firms/law")})
    log_in(client, charlie)  # a client of another firm
    for path in ("/firms/law/reports", f"/firms/law/reports/{run.id}.pdf", f"/firms/law/reports/{run.id}.html",
                 f"/firms/{charlie.tenant.slug}/reports/{run.id}.pdf"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/firms/{charlie.tenant.slug}/reports").status_code == 200
    assert other.slug == "law"


def test_staff_see_failing_deliveries_with_the_error_and_can_send_again(law, settings, client, inbox, supervisor,
                                                                         alice):
    from .conftest import log_in

    inbox.refuse["office@law.example.jp"] = "550 5.1.1 no such mailbox"
    live = settings.replace(SMTP_URL=inbox.url)
    reports.make_due_runs(live, now=jst(2026, 11, 20, 18, 1))
    delivery.send_due(live, now=jst(2026, 11, 20, 18, 2))
    failed = Delivery.get(Delivery.channel == "email")
    log_in(client, alice)
    assert client.get("/admin/deliveries").status_code == 404  # not for clients
    assert client.post(f"/admin/deliveries/{failed.id}/resend",
                       data={"csrf_token": csrf_token(client, "/portal")}).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, supervisor)
    page = client.get("/admin/deliveries").text
    assert "office@law.example.jp" in page and "550 5.1.1 no such mailbox" in page and "失敗" in page
    assert "0312345679" not in page  # the fax went out (outbox): not failing
    del inbox.refuse["office@law.example.jp"]
    from starlette.testclient import TestClient

    from app.main import create_app
    with TestClient(create_app(live)) as staff:
        log_in(staff, supervisor)
        response = staff.post(f"/admin/deliveries/{failed.id}/resend",
                              data={"csrf_token": csrf_token(staff, "/admin/deliveries")}, follow_redirects=False)
        assert response.status_code == 303
        inbox.wait_for(1)


def test_staff_read_the_outbox(law, settings, client, operator, alice):
    from .conftest import log_in

    take(law, jst(2026, 11, 20, 10), body="契約書の件")
    reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    delivery.send_due(settings, now=jst(2026, 11, 20, 18, 2))
    log_in(client, operator)
    listing = client.get("/admin/outbox").text
    (eml,) = re.findall(r'href="(/admin/outbox/email/[^"]+\.eml)"', listing)
    shown = client.get(eml).text  # decoded for reading, not the base64 that travels
    assert "To: office@law.example.jp" in shown and "契約書の件" in shown
    (pdf,) = re.findall(r'href="(/admin/outbox/fax/[^"]+\.pdf)"', listing)
    assert client.get(pdf).headers["content-type"] == "application/pdf"
    assert client.get("/admin/outbox/email/..%2F..%2Fsecret_key").status_code == 404
    assert client.get("/admin/outbox/other/x.eml").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/outbox")})
    log_in(client, alice)
    assert client.get("/admin/outbox").status_code == 404 and client.get(eml).status_code == 404


@pytest.fixture
def worker(database, environ, inbox, monkeypatch):
    """The worker's module, its settings (from the environment) mailing ``inbox``, and a firm with
    a daily report at midnight set up two days ago."""
    from app import worker
    from app.db import utcnow

    for key, value in {**environ, "SMTP_URL": inbox.url}.items():
        monkeypatch.setenv(key, value)
    store.import_config(minimal_config("daily", "03-5555-3000", reports=[
        {"key": "morning", "at": ["00:00"], "deliver": [{"channel": "email", "to": ["desk@daily.example"]}]}]))
    ReportRule.update(created_at=utcnow() - dt.timedelta(days=2)).execute()
    return worker


def test_the_workers_dispatcher_makes_due_reports_and_sends_them(worker, inbox):
    worker.dispatch.call_local()
    made = ReportRun.select().count()
    assert made >= 2 and len(inbox.to("desk@daily.example")) == made  # one per day, each once
    worker.dispatch.call_local()
    assert ReportRun.select().count() == made and len(inbox.to("desk@daily.example")) == made


def test_a_dispatch_while_the_previous_one_still_runs_does_nothing(worker):
    with worker._dispatching:  # the previous minute's dispatch, still at work
        worker.dispatch.call_local()
    assert ReportRun.select().count() == 0
    worker.dispatch.call_local()
    assert ReportRun.select().count() >= 1


def test_a_firm_can_override_a_report_template_in_its_own_folder(law, mail_settings, inbox, tmp_path, monkeypatch):
    from app.reports import render

    folder = tmp_path / "tenants" / "law" / "templates"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("【山田法律事務所】本日の伝言 {{ count }} 件\n")
    monkeypatch.setattr(render, "TENANTS_DIR", tmp_path / "tenants")
    render._environment.cache_clear()
    try:
        take(law, jst(2026, 11, 20, 10))
        reports.make_due_runs(mail_settings, now=jst(2026, 11, 20, 18, 1))
        delivery.send_due(mail_settings, now=jst(2026, 11, 20, 18, 2))
    finally:
        render._environment.cache_clear()
    (mail,) = inbox.to("office@law.example.jp")
    assert mail["Subject"] == "【山田法律事務所】本日の伝言 1 件"
    assert "契約書の件" in mail.get_body(("plain",)).get_content()  # the rest: the defaults


def test_a_firm_whose_template_is_broken_does_not_hold_back_the_other_firms_reports(law, mail_settings, inbox,
                                                                                    tmp_path, monkeypatch):
    from app.reports import render

    store.import_config(minimal_config("clinic", "03-5555-2000", reports=[
        {"key": "evening", "at": ["18:00"], "deliver": [{"channel": "email", "to": ["desk@clinic.example.jp"]}]}]))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    folder = tmp_path / "tenants" / "law" / "templates"
    folder.mkdir(parents=True)
    (folder / "subject.txt").write_text("{{ no_such_value }}\n")  # an override with a mistake
    monkeypatch.setattr(render, "TENANTS_DIR", tmp_path / "tenants")
    render._environment.cache_clear()
    try:
        made, outcome = reports.dispatch(mail_settings, now=jst(2026, 11, 20, 18, 1))
    finally:
        render._environment.cache_clear()
    assert [m.tenant.slug for m in made] == ["clinic"] and outcome == {"sent": 1}
    assert len(inbox.to("desk@clinic.example.jp")) == 1 and inbox.to("office@law.example.jp") == []
    assert not ReportRun.select().where(ReportRun.rule_key == "evening", ReportRun.tenant == law).exists()


def test_the_report_sms_has_the_count_every_message_urgent_first_and_a_link(database, settings):
    firm = store.import_config(law_config(deliver=[{"channel": "sms", "to_staff": ["yamada"]}]))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    take(firm, jst(2026, 11, 20, 10), body="見積もりの件")
    take(firm, jst(2026, 11, 20, 11), urgent=True, caller_name="木村 一郎", callback_number="+819011112222",
         body="本日中にご連絡ください")
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    run = ReportRun.get_by_id(made.id)
    assert run.sms.startswith("山田法律事務所 様: 伝言 2 件 (うち至急 1 件)。\n・至急: 木村 一郎 090-1111-2222 本日中にご連絡ください\n"
                              "・見積もりの件\n")
    assert "ほか" not in run.sms
    # The link opens the inbox on the report's period, not the portal's front page.
    assert run.sms.endswith("http://testserver/portal?since=2026-11-19&until=2026-11-20") and run.pdf is None
    (sms,) = run.deliveries
    assert (sms.channel, sms.recipient) == ("sms", "+819012345678")


def test_a_report_sms_lists_what_fits_and_says_how_many_more_the_link_shows(database, settings):
    from app.delivery.channels import sms_segments
    from app.reports.render import REPORT_SMS_LIMIT

    firm = store.import_config(law_config(deliver=[{"channel": "sms", "to_staff": ["yamada"]}]))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    for i in range(12):
        take(firm, jst(2026, 11, 20, 10, i), caller_name=f"顧客 {i:02d}", callback_number="+819012345678",
             body=f"{i:02d} 番目のご用件。見積書の再送をお願いしたいとのことです。")
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 1))
    sms = ReportRun.get_by_id(made.id).sms
    listed = re.findall(r"^・顧客 (\d\d) ", sms, re.M)
    more = re.search(r"ほか (\d+) 件はこちらで:\nhttp://testserver/portal\?since=2026-11-19&until=2026-11-20$", sms)
    # Several messages, not only the first; the rest are counted, never dropped unsaid.
    assert len(listed) >= 2 and more and len(listed) + int(more.group(1)) == 12
    assert len(sms.encode("utf-16-le")) // 2 <= REPORT_SMS_LIMIT and sms_segments(sms) <= 5
