"""The figures pages (/supervisor/stats, /console/stats, /portal/stats) and their CSV: over a seeded
day, every figure they show is the one ``figures()`` gives, per interval, per firm and per operator;
each reader sees only what is theirs; the charts are drawn from the same rows."""

import csv
import datetime as dt
import io
import re

import pytest

from app.accounts import service as accounts
from app.calls.models import VOICEMAIL, BlockedNumber, Call
from app.stats import report as kpi
from app.stats.figures import KEYS, by_operator, by_tenant, figures

from .conftest import PASSWORD, log_in
from .test_call_log import JST, arrive, taken

DAY = {"period": "custom", "from": "2026-11-20", "to": "2026-11-20", "interval": "1h"}
SINCE, UNTIL = dt.datetime(2026, 11, 20, tzinfo=JST), dt.datetime(2026, 11, 21, tzinfo=JST)
SL = 20  # SERVICE_LEVEL_SECONDS, as the test app has it


def at(hour, minute, day=20):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=JST)


def call(sid, when, caller="090-1234-5678", line="03-1111-2222"):
    c, _ = Call.arrive(sid, to="+815000000000", caller=caller, forwarded_from=line, region="JP", at=when)
    return c


@pytest.fixture
def hanako(database):
    return accounts.add_user("hanako@dengon.example", "operator", password=PASSWORD, name="山本 花子")


@pytest.fixture
def seeded_day(alice, charlie, operator, hanako):
    """Firm A's day in Tokyo, firm B's call, and calls just outside the day."""
    firm = alice.tenant
    taken(call("A1", at(9, 0)), operator, wait=12, talk=95, category="message")
    taken(call("A2", at(9, 10), caller="03-9999-0000"), operator, wait=30, talk=60, category="sales")
    abandoned = call("A3", at(9, 40))
    abandoned.abandon(47, at=abandoned.arrived_at + dt.timedelta(seconds=47))
    taken(call("A4", at(10, 5)), hanako, wait=5, talk=120, category="message")
    BlockedNumber.block(firm, "080-5555-6666", by=alice)
    call("A5", at(10, 30), caller="080-5555-6666")
    Call.create(sid="A6", tenant=firm, status=VOICEMAIL, after_hours=True, from_number="+819011112222",
                arrived_at=at(13, 15))
    taken(call("A7", at(23, 50)), operator, wait=8, talk=30)
    call("A8", at(0, 10, day=21))  # the next day: counted nowhere here
    call("A0", at(23, 59, day=19))
    taken(call("B1", at(11, 0), line="06-3333-4444"), hanako, wait=25, talk=30, category="message")
    return firm


def expected(key, value) -> str:
    """How a figure reads on the page (rates as percentages, seconds to a tenth), written out here
    rather than borrowed from the code under test."""
    if value is None:
        return "—"
    if key in ("abandon_rate", "service_level"):
        return f"{value * 100:.1f}"
    if key.endswith("_s"):
        return f"{value:.1f}"
    return str(value)


def cells(html: str) -> dict:
    return dict(re.findall(r'data-key="(\w+)">([^<]*)<', html))


def table(page: str, name: str, row_attr: str) -> dict:
    body = re.search(r'<table class="list stats" data-table="%s">(.*?)</table>' % name, page, re.S).group(1)
    return {key: cells(row) for key, row in re.findall(r'<tr %s="([^"]+)">(.*?)</tr>' % row_attr, body, re.S)}


def totals(page: str) -> dict:
    return cells(re.search(r'<dl class="kpi-totals">(.*?)</dl>', page, re.S).group(1))


