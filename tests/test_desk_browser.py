"""The operator's desk in a real browser: the screen pop is one screen at 1366×768, and a message is taken
from the keyboard alone (the keys of static/desk.js)."""

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app import db
from app.messages.models import Message

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import rows, simulate_call

pytestmark = pytest.mark.browser

# What an operator must see without scrolling the moment the screen pops.
ESSENTIALS = {"名乗り": ".answer-phrase", "first field": "#f-caller_company",
              "instructions": ".pop-info .prose", "staff": "#staff-board"}


@pytest.fixture
def operator(tmp_path, server, demo_logins):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "operator")
    driver = chromium(tmp_path / "op")
    # The page's own area (the viewport) is 1366×768, whatever the window around it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})
    try:
        log_in(driver, server, email, password)
        driver.get(server.url + "/console")
        wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")
        # Available for calls (the demo operator starts on a break).
        for button in driver.find_elements(By.CSS_SELECTOR, '#presence button[name="available"][value="1"]'):
            button.click()
            wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#presence .state.available"))
        yield driver
    finally:
        driver.quit()


def press(driver, *keys):
    """One chord, as a person presses it: modifiers held, the key, all released."""
    *modifiers, key = keys
    chord = ActionChains(driver)
    for m in modifiers:
        chord.key_down(m)
    chord.send_keys(key)
    for m in reversed(modifiers):
        chord.key_up(m)
    chord.perform()


def type_in(driver, text):
    ActionChains(driver).send_keys(text).perform()


def focused(driver) -> str:
    return driver.execute_script("return document.activeElement.id || document.activeElement.name")


def outside_viewport(driver, selectors: dict) -> dict:
    return driver.execute_script("""
        const out = {};
        for (const [name, selector] of Object.entries(arguments[0])) {
          const element = document.querySelector(selector);
          if (!element) { out[name] = "missing"; continue; }
          const r = element.getBoundingClientRect();
          if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth || !r.height)
            out[name] = [r.top, r.left, r.bottom, r.right, innerHeight, innerWidth];
        }
        return out;""", selectors)


def caller_groups(driver) -> list[str]:
    return [g.text.replace("\n", "") for g in driver.find_elements(By.CSS_SELECTOR, ".caller-line .digit-group")]


def a_call_arrives(driver, server, environ, tmp_path):
    # 大和建設 answers around the clock, so the test does not depend on today's date.
    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
    wait(driver, 5).until(lambda d: rows(d))


def test_the_screen_pop_fits_one_screen_at_1366_by_768(operator, server, environ, tmp_path):
    driver = operator
    a_call_arrives(driver, server, environ, tmp_path)
    assert "Alt+N" in driver.find_element(By.ID, "waiting").find_element(By.XPATH, "..").text.replace("\n", "")
    driver.save_screenshot(str(tmp_path / "console-1366x768.png"))
    press(driver, Keys.ALT, "n")
    wait(driver).until(lambda d: d.find_elements(By.ID, "message-form"))
    driver.save_screenshot(str(tmp_path / "screen-pop-1366x768.png"))
    assert driver.execute_script("return [innerWidth, innerHeight]") == [1366, 768]
    assert outside_viewport(driver, ESSENTIALS) == {}
    # In a real browser on a 1366×768 screen its own bars and the taskbar take ~120 px: what matters still shows,
    # the save button too.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 650, "deviceScaleFactor": 1, "mobile": False})
    assert outside_viewport(driver, {**ESSENTIALS, "save": "#message-form button.save"}) == {}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False})
    # Not only those: the whole screen, the save button and the staff's last line included, without scrolling.
    assert driver.execute_script("return document.documentElement.scrollHeight <= innerHeight"), \
        driver.execute_script("return document.documentElement.scrollHeight")
    assert caller_groups(driver) == ["090", "1111", "2222"]  # grouped as it is read aloud


