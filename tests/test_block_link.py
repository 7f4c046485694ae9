"""The signed "block this number" link of the report e-mail: it works without logging in (a confirm
page, then a POST), blocks that caller for that firm only, and refuses a link altered or expired."""

import re
import time
from html import unescape

import pytest

from app.audit import AuditEntry
from app.calls import blocking
from app.calls.models import BlockedNumber
from app.tenants import store

from .conftest import minimal_config
from .test_report_email import day, jst, law, report  # noqa: F401  (the seeded day and its report)


def block_links(html: str) -> dict[str, str]:
    """The report's block links by the number they block, as paths."""
    links = [unescape(h) for h in re.findall(r'href="(http://testserver/block/[^"]+)"', html)]
    return {blocking.read_link("test-secret-key-" + "x" * 32, link.rsplit("/", 1)[1])[1]:
            link.removeprefix("http://testserver") for link in links}


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_link_asks_first_then_blocks_the_caller_without_logging_in(report, law, client):
    path = block_links(report.html)["+81312340000"]  # the sales call the rules left out
    page = client.get(path)
    assert page.status_code == 200
    assert "山田法律事務所" in page.text and "03-1234-0000" in page.text and "この番号を着信拒否しますか" in page.text
    assert not BlockedNumber.blocks(law.id, "+81312340000")  # opening the link (a mail scanner may) blocks nothing

    done = client.post(path, data={"csrf_token": form_token(page.text)})
    assert done.status_code == 200 and "着信拒否しました" in done.text
    row = BlockedNumber.get(BlockedNumber.tenant == law)
    assert (row.number, row.created_by) == ("+81312340000", None) and row.note == "報告メールから着信拒否"
    assert BlockedNumber.blocks(law.id, "+81312340000")  # the number's next call is rejected
    entry = AuditEntry.get(AuditEntry.action == "number.block")
    assert (entry.tenant_id, entry.target, entry.actor_label) == (law.id, "+81312340000", "report e-mail link")

    # Twice is once; the page says it is done.
    again = client.post(path, data={"csrf_token": form_token(client.get(path).text)})
    assert again.status_code == 200 and BlockedNumber.select().count() == 1
    assert "この番号を着信拒否しますか" not in client.get(path).text


def test_the_confirm_needs_the_forms_csrf_token(report, law, client):
    path = block_links(report.html)["+81698765432"]
    client.get(path)
    assert client.post(path, data={}).status_code == 403
    assert not BlockedNumber.blocks(law.id, "+81698765432")


def test_a_link_blocks_only_for_the_firm_it_names(report, law, client, database):
    other = store.import_config(minimal_config("other", "06-3333-4444"))
    path = block_links(report.html)["+81312340000"]
    client.post(path, data={"csrf_token": form_token(client.get(path).text)})
    assert BlockedNumber.blocks(law.id, "+81312340000") and not BlockedNumber.blocks(other.id, "+81312340000")


def test_an_altered_link_is_refused_in_plain_words(report, law, client):
    path = block_links(report.html)["+81312340000"]
    payload, _, rest = path.removeprefix("/block/").partition(".")
    forged = blocking.link_token("another secret", law.id, "+81312340000")
    for bad in (path[:-3], f"/block/{forged}", "/block/nonsense"):
        page = client.get(bad)
        assert page.status_code == 400 and "書き換えられています" in page.text, bad
        assert client.post(bad, data={"csrf_token": form_token(page.text)}).status_code == 400
    assert BlockedNumber.select().count() == 0


def test_an_expired_link_is_refused_in_the_firms_language(database, client, settings, monkeypatch):
    firm = store.import_config(minimal_config("harbor", "03-5555-1000", name="Harbor IT", language="en"))
    issued = time.time() - blocking.LINK_LIFETIME.total_seconds() - 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: issued)
    token = blocking.link_token(settings.SECRET_KEY, firm.id, "+81312340000")
    monkeypatch.undo()
    page = client.get(f"/block/{token}")
    assert page.status_code == 400 and "This block link has expired" in page.text
    # Within its 30 days the same kind of link works.
    fresh = client.get(f"/block/{blocking.link_token(settings.SECRET_KEY, firm.id, '+81312340000')}")
    assert fresh.status_code == 200 and "Block this caller?" in fresh.text


def test_the_page_speaks_the_firms_language_whatever_the_browser_chose(report, client):
    client.cookies.set("dengon_lang", "en")
    page = client.get(block_links(report.html)["+81312340000"])
    assert "この番号を着信拒否しますか" in page.text and '<html lang="ja">' in page.text


@pytest.mark.browser
def test_the_block_page_works_on_a_phone(server, demo_logins, environ, tmp_path):
    from selenium.webdriver.common.by import By

    from app import db
    from app.tenants.models import Tenant

    from .browser import chromium
    from .test_browser import wait

    db.bind(environ["DATABASE_URL"])
    with db.db.connection_context():
        firm = Tenant.by_slug("yamada-law")
    token = blocking.link_token(environ["SECRET_KEY"], firm.id, "+81312340000")
    driver = chromium(tmp_path)
    try:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
        driver.get(f"{server.url}/block/{token}")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
        driver.save_screenshot(str(tmp_path / "block-confirm-375.png"))
        driver.find_element(By.CSS_SELECTOR, ".block-confirm button[type=submit]").click()
        wait(driver).until(lambda d: "着信拒否しました" in d.find_element(By.TAG_NAME, "h1").text)
        driver.save_screenshot(str(tmp_path / "block-done-375.png"))
    finally:
        driver.quit()
    with db.db.connection_context():
        assert BlockedNumber.blocks(firm.id, "+81312340000")
