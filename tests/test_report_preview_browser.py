"""An account manager in a real browser previews a firm's report from the firm's page — the period's
messages, the e-mail as it arrives, the SMS and the fax — and sends a test to their own address. On
a phone the page has no sideways scroll."""

import time

import pytest
from selenium.webdriver.common.by import By

from app import db
from app.messages import forms, service as messages
from app.tenants.models import Tenant

from .browser import chromium
from .test_blocking_browser import no_sideways_scroll
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser


@pytest.fixture
def environ(environ, inbox):
    return {**environ, "SMTP_URL": inbox.url}


@pytest.fixture
def manager(tmp_path, server, demo_logins):
    email, password, _role, _slug = next(login for login in demo_logins if login[2] == "admin")
    driver = chromium(tmp_path / "admin")
    log_in(driver, server, email, password)
    yield driver
    driver.quit()


def take_messages(environ) -> None:
    """Two messages for 大和建設 just now: in the period of its next daily report."""
    db.bind(environ["DATABASE_URL"])
    with db.db.connection_context():
        firm = Tenant.by_slug("daiwa-kensetsu")
        for name, body in (("佐藤 花子", "見積書の件で折り返しください"), ("木村 一郎", "現場の鍵について")):
            clean, problems = forms.check(firm, forms.Entry(category="message", fields={
                "caller_name": name, "callback_number": "090-1234-5678", "site_name": "港北現場", "body": body},
                confirmed={"caller_name", "callback_number", "site_name"}))
            assert not problems, problems
            messages.record(firm, clean, None)


def test_a_manager_previews_a_report_from_the_firm_page_and_sends_a_test_to_one_address(
        manager, server, environ, inbox, tmp_path):
    take_messages(environ)
    manager.get(server.url + "/firms/daiwa-kensetsu")
    manager.find_element(By.CSS_SELECTOR, "a[href='/firms/daiwa-kensetsu/reports/daily/preview']").click()
    wait(manager).until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("報告のプレビュー"))
    table = manager.find_element(By.CSS_SELECTOR, "table.preview-messages").text
    assert "佐藤 花子" in table and "木村 一郎" in table
    assert manager.find_element(By.CSS_SELECTOR, "select#at option:checked").text.endswith("（予定）")

    manager.switch_to.frame(manager.find_element(By.CSS_SELECTOR, "iframe.email-preview"))
    assert "見積書の件で折り返しください" in manager.find_element(By.TAG_NAME, "body").text
    manager.switch_to.default_content()
    assert manager.find_element(By.CSS_SELECTOR, "iframe.fax-preview").get_attribute("src").startswith(
        server.url + "/firms/daiwa-kensetsu/reports/daily/preview/fax.pdf?at=")

    field = manager.find_element(By.CSS_SELECTOR, ".test-send input[name=email]")
    manager.execute_script("arguments[0].type = 'text'", field)  # past the browser's own check, to the server's
    field.send_keys("manager@")
    manager.find_element(By.CSS_SELECTOR, ".test-send button").click()
    wait(manager).until(lambda d: d.find_element(By.ID, "email-error").is_displayed())
    field = manager.find_element(By.CSS_SELECTOR, ".test-send input[name=email]")
    assert field.get_attribute("value") == "manager@" and field.get_attribute("aria-invalid") == "true"
    assert not inbox.received

    field.clear()
    field.send_keys("manager@answering.example")
    manager.find_element(By.CSS_SELECTOR, ".test-send button").click()
    wait(manager).until(lambda d: "テスト送信しました" in d.find_element(By.CSS_SELECTOR, ".test-send-panel").text)
    (rcpts, mail), = inbox.wait_for(1)
    assert rcpts == ["manager@answering.example"] and mail["Subject"].startswith("【テスト】")

    for width in (1366, 375):
        manager.set_window_size(width, 1400)
        manager.get(server.url + "/firms/daiwa-kensetsu/reports/daily/preview")
        wait(manager).until(lambda d: d.find_element(By.CSS_SELECTOR, "table.preview-messages"))
        time.sleep(2)  # the PDF viewer draws the fax in a process of its own, unseen by the page: for the picture
        # The whole page in one picture: the e-mail, the SMS, the fax and the test send below it.
        manager.set_window_size(width, manager.execute_script("return document.documentElement.scrollHeight") + 150)
        manager.save_screenshot(str(tmp_path / f"report-preview-{width}.png"))
        assert no_sideways_scroll(manager), f"the preview scrolls sideways at {width} px"
