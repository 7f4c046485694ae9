"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: mail is never mocked."""

from __future__ import annotations

import email
import email.policy
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from .browser import free_port


class Inbox:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: dict[str, str] = {}  # recipient → SMTP reply, e.g. "550 5.1.1 no such user"
        self.per_connection: int | None = None  # like servers that take only so many mails per connection
        self.peers: list = []  # the client's address for each mail accepted: one per connection
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "Inbox":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    async def handle_MAIL(self, server, session, envelope: Envelope, address: str, mail_options):
        taken = sum(peer == session.peer for peer in self.peers)
        if self.per_connection is not None and taken >= self.per_connection:
            return "421 4.7.0 Too many messages for this connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope: Envelope, address: str, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope: Envelope):
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), mail))
            self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [mail for rcpts, mail in self.received if address in rcpts]

    def wait_for(self, count: int, seconds: float = 10) -> list:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mails, received {len(self.received)}")
