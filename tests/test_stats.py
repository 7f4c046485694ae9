"""The figures (stats/figures.py, GET /api/v1/stats): one seeded day with fixed times, every figure
compared with values worked out by hand. Firm A is in Tokyo (UTC+9); firm NY in New York, whose
2026-11-01 is the 25-hour day summer time ends (01:00–02:00 happens twice)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.calls.models import ABANDONED, BLOCKED, COMPLETED, QUEUED, VOICEMAIL, Call
from app.messages.models import Message
from app.stats import figures as stats
from app.stats import rollup
from app.stats.rollup import StatsDay, StatsDirty, StatsFirm, StatsOperatorDay, StatsZoneDay
from app.tenants import store
from app.tenants.models import Tenant

from .conftest import minimal_config
from .test_api import bearer

JST, NY = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
DAY = dt.datetime(2026, 11, 1, tzinfo=JST)  # firm A's day: 2026-10-31 15:00Z → 2026-11-01 15:00Z
NEXT = DAY + dt.timedelta(days=1)
NY_DAY, NY_NEXT = dt.datetime(2026, 11, 1, tzinfo=NY), dt.datetime(2026, 11, 2, tzinfo=NY)  # 04:00Z → 05:00Z next day
SL = 20


def call(sid, firm, at, status, op=None, wait=None, talk=None, after_hours=False, test=False,
         category=None, acw=None):
    """A call arrived ``at``; when taken, ``wait`` s later, talking ``talk`` s; its message (of
    ``category``) saved ``acw`` s after its end."""
    answered = at + dt.timedelta(seconds=wait) if op else None
    ended = answered + dt.timedelta(seconds=talk) if op and talk is not None else None
    c = Call.create(sid=sid, tenant=firm, status=status, arrived_at=at, after_hours=after_hours, test=test,
                    claimed_by=op, claimed_at=answered, answered_at=answered, ended_at=ended,
                    wait_seconds=wait, talk_seconds=talk)
    if category:
        taken = ended + dt.timedelta(seconds=acw) if acw is not None else at + dt.timedelta(seconds=wait or 0)
        Message.create(tenant=firm, call=c, call_type="message", category=category, taken_at=taken, taken_by=op,
                       after_call_seconds=acw)
    return c


@pytest.fixture
def day(firm_a, operator, supervisor):
    """The seeded day. op1 = operator, op2 = supervisor (who takes calls too)."""
    op1, op2 = operator, supervisor
    ny = store.import_config(minimal_config("firm-ny", "011-555-6666", timezone="America/New_York"))
    t = lambda h, m, s=0: dt.datetime(2026, 11, 1, h, m, s, tzinfo=JST)  # noqa: E731
    # Firm A, 2026-11-01 in Tokyo
    call("A1", firm_a, t(9, 5), COMPLETED, op1, wait=10, talk=100, category="message", acw=30)  # msg 09:07:20
    call("A2", firm_a, t(9, 14, 50), COMPLETED, op1, wait=25, talk=200, category="message", acw=60)
    # A2 is answered at 09:15:15 and its message saved at 09:19:35: the call counts at 09:00, the message at 09:15.
    call("A3", firm_a, t(9, 20), ABANDONED, wait=40)
    call("A4", firm_a, t(9, 40), COMPLETED, op2, wait=5, talk=30, category="sales", acw=10)
    call("A5", firm_a, t(23, 59, 50), COMPLETED, op1, wait=20, talk=60)  # ends after midnight; no message yet
    call("A6", firm_a, t(20, 0), VOICEMAIL, after_hours=True)
    call("A7", firm_a, t(21, 0), COMPLETED, op2, wait=15, talk=46, after_hours=True, category="wrong_number", acw=20)
    call("A8", firm_a, t(12, 0), BLOCKED)
    call("A9", firm_a, t(13, 0), COMPLETED, op1, wait=0, talk=50, test=True, category="message", acw=5)  # never counts
    call("A10", firm_a, t(15, 0), QUEUED)  # still waiting
    # The evening before: the call counts on 10-31, its message (saved 00:00:20) on 11-01.
    call("A0", firm_a, dt.datetime(2026, 10, 31, 23, 59, tzinfo=JST), COMPLETED, op1, wait=10, talk=40,
         category="message", acw=30)
    Message.create(tenant=firm_a, call=None, call_type="message", category="message", taken_at=t(10, 0))  # by API
    call("U1", None, t(10, 0), ABANDONED, wait=8)  # an unknown number's call
    # Firm NY, 2026-11-01 in New York
    call("B1", ny, dt.datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=0), COMPLETED, op1, wait=30, talk=120,
         category="message", acw=40)  # 01:30 EDT = 05:30Z
    call("B2", ny, dt.datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=1), ABANDONED, wait=15)  # 01:30 EST = 06:30Z
    call("B3", ny, dt.datetime(2026, 11, 1, 23, 30, tzinfo=NY), COMPLETED, op2, wait=0, talk=60,
         category="prank", acw=0)  # 04:30Z on 11-02: already 11-02 in Tokyo
    return firm_a, ny, op1, op2


# Firm A's 2026-11-01 (A0, A9 out; U1 and NY are other firms):
#   offered  A1 A2 A3 A4 A5 A7 A10 = 7 (A6 voicemail, A8 blocked never waited); answered A1 A2 A4 A5 A7 = 5
#   abandoned A3 = 1 → 1/7 = 0.1429;  within 20 s: A1 10, A4 5, A5 20, A7 15 (A2 25 is not) → 4/7 = 0.5714
#   asa (10+25+5+20+15)/5 = 75/5 = 15.0;  talk (100+200+30+60+46)/5 = 436/5 = 87.2
#   acw (30+60+10+20)/4 = 30.0 (A5 has no message);  aht (130+260+40+66)/4 = 496/4 = 124.0
#   after_hours A6 A7 = 2; voicemails 1; blocked 1
#   messages taken that day: A0's, A1's, A2's, A4's, A7's, the API's = 6 (A9's is a test call's); noise sales+wrong = 2
FIRM_A = {"offered": 7, "answered": 5, "abandoned": 1, "abandon_rate": 0.1429, "service_level": 0.5714,
          "asa_s": 15.0, "aht_s": 124.0, "talk_s": 87.2, "acw_s": 30.0, "after_hours": 2, "voicemails": 1,
          "blocked": 1, "messages": 6, "noise": 2}
# Firm NY's 2026-11-01 (25 hours): offered B1 B2 B3 = 3, answered B1 B3 = 2, abandoned B2 → 0.3333
#   within 20 s: B3 (0) → 1/3;  asa (30+0)/2 = 15.0;  talk (120+60)/2 = 90.0;  acw (40+0)/2 = 20.0
#   aht (160+60)/2 = 110.0;  messages B1's (05:33:10Z), B3's (23:31 EST) = 2; noise prank = 1
FIRM_NY = {"offered": 3, "answered": 2, "abandoned": 1, "abandon_rate": 0.3333, "service_level": 0.3333,
           "asa_s": 15.0, "aht_s": 110.0, "talk_s": 90.0, "acw_s": 20.0, "after_hours": 0, "voicemails": 0,
           "blocked": 0, "messages": 2, "noise": 1}
# Every firm, each on its own 2026-11-01, and U1 (abandoned, 8 s): offered 7+3+1 = 11, answered 5+2 = 7,
#   abandoned 1+1+1 = 3 → 3/11 = 0.2727; within 4+1 = 5 → 5/11 = 0.4545; asa (75+30)/7 = 15.0
#   talk (436+180)/7 = 88.0; acw (120+40)/6 = 26.67 → 26.7; aht (496+220)/6 = 119.33 → 119.3; messages 6+2 = 8; noise 3
ALL = {"offered": 11, "answered": 7, "abandoned": 3, "abandon_rate": 0.2727, "service_level": 0.4545,
       "asa_s": 15.0, "aht_s": 119.3, "talk_s": 88.0, "acw_s": 26.7, "after_hours": 2, "voicemails": 1,
       "blocked": 1, "messages": 8, "noise": 3}
EMPTY = {"offered": 0, "answered": 0, "abandoned": 0, "abandon_rate": None, "service_level": None, "asa_s": None,
         "aht_s": None, "talk_s": None, "acw_s": None, "after_hours": 0, "voicemails": 0, "blocked": 0,
         "messages": 0, "noise": 0}


def figures(*args, **kwargs):
    return stats.figures(*args, service_level=SL, **kwargs)


def only(row: dict) -> dict:
    return {k: row[k] for k in stats.KEYS}


def test_a_firms_day_counts_every_call_by_arrival_in_the_firms_zone(day):
    firm_a, ny, _op1, _op2 = day
    assert figures(DAY, NEXT, tenant=firm_a).totals == FIRM_A
    assert figures(NY_DAY, NY_NEXT, tenant=ny).totals == FIRM_NY
    # The evening before holds only A0: answered in 10 s, 40 s talk, 30 s after-call work; its message is the next day's.
    before = figures(DAY - dt.timedelta(days=1), DAY, tenant=firm_a).totals
    assert (before["offered"], before["answered"], before["aht_s"], before["acw_s"], before["messages"]) == (1, 1, 70.0, 30.0, 0)


def test_quarter_hours_are_aligned_in_the_firms_zone_and_the_quiet_ones_are_listed(day):
    firm_a = day[0]
    result = figures(DAY, NEXT, tenant=firm_a, interval="15m")
    assert len(result.intervals) == 96
    assert result.intervals[0]["start"] == DAY and result.intervals[0]["start"].utcoffset() == dt.timedelta(hours=9)
    assert result.totals == FIRM_A  # the intervals add up to the day
    by_start = {row["start"].astimezone(JST).strftime("%H:%M"): only(row) for row in result.intervals}
    # 09:00: A1 and A2 (A2 arrived at 09:14:50, answered after 09:15): asa (10+25)/2, talk (100+200)/2,
    # acw (30+60)/2, aht (130+260)/2; only A1's message (A2's was saved at 09:19:35).
    assert by_start["09:00"] == {**EMPTY, "offered": 2, "answered": 2, "abandon_rate": 0.0, "service_level": 0.5,
                                 "asa_s": 17.5, "talk_s": 150.0, "acw_s": 45.0, "aht_s": 195.0, "messages": 1}
    # 09:15: A3 abandoned, and A2's message.
    assert by_start["09:15"] == {**EMPTY, "offered": 1, "abandoned": 1, "abandon_rate": 1.0, "service_level": 0.0,
                                 "messages": 1}
    assert by_start["08:45"] == EMPTY
    assert by_start["00:00"] == {**EMPTY, "messages": 1}  # A0's message, saved at 00:00:20
    assert by_start["23:45"]["answered"] == 1  # A5, at 23:59:50, though it ended the next day
    assert by_start["12:00"]["blocked"] == 1 and by_start["12:00"]["offered"] == 0
    assert by_start["13:00"] == EMPTY  # the test call
    assert by_start["15:00"] == {**EMPTY, "offered": 1, "abandon_rate": 0.0, "service_level": 0.0}  # still waiting


def test_half_hours_and_hours_hold_the_same_calls(day):
    firm_a = day[0]
    half = figures(DAY, NEXT, tenant=firm_a, interval="30m")
    hours = figures(DAY, NEXT, tenant=firm_a, interval="1h")
    assert (len(half.intervals), len(hours.intervals)) == (48, 24)
    assert half.totals == hours.totals == FIRM_A
    nine = hours.intervals[9]
    # 09:00–10:00: A1 A2 A3 A4: offered 4, answered 3, abandoned 1; within 20 s A1 A4 → 2/4;
    # asa (10+25+5)/3 = 13.3; talk (100+200+30)/3 = 110.0; acw (30+60+10)/3 = 33.3; aht (130+260+40)/3 = 143.3;
    # messages A1's, A2's, A4's (sales) = 3, noise 1.
    assert only(nine) == {**EMPTY, "offered": 4, "answered": 3, "abandoned": 1, "abandon_rate": 0.25,
                          "service_level": 0.5, "asa_s": 13.3, "talk_s": 110.0, "acw_s": 33.3, "aht_s": 143.3,
                          "messages": 3, "noise": 1}


def test_the_day_summer_time_ends_has_25_hours_and_the_repeated_hour_twice(day):
    ny = day[1]
    hours = figures(NY_DAY, NY_NEXT, tenant=ny, interval="1h")
    assert len(hours.intervals) == 25
    first, second = hours.intervals[1], hours.intervals[2]
    assert first["start"].isoformat() == "2026-11-01T01:00:00-04:00" and (first["offered"], first["answered"]) == (1, 1)
    assert second["start"].isoformat() == "2026-11-01T01:00:00-05:00" and second["abandoned"] == 1
    days = figures(NY_DAY, NY_NEXT, tenant=ny, interval="1d")
    assert [row["start"].isoformat() for row in days.intervals] == ["2026-11-01T00:00:00-04:00"]
    assert days.totals == FIRM_NY


def test_days_for_every_firm_are_each_firms_own_local_day(day):
    result = figures(DAY - dt.timedelta(days=1), NEXT + dt.timedelta(days=1), interval="1d")
    assert [row["start"].isoformat() for row in result.intervals] == [
        "2026-10-31T00:00:00+09:00", "2026-11-01T00:00:00+09:00", "2026-11-02T00:00:00+09:00"]
    assert only(result.intervals[1]) == ALL
    # 10-31: A0 alone (B3, at 13:30 on 11-02 in Tokyo, is its own firm's 11-01).
    assert result.intervals[0]["offered"] == 1 and only(result.intervals[2]) == EMPTY
    # Without intervals, the period is the instants asked: B3 (04:30Z on 11-02) falls outside Tokyo's day,
    # so 11 − 1 = 10 offered, 7 − 1 = 6 answered, and B3's message left out (8 − 1 = 7).
    plain = figures(DAY, NEXT).totals
    assert (plain["offered"], plain["answered"], plain["abandoned"], plain["messages"]) == (10, 6, 3, 7)


def test_an_operators_figures_are_the_calls_and_messages_they_took(day):
    firm_a, _ny, op1, op2 = day
    # op2 took A4 (5 s, 30 s talk, 10 s acw) and A7 (15 s, 46 s, 20 s): asa 10.0, talk 38.0, acw 15.0, aht 53.0
    mine = figures(DAY, NEXT, tenant=firm_a, operator=op2).totals
    assert mine == {**EMPTY, "offered": 2, "answered": 2, "abandon_rate": 0.0, "service_level": 1.0, "asa_s": 10.0,
                    "talk_s": 38.0, "acw_s": 15.0, "aht_s": 53.0, "after_hours": 1, "messages": 2, "noise": 2}
    people = dict((u.id, f) for u, f in stats.by_operator(DAY, NEXT, service_level=SL))
    # op1 in Tokyo's day: A1 A2 A5 and B1 (05:30Z); the test call A9 not.
    assert people[op1.id]["answered"] == 4 and people[op2.id]["answered"] == 2
    firms = {t.slug: f for t, f in stats.by_tenant(NY_DAY, NY_NEXT, service_level=SL)}
    assert firms["firm-ny"] == FIRM_NY


def test_the_service_level_follows_its_setting(day):
    firm_a = day[0]
    # Within 25 s: A2 too → 5/7
    assert stats.figures(DAY, NEXT, tenant=firm_a, service_level=25).totals["service_level"] == 0.7143


# --- the API ---------------------------------------------------------------------------------------

def _get(client, user, **params):
    return client.get("/api/v1/stats", params=params, headers=bearer(user))


def test_the_api_gives_what_figures_gives(client, day, supervisor):
    firm_a = day[0]
    r = _get(client, supervisor, tenant="firm-a", since=DAY.isoformat(), until=NEXT.isoformat(), interval="1h")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totals"] == FIRM_A
    expected = figures(DAY, NEXT, tenant=firm_a, interval="1h")
    assert [dict(row, start=row["start"].isoformat()) for row in expected.intervals] == body["intervals"]
    assert body["intervals"][9]["start"] == "2026-11-01T09:00:00+09:00"
    everyone = _get(client, supervisor, since=DAY.isoformat(), until=(NEXT + dt.timedelta(days=1)).isoformat(),
                    interval="1d").json()
    assert everyone["intervals"][0] == {"start": "2026-11-01T00:00:00+09:00", **ALL}


def test_the_api_names_the_whole_intervals_it_counted_not_only_the_period_asked(client, day, supervisor):
    firm_a = day[0]
    since, until = DAY + dt.timedelta(hours=9, minutes=10), DAY + dt.timedelta(hours=9, minutes=50)
    body = _get(client, supervisor, tenant="firm-a", since=since.isoformat(), until=until.isoformat(),
                interval="1h").json()
    # 09:10–09:50 by the hour is the hour 09:00–10:00: A1 (09:05) counts, and the answer says so.
    assert (body["since"], body["until"]) == ("2026-11-01T09:00:00+09:00", "2026-11-01T10:00:00+09:00")
    assert body["totals"] == figures(DAY + dt.timedelta(hours=9), DAY + dt.timedelta(hours=10), tenant=firm_a).totals
    days = _get(client, supervisor, tenant="firm-a", since=since.isoformat(), until=until.isoformat(),
                interval="1d").json()
    assert (days["since"], days["until"]) == ("2026-11-01T00:00:00+09:00", "2026-11-02T00:00:00+09:00")
    plain = _get(client, supervisor, tenant="firm-a", since=since.isoformat(), until=until.isoformat()).json()
    assert (plain["since"], plain["until"]) == (since.isoformat(), until.isoformat())


def test_the_service_level_is_the_apps_setting_even_when_the_day_rows_were_made_with_another(
        client, day, supervisor):
    firm_a = day[0]
    rollup.refresh(SL)  # a worker still at 20 s
    client.app.state.settings = client.app.state.settings.replace(SERVICE_LEVEL_SECONDS="30")
    body = _get(client, supervisor, tenant="firm-a", since=DAY.isoformat(), until=NEXT.isoformat()).json()
    assert body["totals"]["service_level"] == round(5 / 7, 4)  # A2's 25 s wait is within 30 s
    assert body["totals"] == stats.figures(DAY, NEXT, tenant=firm_a, service_level=30, rollup_days=False).totals


def test_a_firm_reads_its_own_figures_and_no_other_firms(client, day, alice, charlie):
    own = _get(client, alice, since=DAY.isoformat(), until=NEXT.isoformat())
    assert own.status_code == 200 and own.json()["totals"] == FIRM_A and own.json()["tenant"] == "firm-a"
    assert _get(client, alice, tenant="firm-a", since=DAY.isoformat(), until=NEXT.isoformat()).json()["totals"] == FIRM_A
    assert _get(client, alice, tenant="firm-ny").status_code == 404
    assert _get(client, charlie, tenant="firm-a").status_code == 404
    assert _get(client, charlie, tenant="no-such-firm").status_code == 404
    assert _get(client, alice, operator="1").json()["errors"].keys() == {"operator"}


def test_operators_do_not_read_figures(client, day, operator):
    assert _get(client, operator).status_code == 403


@pytest.mark.parametrize("params, field", [
    ({"since": "yesterday"}, "since"), ({"until": "2026-11-01T00:00:00"}, "until"),
    ({"interval": "5m"}, "interval"), ({"operator": "nobody@example.jp"}, "operator"),
    ({"since": "2026-11-02T00:00:00+09:00", "until": "2026-11-01T00:00:00+09:00"}, "until"),
    ({"since": "2020-01-01T00:00:00+09:00", "until": "2026-01-01T00:00:00+09:00", "interval": "15m"}, "interval"),
    # Tokyo's offset in 772 was +09:18:59, which no ISO 8601 reader takes back: found by the fuzzer.
    ({"since": "0772-08-01T04:13:19+09:52"}, "since"),
])
def test_a_bad_parameter_is_named(client, day, supervisor, params, field):
    r = _get(client, supervisor, **params)
    assert r.status_code == 422 and set(r.json()["errors"]) == {field}


def test_an_operator_is_named_by_id_or_email(client, day, supervisor):
    firm_a, _ny, _op1, op2 = day
    by_id = _get(client, supervisor, tenant="firm-a", operator=str(op2.id), since=DAY.isoformat(), until=NEXT.isoformat())
    by_email = _get(client, supervisor, tenant="firm-a", operator=op2.email, since=DAY.isoformat(), until=NEXT.isoformat())
    assert by_id.json()["totals"] == by_email.json()["totals"] and by_id.json()["totals"]["answered"] == 2


# --- the day rows (stats/rollup.py) against the calls and messages themselves ----------------------

def _zone_rows_add_up():
    """The zone rows of a day are the sums of that day of the firms made in that zone: in all, the
    day rows; per operator, the operator day rows (nobody's: the rest)."""
    made = dict(StatsFirm.select(StatsFirm.tenant_id, StatsFirm.timezone).tuples())
    days, people, zones = {}, {}, {}
    for row in StatsDay.select():
        rollup.add(days.setdefault((made[row.tenant_id], row.day), rollup.zero()), row.sums())
    for row in StatsOperatorDay.select():
        rollup.add(people.setdefault((made[row.tenant_id], row.day, row.operator_id), rollup.zero()), row.sums())
    for row in StatsZoneDay.select():
        rollup.add(zones.setdefault((row.timezone, row.day), rollup.zero()), row.sums())
        if row.operator_id != rollup.NOBODY:
            assert people.pop((row.timezone, row.day, row.operator_id)) == row.sums()
    assert zones == days and not people


def _both(*args, **kwargs):
    rollup.refresh(SL)  # the worker's minute: firms new or moved get their day rows
    kept = figures(*args, **kwargs)
    raw = figures(*args, rollup_days=False, **kwargs)
    assert kept == raw
    _zone_rows_add_up()
    since, until = args
    tenant = kwargs.get("tenant")
    assert stats.by_operator(since, until, tenant=tenant, service_level=SL) == stats.by_operator(
        since, until, tenant=tenant, service_level=SL, rollup_days=False)
    return kept


def test_the_day_rows_give_exactly_what_the_calls_give(day):
    firm_a, ny, _op1, _op2 = day
    week = (DAY - dt.timedelta(days=3), NEXT + dt.timedelta(days=3))
    for since, until in [(DAY, NEXT), week, (DAY + dt.timedelta(hours=9, minutes=10), NEXT + dt.timedelta(hours=5)),
                         (DAY - dt.timedelta(minutes=30), DAY + dt.timedelta(days=1, minutes=7))]:
        for tenant in (None, firm_a, ny):
            _both(since, until, tenant=tenant)
            _both(since, until, tenant=tenant, interval="1d")
            _both(since, until, tenant=tenant, operator=_op1)
            _both(since, until, tenant=tenant, operator=_op1, interval="1d")
        kept = stats.by_tenant(since, until, service_level=SL)
        assert kept == stats.by_tenant(since, until, service_level=SL, rollup_days=False)
    assert _both(*week, interval="1d").totals["offered"] == 1 + 11  # A0 and the day
    assert StatsDirty.select().count() == 0  # every note taken into the day rows
    assert StatsDay.select().count() >= 4  # A: 10-31, 11-01; NY: 11-01; unknown: 11-01


def test_the_day_rows_follow_every_change_to_calls_and_messages(day, admin):
    firm_a, ny, op1, _op2 = day
    assert _both(DAY, NEXT, tenant=firm_a).totals == FIRM_A
    # The waiting call is taken after 35 s: answered 5 → 6, asa (75 + 35)/6 = 18.3
    waiting = Call.get(Call.sid == "A10")
    Call.update(status=COMPLETED, claimed_by=op1, wait_seconds=35, talk_seconds=10).where(Call.id == waiting.id).execute()
    after = _both(DAY, NEXT, tenant=firm_a, interval="1d").totals
    assert (after["answered"], after["asa_s"], after["service_level"]) == (6, 18.3, 0.5714)
    # A1's message corrected to a sales call: noise 2 → 3
    Message.update(category="sales").where(Message.call == Call.get(Call.sid == "A1").id).execute()
    assert _both(DAY, NEXT, tenant=firm_a).totals["noise"] == 3
    # The unknown number's call given to firm A: offered 7 → 8, abandoned 1 → 2
    Call.assign(Call.get(Call.sid == "U1").id, firm_a, by=admin)
    after = _both(DAY, NEXT, tenant=firm_a).totals
    assert (after["offered"], after["abandoned"]) == (8, 2)
    assert _both(DAY, NEXT, interval="1d").totals["offered"] == 11  # the same calls for every firm
    # A message removed: messages 6 → 5
    Message.delete().where(Message.call == Call.get(Call.sid == "A4").id).execute()
    assert _both(DAY, NEXT, tenant=firm_a).totals["messages"] == 5
    # Firm NY moves to Tokyo's zone: its days are Tokyo's now (B3, at 13:30 on 11-02 there, leaves 11-01).
    Tenant.update(timezone="Asia/Tokyo").where(Tenant.id == ny.id).execute()
    ny = Tenant.get_by_id(ny.id)
    assert _both(DAY, NEXT, tenant=ny, interval="1d").totals["offered"] == 2


def test_a_reader_never_rebuilds_a_firm_it_reads_the_firms_calls_until_the_worker_has(day):
    firm_a, ny, op1, _op2 = day
    week = (DAY - dt.timedelta(days=3), NEXT + dt.timedelta(days=3))
    raw = [figures(*week, tenant=t, interval="1d", rollup_days=False) for t in (None, firm_a, ny)]
    # No firm has day rows yet (just deployed): readers get the exact figures and make none.
    assert [figures(*week, tenant=t, interval="1d") for t in (None, firm_a, ny)] == raw
    assert StatsDay.select().count() == 0 and StatsFirm.select().count() == 0
    rollup.refresh(SL)
    assert StatsFirm.select().count() == 3  # A, NY and unknown numbers, each rebuilt on its own
    # A change is taken in by the next reader (its note), without a rebuild.
    Call.update(status=ABANDONED).where(Call.sid == "A1").execute()
    assert StatsDirty.select().count() > 0
    after = figures(*week, tenant=firm_a)
    assert after == figures(*week, tenant=firm_a, rollup_days=False)
    assert after.totals["abandoned"] == FIRM_A["abandoned"] + 1 and StatsDirty.select().count() == 0
    # NY moves to Tokyo's zone: readers read NY from its calls, and leave its old rows to the worker.
    Tenant.update(timezone="Asia/Tokyo").where(Tenant.id == ny.id).execute()
    ny = Tenant.get_by_id(ny.id)
    before = StatsFirm.get(StatsFirm.tenant_id == ny.id).timezone
    assert figures(*week, tenant=ny, interval="1d") == figures(*week, tenant=ny, interval="1d", rollup_days=False)
    assert figures(*week, interval="1d") == figures(*week, interval="1d", rollup_days=False)
    assert StatsFirm.get(StatsFirm.tenant_id == ny.id).timezone == before == "America/New_York"
    rollup.refresh(SL)
    assert StatsFirm.get(StatsFirm.tenant_id == ny.id).timezone == "Asia/Tokyo"
    assert figures(*week, interval="1d") == figures(*week, interval="1d", rollup_days=False)
    # Another service level than the rows': read from the calls, exactly.
    assert stats.figures(*week, service_level=5) == stats.figures(*week, service_level=5, rollup_days=False)


def test_a_year_of_every_firm_is_read_from_one_row_per_zone_and_day_while_they_stand_for_its_firms(day):
    firm_a, ny, _op1, _op2 = day
    week = (DAY - dt.timedelta(days=3), NEXT + dt.timedelta(days=3))
    expected = _both(*week, interval="1d")
    tokyo = StatsZoneDay.select().where(StatsZoneDay.timezone == "Asia/Tokyo")
    assert {r.day for r in tokyo} == {dt.date(2026, 10, 31), dt.date(2026, 11, 1)}
    # The zone rows are what is read: a planted difference shows (and only for every firm).
    planted = StatsZoneDay.get((StatsZoneDay.timezone == "Asia/Tokyo") & (StatsZoneDay.day == dt.date(2026, 11, 1))
                               & (StatsZoneDay.operator_id == rollup.NOBODY))
    StatsZoneDay.update(offered=StatsZoneDay.offered + 100).where(StatsZoneDay.id == planted.id).execute()
    assert figures(*week, interval="1d").totals["offered"] == expected.totals["offered"] + 100
    assert figures(*week).totals["offered"] == expected.totals["offered"] + 100
    assert figures(*week, tenant=firm_a) == figures(*week, tenant=firm_a, rollup_days=False)
    assert stats.by_tenant(*week, service_level=SL) == stats.by_tenant(*week, service_level=SL, rollup_days=False)
    StatsZoneDay.update(offered=StatsZoneDay.offered - 100).where(StatsZoneDay.id == planted.id).execute()
    # The operators' tables read the day rows split by operator (of firm A on 11-01: op1's and op2's).
    people = {u.id: f["answered"] for u, f in stats.by_operator(*week, tenant=firm_a, service_level=SL)}
    assert StatsOperatorDay.select().where((StatsOperatorDay.tenant_id == firm_a.id)
                                           & (StatsOperatorDay.day == dt.date(2026, 11, 1))).count() == 2
    StatsOperatorDay.update(answered=StatsOperatorDay.answered + 100).where(
        (StatsOperatorDay.operator_id == _op1.id) & (StatsOperatorDay.day == dt.date(2026, 11, 1))).execute()
    assert {u.id: f["answered"] for u, f in stats.by_operator(*week, tenant=firm_a, service_level=SL)}[_op1.id] \
        == people[_op1.id] + 100
    StatsOperatorDay.update(answered=StatsOperatorDay.answered - 100).where(
        (StatsOperatorDay.operator_id == _op1.id) & (StatsOperatorDay.day == dt.date(2026, 11, 1))).execute()
    # … and, for every firm, the zone rows per operator.
    everyone = {u.id: f["answered"] for u, f in stats.by_operator(*week, service_level=SL)}
    mine = ((StatsZoneDay.timezone == "Asia/Tokyo") & (StatsZoneDay.operator_id == _op1.id)
            & (StatsZoneDay.day == dt.date(2026, 11, 1)))
    StatsZoneDay.update(answered=StatsZoneDay.answered + 100).where(mine).execute()
    assert {u.id: f["answered"] for u, f in stats.by_operator(*week, service_level=SL)}[_op1.id] \
        == everyone[_op1.id] + 100
    StatsZoneDay.update(answered=StatsZoneDay.answered - 100).where(mine).execute()
    # Firm A made at another service level: Tokyo's rows no longer stand for its fresh firms.
    StatsFirm.update(service_level=SL + 1).where(StatsFirm.tenant_id == firm_a.id).execute()
    StatsZoneDay.update(offered=StatsZoneDay.offered + 100).where(StatsZoneDay.id == planted.id).execute()
    assert figures(*week, interval="1d") == figures(*week, interval="1d", rollup_days=False) == expected
    # The worker rebuilds A: what left Tokyo's rows and what entered them keep them its day rows' sum.
    StatsZoneDay.update(offered=StatsZoneDay.offered - 100).where(StatsZoneDay.id == planted.id).execute()
    assert _both(*week, interval="1d") == expected
    # A firm deleted (its calls become unknown numbers'): its days leave New York's rows and enter
    # Tokyo's at the worker's next minute.
    ny.delete_instance(recursive=True)
    assert _both(*week, interval="1d").totals["offered"] == expected.totals["offered"]
    assert not StatsZoneDay.select().where(StatsZoneDay.timezone == "America/New_York").exists()


def test_a_calls_after_call_work_follows_its_first_message_through_every_change(day):
    firm_a, _ny, op1, _op2 = day
    c = Call.get(Call.sid == "A1")  # its message saved 30 s after the call ended
    acw = lambda: Call.get_by_id(c.id).acw_seconds  # noqa: E731
    assert acw() == 30
    first = Message.get(Message.call == c.id)
    later = Message.create(tenant=firm_a, call=c, call_type="message", category="message", taken_at=first.taken_at,
                           taken_by=op1, after_call_seconds=99)
    assert acw() == 30  # a second message does not change the call's
    Message.update(after_call_seconds=45).where(Message.id == first.id).execute()
    assert acw() == 45
    first.delete_instance()
    assert acw() == 99  # the later one is the first now
    other = Call.get(Call.sid == "A5")  # no message yet
    Message.update(call=other.id).where(Message.id == later.id).execute()
    assert (acw(), Call.get_by_id(other.id).acw_seconds) == (None, 99)
    assert figures(DAY, NEXT, tenant=firm_a) == figures(DAY, NEXT, tenant=firm_a, rollup_days=False)


def test_a_call_that_only_connects_audio_or_a_message_handled_writes_no_note(day):
    figures(DAY, NEXT)  # takes every note in
    call_ = Call.get(Call.sid == "A1")
    Call.update(answered_at=call_.answered_at).where(Call.id == call_.id).execute()
    Message.update(handled=True).execute()
    assert StatsDirty.select().count() == 0


def test_a_period_at_the_ends_of_the_calendar_is_named_not_a_failure(client, supervisor):
    # 9999-12-31T23:00Z is already the year 10000 in Tokyo.
    r = _get(client, supervisor, since="9999-12-30T00:00:00+00:00", until="9999-12-31T23:00:00+00:00", interval="1d")
    assert r.status_code == 422 and set(r.json()["errors"]) == {"until"}
    r = _get(client, supervisor, since="9999-12-30T00:00:00+00:00", until="9999-12-31T23:00:00+00:00")
    assert r.status_code == 422 and set(r.json()["errors"]) == {"until"}
