"""The firm editor in a real browser: a mistake shown at its field with the input kept, fixed, the diff,
saved as a version; call types reordered by keyboard; a live preview; the page at 1366 and 375 px
(screenshots in tmp_path/screenshots)."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.tenants import store
from app.tenants.models import Tenant

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser


@pytest.fixture
def manager(tmp_path, server, demo_logins):
    driver = chromium(tmp_path / "manager")
    log_in(driver, server, *next((e, p) for e, p, role, _slug in demo_logins if role == "admin"))
    yield driver
    driver.quit()


def field(driver, path: str):
    return driver.find_element(By.ID, f"f-{path}")


def labels(driver) -> list[str]:
    return driver.execute_script("""return [...document.querySelectorAll('[data-list="call_types"] > .items > .item')]
        .map(item => item.querySelector('input[name$="].label"]')).map(i => [i.name, i.value]);""")


def shoot(driver, shots, name: str, width: int) -> None:
    driver.set_window_size(width, 1000)
    wide = driver.execute_script("""return [...document.querySelectorAll('body *')]
        .filter(e => !e.closest('.mainnav') && e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.outerHTML.slice(0, 90));""")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= \
        driver.execute_script("return window.innerWidth"), f"{name} is wider than {width} px: {wide[:3]}"
    driver.save_screenshot(str(shots / f"{name}-{width}.png"))


def test_a_manager_fixes_a_mistake_in_the_hours_reorders_call_types_by_keyboard_and_saves(
        manager, server, database, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    before = store.snapshot(Tenant.by_slug("yamada-law"))
    manager.set_window_size(1366, 1000)
    manager.get(server.url + "/firms/yamada-law")
    manager.find_element(By.CSS_SELECTOR, 'a[href="/firms/yamada-law/edit"]').click()
    wait(manager).until(lambda d: "山田法律事務所" in d.find_element(By.ID, "preview").text)

    # The preview follows what is typed, before anything is saved.
    phrase = field(manager, "answer_phrase")
    phrase.clear()
    phrase.send_keys("はい、山田法律事務所でございます。")
    wait(manager).until(lambda d: "はい、山田法律事務所でございます。" in d.find_element(By.ID, "preview").text)

    # Reorder by keyboard: "move down" on the first call type; focus stays on the button it pressed.
    first, second = labels(manager)[:2]
    down = manager.find_element(By.CSS_SELECTOR, '[data-item="call_types[0]"] button[data-move="down"]')
    down.send_keys(Keys.ENTER)
    assert labels(manager)[:2] == [["call_types[0].label", second[1]], ["call_types[1].label", first[1]]]
    assert manager.execute_script("return document.activeElement.value") == "down:call_types[1]"

    # Reorder by dragging: the second number's handle dropped on the top half of the first.
    numbers = [n["number"] for n in before["numbers"]]
    manager.execute_script("""
        const [first, second] = document.querySelectorAll('[data-list="numbers"] > .items > .item');
        const fire = (el, type, y) => el.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true,
            dataTransfer: new DataTransfer(), clientY: y}));
        second.querySelector('.handle').dispatchEvent(new PointerEvent('pointerdown', {bubbles: true}));
        fire(second, 'dragstart', 0);
        fire(first, 'dragover', first.getBoundingClientRect().top + 2);
        fire(first, 'drop', first.getBoundingClientRect().top + 2);
        fire(second, 'dragend', 0);""")
    assert manager.find_element(By.NAME, "numbers[0].number").get_attribute("value").replace("-", "") == \
        "0" + numbers[1].removeprefix("+81")

    # A mistake: the error is at Wednesday's input, which keeps what was typed (so does the new order).
    wed = field(manager, "hours.wed")
    wed.clear()
    wed.send_keys("9:00-18:00x")
    manager.find_element(By.CSS_SELECTOR, ".editor-actions button.primary").click()
    error = wait(manager).until(lambda d: d.find_element(By.ID, "e-hours.wed"))
    assert "時間帯ではありません" in error.text
    assert field(manager, "hours.wed").get_attribute("value") == "9:00-18:00x"
    assert field(manager, "hours.wed").get_attribute("aria-invalid") == "true"
    assert field(manager, "answer_phrase").get_attribute("value") == "はい、山田法律事務所でございます。"
    assert [value for _name, value in labels(manager)[:2]] == [second[1], first[1]]
    for width in (1366, 375):
        shoot(manager, shots, "editor-error", width)
        manager.execute_script("document.getElementById('f-hours.wed').scrollIntoView({block: 'center'})")
        manager.save_screenshot(str(shots / f"editor-error-at-field-{width}.png"))

    # Fixed: the diff by key path, then saved as a new version.
    manager.set_window_size(1366, 1000)
    wed = field(manager, "hours.wed")
    wed.clear()
    wed.send_keys("10:00-18:00")
    manager.find_element(By.CSS_SELECTOR, ".editor-actions button.primary").click()
    review = wait(manager).until(lambda d: d.find_element(By.CSS_SELECTOR, "#review.review"))
    assert "10:00-18:00" in review.text and "09:00-18:00" in review.text and "名乗り" in review.text
    for width in (1366, 375):
        shoot(manager, shots, "editor-diff", width)
    manager.set_window_size(1366, 1000)
    save = manager.find_element(By.CSS_SELECTOR, '#review button[value="save"]')
    manager.execute_script("arguments[0].scrollIntoView({block: 'center'})", save)
    save.click()
    notice = wait(manager).until(lambda d: d.find_element(By.CSS_SELECTOR, "p.notice[role=status]"))
    assert f"第 {Tenant.by_slug('yamada-law').version} 版を保存しました" in notice.text

    after = store.snapshot(Tenant.by_slug("yamada-law"))
    assert after["hours"]["wed"] == "10:00-18:00" and after["answer_phrase"] == "はい、山田法律事務所でございます。"
    assert [n["number"] for n in after["numbers"]] == [numbers[1], numbers[0], *numbers[2:]]
    assert [ct["key"] for ct in after["call_types"]][:2] == [before["call_types"][1]["key"],
                                                              before["call_types"][0]["key"]]


def test_a_second_managers_stale_save_gets_the_conflict_with_the_others_change_and_keeps_her_input(
        manager, server, database, tmp_path):
    from app.accounts import service

    service.add_user("second-manager@example.jp", "admin", password="correct horse battery staple")
    other = chromium(tmp_path / "other")
    try:
        log_in(other, server, "second-manager@example.jp", "correct horse battery staple")
        for driver in (manager, other):
            driver.set_window_size(1366, 1000)
            driver.get(server.url + "/firms/yamada-law/edit")
            wait(driver).until(lambda d: d.find_element(By.ID, "f-answer_phrase"))

        def confirm_and_save(driver):
            driver.find_element(By.CSS_SELECTOR, ".editor-actions button.primary").click()
            save = wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '#review button[value="save"]'))
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", save)
            save.click()

        # The first manager saves a new instruction while the second is still typing hers.
        instructions = field(manager, "instructions")
        instructions.clear()
        instructions.send_keys("本日より営業電話はすべてお断りください。")
        confirm_and_save(manager)
        wait(manager).until(lambda d: d.find_element(By.CSS_SELECTOR, "p.notice[role=status]"))

        phrase = field(other, "answer_phrase")
        phrase.clear()
        phrase.send_keys("お電話ありがとうございます。山田法律事務所の受付でございます。")
        confirm_and_save(other)
        conflict = wait(other).until(lambda d: d.find_element(By.CSS_SELECTOR, "#review.conflict"))
        assert "本日より営業電話はすべてお断りください。" in conflict.text  # what the other one changed
        assert field(other, "answer_phrase").get_attribute("value") == \
            "お電話ありがとうございます。山田法律事務所の受付でございます。"
        other.save_screenshot(str(tmp_path / "editor-conflict-1366.png"))
        firm = Tenant.by_slug("yamada-law")
        assert firm.instructions == "本日より営業電話はすべてお断りください。"
        assert firm.answer_phrase != "お電話ありがとうございます。山田法律事務所の受付でございます。"
    finally:
        other.quit()