def read_csv(response) -> list[list[str]]:
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_supervisors_page_shows_for_a_seeded_day_exactly_the_figures_of_figures(client, supervisor, seeded_day):
    log_in(client, supervisor)
    response = client.get("/supervisor/stats", params={**DAY, "firm": "firm-a"})
    assert response.status_code == 200
    page = response.text
    truth = figures(SINCE, UNTIL, tenant=seeded_day, interval="1h", service_level=SL)
    # Worked by hand: 09h — A1 (12 s), A2 (30 s) answered, A3 abandoned: 3 offered, 1 within 20 s.
    nine = truth.intervals[9]
    assert (nine["offered"], nine["answered"], nine["abandoned"]) == (3, 2, 1)
    assert nine["service_level"] == pytest.approx(1 / 3, abs=1e-4) and nine["asa_s"] == 21.0
    assert truth.totals["offered"] == 5 and truth.totals["blocked"] == 1 and truth.totals["voicemails"] == 1
    assert totals(page) == {k: expected(k, truth.totals[k]) for k in KEYS}
    rows = table(page, "intervals", "data-start")
    assert list(rows) == [r["start"].isoformat() for r in truth.intervals] + ["total"] and len(rows) == 25
    for r in truth.intervals:
        assert rows[r["start"].isoformat()] == {k: expected(k, r[k]) for k in kpi.SHORT}, r["start"]
    assert rows["total"] == {k: expected(k, truth.totals[k]) for k in kpi.SHORT}
    assert "09:00" in page and "サービスレベル（%）" in page


