"""A claimed delivery is a lease: its sender renews it while the send lasts; a sender that died
(kill -9 mid-send) stops renewing, and another worker sends the delivery within a minute."""

import datetime as dt
import threading
import time

import pytest

from app.db import db, utcnow
from app.delivery import channels, service as delivery
from app.delivery.models import Delivery
from app.messages import forms, service as messages
from app.tenants import store

from .conftest import minimal_config


@pytest.fixture
def notice(database):
    """An urgent message's e-mail notification, recorded and not yet sent: its delivery's id."""
    firm = store.import_config(minimal_config("law", "03-1234-5678", notify=[
        {"urgent": True, "deliver": [{"channel": "email", "to": ["office@law.example.jp"]}]}]))
    clean = forms.Clean(forms.form_of(firm, None), "message", True,
                        {"caller_name": "佐藤 花子", "callback_number": "+819012345678", "body": "至急"}, [], {})
    (delivery_id,) = delivery.notify(messages.record(firm, clean, None))
    return delivery_id


def test_a_claim_whose_worker_died_is_taken_by_another_worker_after_a_minute(notice, settings, tmp_path):
    claimed_at = utcnow()
    assert delivery.claim(notice, claimed_at)  # the worker that took it was killed before sending

    assert delivery.send_due(settings, now=claimed_at + dt.timedelta(seconds=30)) == {}  # may still be sending
    assert delivery.send_due(settings, now=claimed_at + dt.timedelta(seconds=61)) == {"sent": 1}
    sent = Delivery.get_by_id(notice)
    assert sent.status == "sent" and sent.attempts == 2
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 1


def test_a_claim_being_renewed_is_not_taken_even_when_older_than_the_lease(notice, settings, monkeypatch):
    # A minute's lease and 15 s renewals, shortened to a second and a tenth.
    monkeypatch.setattr(delivery, "CLAIM_TIMEOUT", dt.timedelta(seconds=1))
    monkeypatch.setattr(delivery, "RENEW_EVERY", 0.1, raising=False)
    sends, answer = [], threading.Event()
    real_send = channels.Sender.send

    def slow_send(sender, outgoing):  # a mail server that takes its time to answer
        sends.append(outgoing.to)
        if len(sends) == 1:
            answer.wait(10)
        return real_send(sender, outgoing)

    monkeypatch.setattr(channels.Sender, "send", slow_send)

    def first_worker():
        with db.connection_context():
            delivery.send(settings, [notice])

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not sends and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(2.5)  # the claim is now well older than the lease, but renewed
        assert delivery.send_due(settings) == {}  # a second worker leaves it alone
        assert Delivery.get_by_id(notice).claimed_at > utcnow() - dt.timedelta(seconds=1)
    finally:
        answer.set()
        worker.join()
    sent = Delivery.get_by_id(notice)
    assert sends == ["office@law.example.jp"] and sent.status == "sent" and sent.attempts == 1


def test_an_sms_provider_that_never_answers_is_a_transient_failure_not_a_send_held_for_ever(settings,
                                                                                          monkeypatch):
    import socket

    silent = socket.socket()  # accepts the connection, reads the request, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    monkeypatch.setattr(channels, "PROVIDER_TIMEOUT", 0.5, raising=False)
    live = settings.replace(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN="f" * 32,
                            TWILIO_API_BASE=f"http://127.0.0.1:{silent.getsockname()[1]}",
                            TWILIO_SMS_FROM="+815012345678")
    outcome = []

    def send():
        try:
            channels.Sender(live).send(channels.Outgoing("sms", "+819012345678", "", "至急のご連絡です"))
        except channels.Transient as exc:
            outcome.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    started = time.monotonic()
    sender.start()
    sender.join(5)
    silent.close()
    assert outcome and "could not be reached" in str(outcome[0]) and time.monotonic() - started < 5
