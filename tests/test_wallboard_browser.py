"""The wallboard in real browsers: a supervisor watches calls arrive, be taken and be abandoned, and an
operator go from a call to after-call work to available, each within a second; escalations appear
on the supervisor's board at once; the board at 375 px, 1366 px and on a 1920×1080 TV."""

import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from app import settings as settings_module
from app.calls import webhooks

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty

pytestmark = pytest.mark.browser

FIRM = "大和建設株式会社"  # answers around the clock: the test does not depend on the hour


def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("TEST_ARTEFACTS", tmp_path)) / "wallboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def simulate_call(server, environ, tmp_path, *args) -> tuple[str, float]:
    """`dengon simulate-call` as a user runs it: the call's id and the moment its webhook was answered."""
    result = subprocess.run([sys.executable, "-m", "app.cli", "simulate-call", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=30, env={"PATH": os.environ["PATH"], **environ,
                                                           "PUBLIC_URL": server.url})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[1], time.monotonic()


def caller_hangs_up(server, environ, tmp_path, sid: str) -> float:
    """The provider's status callback for a caller who hung up while waiting (signed as it would be)."""
    settings = settings_module.load({**environ, "PUBLIC_URL": server.url}, var_dir=tmp_path / "var")
    params = {"CallSid": sid, "CallStatus": "completed", "AccountSid": "AC" + "0" * 32}
    request = urllib.request.Request(server.url + "/twilio/status", data=urllib.parse.urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": webhooks.sign(settings, "/twilio/status", params)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 204)
    return time.monotonic()


def waiting_firms(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#wb-waiting .wb-call .wb-firm")]


def figure(driver, key: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'#wb-today [data-figure="{key}"]').text


def operator_state(driver, name: str) -> str | None:
    for row in driver.find_elements(By.CSS_SELECTOR, "#wb-operators .wb-op"):
        if row.find_element(By.CSS_SELECTOR, ".wb-op-name").text == name:
            return row.get_attribute("data-state")
    return None


def within_a_second(driver, since: float, condition, what: str) -> None:
    wait(driver, 5).until(condition)
    assert time.monotonic() - since < 1.0, f"{what} took more than a second to reach the wallboard"


@pytest.fixture
def people(tmp_path, server, demo_logins):
    """A supervisor at the wallboard, and an operator on duty at the console."""
    logins = {role: (email, password) for email, password, role, _slug in demo_logins}
    board, desk = chromium(tmp_path / "sv"), chromium(tmp_path / "op")
    try:
        log_in(board, server, *logins["supervisor"])
        log_in(desk, server, *logins["operator"])
        on_duty(desk, server)
        board.get(server.url + "/supervisor/wallboard")
        wait(board).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
        name = desk.find_element(By.CSS_SELECTOR, ".topbar .who").text
        yield board, desk, name
    finally:
        board.quit()
        desk.quit()


def test_the_wallboard_follows_calls_and_an_operator_each_within_a_second(people, server, environ, tmp_path):
    board, desk, name = people
    wait(board, 5).until(lambda d: operator_state(d, name) == "available")
    assert waiting_firms(board) == [] and figure(board, "offered") == "0"

    # A call arrives: on the board, with its wait ticking.
    _sid, answered = simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    # The waiting part is sent first, today's figures after it: both within the second.
    within_a_second(board, answered, lambda d: waiting_firms(d) == [FIRM] and figure(d, "offered") == "1",
                    "a call arriving")
    board.set_window_size(1366, 900)
    time.sleep(1.2)  # a tick of the timers
    assert board.find_element(By.CSS_SELECTOR, "#wb-waiting .wb-call .wb-timer").text.startswith("0:0")
    board.save_screenshot(str(shots(tmp_path) / "waiting-1366.png"))

    # The operator takes it: gone from the queue, the operator on a call.
    desk.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
    taken = time.monotonic()
    within_a_second(board, taken, lambda d: waiting_firms(d) == [] and operator_state(d, name) == "on_call"
                    and figure(d, "answered") == "1", "a call being taken")

    # Another call, abandoned by its caller while waiting.
    sid, answered = simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "03-5555-6666")
    within_a_second(board, answered, lambda d: waiting_firms(d) == [FIRM], "the second call arriving")
    hung_up = caller_hangs_up(server, environ, tmp_path, sid)
    within_a_second(board, hung_up, lambda d: waiting_firms(d) == [] and figure(d, "abandoned") == "1"
                    and figure(d, "offered") == "2" and figure(d, "abandon_rate") == "50%", "an abandoned call")

    # 通話終了: after-call work; the message saved: available again.
    wait(desk).until(lambda d: d.find_elements(By.CSS_SELECTOR, "button.end-call"))
    desk.find_element(By.CSS_SELECTOR, "button.end-call").click()
    ended = time.monotonic()
    within_a_second(board, ended, lambda d: operator_state(d, name) == "after_call_work", "after-call work")
    wait(desk).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".acw-note"))
    desk.find_element(By.XPATH, "//div[@class='noise']/button[text()='間違い電話']").click()
    saved = time.monotonic()
    within_a_second(board, saved, lambda d: operator_state(d, name) == "available", "the message saved")
    firms = board.find_element(By.ID, "wb-firms").text
    assert FIRM in firms
    board.save_screenshot(str(shots(tmp_path) / "after-1366.png"))

    # A phone: everything stacks, nothing scrolls sideways.
    board.set_window_size(375, 812)
    time.sleep(0.3)
    assert board.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    board.save_screenshot(str(shots(tmp_path) / "wallboard-375.png"))

    # The TV on the wall: no navigation, big type, everything on one 1920×1080 screen.
    board.set_window_size(1920, 1200)
    board.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    board.get(server.url + "/supervisor/wallboard?tv=1")
    wait(board).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
    assert not board.find_elements(By.CSS_SELECTOR, ".topbar")
    size = board.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('#wb-waiting .wb-value')).fontSize)")
    assert size >= 80, f"the waiting count is {size} px high on the TV: not readable from three metres"
    board.save_screenshot(str(shots(tmp_path) / "tv-1920.png"))
    width, height = board.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert width <= 1920 and height <= 1080, f"the TV board needs {width}×{height} px"