def test_the_api_the_page_and_the_csv_agree_over_a_seeded_day(client, supervisor, alice, seeded_day):
    from app.accounts.service import create_token

    token = {"Authorization": f"Bearer {create_token(supervisor.email)[1]}"}
    api = client.get("/api/v1/stats", params={"since": SINCE.isoformat(), "until": UNTIL.isoformat(),
                                              "tenant": "firm-a", "interval": "1h"}, headers=token).json()
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={**DAY, "firm": "firm-a"}).text
    rows = read_csv(client.get("/supervisor/stats.csv", params={**DAY, "firm": "firm-a"}))
    assert totals(page) == {k: expected(k, api["totals"][k]) for k in KEYS}
    assert rows[-1] == ["合計", *(expected(k, api["totals"][k]).replace("—", "") for k in KEYS)]
    shown_rows = table(page, "intervals", "data-start")
    for r, line in zip(api["intervals"], rows[1:-1], strict=True):
        assert shown_rows[r["start"]] == {k: expected(k, r[k]) for k in kpi.SHORT}, r["start"]
        assert line == [r["start"][:16].replace("T", " "), *(expected(k, r[k]).replace("—", "") for k in KEYS)]
    # The firm's own page and its token read the same.
    own = client.get("/api/v1/stats", params={"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
                     headers={"Authorization": f"Bearer {create_token(alice.email)[1]}"}).json()
    assert own["totals"] == api["totals"]
    client.cookies.clear()
    log_in(client, alice)
    assert totals(client.get("/portal/stats", params=DAY).text) == {k: expected(k, own["totals"][k]) for k in KEYS}


def test_the_csv_of_each_table_holds_the_pages_figures_with_labels_in_the_readers_language(
        client, supervisor, seeded_day, operator, hanako):
    log_in(client, supervisor)
    truth = figures(SINCE, UNTIL, interval="1h", service_level=SL)
    rows = read_csv(client.get("/supervisor/stats.csv", params={**DAY, "table": "intervals"}))
    assert rows[0] == ["時間帯", *(kpi_label for kpi_label in (
        "着信数", "応答数", "放棄呼数", "放棄率（%）", "サービスレベル（%）", "平均応答時間（秒）", "平均処理時間（秒）",
        "平均通話時間（秒）", "平均後処理時間（秒）", "営業時間外の着信", "留守番電話", "着信拒否した着信", "伝言数",
        "迷惑・間違い電話"))]
    blank = {"—": ""}
    assert rows[1:-1] == [[f"{r['start']:%Y-%m-%d %H:%M}", *(blank.get(expected(k, r[k]), expected(k, r[k]))
                                                            for k in KEYS)] for r in truth.intervals]
    assert rows[-1] == ["合計", *(blank.get(expected(k, truth.totals[k]), expected(k, truth.totals[k])) for k in KEYS)]
    assert rows[-1][1:4] == ["6", "5", "1"]  # A's 5 offered and B1; A3 abandoned

    firms = read_csv(client.get("/supervisor/stats.csv", params={**DAY, "table": "firms"}))
    expected_firms = {t.name: [blank.get(expected(k, f[k]), expected(k, f[k])) for k in KEYS]
                      for t, f in by_tenant(SINCE, UNTIL, service_level=SL)}
    assert {r[0]: r[1:] for r in firms[1:]} == expected_firms
    people = read_csv(client.get("/supervisor/stats.csv", params={**DAY, "table": "operators"}))
    assert {r[0]: r[1:len(KEYS) + 1] for r in people[1:]} == {
        u.label: [blank.get(expected(k, f[k]), expected(k, f[k])) for k in KEYS]
        for u, f in by_operator(SINCE, UNTIL, service_level=SL)}
    assert {tuple(r[len(KEYS) + 1:]) for r in people[1:]} == {("", "")}  # no QA review that day (test_qa.py)
    assert {r[0]: r[2] for r in people[1:]} == {"op@dengon.example": "3", "山本 花子": "2"}

    client.post("/language", data={"language": "en", "next": "/supervisor/stats",
                                   "csrf_token": re.search(r'name="csrf-token" content="([^"]+)"',
                                                           client.get("/supervisor/stats").text).group(1)})
    english = read_csv(client.get("/supervisor/stats.csv", params={**DAY, "table": "intervals"}))
    assert english[0][:3] == ["Interval start", "Calls offered", "Calls answered"] and english[-1][0] == "Total"


def test_the_per_firm_and_per_operator_tables_agree_with_the_figures(client, admin, seeded_day, operator, hanako):
    log_in(client, admin)
    page = client.get("/supervisor/stats", params=DAY).text
    firms = table(page, "firms", "data-firm")
    assert firms == {t.slug: {k: expected(k, f[k]) for k in kpi.SHORT}
                     for t, f in by_tenant(SINCE, UNTIL, service_level=SL)}
    people = table(page, "operators", "data-operator")
    assert {i: {k: v for k, v in row.items() if not k.startswith("qa_")} for i, row in people.items()} == {
        str(u.id): {k: expected(k, f[k]) for k in kpi.SHORT} for u, f in by_operator(SINCE, UNTIL, service_level=SL)}
    assert {(row["qa_reviewed"], row["qa_score"]) for row in people.values()} == {("—", "—")}  # none reviewed (test_qa.py)
    assert people[str(hanako.id)]["answered"] == "2"


def test_the_charts_are_drawn_from_the_same_rows(client, supervisor, seeded_day):
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={**DAY, "firm": "firm-a"}).text
    calls_chart, sl_chart, asa_chart = re.findall(r'<figure class="chart".*?</figure>', page, re.S)
    assert 'role="img"' in calls_chart and "<title" in calls_chart and "時間帯ごとの着信数" in calls_chart
    # 09h: 2 answered and 1 abandoned stacked; 10h: A4 answered; 23h: A7 answered. Nothing else offered.
    bars = re.findall(r'<rect class="bar (\w+)"[^>]*><title>([^<]+)</title>', calls_chart)
    assert bars == [("answered", "09:00 応答 2"), ("abandoned", "09:00 放棄呼 1"), ("answered", "10:00 応答 1"),
                    ("answered", "23:00 応答 1")]
    points = re.findall(r'<circle class="point"[^>]*><title>([^<]+)</title>', sl_chart)
    assert points == ["09:00 サービスレベル 33.3%", "10:00 サービスレベル 100.0%", "23:00 サービスレベル 100.0%"]
    assert 'class="target"' in sl_chart and "目標 80%" in sl_chart
    assert re.findall(r'<rect class="bar asa_s"[^>]*><title>([^<]+)</title>', asa_chart) == [
        "09:00 平均応答時間 21秒", "10:00 平均応答時間 5秒", "23:00 平均応答時間 8秒"]


