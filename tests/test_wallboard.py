"""The supervisors' live wallboard and live escalations: what it shows, who may see it, and how one
event reaches every open board (rendered once, the same bytes to each, nothing stale after a miss)."""

import asyncio
import datetime as dt
import re

import pytest

from app.accounts.models import Session, User
from app.calls.models import Call, OperatorPresence
from app.db import utcnow
from app.messages import forms, service
from app.messages.models import Escalation
from app.supervisor import wallboard

from .conftest import _user, csrf_token, log_in


def arrive(sid, seconds_ago: float = 0, number="03-1111-2222"):
    call, _ = Call.arrive(sid, to="+815000000000", caller="090-1234-5678", forwarded_from=number,
                          region="JP", at=utcnow() - dt.timedelta(seconds=seconds_ago))
    return call


def on_duty(user):
    Session.start(user)
    OperatorPresence.set(user, True)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def floor(firm_a, firm_b, operator):
    """A morning so far: firm A had a call taken (its message saved), one abandoned and one waiting;
    firm B one waiting. The operator is on a second call of firm A."""
    on_duty(operator)
    taken = arrive("CA-taken", 300)
    Call.take(taken.id, operator)
    Call.get_by_id(taken.id).hang_up(operator)
    clean, _ = forms.check(firm_a, forms.Entry(category="wrong_number"))
    service.record(firm_a, clean, operator, call=Call.get_by_id(taken.id))
    arrive("CA-gone", 200).abandon(35)
    on_call = arrive("CA-on-call", 100)
    Call.take(on_call.id, operator)
    arrive("CA-waiting-a", 40)
    arrive("CA-waiting-b", 10, number="06-3333-4444")
    return operator


def test_the_wallboard_shows_waiting_calls_operators_todays_figures_and_each_firm(client, supervisor, floor):
    User.update(name="佐藤 花子").where(User.id == floor.id).execute()  # named as everywhere else
    log_in(client, supervisor)
    page = client.get("/supervisor/wallboard")
    assert page.status_code == 200
    html = page.text
    waiting = text(html.split('id="wb-waiting"')[1].split("</section>")[0])
    assert "firm-a 株式会社" in waiting and "firm-b 株式会社" in waiting
    assert waiting.index("firm-a") < waiting.index("firm-b")  # longest waiting first
    assert re.search(r'data-waiting-count>\s*2<', html)
    operators = html.split('id="wb-operators"')[1].split("</section>")[0]
    assert re.search(r'data-state="on_call">\s*<span class="wb-op-name">佐藤 花子</span>', operators)
    today = html.split('id="wb-today"')[1].split("</section>")[0]
    # Offered: every call that waited (taken, abandoned, on a call, two waiting) = 5; answered 2 (taken,
    # on a call); abandoned 1, so 1 / 5 = 20 %.
    figures = dict(re.findall(r'data-figure="(\w+)">(.*?)</dd>', today))
    assert figures["offered"] == "5" and figures["answered"] == "2" and figures["abandoned"] == "1"
    assert figures["abandon_rate"] == "20<small>%</small>"
    firms = text(html.split('id="wb-firms"')[1].split("</section>")[0])
    assert firms.index("firm-a 株式会社") < firms.index("firm-b 株式会社")  # busiest first
    assert "+81" not in text(html)


def test_an_operator_signed_in_twice_is_on_the_board_once_on_break_since_the_first_sign_in(
        operator, alice, supervisor):
    first, _ = Session.start(operator)
    Session.update(created_at=utcnow() - dt.timedelta(hours=2)).where(Session.id == first.id).execute()
    Session.start(operator)  # a second browser, signed in now
    Session.start(alice)  # a client reading her inbox: not on the operators' board
    Session.start(supervisor)  # watching, not answering

    rows = wallboard.operators_now(utcnow())

    assert [(r.name, r.state) for r in rows] == [("op@dengon.example", "break")]
    assert rows[0].since == Session.get_by_id(first.id).created_at


def test_open_escalations_are_read_in_one_query_whatever_their_number(settings, operator, firm_a, firm_b):
    from .test_store_save import queries_of

    for n, firm in enumerate([firm_a, firm_b, None]):
        call = arrive(f"CA-escalated-{n}")
        Escalation.create(tenant=firm, call=call, raised_by=operator, reason=f"至急 {n}")
    html = []
    queries = queries_of(lambda: html.append(wallboard.render("escalations", wallboard.load({"escalations"}, settings), "ja")))
    assert len(queries) == 1
    page = html[0].decode()
    assert page.count("op@dengon.example") == 3 and "firm-b 株式会社" in page
    assert page.count('href="/console/calls/') == 3


def test_the_resolve_form_posts_only_over_htmx_which_carries_the_csrf_token(client, supervisor, operator, firm_a):
    Escalation.create(tenant=firm_a, call=arrive("CA-escalated"), raised_by=operator, reason="至急")
    log_in(client, supervisor)
    form = re.search(r'<form[^>]*class="inline resolve"[^>]*>', client.get("/supervisor").text).group(0)
    assert "hx-post=" in form and "method=" not in form and " action=" not in form


