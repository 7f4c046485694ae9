"""A firm's change request in real browsers: the client owner proposes new instructions, the account
manager approves them, and the next call's screen pop shows them to the operator. Screenshots of the
portal page and the queue at 1366 and 375 px go to tmp_path."""

import pytest
from selenium.webdriver.common.by import By

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty, simulate_call

pytestmark = pytest.mark.browser

FIRM = "daiwa-kensetsu"  # answered around the clock: the call is queued whatever the test's date
NEW_INSTRUCTIONS = "現場の事故のお電話は、まず119番への通報が済んだかを伺い、工事部長の携帯へすぐ転送してください。"


@pytest.fixture
def people(demo_logins):
    def login(role, slug=None):
        return next((e, p) for e, p, r, s in demo_logins if r == role and (slug is None or s == slug))
    return {"client": login("client", FIRM), "admin": login("admin"), "operator": login("operator")}


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "browser")
    yield driver
    driver.quit()


def fits(driver) -> bool:
    """Nothing wider than the window: no sideways scrolling."""
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def shoot(driver, tmp_path, name):
    for width in (1366, 375):
        driver.set_window_size(width, 1000)
        assert fits(driver), f"{name} scrolls sideways at {width} px"
        # The whole page, as far as a screenshot can go.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(height + 140, 4000))
        driver.save_screenshot(str(tmp_path / f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def test_an_approved_instruction_change_is_on_the_operators_next_screen_pop(browser, server, people, environ,
                                                                             tmp_path):
    log_in(browser, server, *people["client"])
    browser.get(server.url + "/portal/requests")
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")  # every section
    shoot(browser, tmp_path, "portal-requests")
    box = browser.find_element(By.ID, "instructions")
    box.clear()
    box.send_keys(NEW_INSTRUCTIONS)
    browser.find_element(By.ID, "note").send_keys("事故対応の流れを変えました")
    browser.find_element(By.XPATH, "//button[text()='依頼を送る']").click()
    wait(browser).until(lambda d: "を送りました" in d.find_element(By.CSS_SELECTOR, "p.notice").text)
    assert "対応待ち" in browser.find_element(By.CSS_SELECTOR, ".request-list").text
    shoot(browser, tmp_path, "portal-requests-sent")

    log_in(browser, server, *people["admin"])
    assert browser.find_element(By.CSS_SELECTOR, ".mainnav .badge").text == "1"
    browser.get(server.url + "/admin/requests")
    assert NEW_INSTRUCTIONS in browser.find_element(By.CSS_SELECTOR, ".request-list").text
    shoot(browser, tmp_path, "admin-requests")
    browser.find_element(By.LINK_TEXT, "確認して対応する").click()
    wait(browser).until(lambda d: "/admin/requests/" in d.current_url)
    shoot(browser, tmp_path, "admin-request")
    browser.find_element(By.XPATH, "//button[text()='承認して新しい版として保存']").click()
    wait(browser).until(lambda d: "承認しました" in d.find_element(By.CSS_SELECTOR, "p.notice").text)

    log_in(browser, server, *people["operator"])
    on_duty(browser, server)
    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-3333-4444")
    take = wait(browser, 5).until(lambda d: d.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take"))
    take.click()
    wait(browser).until(lambda d: "/console/calls/" in d.current_url)
    assert NEW_INSTRUCTIONS in browser.find_element(By.CSS_SELECTOR, ".pop-info .prose").text  # the firm's instructions
    print(f"screenshots in {tmp_path}")