def test_an_operator_sees_only_their_own_figures_on_the_console(client, operator, seeded_day):
    log_in(client, operator)
    page = client.get("/console/stats", params=DAY).text
    mine = figures(SINCE, UNTIL, operator=operator, interval="1h", service_level=SL)
    assert totals(page) == {k: expected(k, mine.totals[k]) for k in KEYS}
    assert totals(page)["answered"] == "3"  # A1, A2, A7; not hanako's A4 or B1
    assert 'data-table="firms"' not in page and 'data-table="operators"' not in page and "山本 花子" not in page
    rows = read_csv(client.get("/console/stats.csv", params=DAY))
    assert rows[-1][2] == "3"
    assert client.get("/supervisor/stats").status_code == 403


def test_a_firm_sees_its_own_figures_and_never_another_firms(client, alice, charlie, seeded_day):
    log_in(client, alice)
    page = client.get("/portal/stats", params=DAY).text
    own = figures(SINCE, UNTIL, tenant=seeded_day, interval="1h", service_level=SL)
    assert totals(page) == {k: expected(k, own.totals[k]) for k in KEYS}
    assert "オペレーター" not in re.search(r"<main.*</main>", page, re.S).group(0)
    assert client.get("/portal/stats", params={**DAY, "firm": "firm-b"}).status_code == 404
    assert client.get("/portal/stats.csv", params={**DAY, "firm": "firm-b"}).status_code == 404
    assert client.get("/supervisor/stats", params={**DAY, "firm": "firm-b"}).status_code == 404
    assert client.get("/supervisor/stats.csv", params=DAY).status_code == 404
    client.cookies.clear()
    log_in(client, charlie)
    theirs = totals(client.get("/portal/stats", params=DAY).text)
    assert (theirs["offered"], theirs["answered"]) == ("1", "1")  # B1 only
    assert read_csv(client.get("/portal/stats.csv", params=DAY))[-1][1:3] == ["1", "1"]


@pytest.mark.parametrize("preset, first, last", [
    ("today", "2026-11-26", "2026-11-26"), ("yesterday", "2026-11-25", "2026-11-25"),
    ("week", "2026-11-23", "2026-11-26"), ("month", "2026-11-01", "2026-11-26"),
])
def test_the_presets_are_days_of_the_calendar_where_the_figures_are_read(preset, first, last):
    # 2026-11-26 00:30 in Tokyo is still the 25th in UTC: the days are Tokyo's.
    now = dt.datetime(2026, 11, 25, 15, 30, tzinfo=dt.timezone.utc)
    period = kpi.read_period({"period": preset}, JST, now, errors := {})
    assert not errors and (period.first.isoformat(), period.last.isoformat()) == (first, last)
    assert period.since == dt.datetime.fromisoformat(first + "T00:00+09:00")
    assert period.interval == ("1h" if first == last else "1d")


def test_a_day_by_day_month_lists_every_day_even_without_calls(client, supervisor, seeded_day):
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={"period": "custom", "from": "2026-11-01",
                                                   "to": "2026-11-30", "firm": "firm-a"}).text
    rows = table(page, "intervals", "data-start")
    assert len(rows) == 31 and rows["2026-11-20T00:00:00+09:00"]["offered"] == "5"
    assert rows["2026-11-19T00:00:00+09:00"]["offered"] == "1"  # A0 at 23:59 on the 19th
    assert rows["2026-11-02T00:00:00+09:00"] == {k: "0" if k in ("offered", "answered", "abandoned", "messages")
                                                 else "—" for k in kpi.SHORT}


@pytest.mark.parametrize("params, field", [
    ({"period": "someday"}, "期間"), ({"period": "custom", "from": "2026-11-20", "to": "2026-11-19"}, "終了日"),
    ({"period": "custom", "from": "2025-01-01", "to": "2026-11-19"}, "終了日"), ({"interval": "5m"}, "集計単位"),
    ({"period": "custom", "from": "2026-01-01", "to": "2026-03-01", "interval": "15m"}, "集計単位"),
    ({"firm": "no-such-firm"}, "顧客"), ({"operator": "999999"}, "オペレーター"),
])
def test_a_bad_choice_is_named(client, supervisor, params, field):
    log_in(client, supervisor)
    response = client.get("/supervisor/stats", params=params)
    assert response.status_code == 422
    assert re.search(r'<p class="error">%s: ' % field, response.text), response.text
    assert client.get("/supervisor/stats.csv", params=params).status_code == 422


