"""The live wallboard: calls waiting now, every operator's state, today's figures, per firm, and the
open escalations, kept up to date over server-sent events (no polling).

Cheap per screen: each web process has one ``Hub``. It listens on the live-event bus once, works out
which parts of the board an event changes, reads them from the database once, renders each once per
language in use and sends the same bytes to every open board. Events that arrive while it renders
are taken together in the next round. A part that renders as it was is not sent again. A board that
falls behind, or a hub that missed events, is ended: the browser reconnects and is sent every part
afresh, so nothing is missed for long.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import logging

from starlette.concurrency import run_in_threadpool

from .. import days, i18n
from ..accounts.models import OPERATOR, Session, User
from ..calls.models import REASON_LABELS, Call, OperatorPresence
from ..days import SERVICE_ZONE
from ..db import db, utcnow
from ..messages.models import Escalation
from ..stats import figures
from ..stats.report import SERVICE_LEVEL_TARGET
from ..web import streams
from ..web.templates import templates

log = logging.getLogger("dengon.wallboard")

PARTS = ("waiting", "operators", "today", "firms", "escalations")
# Which parts an event may change: by its topic and kind, else by its topic alone.
CHANGES = {
    ("calls", "waiting"): {"waiting", "today", "firms"},  # arrived (or back in the queue)
    ("calls", "gone"): {"waiting", "today", "firms"},  # abandoned
    ("calls", "taken"): {"waiting", "operators", "today", "firms"},
    ("calls", "operator"): {"operators"},  # someone's availability
    "calls": {"waiting", "operators", "today", "firms"},
    "operators": {"operators", "today", "firms"},  # a call ended, someone signed in
    "messages": {"operators", "today", "firms"},  # a message saved: after-call work over
    "escalations": {"escalations"},
}


def changes(topic: str, data: dict) -> set[str]:
    return CHANGES.get((topic, data.get("event")), CHANGES.get(topic, set()))
# Rendered in this order, a group at a time (today and each firm's come from one count).
GROUPS = ({"escalations"}, {"waiting"}, {"operators"}, {"today", "firms"})
BACKLOG = 50  # updates a board may fall behind before it is ended (it reconnects and starts afresh)
STATE_ORDER = {"on_call": 0, "after_call_work": 1, "available": 2, "break": 3}


# --------------------------------------------------------------------------------------------
# what each part shows

@dataclasses.dataclass
class OperatorRow:
    name: str
    state: str  # on_call, after_call_work, available, break
    since: dt.datetime | None
    reason: str = ""  # a break's, as a label msgid
    break_next: bool = False  # a break asked for, once this call's work is over


def waiting_calls() -> list[Call]:
    return list(Call.waiting())


def operators_now(now: dt.datetime) -> list[OperatorRow]:
    """Everyone signed in who takes calls: every operator, and a supervisor or account manager while
    available or busy with a call. The ones on a call first, then after-call work, available, on
    break; the longest in their state first."""
    live = Session.signed_in_staff(now)
    if not live:
        return []
    users = list(User.select().where(User.id.in_(list(live))))
    presences = {p.user_id: p for p in OperatorPresence.select().where(OperatorPresence.user.in_([u.id for u in users]))}
    work = OperatorPresence.work(u.id for u in users)
    rows = []
    for user in users:
        presence = presences.get(user.id)
        if presence is None:  # never set themselves available: on break since they signed in
            presence = OperatorPresence(user=user, available=False, since=live[user.id])
        state, since = presence.state(work[user.id])
        if user.role != OPERATOR and state == "break":
            continue  # a supervisor watching, not answering
        rows.append(OperatorRow(
            name=user.label, state=state, since=since,
            reason=REASON_LABELS.get(presence.reason, "") if state == "break" else "",
            break_next=bool(presence.pending_reason) and state in ("on_call", "after_call_work")))
    rows.sort(key=lambda r: (STATE_ORDER[r.state], r.since or now, r.name))
    return rows


def today(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The service's day so far: from local midnight to now."""
    return days.today(now, SERVICE_ZONE)[0], now


def next_midnight(now: dt.datetime) -> dt.datetime:
    return days.today(now, SERVICE_ZONE)[1]


def figures_today(now: dt.datetime, service_level: int) -> dict:
    """Today's totals and those of each firm that had a call or a message today, busiest first, as
    the figures module counts them (a call counts from its arrival, waiting ones included)."""
    since, until = today(now)
    firms = [(tenant, row) for tenant, row in figures.by_tenant(since, until, service_level=service_level)
             if row["offered"] or row["messages"] or row["after_hours"]]
    firms.sort(key=lambda pair: (-pair[1]["offered"], -pair[1]["messages"], pair[0].name))
    return {"day": since, "totals": figures.figures(since, until, service_level=service_level).totals,
            "firms": firms}


def load(parts: set[str], settings) -> dict:
    """Everything the given parts show, read once for every screen and language."""
    now = utcnow()
    data: dict = {"now": now, "threshold": settings.service_level_seconds, "target": SERVICE_LEVEL_TARGET}
    if "waiting" in parts:
        data["calls"] = waiting_calls()
    if "operators" in parts:
        data["operators"] = operators_now(now)
    if parts & {"today", "firms"}:
        data.update(figures_today(now, settings.service_level_seconds))
    if "escalations" in parts:
        data["escalations"] = list(Escalation.open())
    return data


def render(part: str, data: dict, language: str) -> bytes:
    """One part as a server-sent event (its name is the part's)."""
    with i18n.use_locale(language):
        html = templates.get_template(f"supervisor/_{part}.html").render(data)
    return streams.event(part, html).encode()


