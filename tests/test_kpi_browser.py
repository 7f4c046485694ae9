"""The figures in a real browser: over a busy seeded day the charts are drawn (every chart has a size
and its bars and points have theirs), at 1366 and at 375 px wide, the page never scrolls sideways
(its wide tables scroll within themselves), nor does the staff's call log; screenshots are kept in
the test's directory."""

import datetime as dt

import pytest
from selenium.webdriver.common.by import By

from app.accounts.models import User
from app.calls.models import ABANDONED, COMPLETED, Call
from app.tenants.models import Tenant

from .browser import chromium
from .test_browser import log_in, wait

pytestmark = pytest.mark.browser

JST = dt.timezone(dt.timedelta(hours=9))
DAY = "period=custom&from=2026-11-20&to=2026-11-20&interval=1h"


@pytest.fixture
def busy_day(database, demo_logins):
    """Calls to every demo firm from 08:00 to 19:59, busiest at midday, a few abandoned, some slow."""
    operators = [User.by_email(e) for e, _p, role, _s in demo_logins if role == "operator"]
    firms = list(Tenant.select())
    n = 0
    for hour in range(8, 20):
        for i in range(2 + 6 - abs(13 - hour) if abs(13 - hour) < 6 else 2):
            n += 1
            arrived = dt.datetime(2026, 11, 20, hour, (i * 7) % 60, tzinfo=JST)
            wait_s = (n * 13) % 45
            if n % 7 == 0:
                Call.create(sid=f"CA-busy-{n}", tenant=firms[n % len(firms)], status=ABANDONED, arrived_at=arrived,
                            wait_seconds=wait_s, ended_at=arrived + dt.timedelta(seconds=wait_s))
                continue
            answered = arrived + dt.timedelta(seconds=wait_s)
            Call.create(sid=f"CA-busy-{n}", tenant=firms[n % len(firms)], status=COMPLETED, arrived_at=arrived,
                        claimed_by=operators[n % len(operators)], claimed_at=answered, answered_at=answered,
                        wait_seconds=wait_s, talk_seconds=60 + n % 120,
                        ended_at=answered + dt.timedelta(seconds=60 + n % 120))
    return n


@pytest.fixture
def supervisor_browser(tmp_path, server, demo_logins):
    email, password, _role, _slug = next(l for l in demo_logins if l[2] == "supervisor")
    driver = chromium(tmp_path / "supervisor")
    log_in(driver, server, email, password)
    yield driver
    driver.quit()


def drawn(driver) -> list[dict]:
    """Each chart's size and how many of its bars and points have a size of their own."""
    return driver.execute_script("""
        return Array.from(document.querySelectorAll('figure.chart svg'), svg => {
          const box = svg.getBoundingClientRect();
          const sized = sel => Array.from(svg.querySelectorAll(sel)).filter(e => {
            const b = e.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length;
          return {label: svg.getAttribute('aria-labelledby'), title: svg.querySelector('title').textContent,
                  width: box.width, height: box.height, bars: sized('rect.bar'), points: sized('circle.point'),
                  target: svg.querySelectorAll('line.target').length};
        });""")


def test_the_charts_are_drawn_and_the_page_fits_a_desktop_and_a_phone(supervisor_browser, server, busy_day, tmp_path):
    d = supervisor_browser
    for width in (1366, 375):
        d.set_window_size(width, 900)
        d.get(f"{server.url}/supervisor/stats?{DAY}")
        wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg"))
        charts = drawn(d)
        assert [c["title"] for c in charts] == ["時間帯ごとの着信数", "時間帯ごとのサービスレベル", "時間帯ごとの平均応答時間"]
        for c in charts:
            assert c["width"] > 0.7 * min(width, 400) and c["height"] >= 180, (width, c)
        calls, service_level, asa = charts
        assert calls["bars"] >= 12 and asa["bars"] == 12, (width, charts)  # every hour from 08:00 to 19:00
        assert service_level["points"] == 12 and service_level["target"] == 1
        # The bar of the busiest hour is the tallest: heights follow the numbers.
        heights = d.execute_script("""
            const bars = document.querySelectorAll('#chart-1 rect.bar'); const by = {};
            bars.forEach(b => { const t = b.querySelector('title').textContent.split(' ')[0];
                                by[t] = (by[t] || 0) + b.getBoundingClientRect().height; });
            return by;""")
        assert max(heights, key=heights.get) == "13:00", heights
        assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (
            width, d.execute_script("return [...document.querySelectorAll('main *')].filter(e => "
                                    "e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + "
                                    "e.className).slice(0, 8)"))
        full = d.execute_script("return document.documentElement.scrollHeight")
        d.set_window_size(width, min(full + 120, 4000))
        d.save_screenshot(str(tmp_path / f"figures-{width}.png"))
        d.set_window_size(width, 900)
        # The staff's call log of the same day: fifty calls to a page, as cards on a phone.
        d.get(f"{server.url}/supervisor/calls?from=2026-11-20&to=2026-11-20")
        assert len(d.find_elements(By.CSS_SELECTOR, "tr.call")) == 50
        assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), width
        d.save_screenshot(str(tmp_path / f"call-log-{width}.png"))


def test_a_firm_reads_its_own_figures_on_a_phone(tmp_path, server, demo_logins, busy_day):
    email, password = next((e, p) for e, p, role, slug in demo_logins if role == "client" and slug == "daiwa-kensetsu")
    d = chromium(tmp_path / "client")
    try:
        log_in(d, server, email, password)
        d.set_window_size(375, 900)
        d.get(f"{server.url}/portal/stats?{DAY}")
        wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "figure.chart svg"))
        charts = drawn(d)
        assert len(charts) == 3 and all(c["width"] > 250 and c["height"] >= 180 for c in charts), charts
        assert charts[0]["bars"] > 0 and charts[1]["points"] > 0
        assert d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        d.save_screenshot(str(tmp_path / "portal-figures-375.png"))
    finally:
        d.quit()
