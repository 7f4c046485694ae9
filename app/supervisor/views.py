"""The supervisors' area: their board with the open escalations, and the live wallboard."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..accounts.models import MANAGERS
from ..db import utcnow
from ..web import streams
from ..web.auth import stream_session, view
from ..web.templates import render
from . import wallboard

RECONNECT_MS = 1000  # how soon a browser whose stream ended (a missed event) comes back


@view(roles=MANAGERS)
def board(request: Request):
    return render(request, "supervisor/index.html", wallboard.load({"escalations"}, request.app.state.settings))


@view(roles=MANAGERS)
def wallboard_page(request: Request):
    """The wallboard; ``?tv=1`` for a screen on the wall: big type, high contrast, no navigation."""
    context = wallboard.page_context(request.app.state.settings)
    return render(request, "supervisor/wallboard.html", {**context, "tv": request.query_params.get("tv") == "1"})


async def events(request: Request):
    """Server-sent events: each part of the board (``?parts=`` a comma-separated choice, default all)
    as it changes, rendered once for every open board (``wallboard.Hub``). Supervisors and account
    managers only; anyone else is told it does not exist."""
    session = await stream_session(request, MANAGERS)
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
            # Ends on missed events or falling behind (the browser reconnects and gets everything
            # afresh), or when signed out (it reconnects, and is refused).
            async for update in streams.bus_events(request, board):
                yield streams.KEEP_ALIVE if update is None else update
        finally:
            hub.leave(board)

    return streams.response(stream())
