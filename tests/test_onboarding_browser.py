"""In a real browser an account manager creates a firm with the wizard (checked as typed), runs its test
call and sees the screen pop with its 名乗り; the history shows its versions and restoring one works.
Every page fits a 375 px phone without sideways scrolling."""

import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser

PHRASE = "お電話ありがとうございます。青空会計事務所でございます。"


@pytest.fixture
def manager(tmp_path, server, demo_logins):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "admin")
    driver = chromium(tmp_path / "admin")
    driver.set_window_size(1366, 1000)
    log_in(driver, server, email, password)
    yield driver
    driver.quit()


def fits(driver, tmp_path, name: str) -> None:
    """Screenshots at 1366 and 375 px; at 375 nothing sticks out sideways."""
    for width in (1366, 375):
        driver.set_window_size(width, 1000)
        driver.save_screenshot(str(tmp_path / f"{name}-{width}.png"))
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (
            name, width, driver.execute_script(
                "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                "window.innerWidth).map(e => e.tagName + '.' + e.className).slice(0, 8)"))
    driver.set_window_size(1366, 1000)


def dengon(environ, tmp_path, *args, stdin: str = "") -> str:
    result = subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, input=stdin,
                            cwd=tmp_path, timeout=60, env={"PATH": os.environ["PATH"], **environ})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_manager_creates_a_firm_runs_its_test_call_and_restores_an_old_version(
        manager, server, environ, tmp_path):
    d = manager
    d.get(server.url + "/admin")
    d.find_element(By.CSS_SELECTOR, "a[href='/firms/new']").click()
    wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "form.wizard"))

    d.find_element(By.NAME, "name").send_keys("青空会計事務所")
    assert d.find_element(By.NAME, "answer_phrase").get_attribute("value") == PHRASE  # follows the name
    d.find_element(By.NAME, "name_kana").send_keys("あおぞらかいけいじむしょ")
    d.find_element(By.NAME, "slug").send_keys("yamada-law")
    wait(d).until(lambda d: "すでに 山田法律事務所 のスラッグです。" in d.find_element(By.ID, "slug-check").text)
    d.find_element(By.NAME, "slug").clear()
    d.find_element(By.NAME, "slug").send_keys("aozora")
    wait(d).until(lambda d: "使用できます" in d.find_element(By.ID, "slug-check").text)

    number = d.find_elements(By.NAME, "number")[0]
    number.send_keys("03-1234-5678")  # 山田法律事務所's own line
    wait(d).until(lambda d: "すでに 山田法律事務所 の番号です。" in d.find_element(By.ID, "number-0-check").text)
    number.clear()
    number.send_keys("03-6000-1234")
    wait(d).until(lambda d: "まだどの顧客も使っていません" in d.find_element(By.ID, "number-0-check").text)

    d.find_element(By.CSS_SELECTOR, "input[name='hours_template'][value='weekdays-sat-am']").click()
    assert d.find_element(By.NAME, "hours-sat").get_attribute("value") == "09:00-12:00"
    d.find_element(By.NAME, "owner_name").send_keys("青空 一郎")
    d.find_element(By.NAME, "owner_email").send_keys("ichiro@aozora.example.jp")
    fits(d, tmp_path, "wizard")
    d.find_element(By.CSS_SELECTOR, "form.wizard button[type=submit]").click()
    wait(d).until(lambda d: "顧客を登録しました" in d.find_element(By.TAG_NAME, "main").text)
    assert "ichiro@aozora.example.jp に招待メールを送りました" in d.find_element(By.TAG_NAME, "main").text
    fits(d, tmp_path, "created")

    # The test call: the screen pop exactly as an operator gets it, labelled as a test.
    d.find_element(By.CSS_SELECTOR, "form.test-call button").click()
    wait(d).until(lambda d: "/console/calls/" in d.current_url)
    assert d.find_element(By.CSS_SELECTOR, ".pop-name").text == "青空会計事務所"
    assert d.find_element(By.CSS_SELECTOR, ".screen-pop .answer-phrase").text == PHRASE
    assert "テスト通話" in d.find_element(By.CSS_SELECTOR, ".test-call-banner").text
    assert d.find_elements(By.CSS_SELECTOR, "form.message-form, .message-form")
    fits(d, tmp_path, "test-call")

    # A change from a file makes version 2; the history shows both, and version 1 comes back in one step.
    exported = dengon(environ, tmp_path, "tenants", "export", "aozora")
    folder = tmp_path / "files" / "aozora"
    folder.mkdir(parents=True)
    (folder / "tenant.toml").write_text(exported.replace(PHRASE, "はい、青空会計です。"), encoding="utf-8")
    dengon(environ, tmp_path, "tenants", "import", str(folder))
    d.get(server.url + "/firms/aozora")
    d.find_element(By.CSS_SELECTOR, "a[href='/firms/aozora/history']").click()
    wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".firm-version"))
    versions = d.find_elements(By.CSS_SELECTOR, ".firm-version")
    assert [v.get_attribute("data-via") for v in versions] == ["file", "wizard"]
    assert "ファイル取り込み" in versions[0].text and "新規登録ウィザード" in versions[1].text
    fits(d, tmp_path, "history")

    d.find_element(By.CSS_SELECTOR, "#version-2 a.button").click()
    wait(d).until(lambda d: "第 1 版 → 第 2 版" in d.find_element(By.TAG_NAME, "h1").text)
    assert "answer_phrase" in d.find_element(By.CSS_SELECTOR, "table.changes-table").text
    assert "はい、青空会計です。" in d.find_element(By.CSS_SELECTOR, "table.changes-table").text
    fits(d, tmp_path, "diff")

    d.back()
    wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#version-1 button.restore"))
    d.find_element(By.CSS_SELECTOR, "#version-1 button.restore").click()
    wait(d).until(lambda d: "第 1 版に戻しました。第 3 版として保存しました。" in d.find_element(By.TAG_NAME, "main").text)
    assert d.find_elements(By.CSS_SELECTOR, ".firm-version")[0].get_attribute("data-via") == "restore"
    d.get(server.url + "/firms/aozora")
    assert d.find_element(By.CSS_SELECTOR, ".answer-phrase").text == PHRASE
