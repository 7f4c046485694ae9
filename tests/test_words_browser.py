"""In a real browser on a phone-sized screen: the addressee is picked from the firm's staff by name,
a name is typed only for someone else, and a noise call is recorded as what it was."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty, simulate_call

pytestmark = pytest.mark.browser


def test_the_operator_picks_the_addressee_by_name_and_types_one_only_for_someone_else(
        tmp_path, server, environ, demo_logins):
    email, password = next((e, p) for e, p, role, _ in demo_logins if role == "operator")
    driver = chromium(tmp_path)
    try:
        driver.set_window_size(375, 812)
        log_in(driver, server, email, password)
        on_duty(driver, server)
        simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
        wait(driver, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#waiting li.waiting-call button.take"))
        driver.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
        wait(driver).until(lambda d: d.find_elements(By.ID, "f-for_staff"))
        pick = Select(driver.find_element(By.ID, "f-for_staff"))
        other = driver.find_element(By.CSS_SELECTOR, "input.staff-other")
        assert "伊藤 浩二(工事部長)" in [o.text for o in pick.options]
        assert next(o for o in pick.options if o.text.startswith("伊藤")).get_attribute("value") == "ito"
        assert not other.is_displayed()
        pick.select_by_visible_text("その他…")
        wait(driver, 2).until(lambda d: other.is_displayed())
        other.send_keys("鈴木 様")
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.CSS_SELECTOR, "label[for=f-for_staff]"))
        driver.save_screenshot(str(tmp_path / "addressee-375.png"))
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        pick.select_by_visible_text("伊藤 浩二(工事部長)")
        wait(driver, 2).until(lambda d: not other.is_displayed())
        # A sales call: recorded as one, not as "message saved" under 現場からの緊急連絡.
        next(b for b in driver.find_elements(By.CSS_SELECTOR, ".noise button") if b.text == "営業").click()
        wait(driver).until(lambda d: "営業電話として記録しました" in d.find_element(By.ID, "message-panel").text)
        assert "現場からの緊急連絡" not in driver.find_element(By.ID, "message-panel").text
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "message-panel"))
        driver.save_screenshot(str(tmp_path / "noise-recorded-375.png"))
    finally:
        driver.quit()
