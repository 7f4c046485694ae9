"""The staff's call log (/supervisor/calls): every firm's calls with the firm, times, operator,
outcome and message of each, filtered by firm, operator, kind and period; for supervisors and
account managers only."""

import datetime as dt
import re

import pytest

from app.accounts import service as accounts
from app.calls.models import Call

from .conftest import PASSWORD, log_in
from .test_call_log import JST, T0, arrive, every_kind, row, sids, taken  # noqa: F401 (a fixture)


@pytest.fixture
def two_operators(every_kind, firm_b, operator):
    """Firm B's call taken by a second operator, 花子."""
    hanako = accounts.add_user("hanako@dengon.example", "operator", password=PASSWORD, name="山本 花子")
    other = Call.get(Call.sid == "CA-other-firm")
    if other.tenant_id is None:  # every_kind ran before firm B existed
        Call.update(tenant=firm_b).where(Call.id == other.id).execute()
        other = Call.get_by_id(other.id)
    taken(other, hanako, wait=30, talk=60)
    return hanako


def test_a_supervisor_sees_every_firms_calls_with_firm_operator_and_message(client, supervisor, alice, every_kind,
                                                                          two_operators):
    log_in(client, supervisor)
    page = client.get("/supervisor/calls").text
    assert sids(page) == ["CA-other-firm", "CA-withheld", "CA-blocked", "CA-abandoned", "CA-announced",
                          "CA-voicemail", "CA-after-hours", "CA-noise", "CA-answered"]
    answered = row(page, "CA-answered")
    assert alice.tenant.name in answered and "op@dengon.example" in answered
    assert "2026-11-20 09:00:00" in answered and "0:12" in answered and "1:35" in answered
    assert "終了 09:01:47" in answered  # taken after 12 s, talked 95 s
    assert f'href="/messages/{every_kind["answered"].id}"' in answered and "090-1234-5678" in answered
    other = row(page, "CA-other-firm")
    assert "firm-b 株式会社" in other and "山本 花子" in other and "0:30" in other
    assert '<tr class="call kind-abandoned" data-sid="CA-abandoned">' in page


@pytest.mark.parametrize("params, expected", [
    ({"firm": "firm-b"}, ["CA-other-firm"]),
    ({"kind": "noise"}, ["CA-noise"]),
    ({"kind": "abandoned", "firm": "firm-a"}, ["CA-abandoned"]),
    ({"from": "2026-11-21"}, []),
    ({"from": "2026-11-20", "to": "2026-11-20", "firm": "firm-a", "kind": "answered"}, ["CA-answered"]),
])
def test_filters_narrow_the_log(client, supervisor, every_kind, two_operators, params, expected):
    log_in(client, supervisor)
    response = client.get("/supervisor/calls", params=params)
    assert response.status_code == 200
    assert sids(response.text) == expected


def test_filtering_by_operator_shows_the_calls_they_took(client, admin, operator, every_kind, two_operators):
    log_in(client, admin)
    assert sids(client.get("/supervisor/calls", params={"operator": operator.id}).text) == ["CA-noise", "CA-answered"]
    page = client.get("/supervisor/calls", params={"operator": two_operators.id}).text
    assert sids(page) == ["CA-other-firm"]
    assert f'<option value="{two_operators.id}" selected>山本 花子</option>' in page


def test_days_are_the_chosen_firms_or_the_services(client, supervisor, alice):
    log_in(client, supervisor)
    # 23:30 on the 19th in Tokyo is 14:30 UTC on the 19th.
    Call.arrive("CA-late", to="", caller="", forwarded_from="03-1111-2222", region="JP",
                at=dt.datetime(2026, 11, 19, 23, 30, tzinfo=JST))
    for params in ({"to": "2026-11-19"}, {"to": "2026-11-19", "firm": "firm-a"}):
        assert sids(client.get("/supervisor/calls", params=params).text) == ["CA-late"]
    assert sids(client.get("/supervisor/calls", params={"from": "2026-11-20"}).text) == []


def test_a_bad_filter_is_named(client, supervisor, firm_a):
    log_in(client, supervisor)
    response = client.get("/supervisor/calls", params={"firm": "no-such-firm", "operator": "12x", "to": "tomorrow"})
    assert response.status_code == 422
    errors = re.findall(r'<p class="error">([^<]+)</p>', response.text)
    assert [e.split(":")[0] for e in errors] == ["顧客", "オペレーター", "終了日"], errors


def test_pages_follow_one_another(client, supervisor, firm_a):
    log_in(client, supervisor)
    for i in range(53):
        Call.arrive(f"CA-{i:03}", to="", caller="", forwarded_from="03-1111-2222", region="JP",
                    at=T0 + dt.timedelta(seconds=i // 2))
    first = client.get("/supervisor/calls", params={"firm": "firm-a"}).text
    more = re.search(r'href="(/supervisor/calls\?[^"]+)">', first[first.index('class="pager"'):]).group(1)
    assert "firm=firm-a" in more
    second = client.get(more.replace("&amp;", "&")).text
    assert sorted(sids(first) + sids(second)) == [f"CA-{i:03}" for i in range(53)]


def test_operators_and_clients_cannot_open_the_staff_call_log(client, operator, alice):
    log_in(client, operator)
    assert client.get("/supervisor/calls").status_code == 403
    client.cookies.clear()
    log_in(client, alice)
    assert client.get("/supervisor/calls").status_code == 404


def test_the_staff_log_says_to_whom_a_call_was_put_through(client, supervisor, alice, operator):
    from app.calls.models import Transfer
    from app.tenants.models import Staff

    call = arrive("CA-transferred", 0)
    taken(call, operator)
    sato = Staff.create(tenant=alice.tenant, key="sato", name="佐藤 花子", mobile="+819011119999")
    Transfer.create(call=call, staff=sato, staff_name=sato.name, number=sato.mobile, status="no-answer")
    log_in(client, supervisor)
    transferred = re.sub(r"\s+", " ", row(client.get("/supervisor/calls").text, "CA-transferred"))
    assert "佐藤 花子 へ取次(応答なし)" in transferred
