"""The report e-mail as the firm reads it on a phone or in Outlook: urgent first, numbers to tap,
each message linked to its own page, and one line saying what the firm's rules left out."""

import datetime as dt
import re
from html import unescape

import pytest

from app.calls import blocking
from app.calls.models import Call
from app.messages import forms, service as messages
from app.messages.models import Message
from app.reports import service as reports
from app.reports.models import ReportRun
from app.tenants import store
from app.tenants.models import ReportRule

from .conftest import minimal_config

JST = dt.timezone(dt.timedelta(hours=9))


def jst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)


@pytest.fixture
def law(database):
    firm = store.import_config(minimal_config(
        "law", "03-1234-5678", name="山田法律事務所",
        staff=[{"key": "yamada", "name": "山田 太郎", "email": "yamada@law.example.jp", "mobile": "090-1234-5678"}],
        reports=[{"key": "evening", "at": ["18:00"], "exclude_categories": ["sales", "wrong_number"],
                  "deliver": [{"channel": "email", "to": ["office@law.example.jp"]},
                              {"channel": "sms", "to_staff": ["yamada"]}]}]))
    ReportRule.update(created_at=jst(2026, 11, 20, 9)).execute()
    return firm


def take(firm, at, category="message", urgent=False, caller="", **fields):
    """A message taken at ``at``; ``caller``: the number the call came from."""
    call = None
    if caller:
        call = Call.create(sid=f"CA{at:%H%M}{category}", tenant=firm, from_number=caller, arrived_at=at)
    clean = forms.Clean(forms.form_of(firm, None), category, urgent, fields, [], {})
    message = messages.record(firm, clean, None, call=call)
    Message.update(taken_at=at).where(Message.id == message.id).execute()
    return message


@pytest.fixture
def day(law):
    """A seeded day at the law office: two messages (one urgent), a prank call the report keeps, and
    a sales call and a wrong number its rules leave out; one message after the report's time."""
    normal = take(law, jst(2026, 11, 20, 10), caller_name="佐藤 花子", callback_number="+819012345678",
                  body="見積もりの件")
    urgent = take(law, jst(2026, 11, 20, 11), urgent=True, caller_name="木村 一郎", callback_number="+819011112222",
                  body="本日中にご連絡ください")
    prank = take(law, jst(2026, 11, 20, 14), category="prank", caller="+819055556666")
    sales = take(law, jst(2026, 11, 20, 12), category="sales", caller="+81312340000")
    wrong = take(law, jst(2026, 11, 20, 13), category="wrong_number", caller="+81698765432")
    take(law, jst(2026, 11, 20, 19), body="翌日分")
    return {"normal": normal, "urgent": urgent, "prank": prank, "sales": sales, "wrong": wrong}


@pytest.fixture
def report(day, settings):
    (made,) = reports.make_due_runs(settings, now=jst(2026, 11, 20, 18, 0, 30))
    return ReportRun.get_by_id(made.id)


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def test_urgent_messages_come_first_and_are_marked(report, day):
    html, text = report.html, report.text
    for part in (html, text):
        assert part.index("本日中にご連絡ください") < part.index("見積もりの件")
    assert re.search(r"<span[^>]*>至急</span>.{0,1500}本日中にご連絡ください", html, re.S)
    assert "【至急】" in text.split("本日中にご連絡ください")[0].rsplit("■", 1)[1]


def test_each_message_links_to_its_own_page_in_the_portal(report, day):
    links = [h for h in hrefs(report.html) if "/portal/messages/" in h]
    order = [day["urgent"], day["normal"], day["prank"]]
    assert links == [f"http://testserver/portal/messages/{m.id}" for m in order]
    assert re.findall(r"http://testserver/portal/messages/\d+", report.text) == links


def test_phone_numbers_are_tappable_in_e164(report):
    tel = [h for h in hrefs(report.html) if h.startswith("tel:")]
    assert {"tel:+819011112222", "tel:+819012345678", "tel:+819055556666"} <= set(tel)  # the prank caller too
    assert re.search(r'<a href="tel:\+819011112222"[^>]*>090-1111-2222</a>', report.html)


def test_the_left_out_line_counts_exactly_what_the_rules_excluded_with_a_link_to_them(report):
    line = "営業電話 1 件・間違い電話 1 件は除外しました。"
    see = "http://testserver/portal?bucket=noise&since=2026-11-19&until=2026-11-20"
    assert line in re.sub(r"<[^>]+>", "", report.html) and line in report.text
    assert see in hrefs(report.html) and see in report.text
    # The prank call the rules keep is in the report, not among those left out.
    (said,) = [line for line in report.text.splitlines() if "除外しました" in line]
    assert said == line and report.message_count == 3


