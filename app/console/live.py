"""The consoles' live waiting list, read once per event for every console of this web process.

Each open console used to read the calls, the offers and its own session and presence, and render
its list, on every event: with 200 operators that was a second of CPU per call (bench/wallboard.py).
Now the first console to handle an event reads a ``Snapshot`` (the waiting calls and their offers,
who is available, which staff sessions are live) that the others share; a list is rendered once for
each distinct view of it (a language, whether the reader may take calls, which calls are offered to
them: most operators see the same), and a console whose session ended is still refused at once.
"""

from __future__ import annotations

import asyncio
import collections

from starlette.concurrency import run_in_threadpool

from .. import i18n
from ..accounts.models import Session, User
from ..calls import service as call_service
from ..calls.models import OperatorPresence
from ..db import db, utcnow
from ..web import streams
from ..web.templates import templates

RECENT = 16  # events whose snapshot is kept for consoles still catching up


class Snapshot:
    """The waiting list as one event left it, for every console. Used from the event loop: one
    console reads it in a thread while the others wait for that, and each view is rendered once."""

    def __init__(self, app):
        self.app = app
        self._loading: asyncio.Future | None = None
        self._rendering: dict[tuple, asyncio.Future] = {}

    def _load(self) -> None:
        with db.connection_context():
            self.calls, self.offers = call_service.offers_now(self.app)
            self.now = utcnow()
            self.available = {user_id for (user_id,) in OperatorPresence.select(OperatorPresence.user).where(
                OperatorPresence.available).tuples()}
            self.live_sessions = Session.live_staff_ids()

    async def update_for(self, session_id: int, user: User) -> str | None:
        """The ``calls`` event for ``user``'s console (offered to them first, then the rest), or None
        when their session was no longer live (signed out, disabled, a password changed elsewhere)."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(run_in_threadpool(self._load))
        if not self._loading.done():
            await asyncio.shield(self._loading)  # a console that goes away does not cancel the others' read
        self._loading.result()
        if session_id not in self.live_sessions:
            return None
        mine = frozenset(call_id for call_id, offer in self.offers.items() if offer.user_id == user.id)
        key = (user.language, user.id in self.available, mine)
        if (rendering := self._rendering.get(key)) is None:
            rendering = self._rendering[key] = asyncio.ensure_future(run_in_threadpool(self._render, key, user))
        return rendering.result() if rendering.done() else await asyncio.shield(rendering)

    def _render(self, key: tuple, user: User) -> str:
        language, can_take, mine = key
        with i18n.use_locale(language):
            calls = [c for c in self.calls if c.id in mine] + [c for c in self.calls if c.id not in mine]
            # The list shows ``me`` only through the offers: anyone with the same view gets the same bytes.
            # No request: the bytes go to every console with this view, so nothing of one user's may show.
            html = templates.get_template("console/_waiting.html").render(
                {"calls": calls, "offers": self.offers, "me": user.id, "now": self.now, "can_take": can_take,
                 "request": None})
        return streams.event("calls", html)


class Lists:
    """This process's snapshots of recent events, each shared by the consoles that receive it (the
    bus hands every subscriber the same event object)."""

    def __init__(self):
        self._recent: collections.OrderedDict[int, tuple[object, Snapshot]] = collections.OrderedDict()

    def of(self, app, event: object) -> Snapshot:
        """The snapshot of ``event`` (in the event loop)."""
        entry = self._recent.get(id(event))
        if entry is None or entry[0] is not event:
            entry = self._recent[id(event)] = (event, Snapshot(app))  # the event kept: its id stays its own
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        return entry[1]


def lists_of(app) -> Lists:
    lists = getattr(app.state, "console_lists", None)
    if lists is None:
        lists = app.state.console_lists = Lists()
    return lists
