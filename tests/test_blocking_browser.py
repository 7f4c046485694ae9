"""A firm's user in a real browser blocks a caller from the call log; the caller's next call (a signed
webhook, as the provider sends it) is rejected and shows as blocked. On a phone the log has no sideways scroll."""

import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By

from app.calls.models import Call, Transfer
from app.tenants.models import Staff

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser

DAIWA = "+81 50 3786 5120"  # 大和建設's dedicated number: answered around the clock, whatever today is


def simulate_call(server, environ, tmp_path, caller: str) -> str:
    """`dengon simulate-call` as a user runs it; returns the TwiML the caller got."""
    result = subprocess.run([sys.executable, "-m", "app.cli", "simulate-call", "--to", DAIWA, "--from", caller],
                            capture_output=True, text=True, cwd=tmp_path, timeout=30,
                            env={"PATH": os.environ["PATH"], **environ, "PUBLIC_URL": server.url})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def firm_user(tmp_path, server, demo_logins):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "client" and l[3] == "daiwa-kensetsu")
    driver = chromium(tmp_path / "client")
    log_in(driver, server, email, password)
    yield driver
    driver.quit()


def first_row(driver):
    return driver.find_element(By.CSS_SELECTOR, "table.calllog tr.call")


def no_sideways_scroll(driver) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_a_caller_blocked_from_the_call_log_is_rejected_next_time_and_listed_as_blocked(
        firm_user, server, environ, tmp_path):
    assert "<Enqueue" in simulate_call(server, environ, tmp_path, "090-3333-4444")
    firm_user.get(server.url + "/portal/calls")
    row = first_row(firm_user)
    assert "090-3333-4444" in row.text and "kind-waiting" in row.get_attribute("class")
    assert row.find_element(By.CSS_SELECTOR, "a[href='tel:+819033334444']")

    row.find_element(By.CSS_SELECTOR, "button.block-button").click()
    wait(firm_user).until(lambda d: "着信拒否中" in first_row(d).text)
    assert firm_user.current_url == server.url + "/portal/calls"

    assert "<Reject" in simulate_call(server, environ, tmp_path, "090-3333-4444")
    firm_user.refresh()
    row = first_row(firm_user)
    assert "kind-blocked" in row.get_attribute("class")
    assert "着信拒否" in row.text and "090-3333-4444" in row.text

    firm_user.get(server.url + "/portal/blocked")
    assert "090-3333-4444" in firm_user.find_element(By.CSS_SELECTOR, ".blocked-list").text
    for width in (1280, 375):
        firm_user.set_window_size(width, 1400)
        for page in ("/portal/calls", "/portal/blocked"):
            firm_user.get(server.url + page)
            firm_user.save_screenshot(str(tmp_path / f"{page.strip('/').replace('/', '-')}-{width}.png"))
            assert no_sideways_scroll(firm_user), (f"{page} scrolls sideways at {width} px", firm_user.execute_script(
                "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                "window.innerWidth).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"
                ".slice(0, 8)"))
        firm_user.get(server.url + "/portal/calls")
        firm_user.find_element(By.CSS_SELECTOR, "table.calllog").screenshot(str(tmp_path / f"calllog-rows-{width}.png"))

    # Unblocking from the list lets the next call through to the operators.
    firm_user.get(server.url + "/portal/blocked")
    firm_user.find_element(By.CSS_SELECTOR, ".blocked-number button").click()
    wait(firm_user).until(lambda d: "090-3333-4444" not in d.find_element(By.CSS_SELECTOR, ".blocked-list").text)
    assert "<Enqueue" in simulate_call(server, environ, tmp_path, "090-3333-4444")


def test_the_call_logs_put_through_calls_say_to_whom_and_fit_a_phone(firm_user, server, environ, tmp_path):
    assert "<Enqueue" in simulate_call(server, environ, tmp_path, "090-5555-6666")
    call = Call.get(Call.from_number == "+819055556666")
    for key, status in (("takeda", "no-answer"), ("ito", "answered")):
        staff = Staff.get((Staff.tenant == call.tenant) & (Staff.key == key))
        Transfer.create(call=call, staff=staff, staff_name=staff.name, number=staff.mobile, status=status)
    for width in (1280, 375):
        firm_user.set_window_size(width, 1000)
        firm_user.get(server.url + "/portal/calls")
        firm_user.save_screenshot(str(tmp_path / f"calls-transfers-{width}.png"))
        row = first_row(firm_user).text
        assert "武田 翔 へ取次(応答なし)" in row and "伊藤 浩二 へ取次(つながりました)" in row
        assert no_sideways_scroll(firm_user), f"/portal/calls scrolls sideways at {width} px"