def test_a_message_is_taken_read_back_and_saved_from_the_keyboard(operator, server, environ, tmp_path):
    driver = operator
    a_call_arrives(driver, server, environ, tmp_path)
    press(driver, Keys.ALT, "n")  # the longest-waiting call
    wait(driver).until(lambda d: focused(d) == "f-caller_company")  # the cursor is in the first field

    type_in(driver, "川口工務店")
    type_in(driver, Keys.ENTER)  # Enter goes to the next field, it does not save a half-taken message
    assert focused(driver) == "f-caller_name"
    type_in(driver, "木村 一郎")
    press(driver, Keys.ALT, "r")
    type_in(driver, Keys.ENTER)
    assert focused(driver) == "f-callback_number"  # filled from the caller's number
    type_in(driver, Keys.SHIFT + Keys.TAB + Keys.SHIFT + Keys.TAB)  # back to the name: the number is not read back
    press(driver, Keys.CONTROL, Keys.ENTER)  # too early: refused, and the cursor goes to the first field to fix
    wait(driver).until(lambda d: d.find_elements(By.ID, "f-callback_number-error"))
    wait(driver).until(lambda d: focused(d) == "f-callback_number")
    assert driver.find_element(By.ID, "f-caller_name").get_attribute("value") == "木村 一郎"
    press(driver, Keys.ALT, "r")
    type_in(driver, Keys.TAB)
    assert focused(driver) == "readback"  # Tab also visits the read-back box; Enter there goes on
    type_in(driver, Keys.ENTER)
    assert focused(driver) == "f-for_staff"
    type_in(driver, Keys.TAB + "足場の一部が崩れました。" + Keys.ENTER + "けが人はいません。")  # Enter in the text is a new line
    type_in(driver, Keys.TAB + "川口三丁目現場")
    press(driver, Keys.ALT, "r")
    urgent = driver.find_element(By.ID, "urgent")
    assert urgent.is_selected()  # 現場からの緊急連絡 is urgent by its call type
    press(driver, Keys.ALT, "u")
    assert not urgent.is_selected()
    press(driver, Keys.ALT, "u")  # and on again
    assert urgent.is_selected()
    press(driver, Keys.ALT, "c")
    assert focused(driver) == "category"
    type_in(driver, Keys.DOWN)
    chosen = driver.execute_script("return document.getElementById('category').value")
    with db.db.connection_context():
        assert Message.select().count() == 0
    press(driver, Keys.CONTROL, Keys.ENTER)

    saved = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#message-panel.saved"))[0]
    driver.save_screenshot(str(tmp_path / "saved-1366x768.png"))
    assert len(saved.find_elements(By.CSS_SELECTOR, ".tag.readback")) == 3 and "至急" in saved.text
    db.bind(environ["DATABASE_URL"])
    with db.db.connection_context():
        message = Message.get()
        assert set(message.readback) == {"caller_name", "callback_number", "site_name"}
        assert message.urgent and message.category == chosen != "message"
        assert message.fields["caller_company"] == "川口工務店"
        assert message.fields["body"] == "足場の一部が崩れました。\nけが人はいません。"
    db.db.close_all()


def test_a_noise_call_is_recorded_from_the_keyboard_and_alt_n_takes_the_next(operator, server, environ, tmp_path):
    driver = operator
    a_call_arrives(driver, server, environ, tmp_path)
    press(driver, Keys.ALT, "n")
    wait(driver).until(lambda d: focused(d) == "f-caller_company")
    press(driver, Keys.ALT, "n")  # the message is not taken yet: the call stays on screen
    assert driver.find_elements(By.ID, "message-form")
    press(driver, Keys.ALT, "x")
    first = driver.switch_to.active_element.text
    type_in(driver, Keys.TAB)
    second = driver.switch_to.active_element.text
    type_in(driver, Keys.ENTER)
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#message-panel.saved"))
    assert first and second and first != second

    simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "03-5555-6666")
    press(driver, Keys.ALT, "n")  # from the finished call: back to the console and the next call taken
    wait(driver).until(lambda d: focused(d) == "f-caller_company")
    assert caller_groups(driver) == ["03", "5555", "6666"]
    db.bind(environ["DATABASE_URL"])
    with db.db.connection_context():
        noise = Message.get()
        assert noise.category != "message"


def test_the_screen_pop_has_no_sideways_scroll_on_a_phone(operator, server, environ, tmp_path):
    driver = operator
    a_call_arrives(driver, server, environ, tmp_path)
    press(driver, Keys.ALT, "n")
    wait(driver).until(lambda d: d.find_elements(By.ID, "message-form"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the whole page in one picture
                           {"width": 375, "height": height, "deviceScaleFactor": 1, "mobile": True})
    driver.save_screenshot(str(tmp_path / "screen-pop-375.png"))
    assert driver.execute_script("return document.documentElement.scrollWidth <= innerWidth"), driver.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 8)")
