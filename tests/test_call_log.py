"""The firm's call log (/portal/calls): every call the service saw for the firm, of every kind, newest first,
page by page, filtered by kind and period, times in the firm's zone, with the message and a block button."""

import datetime as dt
import re

import pytest

from app.calls.models import ANNOUNCED, BLOCKED, VOICEMAIL, BlockedNumber, Call, Transfer
from app.messages import forms, service
from app.tenants.models import Staff

from .conftest import csrf_token, log_in

JST = dt.timezone(dt.timedelta(hours=9))
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=JST)


def arrive(sid, minutes, caller="090-1234-5678", firm_line="03-1111-2222"):
    call, _ = Call.arrive(sid, to="+815000000000", caller=caller, forwarded_from=firm_line, region="JP",
                          at=T0 + dt.timedelta(minutes=minutes))
    return call


def taken(call, operator, wait=12, talk=95, category=None):
    """Taken by an operator ``wait`` s after arrival, ended ``talk`` s later; with a message of ``category``."""
    Call.take(call.id, operator)
    Call.update(claimed_at=call.arrived_at + dt.timedelta(seconds=wait), wait_seconds=wait,
                answered_at=call.arrived_at + dt.timedelta(seconds=wait)).where(Call.id == call.id).execute()
    Call.get_by_id(call.id).end("completed", at=call.arrived_at + dt.timedelta(seconds=wait + talk))
    if category:
        entry = forms.Entry(category=category) if category in forms.NOISE_CATEGORIES else forms.Entry(
            fields={"caller_name": "田中 一郎", "callback_number": "090-1234-5678", "body": "折り返しください"},
            confirmed={"caller_name", "callback_number"})
        clean, problems = forms.check(call.tenant, entry)
        assert not problems, problems
        return service.record(call.tenant, clean, operator, call=Call.get_by_id(call.id))
    return None


@pytest.fixture
def every_kind(alice, operator):
    """One call of each kind to firm A, a minute apart, oldest first; and one to firm B."""
    firm = alice.tenant
    answered = taken(arrive("CA-answered", 0), operator, category="message")
    noise = taken(arrive("CA-noise", 1, caller="03-9999-0000"), operator, category="sales")
    after_hours = arrive("CA-after-hours", 2)
    Call.update(after_hours=True).where(Call.id == after_hours.id).execute()
    Call.create(sid="CA-voicemail", tenant=firm, status=VOICEMAIL, after_hours=True, from_number="+819011112222",
                arrived_at=T0 + dt.timedelta(minutes=3))
    Call.create(sid="CA-announced", tenant=firm, status=ANNOUNCED, after_hours=True, from_number="+819011113333",
                arrived_at=T0 + dt.timedelta(minutes=4))
    abandoned = arrive("CA-abandoned", 5)
    abandoned.abandon(47, at=abandoned.arrived_at + dt.timedelta(seconds=47))
    BlockedNumber.block(firm, "080-5555-6666", by=alice)
    assert arrive("CA-blocked", 6, caller="080-5555-6666").status == BLOCKED
    arrive("CA-withheld", 7, caller="")
    arrive("CA-other-firm", 8, firm_line="06-3333-4444")
    return {"answered": answered, "noise": noise}


def sids(page: str) -> list[str]:
    return re.findall(r'data-sid="([^"]+)"', page)


def row(page: str, sid: str) -> str:
    return re.search(r'<tr class="call[^"]*" data-sid="%s">(.*?)</tr>' % re.escape(sid), page, re.S).group(1)


def test_the_call_log_shows_every_kind_of_call_newest_first_and_only_the_firms_own(client, alice, every_kind):
    log_in(client, alice)
    page = client.get("/portal/calls").text
    assert sids(page) == ["CA-withheld", "CA-blocked", "CA-abandoned", "CA-announced", "CA-voicemail",
                          "CA-after-hours", "CA-noise", "CA-answered"]
    kinds = {sid: re.search(r'class="call kind-(\w+)"', page[page.index(f'data-sid="{sid}"') - 40:]).group(1)
             for sid in sids(page)}
    assert kinds == {"CA-withheld": "waiting", "CA-blocked": "blocked", "CA-abandoned": "abandoned",
                     "CA-announced": "announced", "CA-voicemail": "voicemail", "CA-after-hours": "waiting",
                     "CA-noise": "noise", "CA-answered": "answered"}
    assert "営業時間外" in row(page, "CA-after-hours")  # after hours, still waiting for an operator


def test_times_are_in_the_firms_zone_with_wait_and_talk(client, alice, every_kind):
    log_in(client, alice)
    page = client.get("/portal/calls").text
    answered = row(page, "CA-answered")
    assert "2026-11-20 09:00:00" in answered and "0:12" in answered and "1:35" in answered
    assert "0:47" in row(page, "CA-abandoned")


def test_each_row_links_the_message_taken_on_it_and_calls_the_caller_back_with_one_tap(client, alice, every_kind):
    log_in(client, alice)
    page = client.get("/portal/calls").text
    answered = row(page, "CA-answered")
    assert f'href="/portal/messages/{every_kind["answered"].id}"' in answered
    assert 'href="tel:+819012345678"' in answered and "090-1234-5678" in answered
    assert f'href="/portal/messages/{every_kind["noise"].id}"' in row(page, "CA-noise")
    assert "番号非通知" in row(page, "CA-withheld")


