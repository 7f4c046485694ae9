"""An operator takes a message in a real browser: read-back is enforced, and nothing typed is lost."""

import pytest
from selenium.webdriver.common.by import By

from app import db
from app.messages.models import Message

from .browser import chromium
from .test_browser import log_in, wait
from .test_console_browser import on_duty, rows, simulate_call

pytestmark = pytest.mark.browser


@pytest.fixture
def operator_on_a_call(tmp_path, server, environ, demo_logins):
    """An operator who has taken a call to 大和建設 (answered around the clock) from 090-1111-2222."""
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "operator")
    driver = chromium(tmp_path / "op")
    try:
        log_in(driver, server, email, password)
        on_duty(driver, server)
        simulate_call(server, environ, tmp_path, "--to", "+81 50 3786 5120", "--from", "090-1111-2222")
        wait(driver, 5).until(lambda d: rows(d))
        driver.find_element(By.CSS_SELECTOR, "#waiting li.waiting-call button.take").click()
        wait(driver).until(lambda d: d.find_elements(By.ID, "message-form"))
        yield driver
    finally:
        driver.quit()


def field(driver, key):
    return driver.find_element(By.ID, f"f-{key}")


def confirm_box(driver, key):
    return driver.find_element(By.CSS_SELECTOR, f'input[data-confirms="f-{key}"]')


def draft_kept(driver, environ, *confirmed):
    """Wait until the server holds the draft with these confirmations (saved as the operator types)."""
    from app.messages.models import Draft

    def kept(_driver):
        with db.db.connection_context():
            draft = Draft.get_or_none()
            return draft is not None and set(confirmed) <= set(draft.data.get("confirmed", {}))

    db.bind(environ["DATABASE_URL"])
    wait(driver).until(kept)
    assert "下書き保存" in driver.find_element(By.ID, "draft-status").text


TYPED = {"caller_name": "木村 一郎", "site_name": "川口三丁目現場", "body": "足場の一部が崩れました。けが人はいません。"}


def test_read_back_is_enforced_and_a_reload_loses_nothing(operator_on_a_call, environ):
    driver = operator_on_a_call
    assert field(driver, "callback_number").get_attribute("value") == "090-1111-2222"
    digits = driver.find_element(By.ID, "read-aloud-callback_number").find_elements(By.CLASS_NAME, "digit-group")
    assert [g.text.replace("\n", "") for g in digits] == ["090", "1111", "2222"]

    for key, value in TYPED.items():
        field(driver, key).send_keys(value)
    confirm_box(driver, "caller_name").click()
    confirm_box(driver, "site_name").click()
    # Editing a confirmed field withdraws its confirmation at once.
    field(driver, "site_name").send_keys("A")
    assert not confirm_box(driver, "site_name").is_selected()
    field(driver, "site_name").send_keys("\b")
    confirm_box(driver, "site_name").click()

    # The browser goes away in the middle of the call: everything comes back.
    draft_kept(driver, environ, "caller_name", "site_name")
    driver.refresh()
    wait(driver).until(lambda d: d.find_elements(By.ID, "message-form"))
    for key, value in TYPED.items():
        assert field(driver, key).get_attribute("value") == value
    assert confirm_box(driver, "caller_name").is_selected() and confirm_box(driver, "site_name").is_selected()

    # Saving before the callback number is read back: refused, the field named, nothing lost.
    driver.find_element(By.CSS_SELECTOR, "#message-form button.primary").click()
    error = wait(driver).until(lambda d: d.find_elements(By.ID, "f-callback_number-error"))[0]
    assert error.text == "復唱して確認してください。"
    for key, value in {**TYPED, "callback_number": "090-1111-2222"}.items():
        assert field(driver, key).get_attribute("value") == value
    with db.db.connection_context():
        assert Message.select().count() == 0

    confirm_box(driver, "callback_number").click()
    driver.find_element(By.CSS_SELECTOR, "#message-form button.primary").click()
    saved = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#message-panel.saved"))[0]
    marks = saved.find_elements(By.CSS_SELECTOR, ".tag.readback")
    assert len(marks) == 3 and all("復唱済" in m.text for m in marks)
    assert "090-1111-2222" in saved.text and "川口三丁目現場" in saved.text
    with db.db.connection_context():
        message = Message.get()
        assert set(message.readback) == {"caller_name", "callback_number", "site_name"}
        assert message.fields["callback_number"] == "+819011112222"
    db.db.close_all()