@pytest.mark.parametrize("path", ["/supervisor/wallboard", "/supervisor/wallboard?tv=1", "/supervisor"])
def test_the_wallboard_and_board_are_for_supervisors_and_account_managers_only(
        client, path, supervisor, admin, operator, alice):
    for user, status in ((supervisor, 200), (admin, 200), (operator, 403), (alice, 404)):
        log_in(client, user)
        assert client.get(path).status_code == status, (user.role, path)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})


def test_the_event_stream_does_not_exist_for_anyone_but_supervisors(client, operator, alice):
    assert client.get("/supervisor/events").status_code == 404
    for user in (operator, alice):
        log_in(client, user)
        assert client.get("/supervisor/events").status_code == 404
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})


def test_tv_mode_has_no_navigation_and_a_way_back(client, supervisor):
    log_in(client, supervisor)
    normal = client.get("/supervisor/wallboard").text
    tv = client.get("/supervisor/wallboard?tv=1").text
    assert 'class="mainnav"' in normal and 'href="/supervisor/wallboard?tv=1"' in normal
    assert 'class="mainnav"' not in tv and 'class="wallboard tv"' in tv
    assert 'href="/supervisor/wallboard"' in tv


# --------------------------------------------------------------------------------------------
# the fan-out, driven as the server's event loop drives it

def run(app, scenario, timeout: float = 20):
    async def main():
        await app.state.events.start()
        try:
            return await asyncio.wait_for(scenario(wallboard.hub_of(app)), timeout)
        finally:
            await app.state.events.stop()
    return asyncio.run(main())


async def updates(board, count: int, timeout: float = 5) -> dict[str, bytes]:
    got = {}
    for _ in range(count):
        update = await board.next(timeout)
        assert update is not None, "the board was ended"
        got[update.split(b"\n", 1)[0].removeprefix(b"event: ").decode()] = update
    return got


async def quiet(board, seconds: float = 0.3) -> bool:
    try:
        await board.next(seconds)
    except asyncio.TimeoutError:
        return True
    return False


def test_one_event_is_rendered_once_per_language_and_the_same_bytes_reach_every_board(app, supervisor, firm_a):
    async def scenario(hub):
        japanese = [hub.join("ja", wallboard.PARTS) for _ in range(10)]
        english = [hub.join("en", wallboard.PARTS) for _ in range(3)]
        first = [await updates(b, len(wallboard.PARTS)) for b in japanese + english]
        assert all(f["waiting"] is first[0]["waiting"] for f in first[:10])
        rendered = hub.renders
        await asyncio.to_thread(arrive, "CA-new")
        app.state.events.publish("calls", {"event": "waiting", "call": 1})
        after = [await updates(b, 3) for b in japanese + english]  # a call arriving changes no operator
        assert set(after[0]) == {"waiting", "today", "firms"}
        assert all(a["waiting"] is after[0]["waiting"] for a in after[:10])
        assert all(a["waiting"] is after[10]["waiting"] for a in after[10:])
        assert "firm-a 株式会社" in after[0]["waiting"].decode() and "firm-a 株式会社" in after[10]["waiting"].decode()
        assert "Calls waiting" in after[10]["waiting"].decode()
        # Rendered once per part such an event changes and per language, whatever the number of boards.
        assert hub.renders - rendered == 3 * 2
        assert all([await quiet(b, 0.05) for b in japanese + english])

    run(app, scenario)


def test_an_event_that_changes_nothing_sends_nothing(app, supervisor):
    async def scenario(hub):
        board = hub.join("ja", wallboard.PARTS)
        await updates(board, len(wallboard.PARTS))
        app.state.events.publish("calls", {"event": "operator"})
        return await quiet(board)

    assert run(app, scenario)


def test_a_new_board_gets_every_part_at_once_without_a_render(app, supervisor):
    async def scenario(hub):
        await updates(hub.join("ja", wallboard.PARTS), len(wallboard.PARTS))
        rendered = hub.renders
        late = hub.join("ja", ["escalations", "waiting"])
        got = await updates(late, 2, timeout=0.01)
        return set(got), hub.renders - rendered

    assert run(app, scenario) == ({"escalations", "waiting"}, 0)


def test_boards_are_ended_when_events_were_missed_and_start_afresh_on_reconnecting(app, supervisor, firm_a):
    async def scenario(hub):
        board = hub.join("ja", wallboard.PARTS)
        await updates(board, len(wallboard.PARTS))
        app.state.events._end_subscriptions(missed=True)  # as when the broker connection drops
        assert await board.next(2) is None
        await asyncio.to_thread(arrive, "CA-meanwhile")  # published nowhere: the board never heard of it
        again = hub.join("ja", wallboard.PARTS)
        return (await updates(again, len(wallboard.PARTS)))["waiting"].decode()

    assert "firm-a 株式会社" in run(app, scenario)