@pytest.mark.parametrize("kind, expected", [
    ("answered", ["CA-answered"]), ("noise", ["CA-noise"]),
    ("after_hours", ["CA-announced", "CA-voicemail", "CA-after-hours"]),
    ("voicemail", ["CA-voicemail"]), ("announced", ["CA-announced"]), ("abandoned", ["CA-abandoned"]),
    ("blocked", ["CA-blocked"]), ("waiting", ["CA-withheld", "CA-after-hours"]),
])
def test_filtering_by_kind_shows_those_calls_only(client, alice, every_kind, kind, expected):
    log_in(client, alice)
    response = client.get("/portal/calls", params={"kind": kind})
    assert response.status_code == 200
    assert sids(response.text) == expected


def test_filtering_by_period_counts_days_in_the_firms_zone(client, alice, operator):
    log_in(client, alice)
    # 23:30 on the 19th in Tokyo is 14:30 UTC that day; 00:30 on the 20th in Tokyo is still the 19th in UTC.
    Call.arrive("CA-19th", to="", caller="", forwarded_from="03-1111-2222", region="JP",
                at=dt.datetime(2026, 11, 19, 23, 30, tzinfo=JST))
    Call.arrive("CA-20th", to="", caller="", forwarded_from="03-1111-2222", region="JP",
                at=dt.datetime(2026, 11, 20, 0, 30, tzinfo=JST))
    assert sids(client.get("/portal/calls", params={"from": "2026-11-20"}).text) == ["CA-20th"]
    assert sids(client.get("/portal/calls", params={"to": "2026-11-19"}).text) == ["CA-19th"]
    assert sids(client.get("/portal/calls", params={"from": "2026-11-19", "to": "2026-11-20"}).text) == [
        "CA-20th", "CA-19th"]


def test_a_bad_filter_is_named_and_kept(client, alice):
    log_in(client, alice)
    response = client.get("/portal/calls", params={"from": "20.11.2026", "kind": "everything"})
    assert response.status_code == 422
    errors = re.findall(r'<p class="error">([^<]+)</p>', response.text)
    assert any(e.startswith("開始日:") for e in errors) and any(e.startswith("種別:") for e in errors), errors
    assert 'value="20.11.2026"' in response.text
    assert client.get("/portal/calls", params={"after": "not-a-cursor"}).status_code == 422


def test_pages_follow_one_another_without_gap_or_overlap(client, alice):
    log_in(client, alice)
    for i in range(57):
        Call.arrive(f"CA-{i:03}", to="", caller="", forwarded_from="03-1111-2222", region="JP",
                    at=T0 + dt.timedelta(seconds=i // 2))  # pairs arrive in the same second
    first = client.get("/portal/calls").text
    more = re.search(r'href="(/portal/calls\?[^"]+)">', first[first.index('class="pager"'):]).group(1)
    second = client.get(more.replace("&amp;", "&")).text
    assert len(sids(first)) == 50 and len(sids(second)) == 7 and 'class="pager"' not in second
    assert sorted(sids(first) + sids(second)) == [f"CA-{i:03}" for i in range(57)]


def test_the_block_button_blocks_the_rows_caller_and_the_row_then_says_so(client, alice, operator):
    log_in(client, alice)
    arrive("CA-pushy", 0, caller="090-7777-8888")
    page = client.get("/portal/calls").text
    form = row(page, "CA-pushy")
    assert 'action="/portal/blocked"' in form and 'name="number" value="+819077778888"' in form
    response = client.post("/portal/blocked", data={"number": "+819077778888", "next": "/portal/calls",
                                                    "csrf_token": csrf_token(client, "/portal/calls")},
                           follow_redirects=False)
    assert response.headers["location"] == "/portal/calls"
    after = row(client.get("/portal/calls").text, "CA-pushy")
    assert 'name="number"' not in after and "着信拒否中" in after


def test_another_firms_client_sees_none_of_the_firms_calls(client, alice, charlie, every_kind):
    log_in(client, charlie)
    assert sids(client.get("/portal/calls").text) == ["CA-other-firm"]
    for kind in ("answered", "blocked", "noise", "abandoned"):
        assert sids(client.get("/portal/calls", params={"kind": kind}).text) == [], kind


def test_a_call_put_through_to_staff_says_to_whom_and_whether_they_answered(client, alice, operator):
    from .test_api import bearer

    call = arrive("CA-transferred", 0)
    taken(call, operator)
    sato = Staff.create(tenant=alice.tenant, key="sato", name="佐藤 花子", mobile="+819011119999")
    kato = Staff.create(tenant=alice.tenant, key="kato", name="加藤 次郎", mobile="+819011118888")
    Transfer.create(call=call, staff=sato, staff_name=sato.name, number=sato.mobile, status="no-answer")
    Transfer.create(call=call, staff=kato, staff_name=kato.name, number=kato.mobile, status="answered")
    log_in(client, alice)
    transferred = re.sub(r"\s+", " ", row(client.get("/portal/calls").text, "CA-transferred"))
    assert "佐藤 花子 へ取次(応答なし)" in transferred and "加藤 次郎 へ取次(つながりました)" in transferred
    assert transferred.index("佐藤 花子") < transferred.index("加藤 次郎")  # in the order they were tried
    calls = {c["sid"]: c for c in client.get("/api/v1/calls", headers=bearer(alice)).json()["calls"]}
    assert [(t["staff"], t["staff_name"], t["outcome"]) for t in calls["CA-transferred"]["transfers"]] == [
        ("sato", "佐藤 花子", "unanswered"), ("kato", "加藤 次郎", "answered")]
