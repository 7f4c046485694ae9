"""The firm's portal in a real browser: a message saved by an operator appears in the firm's open
inbox within a second, bulk handled, and every page fits a 375 px phone (screenshots in tmp_path)."""

import json
import time
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from app.accounts.service import create_token
from app.messages.models import Message

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser

FIRM = "daiwa-kensetsu"
ESTIMATE = {"tenant": FIRM, "call_type": "estimate", "readback": ["caller_name", "callback_number"],
            "fields": {"caller_company": "東和ハウジング株式会社", "caller_name": "田中 一郎",
                       "callback_number": "090-2222-3333", "site_address": "川口市本町1-2-3",
                       "body": "外構工事のお見積もりをお願いしたい。図面はメールで送るので、確認のうえ折り返しがほしいとのこと。"}}


@pytest.fixture
def firm_user(demo_logins):
    return next((e, p) for e, p, role, slug in demo_logins if role == "client" and slug == FIRM)


@pytest.fixture
def operator_token(database, demo_logins):
    email = next(e for e, _p, role, _s in demo_logins if role == "operator")
    return create_token(email)[1]


@pytest.fixture
def portal(tmp_path, server, firm_user):
    driver = chromium(tmp_path / "client")
    log_in(driver, server, *firm_user)
    yield driver
    driver.quit()


def save_by_api(server, token, **changes) -> int:
    """An operator saves a message, as their program or console would."""
    body = json.dumps({**ESTIMATE, **changes}).encode()
    request = urllib.request.Request(server.url + "/api/v1/messages", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as refused:
        raise AssertionError(refused.read().decode()) from None
    with response:
        assert response.status == 201
        return json.loads(response.read())["id"]


def row_ids(driver) -> list[str]:
    # Read in one step in the page: rows found one call and read the next may be gone by then (a reload).
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#inbox-rows li.inbox-row'), li => li.id)")


def live(driver):
    wait(driver).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-live") == "1")


def test_a_message_saved_by_an_operator_appears_in_the_firms_open_inbox_within_a_second(
        portal, server, operator_token):
    portal.get(server.url + "/portal")
    live(portal)
    assert row_ids(portal) == []
    saved_at = time.monotonic()
    message_id = save_by_api(server, operator_token)
    wait(portal, 5).until(lambda d: row_ids(d)[:1] == [f"message-{message_id}"])
    assert time.monotonic() - saved_at < 1.0, "the message took more than a second to reach the inbox"
    row = portal.find_element(By.ID, f"message-{message_id}")
    assert "田中 一郎" in row.text and "unread" in row.get_attribute("class")
    assert "新着 1 件" in portal.find_element(By.ID, "new-badge").text
    # a noise call counts for nothing and shows nowhere in the inbox
    save_by_api(server, operator_token, category="sales", fields={}, readback=[], call_type=None)
    time.sleep(0.5)
    assert len(row_ids(portal)) == 1 and "新着 1 件" in portal.find_element(By.ID, "new-badge").text


def test_ticking_two_messages_and_one_button_marks_both_handled(portal, server, operator_token):
    ids = [save_by_api(server, operator_token, fields={**ESTIMATE["fields"], "caller_name": f"客{i}"}) for i in range(3)]
    portal.get(server.url + "/portal?handled=no")
    for message_id in ids[:2]:
        portal.find_element(By.CSS_SELECTOR, f"#message-{message_id} .pick").click()
    portal.find_element(By.CSS_SELECTOR, "#bulk input[name=note]").send_keys("まとめて折り返し済み")
    portal.find_element(By.CSS_SELECTOR, "#bulk button").click()
    wait(portal).until(lambda d: row_ids(d) == [f"message-{ids[2]}"])
    assert portal.current_url.endswith("/portal?handled=no")
    handled = {m.id: (m.handled, m.handled_note) for m in Message.select().where(Message.id.in_(ids))}
    assert handled == {ids[0]: (True, "まとめて折り返し済み"), ids[1]: (True, "まとめて折り返し済み"), ids[2]: (False, "")}


def search(driver, text: str) -> None:
    """Type into the inbox's search box and submit it, as a person would."""
    box = driver.find_element(By.CSS_SELECTOR, "form[role=search] input[name=q]")
    box.clear()
    box.send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()
    wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, "form[role=search] input[name=q]")
                       .get_attribute("value") == text and "q=" in d.current_url)


