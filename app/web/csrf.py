"""CSRF protection for every unsafe request made with browser cookies.

The browser holds a random cookie; a form (field ``csrf_token``) or an htmx request (header
``X-CSRF-Token``) must send back an HMAC, under SECRET_KEY, of that cookie and the session
cookie. An attacker's page can read neither cookie nor compute the HMAC; an attacker who plants
a CSRF cookie of their own still lacks the victim's session, so the token they know is useless.
Provider webhooks (signed) and the JSON API (bearer tokens, never cookies) are exempt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from .limits import replay_body

COOKIE = "dengon_csrf"
SECURE_COOKIE = "__Host-dengon_csrf"  # over https: only this host, only secure, path /
SESSION_COOKIE = "dengon_session"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The name, then (a fixed-width look back) that it starts a field: a literal first lets re search fast.
_URLENCODED_FIELD = re.compile(re.escape(FIELD.encode()) + rb"=(?<![^&]" + re.escape(FIELD.encode()) + rb"=)([^&]*)")


def form_token(secret: str, cookie: str, session: str) -> str:
    return hmac.new(secret.encode(), f"{cookie}|{session}".encode(), hashlib.sha256).hexdigest()


def token_for(request: Request) -> str:
    """The token this request's pages must put in their forms."""
    return form_token(request.app.state.settings.SECRET_KEY, request.scope["csrf_cookie"],
                      request.cookies.get(SESSION_COOKIE, ""))


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, secret: str, exempt_prefixes: tuple[str, ...] = (), secure: bool = False):
        self.app = app
        self.secret = secret
        self.exempt_prefixes = exempt_prefixes
        self.secure = secure
        self.cookie_name = SECURE_COOKIE if secure else COOKIE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookie = request.cookies.get(self.cookie_name)
        new_cookie = cookie is None
        if new_cookie:
            cookie = secrets.token_urlsafe(32)
        scope["csrf_cookie"] = cookie

        if scope["method"] not in SAFE_METHODS:
            submitted = request.headers.get(HEADER)
            if submitted is None:
                body = await _read_body(receive)
                submitted = _field_from(request.headers.get("content-type", ""), body)
                receive = replay_body(body, receive)
            expected = form_token(self.secret, cookie, request.cookies.get(SESSION_COOKIE, ""))
            if new_cookie or not submitted or not hmac.compare_digest(submitted, expected):
                await _rejected(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if new_cookie and message["type"] == "http.response.start":
                jar = SimpleCookie()
                jar[self.cookie_name] = cookie
                jar[self.cookie_name].update({"path": "/", "httponly": True, "samesite": "Lax", "secure": self.secure})
                message.setdefault("headers", []).append((b"set-cookie", jar[self.cookie_name].OutputString().encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _read_body(receive: Receive) -> bytes:
    # Its size is bounded before it gets here (limits.BodyLimitMiddleware).
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _field_from(content_type: str, body: bytes) -> str | None:
    if content_type.startswith("application/x-www-form-urlencoded"):
        # Found, not parsed: parsing a 1 MB form of many fields would hold up every request (~130 ms).
        found = _URLENCODED_FIELD.search(body)
        return unquote_plus(found[1].decode("latin-1")) if found else None
    if content_type.startswith("multipart/form-data"):
        # The token field is plain ASCII; find it without parsing uploads.
        marker = f'name="{FIELD}"'.encode()
        start = body.find(marker)
        if start >= 0:
            value_start = body.find(b"\r\n\r\n", start) + 4
            return body[value_start:body.find(b"\r\n", value_start)].decode("ascii", "replace")
    return None


async def _rejected(scope: Scope, receive: Receive, send: Send) -> None:
    # Rendered by the app's error page so the person sees it in their language.
    from .errors import csrf_failure_response

    await csrf_failure_response(Request(scope, receive))(scope, receive, send)
