"""The web app in a real browser: every demo user logs in and reaches their landing page."""

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from .browser import chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path)
    yield driver
    driver.quit()


def wait(browser, seconds: float = 10) -> WebDriverWait:
    # Pages are replaced under the driver's feet (navigation, htmx swaps): an element gone stale means
    # "look again". Chromium reports some of those as a bare WebDriverException ("Node with given id does
    # not belong to the document"), so every driver error while waiting is a reason to look again; a
    # condition that never holds still fails, at the timeout, with the last error.
    return WebDriverWait(browser, seconds, ignored_exceptions=(WebDriverException,))


def log_in(browser, server, email, password):
    browser.delete_all_cookies()
    browser.get(server.url + "/login")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
    wait(browser).until(EC.url_changes(server.url + "/login"))


LANDINGS = {"admin": ("/admin", "顧客一覧"), "supervisor": ("/supervisor", "スーパーバイザーボード"),
            "operator": ("/console", "オペレーターコンソール")}


def test_every_demo_user_logs_in_and_reaches_their_landing_page(browser, server, demo_logins):
    assert {role for _, _, role, _ in demo_logins} == {"admin", "supervisor", "operator", "client"}
    for email, password, role, slug in demo_logins:
        log_in(browser, server, email, password)
        path, heading = LANDINGS.get(role, ("/portal", None))
        assert browser.current_url == server.url + path, email
        h1 = browser.find_element(By.TAG_NAME, "h1").text
        if role == "client":
            assert h1 and h1 in browser.page_source and slug in browser.find_element(
                By.LINK_TEXT, "設定内容").get_attribute("href")
        else:
            assert h1 == heading
        browser.find_element(By.XPATH, "//button[text()='ログアウト']").click()
        wait(browser).until(EC.url_to_be(server.url + "/login"))


def test_a_client_sees_404_for_another_firm_in_the_browser(browser, server, demo_logins):
    email, password = next((e, p) for e, p, role, slug in demo_logins if slug == "yamada-law")
    log_in(browser, server, email, password)
    browser.get(server.url + "/firms/sakura-clinic")
    assert browser.find_element(By.TAG_NAME, "h1").text == "404"
    assert "さくら内科" not in browser.page_source
    browser.get(server.url + "/firms/yamada-law")
    assert browser.find_element(By.TAG_NAME, "h1").text == "山田法律事務所"


def test_switching_to_english_and_searching_firms_as_you_type(browser, server, demo_logins):
    email, password = next((e, p) for e, p, role, slug in demo_logins if role == "operator")
    log_in(browser, server, email, password)
    browser.find_element(By.XPATH, "//button[text()='English']").click()
    wait(browser).until(lambda b: b.find_element(By.TAG_NAME, "h1").text == "Operator console")
    browser.get(server.url + "/firms")
    def rows(b):
        return [row.text for row in b.find_elements(By.CSS_SELECTOR, "#firm-rows tr")]

    assert len(rows(browser)) == 4
    # htmx replaces the rows as the operator types a number, in the format they hear it.
    browser.find_element(By.ID, "firm-search").send_keys("0312345678")
    found = wait(browser).until(lambda b: len(r := rows(b)) == 1 and r)
    assert "山田法律事務所" in found[0]
    assert browser.current_url.endswith("/firms?q=0312345678")