def test_an_escalation_appears_on_the_supervisors_board_at_once_and_beeps_when_sound_is_on(people, server, environ,
                                                                                         tmp_path):
    board, desk, _name = people
    board.get(server.url + "/supervisor")
    wait(board).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
    assert not board.find_elements(By.CSS_SELECTOR, "#wb-escalations [data-escalation]")
    board.find_element(By.CSS_SELECTOR, "[data-sound-toggle]").click()
    assert board.find_element(By.CSS_SELECTOR, "[data-sound-toggle]").get_attribute("aria-pressed") == "true"

    # The operator takes a call and escalates it from the screen pop.
    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    wait(desk, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#waiting li.waiting-call button.take"))
    desk.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
    wait(desk).until(lambda d: d.find_elements(By.CSS_SELECTOR, "details.escalate-panel"))
    desk.find_element(By.CSS_SELECTOR, "details.escalate-panel summary").click()
    desk.find_element(By.CSS_SELECTOR, "form.escalate textarea[name=reason]").send_keys("社長に至急つないでほしいとのこと")
    desk.find_element(By.CSS_SELECTOR, "form.escalate button[type=submit]").click()
    raised = time.monotonic()
    within_a_second(board, raised, lambda d: "社長に至急つないでほしいとのこと" in d.find_element(By.ID, "wb-escalations").text,
                    "an escalation")
    assert FIRM in board.find_element(By.ID, "wb-escalations").text
    wait(board, 2).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-beeps") == "1")
    board.set_window_size(375, 812)
    board.save_screenshot(str(shots(tmp_path) / "escalation-375.png"))
    assert board.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    # One supervisor resolves it: it leaves the board, and a reload does not bring it back.
    board.find_element(By.CSS_SELECTOR, "#wb-escalations input[name=resolution]").send_keys("社長に連絡済み")
    board.find_element(By.CSS_SELECTOR, "#wb-escalations form.resolve button").click()
    wait(board, 2).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#wb-escalations [data-escalation]"))
    board.refresh()
    assert "社長に至急つないでほしいとのこと" not in board.find_element(By.ID, "wb-escalations").text
    # The sound stays on for this browser.
    assert board.find_element(By.CSS_SELECTOR, "[data-sound-toggle]").get_attribute("aria-pressed") == "true"
