"""JSON API v1, calls (interfaces.md "Calls (call log and CTI)"): the call log for programs, one call with
the operator's screen, taking a call as on the console, an operator's presence, a firm's blocked numbers."""

import datetime as dt
import threading

import pytest

from app.calls.models import ANNOUNCED, VOICEMAIL, BlockedNumber, Call, OperatorPresence
from app.presence.models import Notice
from app.tenants.models import Staff

from .test_api import bearer
from .test_call_log import T0, arrive, taken
from .test_blocking import call_firm_a, published  # noqa: F401  (a fixture)

CALL_KEYS = {"sid", "tenant", "status", "caller", "forwarded_from", "after_hours", "arrived_at", "taken_at",
             "taken_by", "ended_at", "wait_s", "talk_s", "acw_s", "message_id"}


@pytest.fixture
def calls_in_every_state(alice, charlie, operator, supervisor):
    """firm A: one call in each of the spec's states, a minute apart, oldest first; firm B: one waiting call."""
    firm = alice.tenant
    ended = arrive("CA-ended", 0)
    message = taken(ended, operator, category="message")
    connected = arrive("CA-connected", 1)
    Call.take(connected.id, operator)  # without audio, taking it is answering it
    on_its_way = arrive("CA-taken", 2)
    Call.take(on_its_way.id, supervisor, audio=True)  # the operator's phone has not picked up yet
    abandoned = arrive("CA-abandoned", 3)
    abandoned.abandon(30)
    Call.create(sid="CA-voicemail", tenant=firm, status=VOICEMAIL, after_hours=True, from_number="+819011112222",
                arrived_at=T0 + dt.timedelta(minutes=4))
    Call.create(sid="CA-announced", tenant=firm, status=ANNOUNCED, after_hours=True,
                arrived_at=T0 + dt.timedelta(minutes=5))
    BlockedNumber.block(firm, "080-5555-6666", by=alice)
    arrive("CA-blocked", 6, caller="080-5555-6666")
    arrive("CA-waiting", 7, caller="")
    arrive("CA-firm-b", 8, firm_line="06-3333-4444")
    return message


def test_a_client_lists_its_own_firms_calls_newest_first_with_the_specs_statuses(client, alice, charlie,
                                                                                calls_in_every_state):
    response = client.get("/api/v1/calls", headers=bearer(alice))
    assert response.status_code == 200
    calls = response.json()["calls"]
    assert [(c["sid"], c["status"]) for c in calls] == [
        ("CA-waiting", "waiting"), ("CA-blocked", "blocked"), ("CA-announced", "announced"),
        ("CA-voicemail", "voicemail"), ("CA-abandoned", "abandoned"), ("CA-taken", "taken"),
        ("CA-connected", "connected"), ("CA-ended", "ended")]
    assert response.json()["next_cursor"] is None
    assert all(CALL_KEYS <= set(c) for c in calls)
    assert all("screen" not in c for c in calls)


def test_a_calls_json_says_what_happened_to_it_in_the_firms_zone(client, alice, operator, calls_in_every_state):
    calls = {c["sid"]: c for c in client.get("/api/v1/calls", headers=bearer(alice)).json()["calls"]}
    ended = calls["CA-ended"]
    assert ended["tenant"] == "firm-a" and ended["caller"] == "+819012345678"
    assert ended["forwarded_from"] == "+81311112222" and ended["after_hours"] is False
    assert ended["arrived_at"] == "2026-11-20T09:00:00+09:00" and ended["taken_at"] == "2026-11-20T09:00:12+09:00"
    assert ended["ended_at"] == "2026-11-20T09:01:47+09:00"
    assert (ended["wait_s"], ended["talk_s"]) == (12, 95)
    assert ended["taken_by"] == operator.email
    assert ended["message_id"] == calls_in_every_state.id and isinstance(ended["acw_s"], int)
    assert calls["CA-waiting"]["caller"] is None and calls["CA-waiting"]["taken_by"] is None
    assert calls["CA-voicemail"]["after_hours"] is True