def test_noise_entries_carry_a_link_that_blocks_their_caller(report, law, settings):
    blocked = [blocking.read_link(settings.SECRET_KEY, h.rsplit("/", 1)[1])
               for h in hrefs(report.html) if h.startswith("http://testserver/block/")]
    assert sorted(blocked) == sorted([(law.id, "+81312340000"), (law.id, "+81698765432"), (law.id, "+819055556666")])
    assert len(re.findall(r"http://testserver/block/\S+", report.text)) == 3


def test_the_report_sms_links_to_the_inbox_for_the_reports_period(report):
    assert report.sms.endswith("http://testserver/portal?since=2026-11-19&until=2026-11-20")


def test_a_notification_links_to_its_message(day, settings):
    from app.reports import render

    urgent = day["urgent"]
    mail, sms = render.notification(settings, urgent, "email"), render.notification(settings, urgent, "sms")
    link = f"http://testserver/portal/messages/{urgent.id}"
    assert link in hrefs(mail.html) and link in mail.text and sms.sms.endswith(link)
    assert "http://testserver/portal\n" not in mail.text and 'href="http://testserver/portal"' not in mail.html


def test_each_message_link_opens_that_message_for_the_firms_user_after_log_in_and_for_no_other_firm(
        client, report, day, law, charlie):
    from urllib.parse import urlsplit

    from app.accounts import service as accounts

    from .conftest import PASSWORD, csrf_token, log_in

    office = accounts.add_user("office@law.example.jp", "client", password=PASSWORD, tenant_slug="law")
    links = [urlsplit(h).path for h in hrefs(report.html) if "/portal/messages/" in h]
    shows = {f"/portal/messages/{day['urgent'].id}": "本日中にご連絡ください",
             f"/portal/messages/{day['normal'].id}": "見積もりの件",
             f"/portal/messages/{day['prank'].id}": "090-5555-6666"}
    assert sorted(links) == sorted(shows)
    for path in links:
        # Not signed in: log in, and land on the message itself.
        client.cookies.clear()
        sent = client.get(path, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == f"/login?next={path}"
        form = client.get(sent.headers["location"]).text
        action = unescape(re.search(r'<form method="post" action="(/login[^"]*)"', form).group(1))
        landed = client.post(action, data={"email": office.email, "password": PASSWORD,
                                           "csrf_token": csrf_token(client, sent.headers["location"])})
        assert landed.status_code == 200 and urlsplit(str(landed.url)).path == path
        assert shows[path] in landed.text
        # Signed in already: straight to it.
        opened = client.get(path)
        assert opened.status_code == 200 and shows[path] in opened.text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, charlie)
    assert [client.get(path).status_code for path in links] == [404, 404, 404]


@pytest.mark.browser
def test_the_report_email_reads_on_a_phone_and_a_desktop_without_sideways_scrolling(report, day, tmp_path):
    from selenium.webdriver.common.by import By

    from .browser import chromium

    page = tmp_path / "report-email.html"
    page.write_text(report.html, encoding="utf-8")
    driver = chromium(tmp_path)
    try:
        for width in (375, 1280):
            # The page's own width, as a phone's mail app lays it out (a window cannot be that narrow).
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
            driver.get(page.as_uri())
            assert driver.execute_script("return window.innerWidth") == width
            scroll = driver.execute_script("return document.documentElement.scrollWidth")
            assert scroll <= width, f"{scroll} px wide at {width} px: the reader scrolls sideways"
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
            driver.save_screenshot(str(tmp_path / f"report-email-{width}.png"))
            cards = driver.find_elements(By.PARTIAL_LINK_TEXT, "この伝言を開く")
            assert [c.get_attribute("href") for c in cards] == [
                f"http://testserver/portal/messages/{day[k].id}" for k in ("urgent", "normal", "prank")]
            first = cards[0].find_element(By.XPATH, "ancestor::td[1]")
            assert first.text.startswith("至急") and "本日中にご連絡ください" in first.text
            # Nothing is cut off: the widest message fits its column.
            assert all(c.rect["x"] + c.rect["width"] <= width for c in cards)
    finally:
        driver.quit()
    print(f"screenshots in {tmp_path}")
