"""Bounded request bodies, refused before anything parses them, and big parses kept off the event loop.

Every request body is read here, counted as it arrives, before the app sees it: a declared
``Content-Length`` over the limit is refused at once without reading a byte of the body, and a
body that streams in without one is refused the moment it passes the limit. Either way the answer
is 413 and the connection is closed, so nothing more of the body is read; no handler runs on a
truncated body. Limits go by path: provider webhooks (``/twilio/``) 64 KB, signed or not; the JSON
API (``/api/``) 1 MB, refused in JSON; everything else (page forms) 1 MB, refused with the error page.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import i18n
from ..i18n import _

KB = 1024
# A provider's webhook is a form of a few dozen short fields (a few KB); 64 KB fits any real one.
WEBHOOK_BODY_LIMIT = 64 * KB
# The JSON API's largest honest body is one message with its fields: far below 1 MB.
API_BODY_LIMIT = 1024 * KB
# Page forms carry no uploads: a message, a note, a firm's settings.
FORM_BODY_LIMIT = 1024 * KB

# Under this size a parse (form, JSON, signature) takes well under a millisecond: not worth a thread hop.
INLINE_PARSE_BYTES = 8 * KB


def limit_for(path: str) -> int:
    if path.startswith("/twilio/"):
        return WEBHOOK_BODY_LIMIT
    if path.startswith("/api/"):
        return API_BODY_LIMIT
    return FORM_BODY_LIMIT


async def parsed(parse, body: bytes, *args):
    """``parse(body, *args)``; in a worker thread when the body is big enough to hold up every other
    request while it is parsed (a 1 MB form of percent-escapes takes ~70 ms, a 64 KB webhook ~15 ms)."""
    if len(body) <= INLINE_PARSE_BYTES:
        return parse(body, *args)
    return await run_in_threadpool(parse, body, *args)


class TooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared, chunked = headers.get(b"content-length"), b"transfer-encoding" in headers
        if declared is None and not chunked:
            # No body (a GET, an event stream): nothing to count, and the app keeps its own receive
            # to hear the client leave.
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        try:
            # The server has already refused a Content-Length that is not a number.
            if declared is not None and int(declared) > limit:
                raise TooLarge
            body = await _read_body(receive, limit)
        except TooLarge:
            await _too_large(scope, limit)(scope, _gone, send)
            return
        except ClientGone:
            return  # nobody to answer, and the app must not act on half a body
        await self.app(scope, replay_body(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def replay_body(body: bytes, original: Receive) -> Receive:
    """A receive channel that yields the body already read, then whatever comes next (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive


async def _gone() -> Message:
    return {"type": "http.disconnect"}


def _too_large(scope: Scope, limit: int) -> Response:
    # Connection: close tells the server not to read (and discard) the rest of the body.
    headers = {"Connection": "close"}
    path, size = scope["path"], f"{limit // 1024 // KB} MB" if limit % (1024 * KB) == 0 else f"{limit // KB} KB"
    if path.startswith("/twilio/"):
        return PlainTextResponse(f"request body over {size}", status_code=413, headers=headers)
    request = Request(scope)
    if path.startswith("/api/"):
        asked = request.headers.get("accept-language", "")[:2].lower()
        with i18n.use_locale(asked if asked in i18n.LOCALES else "en"):
            message = _("The request body is larger than {size}.").format(size=size)
        return JSONResponse({"errors": {"body": message}}, status_code=413, headers=headers)
    from .errors import error_page

    response = error_page(request, 413)
    response.headers.update(headers)
    return response
