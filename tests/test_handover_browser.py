"""Handover and QA in real browsers: a supervisor writes a note about a firm; an operator starting the
console reads and acknowledges it before becoming available and finds it on that firm's screen pop,
still one screen at 1366×768; the supervisor sees it read. A review's feedback reaches its operator."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from app import db
from app.accounts.models import User
from app.messages import forms, service as messages
from app.qa.models import QAReview, week_of
from app.tenants.models import Tenant

from .browser import chromium
from .test_blocking_browser import no_sideways_scroll
from .test_browser import log_in, wait
from .test_console_browser import rows, simulate_call

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("TEST_ARTEFACTS", tmp_path)) / "handover"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _browser(tmp_path, server, demo_logins, role, name, width=1366, height=768):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == role)
    driver = chromium(tmp_path / name)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})
    log_in(driver, server, email, password)
    return driver


def _phone(driver, shot: Path):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": height, "deviceScaleFactor": 1, "mobile": True})
    driver.save_screenshot(str(shot))
    assert no_sideways_scroll(driver)


NOTE = "大和建設：港北現場の件で佐藤様から電話があれば、至急扱いで現場携帯へ"
LATER = "17時から鈴木さんが休憩、山田法律事務所の折り返しは明朝へ"


def test_an_operator_acknowledges_a_note_on_starting_finds_it_on_the_firms_screen_pop_and_the_supervisor_sees_it_read(
        tmp_path, server, environ, demo_logins, shots):
    sv = _browser(tmp_path, server, demo_logins, "supervisor", "sv")
    op = _browser(tmp_path, server, demo_logins, "operator", "op")
    try:
        sv.get(server.url + "/handover")
        sv.find_element(By.NAME, "text").send_keys(NOTE)
        Select(sv.find_element(By.NAME, "tenant")).select_by_visible_text("大和建設株式会社")
        sv.find_element(By.CSS_SELECTOR, "form.notice-form button.primary").click()
        wait(sv).until(lambda d: NOTE in d.find_element(By.CSS_SELECTOR, ".handover-list").text)

        op.get(server.url + "/console")
        wait(op).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
        panel = op.find_element(By.CSS_SELECTOR, ".handover-start")
        assert NOTE in panel.text
        become = op.find_element(By.CSS_SELECTOR, "#presence button[name=available][value='1']")
        assert not become.is_enabled()
        op.save_screenshot(str(shots / "console-handover-1366.png"))
        panel.find_element(By.CSS_SELECTOR, "button.primary").click()
        wait(op).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".handover-start"))
        op.find_element(By.CSS_SELECTOR, "#presence button[name=available][value='1']").click()
        wait(op).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#presence [data-state=available]"))

        # A note written while the console is open appears on it at once, without a reload.
        sv.find_element(By.NAME, "text").send_keys(LATER)
        sv.find_element(By.CSS_SELECTOR, "form.notice-form button.primary").click()
        wait(op, 3).until(lambda d: LATER in d.find_element(By.ID, "handover").text)
        op.find_element(By.CSS_SELECTOR, ".handover-start button.primary").click()
        wait(op).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".handover-start"))
        assert op.find_elements(By.CSS_SELECTOR, "#presence [data-state=available]")  # still taking calls

        simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
        wait(op, 5).until(lambda d: rows(d))
        op.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
        wait(op).until(lambda d: d.find_elements(By.ID, "message-form"))
        assert NOTE in op.find_element(By.CSS_SELECTOR, ".pop-info .handover-pop").text
        op.save_screenshot(str(shots / "screen-pop-handover-1366x768.png"))
        assert op.execute_script("return document.documentElement.scrollHeight <= innerHeight"), \
            op.execute_script("return document.documentElement.scrollHeight")
        _phone(op, shots / "screen-pop-handover-375.png")

        sv.get(server.url + "/handover")
        readers = sv.find_element(By.CSS_SELECTOR, ".handover-readers")
        assert "応対 一美" in " ".join(r.text for r in readers.find_elements(By.CSS_SELECTOR, ".reader"))
        assert "応対 二郎" in " ".join(r.text for r in readers.find_elements(By.CSS_SELECTOR, ".not-reader"))
        sv.save_screenshot(str(shots / "handover-1366.png"))
        _phone(sv, shots / "handover-375.png")
    finally:
        sv.quit()
        op.quit()


def test_a_supervisor_reviews_a_sampled_message_and_the_operator_reads_the_feedback(
        tmp_path, server, environ, demo_logins, shots):
    db.bind(environ["DATABASE_URL"])
    with db.db.connection_context():
        firm = Tenant.by_slug("daiwa-kensetsu")
        operator = User.by_email(next(l for l in demo_logins if l[2] == "operator")[0])
        clean, problems = forms.check(firm, forms.Entry(category="message", fields={
            "caller_name": "佐藤 花子", "callback_number": "090-1234-5678", "site_name": "港北現場",
            "body": "見積書の件で折り返しください"}, confirmed={"caller_name", "callback_number"}),
            enforce_readback=False)
        assert not problems, problems
        message = messages.record(firm, clean, operator)
        QAReview.sample(week_of(message.taken_at), 5)
    db.db.close_all()
    sv = _browser(tmp_path, server, demo_logins, "supervisor", "sv")
    op = _browser(tmp_path, server, demo_logins, "operator", "op")
    try:
        sv.get(server.url + "/qa")
        sv.find_element(By.CSS_SELECTOR, ".qa-queue a").click()
        wait(sv).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".qa-form"))
        for key, outcome in (("greeting", "pass"), ("readback", "fail"), ("fields", "pass"), ("category", "pass"),
                             ("instructions", "na")):
            sv.find_element(By.CSS_SELECTOR, f"input[name='check.{key}'][value='{outcome}']").click()
        sv.find_element(By.NAME, "comment").send_keys("現場名の復唱が抜けていました。")
        sv.save_screenshot(str(shots / "qa-review-1366.png"))
        _phone(sv, shots / "qa-review-375.png")
        sv.find_element(By.CSS_SELECTOR, ".qa-form button.primary").click()
        wait(sv).until(lambda d: d.current_url.endswith("/qa"))
        assert "75" in sv.find_element(By.CSS_SELECTOR, ".qa-figures").text
        sv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})
        sv.save_screenshot(str(shots / "qa-1366.png"))
        _phone(sv, shots / "qa-375.png")

        op.get(server.url + "/console/feedback")
        item = op.find_element(By.CSS_SELECTOR, ".feedback-item")
        assert "現場名の復唱が抜けていました。" in item.text and "75" in item.text and "復唱している: 不合格" in item.text
        op.save_screenshot(str(shots / "feedback-1366.png"))
        _phone(op, shots / "feedback-375.png")
    finally:
        sv.quit()
        op.quit()
