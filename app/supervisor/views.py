"""The supervisors' area: their board with the open escalations, and the live wallboard."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..accounts.models import ADMIN, SUPERVISOR
from ..db import db, utcnow
from ..web import streams
from ..web.auth import session_for, view
from ..web.templates import render
from . import wallboard

SUPERVISORS = frozenset({ADMIN, SUPERVISOR})
RECONNECT_MS = 1000  # how soon a browser whose stream ended (a missed event) comes back


@view(roles=SUPERVISORS)
def board(request: Request):
    return render(request, "supervisor/index.html", wallboard.load({"escalations"}, request.app.state.settings))


@view(roles=SUPERVISORS)
def wallboard_page(request: Request):
    """The wallboard; ``?tv=1`` for a screen on the wall: big type, high contrast, no navigation."""
    context = wallboard.page_context(request.app.state.settings)
    return render(request, "supervisor/wallboard.html", {**context, "tv": request.query_params.get("tv") == "1"})


def _stream_session(request: Request):
    with db.connection_context():
        session = session_for(request)
        return session if session is not None and session.user.role in SUPERVISORS else None


async def events(request: Request):
    """Server-sent events: each part of the board (``?parts=`` a comma-separated choice, default all)
    as it changes, rendered once for every open board (``wallboard.Hub``). Supervisors and account
    managers only; anyone else is told it does not exist."""
    session = await run_in_threadpool(_stream_session, request)
    if session is None:
        raise HTTPException(404)
    user = session.user
    asked = request.query_params.get("parts", "")
    parts = [p for p in asked.split(",") if p in wallboard.PARTS] if asked else list(wallboard.PARTS)
    if not parts:
        raise HTTPException(404)
    hub = wallboard.hub_of(request.app)

    async def stream():
        board = hub.join(user.language, parts, session.id)
        try:
            # The server's clock, so timers in a browser with a wrong clock still show true waits.
            yield f"retry: {RECONNECT_MS}\nevent: clock\ndata: {utcnow().isoformat()}\n\n"
            while True:
                try:
                    update = await board.next(streams.HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    if not await run_in_threadpool(streams.signed_in, request):
                        return  # the browser reconnects, and is refused
                    yield streams.KEEP_ALIVE
                    continue
                if update is None:
                    return  # missed events or fell behind: the browser reconnects and gets everything afresh
                yield update
        finally:
            hub.leave(board)

    return streams.response(stream())