@pytest.mark.parametrize("status", ["waiting", "taken", "connected", "ended", "abandoned", "voicemail",
                                    "announced", "blocked"])
def test_the_status_filter_gives_the_calls_in_that_state(client, alice, calls_in_every_state, status):
    calls = client.get("/api/v1/calls", params={"status": status}, headers=bearer(alice)).json()["calls"]
    assert [c["sid"] for c in calls] == [f"CA-{status}"]


def test_staff_see_every_firms_calls_and_can_name_one_firm(client, operator, calls_in_every_state):
    every = client.get("/api/v1/calls", headers=bearer(operator)).json()["calls"]
    assert {c["tenant"] for c in every} == {"firm-a", "firm-b"}
    one = client.get("/api/v1/calls", params={"tenant": "firm-b"}, headers=bearer(operator)).json()["calls"]
    assert [c["sid"] for c in one] == ["CA-firm-b"]


def test_pages_follow_the_cursor_and_times_filter(client, alice, calls_in_every_state):
    first = client.get("/api/v1/calls", params={"limit": 3}, headers=bearer(alice)).json()
    second = client.get("/api/v1/calls", params={"limit": 3, "cursor": first["next_cursor"]},
                        headers=bearer(alice)).json()
    assert [c["sid"] for c in first["calls"]] == ["CA-waiting", "CA-blocked", "CA-announced"]
    assert [c["sid"] for c in second["calls"]] == ["CA-voicemail", "CA-abandoned", "CA-taken"]
    window = client.get("/api/v1/calls", params={"since": "2026-11-20T09:03:00+09:00",
                                                 "until": "2026-11-20T09:05:00+09:00"}, headers=bearer(alice))
    assert [c["sid"] for c in window.json()["calls"]] == ["CA-voicemail", "CA-abandoned"]