def test_searching_a_name_then_four_digits_of_a_number_finds_exactly_the_messages_that_have_them(
        portal, server, operator_token):
    def saved(name, number, tenant=FIRM, **extra):
        fields = {**ESTIMATE["fields"], "caller_name": name, "callback_number": number, **extra}
        return save_by_api(server, operator_token, tenant=tenant, fields=fields)

    ichiro = saved("田中 一郎", "090-2222-3333")
    hanako = saved("田中 花子", "090-4444-5555")
    yamada = saved("山田 次郎", "090-6666-3333")  # 田 but not 田中; the same last four digits as 一郎
    saved("佐藤 三郎", "03-1234-5678", caller_company="田園商事")  # 田 once more, another number
    # Another firm's 田中 with the same number: never in this firm's results.
    save_by_api(server, operator_token, tenant="sakura-clinic", call_type="reservation",
                readback=["caller_name", "callback_number", "current_date", "change_type"],
                fields={"caller_name": "田中 一郎", "caller_name_kana": "タナカ イチロウ",
                        "callback_number": "090-2222-3333", "current_date": "2026-12-01", "change_type": "キャンセル"})
    portal.get(server.url + "/portal")
    assert len(row_ids(portal)) == 4
    search(portal, "田中")
    assert row_ids(portal) == [f"message-{hanako}", f"message-{ichiro}"]
    assert all("田中" in portal.find_element(By.ID, i).text for i in row_ids(portal))
    search(portal, "3333")
    assert row_ids(portal) == [f"message-{yamada}", f"message-{ichiro}"]


def fits(driver, path: str, shots, name: str) -> None:
    driver.get(path)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    driver.save_screenshot(str(shots / f"{name}.png"))
    assert width <= driver.execute_script("return window.innerWidth"), f"{name}: {width} px wide"


def small_targets(driver) -> list[str]:
    """Visible links, buttons and fields of the page's content shorter than 44 px (a checkbox counts
    by its label, text in lists of facts is read, not tapped)."""
    return driver.execute_script("""
        return [...document.querySelectorAll('main a, main button, main select, main input, main summary, main label.pick')]
          .filter(e => e.offsetParent !== null && e.type !== 'checkbox' && !e.closest('dl, .versions'))
          .filter(e => e.getBoundingClientRect().height < 44)
          .map(e => e.outerHTML.slice(0, 80));""")


def test_the_inbox_and_a_message_page_fit_a_375_px_phone(portal, server, operator_token, tmp_path):
    long_name = "株式会社ものすごく長い名前の建設会社東日本支社営業本部第二営業部"
    ids = [save_by_api(server, operator_token, urgent=i == 0,
                       fields={**ESTIMATE["fields"], "caller_company": long_name}) for i in range(4)]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for width in (375, 1280):
        portal.set_window_size(width, 900)
        fits(portal, server.url + "/portal", shots, f"inbox-{width}")
        fits(portal, server.url + f"/portal/messages/{ids[0]}", shots, f"message-{width}")
    portal.set_window_size(375, 900)
    portal.get(server.url + "/portal")
    assert portal.execute_script("return window.innerWidth") == 375
    assert small_targets(portal) == []
    row = portal.find_element(By.ID, f"message-{ids[0]}")
    assert "至急" in row.text and "田中 一郎" in row.text and "外構工事" in row.text
    portal.get(server.url + f"/portal/messages/{ids[0]}")
    assert small_targets(portal) == []


def test_tapping_acknowledge_on_an_urgent_message_says_who_acknowledged_it(portal, server, operator_token, tmp_path):
    message_id = save_by_api(server, operator_token, urgent=True)
    portal.set_window_size(375, 900)
    portal.get(server.url + f"/portal/messages/{message_id}")
    portal.find_element(By.CSS_SELECTOR, "form.acknowledge button").click()
    done = wait(portal).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".acknowledged"))[0]
    assert "さんが確認しました" in done.text and not portal.find_elements(By.CSS_SELECTOR, "form.acknowledge")
    assert portal.find_element(By.CSS_SELECTOR, "a.number").get_attribute("href") == "tel:+819022223333"
    portal.save_screenshot(str(tmp_path / "message-acknowledged-375.png"))
    assert Message.get_by_id(message_id).acknowledged
