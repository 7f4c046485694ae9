"""The consoles' live list is read once per event for every console of a process, yet each operator
still sees what is theirs: the call offered to them first, the take button only when available, and
nothing once their session has ended."""

import asyncio
import datetime as dt


from app.accounts import service as accounts
from app.accounts.models import Session
from app.calls.models import Call, OperatorPresence
from app.console import live
from app.db import utcnow

from .conftest import _user


def arrive(sid, seconds_ago: float = 0):
    call, _ = Call.arrive(sid, to="+815000000000", caller="090-1234-5678", forwarded_from="03-1111-2222",
                          region="JP", at=utcnow() - dt.timedelta(seconds=seconds_ago))
    return call


def test_one_read_per_event_serves_every_console_and_each_sees_its_own_offer(app, firm_a, operator, monkeypatch):
    second = _user("op2@dengon.example", "operator")
    on_break = _user("op3@dengon.example", "operator")
    sessions = {u.id: Session.start(u)[0].id for u in (operator, second, on_break)}
    OperatorPresence.set(operator, True)
    OperatorPresence.update(since=utcnow() - dt.timedelta(minutes=10)).where(OperatorPresence.user == operator).execute()
    OperatorPresence.set(second, True)
    arrive("CA-offered")  # inside its head start (OFFER_SECONDS)
    reads = []
    original = live.Snapshot._load
    monkeypatch.setattr(live.Snapshot, "_load", lambda self: (reads.append(1), original(self)))
    event = {"event": "waiting", "call": 1}  # one event object, as the bus hands it to every console

    async def scenario():
        lists = live.Lists()
        people = [operator, second, on_break] * 10  # thirty consoles
        return await asyncio.gather(*(lists.of(app, event).update_for(sessions[u.id], u) for u in people))

    updates = asyncio.run(scenario())
    assert len(reads) == 1
    mine, others, resting = updates[:3]
    assert updates[3:6] == [mine, others, resting] and updates[3] is mine  # the same bytes for the same view
    assert "offered-tag" in mine and "offered-tag" not in others
    assert 'class="primary take"' not in others  # offered to the longest-idle: the other waits its turn
    assert "disabled" in resting and "firm-a 株式会社" in resting


def test_a_console_whose_user_was_disabled_gets_nothing_from_the_next_event(app, firm_a, operator):
    session, _token = Session.start(operator)
    arrive("CA-after")
    accounts.set_active(operator.email, False)

    async def scenario():
        return await live.Lists().of(app, {"event": "waiting"}).update_for(session.id, operator)

    assert asyncio.run(scenario()) is None