def page_context(settings) -> dict:
    """The board as a page shows it before its stream connects."""
    return load(set(PARTS), settings)


# --------------------------------------------------------------------------------------------
# fan-out

class Board:
    """One open board (a browser's stream): the parts it shows and the updates not yet sent."""

    def __init__(self, language: str, parts: frozenset[str], session_id: int | None = None):
        self.language = language
        self.session_id = session_id  # the browser's session: it must still be live for each update
        self.parts = parts
        self.pending: collections.deque[bytes] = collections.deque()
        self.wakeup = asyncio.Event()
        self.ended = False

    def send(self, update: bytes) -> None:
        if self.ended:
            return
        if len(self.pending) >= BACKLOG:
            self.end()
            return
        self.pending.append(update)
        self.wakeup.set()

    def end(self) -> None:
        self.ended = True
        self.pending.clear()
        self.wakeup.set()

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        """The next update; the iteration stops when the board is ended (as a bus subscription does,
        so a stream reads a board with ``streams.bus_events``)."""
        while not self.pending:
            if self.ended:
                raise StopAsyncIteration
            self.wakeup.clear()
            await self.wakeup.wait()
        return self.pending.popleft()

    async def next(self, timeout: float) -> bytes | None:
        """The next update; None when ended. Raises TimeoutError after ``timeout`` s of quiet."""
        async with asyncio.timeout(timeout):  # no task per update, as wait_for would make
            return await anext(self, None)


class Hub:
    """This process's boards and the one task that keeps them up to date."""

    def __init__(self, app):
        self.app = app
        self.boards: set[Board] = set()
        self.current: dict[tuple[str, str], bytes] = {}  # (part, language) → what the boards show now
        self.dirty: set[str] = set()
        self.changed = asyncio.Event()
        self.renders = 0  # parts rendered (per language), for tests and the bench
        self._task: asyncio.Task | None = None

    def join(self, language: str, parts, session_id: int | None = None) -> Board:
        """A new board, sent at once every part already current; the others follow when rendered."""
        board = Board(language, frozenset(parts), session_id)
        self.boards.add(board)
        missing = set()
        for part in board.parts:
            if (update := self.current.get((part, language))) is not None:
                board.send(update)
            else:
                missing.add(part)
        if missing:
            self._mark(missing)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return board

    def leave(self, board: Board) -> None:
        self.boards.discard(board)
        if not any(b.language == board.language for b in self.boards):
            # Nobody left to keep this language's parts current: render them afresh for the next one.
            for key in [k for k in self.current if k[1] == board.language]:
                del self.current[key]

    def _mark(self, parts) -> None:
        self.dirty |= set(parts)
        self.changed.set()

    async def _run(self) -> None:
        bus = self.app.state.events
        try:
            async with bus.subscribe() as subscription:
                listening = asyncio.get_running_loop().create_task(self._listen(subscription))
                try:
                    await self._keep_rendering(listening)
                finally:
                    listening.cancel()
        except Exception:
            log.exception("the wallboard stopped")
        # The bus stopped, or this hub missed events: every board starts afresh on reconnecting.
        self.current.clear()
        for board in list(self.boards):
            board.end()
        self.boards.clear()

    async def _listen(self, subscription) -> None:
        async for topic, data in subscription:
            if parts := changes(topic, data):
                self._mark(parts)

    async def _keep_rendering(self, listening: asyncio.Task) -> None:
        while not listening.done():
            if not self.dirty:
                # Wake at midnight too, when "today" starts again.
                until = (next_midnight(utcnow()) - utcnow()).total_seconds()
                waiting = asyncio.ensure_future(self.changed.wait())
                done, _ = await asyncio.wait({waiting, listening}, timeout=max(1.0, until),
                                             return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                if not done:
                    self._mark({"today", "firms"})
                continue
            self.changed.clear()
            parts, self.dirty = self.dirty, set()
            if not self.boards:
                self.current.clear()
                continue
            await self._render(parts)

    async def _render(self, parts: set[str]) -> None:
        # The most urgent first, each sent as soon as it is ready: a call waiting need not wait for
        # today's figures to be counted.
        for group in GROUPS:
            if todo := parts & group:
                await self._render_group(todo)

    async def _render_group(self, parts: set[str]) -> None:
        languages = {b.language for b in self.boards}
        settings = self.app.state.settings

        def work() -> tuple[set[int], dict[tuple[str, str], bytes]]:
            # Rendered inside the connection: a row's template must not open one of its own.
            with db.connection_context():
                data = load(parts, settings)
                live = Session.live_staff_ids()
                return live, {(part, language): render(part, data, language)
                              for part in parts for language in languages}

        live, rendered = await run_in_threadpool(work)
        self.renders += len(rendered)
        for board in [b for b in self.boards if b.session_id is not None and b.session_id not in live]:
            board.end()  # signed out, disabled, or a password changed elsewhere: not one more update
            self.boards.discard(board)
        for key, update in rendered.items():
            if self.current.get(key) == update:
                continue  # as the boards show it already
            self.current[key] = update
            part, language = key
            for board in list(self.boards):
                if board.language == language and part in board.parts:
                    board.send(update)
                    if board.ended:
                        self.boards.discard(board)


def hub_of(app) -> Hub:
    hub = getattr(app.state, "wallboard", None)
    if hub is None:
        hub = app.state.wallboard = Hub(app)
    return hub