def test_a_board_that_falls_behind_is_ended_rather_than_held_in_memory():
    board = wallboard.Board("ja", frozenset(wallboard.PARTS))
    for n in range(wallboard.BACKLOG):
        board.send(b"event: waiting\ndata: %d\n\n" % n)
    assert not board.ended
    board.send(b"one too many")
    assert board.ended and asyncio.run(board.next(1)) is None


def test_the_supervisors_board_streams_only_the_escalations(app, supervisor):
    async def scenario(hub):
        board = hub.join("ja", ["escalations"])
        got = await updates(board, 1)
        app.state.events.publish("calls", {"event": "waiting", "call": 1})
        return set(got), await quiet(board)

    assert run(app, scenario) == ({"escalations"}, True)


def test_an_escalation_appears_on_every_screen_at_once_and_leaves_when_one_supervisor_resolves_it(
        app, client, supervisor, admin, operator, firm_a):
    call = arrive("CA-escalated")
    log_in(client, supervisor)
    token = csrf_token(client, "/supervisor")

    async def scenario(hub):
        screens = [hub.join("ja", ["escalations"]), hub.join("en", ["escalations"])]
        for s in screens:
            await updates(s, 1)
        await asyncio.to_thread(lambda: Escalation.create(tenant=firm_a, call=call, raised_by=operator,
                                                          reason="弁護士に至急つないでほしい"))
        app.state.events.publish("escalations", {"event": "raised"})
        raised = [(await updates(s, 1))["escalations"].decode() for s in screens]
        escalation = await asyncio.to_thread(Escalation.get)
        response = await asyncio.to_thread(
            client.post, f"/supervisor/escalations/{escalation.id}/resolve",
            data={"resolution": "連絡済み"}, headers={"HX-Request": "true", "X-CSRF-Token": token})
        resolved = [(await updates(s, 1))["escalations"].decode() for s in screens]
        return raised, response.status_code, resolved

    raised, status, resolved = run(app, scenario)
    assert all("弁護士に至急つないでほしい" in html for html in raised)
    assert 'data-escalation="' in raised[0] and "Resolve" in raised[1]
    assert status == 204
    assert all("弁護士に至急つないでほしい" not in html for html in resolved)
    assert Escalation.get().resolution == "連絡済み"


def test_a_call_ended_by_the_provider_moves_its_operator_to_after_call_work_on_the_board(
        app, client, settings, supervisor, operator, firm_a):
    from .test_webhooks import post

    on_duty(operator)
    call = arrive("CA-ending")
    Call.take(call.id, operator)

    async def scenario(hub):
        board = hub.join("ja", ["operators"])
        before = (await updates(board, 1))["operators"].decode()
        await asyncio.to_thread(post, client, settings, "/twilio/status",
                                {"CallSid": "CA-ending", "CallStatus": "completed"})
        after = (await updates(board, 1))["operators"].decode()
        return before, after

    before, after = run(app, scenario)
    assert 'data-state="on_call"' in before and 'data-state="after_call_work"' in after


def test_a_board_whose_supervisor_was_disabled_gets_not_one_more_update(app, supervisor, admin, firm_a):
    from app.accounts import service as accounts

    watching, _ = Session.start(supervisor)
    colleague, _ = Session.start(admin)

    async def scenario(hub):
        boards = [hub.join("ja", ["waiting"], watching.id), hub.join("ja", ["waiting"], colleague.id)]
        for board in boards:
            await updates(board, 1)
        await asyncio.to_thread(accounts.set_active, supervisor.email, False)
        await asyncio.to_thread(arrive, "CA-after")
        app.state.events.publish("calls", {"event": "waiting"})
        return await boards[0].next(5), (await updates(boards[1], 1))["waiting"].decode()

    gone, colleagues = run(app, scenario)
    assert gone is None and "firm-a 株式会社" in colleagues


def test_a_quiet_wallboard_stream_ends_at_the_next_heartbeat_once_its_supervisor_is_signed_out(
        app, supervisor, monkeypatch):
    from itsdangerous import Signer
    from starlette.requests import Request

    from app.supervisor import views
    from app.web import streams
    from app.web.csrf import SESSION_COOKIE

    monkeypatch.setattr(streams, "HEARTBEAT_SECONDS", 0.2)
    session, token = Session.start(supervisor)
    signed = Signer(app.state.settings.SECRET_KEY, salt="dengon.session").sign(token).decode()
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/supervisor/events",
                       "query_string": b"parts=escalations", "headers": [(b"cookie", f"{SESSION_COOKIE}={signed}".encode())]})

    async def scenario(hub):
        chunks = (await views.events(request)).body_iterator
        sent = []
        while streams.KEEP_ALIVE not in sent:  # the board's parts, then quiet: a heartbeat
            sent.append(await anext(chunks))
        await asyncio.to_thread(lambda: Session.delete_by_id(session.id))  # signed out elsewhere
        return sent, [chunk async for chunk in chunks]

    sent, after = run(app, scenario)
    assert any(isinstance(c, bytes) and c.startswith(b"event: escalations") for c in sent)
    assert after == []
