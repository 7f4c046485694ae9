"""Calls follow presence, in real browsers: the call is offered to the longest-idle operator, an operator
on break is refused it, and a call taken without audio is ended, wrapped up, and its operator available again."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from .test_browser import wait
from .test_console_browser import operators, rows, simulate_call  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser


def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("TEST_ARTEFACTS", tmp_path)) / "offers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def state(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "#presence [data-state]").get_attribute("data-state")


def test_an_operator_on_break_is_refused_and_the_one_available_ends_and_wraps_up_the_call(operators, server, environ,
                                                                                       tmp_path):
    available, on_break = operators
    on_break.find_element(By.CSS_SELECTOR, "#presence button[name=available][value='0']").click()
    wait(on_break).until(lambda d: state(d) == "break")
    available.set_window_size(375, 812)
    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    for driver in operators:
        wait(driver, 5).until(lambda d: any("大和建設株式会社" in r for r in rows(d)))

    # On break: the call is shown, its button disabled, and the server refuses it anyway.
    button = on_break.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take")
    assert not button.is_enabled() and "休憩中" in on_break.find_element(By.ID, "waiting").text
    call_id = on_break.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call").get_attribute("id").removeprefix("call-")
    on_break.execute_script("htmx.ajax('POST', arguments[0], {target: '#take-result'})", f"/console/calls/{call_id}/take")
    wait(on_break).until(lambda d: "休憩中" in d.find_element(By.ID, "take-result").text)
    assert "/console/calls/" not in on_break.current_url

    # The available operator is offered it, highlighted, and takes it.
    row = available.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call")
    assert "offered" in row.get_attribute("class") and "あなたに着信" in row.text
    available.execute_script("arguments[0].scrollIntoView()", row)
    available.save_screenshot(str(shots(tmp_path) / "offered-375.png"))
    row.find_element(By.CSS_SELECTOR, "button.take").click()
    wait(available).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.end-call"))
    assert state(available) == "on_call"
    available.save_screenshot(str(shots(tmp_path) / "on-call-375.png"))
    assert available.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    # 通話終了: after-call work until the noise record is saved, then available again.
    available.find_element(By.CSS_SELECTOR, "button.end-call").click()
    wait(available).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".acw-note"))
    assert state(available) == "after_call_work" and not available.find_elements(By.CSS_SELECTOR, "button.end-call")
    available.save_screenshot(str(shots(tmp_path) / "after-call-work-375.png"))
    available.find_element(By.XPATH, "//div[@class='noise']/button[text()='間違い電話']").click()
    wait(available).until(lambda d: state(d) == "available" and not d.find_elements(By.CSS_SELECTOR, ".acw-note"))
    available.find_element(By.LINK_TEXT, "コンソールに戻る").click()
    wait(available).until(lambda d: d.find_elements(By.ID, "waiting"))
    assert state(available) == "available" and "対応中の通話" not in available.find_element(By.ID, "main").text
