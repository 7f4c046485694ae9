"""Headers that make every page safer to show: no framing, no sniffing, scripts only from us; over
https, browsers told to keep to it; nothing but the static files kept in a cache."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     # The browser phone (Twilio Voice SDK) signals over wss and plays its tones from the provider.
     b"connect-src 'self' https://*.twilio.com wss://*.twilio.com; media-src 'self' blob: https://*.twilio.com; "
     b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
]
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")  # two years
# Pages and API answers hold callers' names and numbers: no browser or proxy cache may keep them
# (a shared computer's back button, a proxy's disk). The static files are the same for everybody.
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        extra = list(HEADERS)
        if scope["app"].state.settings.https:  # PUBLIC_URL, not the scheme seen behind a proxy
            extra.append(HSTS)
        if not scope["path"].startswith("/static/"):
            extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                # A response that sets its own policy (an archived report's sandbox, an event
                # stream's caching) keeps it.
                present = {name.lower() for name, _value in headers}
                headers.extend(h for h in extra if h[0] not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)