def test_bad_parameters_are_named_with_422(client, alice):
    response = client.get("/api/v1/calls", params={"status": "ringing", "since": "yesterday", "cursor": "x"},
                          headers=bearer(alice) | {"Accept-Language": "en"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"status", "since", "cursor"}


def test_one_call_for_staff_carries_the_screen_pop(client, alice, operator, calls_in_every_state):
    firm = alice.tenant
    firm.instructions = "**至急**の用件は山田の携帯へ"
    firm.save()
    Staff.create(tenant=firm, key="yamada", name="山田 太郎", name_kana="やまだ たろう", presence="out",
                 presence_note="15時戻り")
    Notice.create(tenant=firm, text="12/29〜1/3は休業。急ぎは山田携帯へ")
    arrive("CA-again", 9)  # the same caller as CA-ended: its history holds that call and its message
    data = client.get("/api/v1/calls/CA-again", headers=bearer(operator)).json()
    screen = data["screen"]
    assert screen["name"] == firm.name and screen["answer_phrase"] == firm.answer_phrase
    assert "<strong>至急</strong>" in screen["instructions_html"]
    assert [n["text"] for n in screen["notices"]] == ["12/29〜1/3は休業。急ぎは山田携帯へ"]
    assert screen["staff"] == [{"key": "yamada", "name": "山田 太郎", "name_kana": "やまだ たろう", "title": "",
                                "presence": "out", "note": "15時戻り", "until": None, "changed_at": None}]
    assert "CA-ended" in [c["sid"] for c in screen["history"]["calls"]]
    assert [m["id"] for m in screen["history"]["messages"]] == [calls_in_every_state.id]


def test_a_client_gets_its_own_call_without_the_screen_and_another_firms_call_is_404(client, alice, charlie,
                                                                                   calls_in_every_state):
    own = client.get("/api/v1/calls/CA-ended", headers=bearer(alice))
    assert own.status_code == 200 and own.json()["sid"] == "CA-ended" and "screen" not in own.json()
    for sid in ("CA-ended", "CA-blocked", "CA-nothing"):
        assert client.get(f"/api/v1/calls/{sid}", headers=bearer(charlie)).status_code == 404, sid
    assert client.get("/api/v1/calls", params={"tenant": "firm-a"}, headers=bearer(charlie)).status_code == 404
    assert "CA-ended" not in str(client.get("/api/v1/calls", headers=bearer(charlie)).json())


def test_taking_a_call_through_the_api_is_taking_it_on_the_console(client, operator, alice, published):  # noqa: F811
    OperatorPresence.set(operator, True)
    call = arrive("CA-cti", 0)
    published.clear()
    response = client.post("/api/v1/calls/CA-cti/take", headers=bearer(operator))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "connected" and response.json()["taken_by"] == operator.email
    assert "screen" in response.json()
    assert published == [("calls", {"event": "taken", "call": call.id})]
    assert Call.get_by_id(call.id).claimed_by.id == operator.id


def test_a_call_someone_else_has_is_409_and_a_break_is_409_too(client, operator, supervisor, alice):
    for user in (operator, supervisor):
        OperatorPresence.set(user, True)
    arrive("CA-cti", 0)
    assert client.post("/api/v1/calls/CA-cti/take", headers=bearer(supervisor)).status_code == 200
    second = client.post("/api/v1/calls/CA-cti/take", headers=bearer(operator))
    assert second.status_code == 409 and set(second.json()["errors"]) == {"call"}
    arrive("CA-next", 1)
    OperatorPresence.set(operator, False, "meeting")
    on_break = client.post("/api/v1/calls/CA-next/take", headers=bearer(operator))
    assert on_break.status_code == 409 and set(on_break.json()["errors"]) == {"presence"}
    assert Call.get(Call.sid == "CA-next").status == "queued"


def test_two_operators_taking_the_same_call_at_once_one_wins_the_other_gets_409(client, operator, supervisor,
                                                                               alice):
    tokens = [bearer(u) for u in (operator, supervisor)]
    for user in (operator, supervisor):
        OperatorPresence.set(user, True)
    for round_ in range(5):
        arrive(f"CA-race-{round_}", round_)
        start, answers = threading.Barrier(2), [None, None]

        def take(i):
            start.wait()
            answers[i] = client.post(f"/api/v1/calls/CA-race-{round_}/take", headers=tokens[i])

        threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(a.status_code for a in answers) == [200, 409]
        winner = answers[[a.status_code for a in answers].index(200)].json()["taken_by"]
        assert Call.get(Call.sid == f"CA-race-{round_}").claimed_by.email == winner


def test_a_client_cannot_take_calls_or_set_presence(client, alice):
    arrive("CA-own", 0)
    assert client.post("/api/v1/calls/CA-own/take", headers=bearer(alice)).status_code == 403
    assert client.put("/api/v1/operators/me/presence", json={"state": "available"},
                      headers=bearer(alice)).status_code == 403
    assert Call.get(Call.sid == "CA-own").status == "queued"


def test_presence_is_set_as_on_the_console_and_follows_the_operators_calls(client, operator, alice):
    put = lambda body: client.put("/api/v1/operators/me/presence", json=body, headers=bearer(operator))  # noqa: E731
    on_break = put({"state": "break", "reason": "meeting"})
    assert on_break.status_code == 200 and on_break.json()["state"] == "break" and on_break.json()["reason"] == "meeting"
    assert OperatorPresence.of(operator).available is False
    assert put({"state": "available"}).json()["state"] == "available"
    call = arrive("CA-1", 0)
    client.post("/api/v1/calls/CA-1/take", headers=bearer(operator))
    assert put({"state": "available"}).json()["state"] == "on_call"
    Call.get_by_id(call.id).end("completed")
    acw = put({"state": "available"}).json()
    assert acw["state"] == "after_call_work" and acw["since"] is not None
    taken_message = client.post("/api/v1/messages", headers=bearer(operator), json={
        "call_sid": "CA-1", "category": "wrong_number", "fields": {}, "readback": []})
    assert taken_message.status_code == 201, taken_message.text
    assert put({"state": "available"}).json()["state"] == "available"


def test_a_bad_presence_is_named_with_422(client, operator):
    response = client.put("/api/v1/operators/me/presence", json={"state": "asleep", "reason": "nap"},
                          headers=bearer(operator))
    assert response.status_code == 422 and set(response.json()["errors"]) == {"state", "reason"}


def test_the_blocked_numbers_api_blocks_lists_and_unblocks(client, settings, alice):
    url = "/api/v1/tenants/firm-a/blocked-numbers"
    created = client.post(url, json={"number": "090-1234-5678", "note": "営業"}, headers=bearer(alice))
    assert created.status_code == 201
    assert created.json()["number"] == "+819012345678" and created.json()["created_by"] == alice.email
    again = client.post(url, json={"number": "+81 90 1234 5678"}, headers=bearer(alice))
    assert again.status_code == 200 and again.json()["note"] == "営業"
    listed = client.get(url, headers=bearer(alice)).json()["blocked_numbers"]
    assert [(b["number"], b["note"]) for b in listed] == [("+819012345678", "営業")]
    assert "<Reject" in call_firm_a(client, settings, "CA-blocked").text
    calls = client.get("/api/v1/calls", headers=bearer(alice)).json()["calls"]
    assert [(c["sid"], c["status"]) for c in calls] == [("CA-blocked", "blocked")]
    assert client.delete(f"{url}/+819012345678", headers=bearer(alice)).status_code == 204
    assert client.delete(f"{url}/+819012345678", headers=bearer(alice)).status_code == 404
    assert client.get(url, headers=bearer(alice)).json()["blocked_numbers"] == []
    assert "<Enqueue" in call_firm_a(client, settings, "CA-through").text


def test_a_number_that_cannot_be_blocked_is_named_with_422(client, alice):
    url = "/api/v1/tenants/firm-a/blocked-numbers"
    for body in ({"number": "03-12"}, {"number": ""}, {}, {"number": 9012345678}, {"number": "090-1234-5678",
                                                                                     "note": "x" * 201}):
        response = client.post(url, json=body, headers=bearer(alice))
        assert response.status_code == 422, body
        assert set(response.json()["errors"]) <= {"number", "note"}
    assert BlockedNumber.select().count() == 0


def test_another_firms_client_gets_404_on_a_firms_blocked_numbers(client, alice, charlie, operator):
    BlockedNumber.block(alice.tenant, "090-1234-5678", "営業", by=alice)
    url = "/api/v1/tenants/firm-a/blocked-numbers"
    assert client.get(url, headers=bearer(charlie)).status_code == 404
    assert client.post(url, json={"number": "090-0000-1111"}, headers=bearer(charlie)).status_code == 404
    assert client.delete(f"{url}/+819012345678", headers=bearer(charlie)).status_code == 404
    assert client.get("/api/v1/tenants/no-such-firm/blocked-numbers", headers=bearer(operator)).status_code == 404
    assert [b.number for b in BlockedNumber.select()] == ["+819012345678"]
    # Staff may act for any firm.
    assert client.get(url, headers=bearer(operator)).json()["blocked_numbers"][0]["note"] == "営業"


def test_every_new_route_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"get"} <= set(paths["/api/v1/calls"]) and {"get"} <= set(paths["/api/v1/calls/{sid}"])
    assert "post" in paths["/api/v1/calls/{sid}/take"] and "put" in paths["/api/v1/operators/me/presence"]
    assert {"get", "post"} <= set(paths["/api/v1/tenants/{slug}/blocked-numbers"])
    assert "delete" in paths["/api/v1/tenants/{slug}/blocked-numbers/{number}"]