def test_a_supervisor_reads_one_operators_figures(client, supervisor, seeded_day, hanako):
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={**DAY, "operator": hanako.id}).text
    theirs = figures(SINCE, UNTIL, operator=hanako, interval="1h", service_level=SL)
    assert totals(page) == {k: expected(k, theirs.totals[k]) for k in KEYS}
    assert totals(page)["answered"] == "2"  # A4 and B1
    assert 'data-table="firms"' not in page and 'data-table="operators"' not in page


def test_the_preset_links_keep_whose_figures_and_the_form_shows_the_days(client, supervisor, firm_a):
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={"period": "yesterday", "firm": "firm-a"}).text
    yesterday = (dt.datetime.now(JST) - dt.timedelta(days=1)).date().isoformat()
    assert re.search(r'<a href="/supervisor/stats\?firm=firm-a&amp;period=yesterday" aria-current="page">昨日</a>', page)
    assert f'name="from" value="{yesterday}"' in page and f'name="to" value="{yesterday}"' in page
    assert '<a href="/supervisor/stats?firm=firm-a&amp;period=month">今月</a>' in page
    # Sending the form asks for those days, whatever preset showed them.
    days = client.get("/supervisor/stats", params={"period": "yesterday", "from": "2026-11-02", "to": "2026-11-03"}).text
    assert len(table(days, "intervals", "data-start")) == 3 and "aria-current" not in days.split('class="presets"')[1][:600]


def test_a_csv_of_a_table_the_page_does_not_have_is_refused(client, supervisor, operator, seeded_day):
    log_in(client, supervisor)
    assert client.get("/supervisor/stats.csv", params={**DAY, "table": "calls"}).status_code == 422
    refused = client.get("/supervisor/stats.csv", params={**DAY, "operator": operator.id, "table": "firms"})
    assert refused.status_code == 422 and refused.text.startswith("表:")
    assert read_csv(client.get("/supervisor/stats.csv", params={**DAY, "operator": operator.id}))[-1][2] == "3"
    client.cookies.clear()
    log_in(client, operator)
    assert client.get("/console/stats.csv", params={**DAY, "table": "operators"}).status_code == 422


def test_the_figures_page_names_the_zone_its_times_are_in_in_words_people_read(client, supervisor, firm_a):
    from app.tenants import store

    from .conftest import minimal_config

    store.import_config(minimal_config("firm-ny", "011-555-6666", timezone="America/New_York"))
    log_in(client, supervisor)
    page = client.get("/supervisor/stats", params={**DAY, "firm": "firm-a"}).text
    assert "日本時間" in page and "Asia/Tokyo" not in page
    assert "America/New_York" in client.get("/supervisor/stats", params={**DAY, "firm": "firm-ny"}).text
    supervisor.language = "en"
    supervisor.save()
    assert "Times in Japan time" in client.get("/supervisor/stats", params=DAY).text
    calls = client.get("/supervisor/calls").text
    assert "days of the filter in Japan time" in calls and "Asia/Tokyo" not in calls


def test_a_firm_named_like_a_formula_is_plain_text_in_the_figures_csv_as_in_the_messages_csv(
        client, supervisor, seeded_day):
    from app.tenants.models import Tenant

    Tenant.update(name="=HYPERLINK(\"http://evil.example\")").where(Tenant.slug == "firm-a").execute()
    log_in(client, supervisor)
    response = client.get("/supervisor/stats.csv", params={**DAY, "table": "firms"})
    assert b"\r\n" in response.content and b"\n" not in response.content.replace(b"\r\n", b"")  # CRLF for Excel
    assert "'=HYPERLINK(\"http://evil.example\")" in {r[0] for r in read_csv(response)}
