"""A stand-in for the telephony provider's REST API, served on loopback: the one thing the tests
fake, because the real one is paid and remote. Point TWILIO_API_BASE at ``url``; every request
is recorded with its form and credentials; ``fail_with`` makes it answer as the provider does
when it refuses."""

from __future__ import annotations

import base64
import secrets
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .browser import free_port


class FakeProvider:
    def __init__(self):
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[
            Route("/2010-04-01/Accounts/{account}/Keys.json", self.keys, methods=["POST"]),
            Route("/2010-04-01/Accounts/{account}/Calls/{call}.json", self.update_call, methods=["POST"]),
            Route("/2010-04-01/Accounts/{account}/Messages.json", self.create_message, methods=["POST"]),
        ])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    async def _record(self, request: Request) -> JSONResponse | None:
        user, _, password = base64.b64decode(request.headers["authorization"].split()[1]).decode().partition(":")
        self.requests.append({"path": request.url.path, "form": dict(await request.form()),
                              "user": user, "password": password})
        if self.fail_with:
            return JSONResponse({"code": 21220, "message": "Call is not in-progress. Cannot redirect.",
                                 "more_info": "https://www.twilio.com/docs/errors/21220", "status": self.fail_with},
                                status_code=self.fail_with)
        return None

    async def keys(self, request: Request):
        if refused := await self._record(request):
            return refused
        return JSONResponse({"sid": "SK" + secrets.token_hex(16), "secret": secrets.token_urlsafe(24),
                             "friendly_name": (await request.form()).get("FriendlyName"),
                             "date_created": "Mon, 23 Nov 2026 16:00:00 +0000",
                             "date_updated": "Mon, 23 Nov 2026 16:00:00 +0000"}, status_code=201)

    async def update_call(self, request: Request):
        if refused := await self._record(request):
            return refused
        return JSONResponse({"sid": request.path_params["call"], "account_sid": request.path_params["account"],
                             "status": "in-progress"})

    async def create_message(self, request: Request):
        if refused := await self._record(request):
            return refused
        form = await request.form()
        return JSONResponse({"sid": "SM" + secrets.token_hex(16), "account_sid": request.path_params["account"],
                             "to": form.get("To"), "body": form.get("Body"), "status": "queued",
                             "num_segments": "1"}, status_code=201)
