"""In a real browser: a call to a number no firm has is given to the firm the caller wants, found by
typing part of its name, and its message is saved there."""

import pytest
from selenium.webdriver.common.by import By

from app import db
from app.calls.models import Call
from app.messages.models import Message

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty, rows, simulate_call
from .test_message_browser import TYPED, confirm_box, field

pytestmark = pytest.mark.browser


def test_an_unknown_numbers_call_is_given_to_a_firm_and_its_message_saved(tmp_path, server, environ, demo_logins):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "operator")
    driver = chromium(tmp_path / "op")
    try:
        log_in(driver, server, email, password)
        on_duty(driver, server)
        simulate_call(server, environ, tmp_path, "--to", "+815099998888", "--from", "090-1111-2222")
        wait(driver, 5).until(lambda d: rows(d))
        driver.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
        search = wait(driver).until(lambda d: d.find_elements(By.ID, "firm-q"))[0]
        assert driver.find_element(By.CSS_SELECTOR, "h1.pop-name").text == "不明な番号"
        assert not driver.find_elements(By.ID, "message-form")

        search.send_keys("大和")
        choice = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#firm-choices button.firm-choice"))
        assert len(choice) == 1 and "大和建設株式会社" in choice[0].text and "050-3786-5120" in choice[0].text
        driver.set_window_size(375, 800)
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "assign-firm"))
        driver.save_screenshot(str(tmp_path / "unknown-number-375.png"))
        driver.set_window_size(1366, 768)
        choice[0].click()

        wait(driver).until(lambda d: d.find_elements(By.ID, "message-form"))
        assert driver.find_element(By.CSS_SELECTOR, "h1.pop-name").text == "大和建設株式会社"
        # 現場からの緊急連絡 is urgent = true: the box starts ticked.
        assert driver.find_element(By.CSS_SELECTOR, '#message-form input[name="urgent"]').is_selected()
        for key, value in TYPED.items():
            field(driver, key).send_keys(value)
        for key in ("caller_name", "callback_number", "site_name"):
            confirm_box(driver, key).click()
        driver.find_element(By.CSS_SELECTOR, "#message-form button.primary").click()
        saved = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#message-panel.saved"))[0]
        assert "川口三丁目現場" in saved.text
        driver.save_screenshot(str(tmp_path / "unknown-number-saved.png"))
        with db.db.connection_context():
            message = Message.get()
            assert message.tenant.slug == "daiwa-kensetsu" and message.urgent
            assert Call.get_by_id(message.call_id).tenant.slug == "daiwa-kensetsu"
        db.db.close_all()
    finally:
        driver.quit()
