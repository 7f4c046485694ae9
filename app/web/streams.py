"""Live pages: server-sent event streams of the bus's events, for signed-in users only. The console
and the firm's inbox share this loop; each decides what an event means to its page."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from ..db import db
from .auth import session_for

HEARTBEAT_SECONDS = 15
KEEP_ALIVE = ": keep-alive\n\n"
T = TypeVar("T")


def event(name: str, html: str) -> str:
    """One event whose data is ``html``: an SSE data field is one line per "data:" prefix."""
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"


def signed_in(request: Request) -> bool:
    """Whether the stream's user still has their session: a user disabled, removed or signed out from
    elsewhere (a password change) stops receiving at once. Not activity: it keeps no session alive."""
    with db.connection_context():
        return session_for(request, touch=False) is not None


async def bus_events(request: Request, subscription: AsyncIterator[T]) -> AsyncIterator[T | None]:
    """The subscription's events (a bus subscription's, or a wallboard's updates), and None after each
    HEARTBEAT_SECONDS of quiet (send KEEP_ALIVE). Ends when the user is signed out (asked at every
    heartbeat) or the subscription ends (the bus stopped, or this stream missed events): the browser
    reconnects, and a new stream starts afresh."""
    while True:
        try:
            # asyncio.timeout, not wait_for: no task per event for each of hundreds of open streams.
            async with asyncio.timeout(HEARTBEAT_SECONDS):
                item = await anext(subscription)
        except TimeoutError:
            if not await run_in_threadpool(signed_in, request):
                return
            yield None
            continue
        except StopAsyncIteration:
            return
        yield item


def response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
