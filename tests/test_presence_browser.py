"""The firm changes its in/out board and posts a notice on a phone; an operator's screen pop, already open
on a call to that firm, shows both within a second, without a reload."""

import os
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty, rows, simulate_call

pytestmark = pytest.mark.browser

DAIWA = "daiwa-kensetsu"  # answered around the clock, so the test does not depend on the time of day


def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("TEST_ARTEFACTS", tmp_path)) / "presence"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def no_sideways_scroll(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def operator_on_a_call(tmp_path, server, environ, demo_logins):
    email, password = next((e, p) for e, p, role, _slug in demo_logins if role == "operator")
    driver = chromium(tmp_path / "operator")
    log_in(driver, server, email, password)
    on_duty(driver, server)
    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    wait(driver, 5).until(lambda d: len(rows(d)) == 1)
    driver.execute_script("document.body.dataset.live = '0'")  # the screen pop's own stream sets it again
    driver.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
    wait(driver).until(lambda d: "/console/calls/" in d.current_url)
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
    yield driver
    driver.quit()


@pytest.fixture
def firm_phone(tmp_path, server, demo_logins):
    email, password = next((e, p) for e, p, role, slug in demo_logins if role == "client" and slug == DAIWA)
    driver = chromium(tmp_path / "client")
    driver.set_window_size(375, 812)
    log_in(driver, server, email, password)
    yield driver
    driver.quit()


def presence_on_screen_pop(driver, key: str) -> str | None:
    found = driver.find_elements(By.CSS_SELECTOR, f'#staff-board li[data-staff="{key}"]')
    return found[0].get_attribute("data-presence") if found else None


def test_a_staff_member_set_out_on_the_firms_phone_appears_on_an_open_screen_pop_within_a_second(
        operator_on_a_call, firm_phone, server, tmp_path):
    pop, phone = operator_on_a_call, firm_phone
    phone.get(server.url + "/portal/staff")
    card = phone.find_elements(By.CSS_SELECTOR, "li.staff-card")[0]
    key = pop.find_elements(By.CSS_SELECTOR, "#staff-board li[data-staff]")[0].get_attribute("data-staff")
    assert presence_on_screen_pop(pop, key) == "in"
    phone.save_screenshot(str(shots(tmp_path) / "portal-staff-375.png"))
    assert no_sideways_scroll(phone)

    card.find_element(By.NAME, "note").send_keys("現場、15時戻り")
    card.find_element(By.CSS_SELECTOR, "button.state-out").click()
    tapped = time.monotonic()
    wait(pop, 5).until(lambda d: presence_on_screen_pop(d, key) == "out")
    assert time.monotonic() - tapped < 1.0, "the screen pop took more than a second to show it"
    assert "現場、15時戻り" in pop.find_element(By.ID, "staff-board").text
    # The card on the phone was swapped in place: pressed state and the note, no reload.
    wait(phone).until(lambda d: d.find_element(By.CSS_SELECTOR, "li.staff-card button.state-out")
                      .get_attribute("aria-pressed") == "true")
    phone.save_screenshot(str(shots(tmp_path) / "portal-staff-375-out.png"))
    assert no_sideways_scroll(phone)
    phone.set_window_size(1280, 900)
    phone.save_screenshot(str(shots(tmp_path) / "portal-staff-1280.png"))
    assert no_sideways_scroll(phone)


def test_a_notice_posted_by_the_firm_appears_on_an_open_screen_pop_within_a_second(
        operator_on_a_call, firm_phone, server, tmp_path):
    pop, phone = operator_on_a_call, firm_phone
    assert pop.find_elements(By.CSS_SELECTOR, "#firm-notices .notice-now") == []
    phone.get(server.url + "/portal/notices")
    assert no_sideways_scroll(phone)
    phone.find_element(By.NAME, "text").send_keys("12/29〜1/3は休業。急ぎは伊藤携帯へ")
    phone.find_element(By.CSS_SELECTOR, ".notice-form button.primary").click()
    posted = time.monotonic()
    wait(pop, 5).until(lambda d: "12/29〜1/3は休業。急ぎは伊藤携帯へ" in d.find_element(By.ID, "firm-notices").text)
    assert time.monotonic() - posted < 1.0, "the screen pop took more than a second to show the notice"
    wait(phone).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice-item"))
    phone.save_screenshot(str(shots(tmp_path) / "portal-notices-375.png"))
    assert no_sideways_scroll(phone)
    pop.save_screenshot(str(shots(tmp_path) / "screen-pop-1280.png"))

    phone.find_element(By.CSS_SELECTOR, ".notice-item button").click()
    wait(pop, 5).until(lambda d: "12/29〜1/3" not in d.find_element(By.ID, "firm-notices").text)
