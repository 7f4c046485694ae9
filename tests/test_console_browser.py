"""Two operators in two real browsers: a call appears on both at once, one takes it, the screen pops."""

import os
import subprocess
import sys
import time

import pytest
from selenium.webdriver.common.by import By

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser


def on_duty(driver, server) -> None:
    """Open the console, wait for its live list, and become available (受付を再開) as an operator does."""
    driver.get(server.url + "/console")
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
    driver.find_element(By.CSS_SELECTOR, "#presence button[name=available][value='1']").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#presence [data-state=available]"))


@pytest.fixture
def operators(tmp_path, server, demo_logins):
    drivers = []
    for i, (email, password, _role, _slug) in enumerate(l for l in demo_logins if l[2] == "operator"):
        driver = chromium(tmp_path / f"op{i}")
        drivers.append(driver)
        log_in(driver, server, email, password)
        on_duty(driver, server)
    yield drivers
    for driver in drivers:
        driver.quit()


def simulate_call(server, environ, tmp_path, *args) -> float:
    """Run `dengon simulate-call` as a user would; returns the moment its webhook was answered."""
    result = subprocess.run([sys.executable, "-m", "app.cli", "simulate-call", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30, env={"PATH": os.environ["PATH"], **environ,
                                                           "PUBLIC_URL": server.url})
    assert result.returncode == 0, result.stderr
    return time.monotonic()


def rows(driver) -> list[str]:
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#waiting li.waiting-call")]


def test_a_call_reaches_both_operators_at_once_and_vanishes_when_one_takes_it(operators, server, environ, tmp_path):
    first, second = operators
    assert rows(first) == rows(second) == []
    # 大和建設 answers around the clock, so the test does not depend on today's date.
    answered = simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    for driver in operators:
        wait(driver, 5).until(lambda d: any("大和建設株式会社" in r for r in rows(d)))
    assert time.monotonic() - answered < 1.0, "the call took more than a second to reach both screens"

    first.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
    wait(first).until(lambda d: "/console/calls/" in d.current_url)
    assert first.find_element(By.CSS_SELECTOR, "h1.pop-name").text == "大和建設株式会社"
    assert "お電話ありがとうございます。大和建設でございます。" in first.find_element(
        By.CSS_SELECTOR, ".answer-phrase").text
    assert "119番への通報が済んでいるか" in first.find_element(By.CSS_SELECTOR, ".pop-info .prose").text
    assert [g.text.replace("\n", "") for g in first.find_elements(By.CSS_SELECTOR, ".caller-line .digit-group")] == [
        "090", "1111", "2222"]
    wait(second, 1).until(lambda d: rows(d) == [])


def test_a_call_to_an_unknown_number_appears_flagged(operators, server, environ, tmp_path):
    simulate_call(server, environ, tmp_path, "--to", "+81 50 9999 8888", "--from", "03-5555-6666")
    for driver in operators:
        wait(driver, 5).until(lambda d: any("未登録の番号" in r for r in rows(d)))
    row = operators[0].find_element(By.CSS_SELECTOR, "#waiting li.waiting-call")
    assert "unknown" in row.get_attribute("class") and "050-9999-8888" in row.text


def test_the_second_operator_to_take_a_call_is_told_it_is_gone(operators, server, environ, tmp_path):
    first, second = operators
    simulate_call(server, environ, tmp_path, "--forwarded-from", "048-226-3141", "--to", "+81 50 1234 0000")
    for driver in operators:
        wait(driver, 5).until(lambda d: len(rows(d)) == 1)
    path = second.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").get_attribute("hx-post")
    first.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
    wait(first).until(lambda d: "/console/calls/" in d.current_url)
    # The second operator presses the same call's button a moment too late (before their list updated).
    second.execute_script("htmx.ajax('POST', arguments[0], {target: '#take-result'})", path)
    wait(second).until(lambda d: "ほかのオペレーターが応答しました" in d.find_element(By.ID, "take-result").text)
    assert "/console/calls/" not in second.current_url
