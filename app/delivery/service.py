"""Deliveries: made once per report run (or message), channel and recipient; claimed by one worker
at a time; sent; retried with back-off while the failure is transient; failed, visible to staff,
when it is permanent or keeps failing. Staff can send a failed one again."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Iterable

import peewee as pw

from .. import phones
from ..db import db, utcnow
from ..messages.models import Message
from ..reports import render
from ..reports.models import ReportRun
from ..tenants.config import STAFF_CONTACT
from ..tenants.models import NotifyRule, Recipient, Staff, Tenant, by_version
from . import channels
from .models import DELIVERED, FAILED, PENDING, RETRY, SENDING, SENT, Delivery

log = logging.getLogger("dengon.delivery")

MAX_ATTEMPTS = 8
# 1, 2, 4 … minutes, at most an hour apart: about four hours of trying before giving up.
BACKOFF_FIRST, BACKOFF_MAX = dt.timedelta(minutes=1), dt.timedelta(hours=1)
# A claim is a lease: the process sending a delivery renews it every RENEW_EVERY while the send
# lasts, however long; a claim not renewed for CLAIM_TIMEOUT is free again (its process died
# mid-send, or froze), and another worker sends the delivery again: at least once, not exactly.
CLAIM_TIMEOUT = dt.timedelta(seconds=60)
RENEW_EVERY = 15  # seconds: four renewals may fail before a live sender's claim lapses
BATCH = 200


def addresses(recipient: Recipient, staff: dict[str, Staff]) -> list[str]:
    """Where one `deliver` entry sends: its own addresses, and the chosen staff's contact for the channel."""
    found = list(recipient.to)
    for key in recipient.to_staff:
        person = staff.get(key)
        contact = getattr(person, STAFF_CONTACT[recipient.channel], "") if person else ""
        if contact and contact not in found:
            found.append(contact)
    return found


def targets(recipients, staff: list[Staff]) -> list[tuple[str, str]]:
    """(channel, address) of every `deliver` entry, each once."""
    staff = {s.key: s for s in staff}
    pairs = []
    for recipient in recipients:
        for address in addresses(recipient, staff):
            if (recipient.channel, address) not in pairs:
                pairs.append((recipient.channel, address))
    return pairs


def create(tenant: Tenant, pairs: list[tuple[str, str]], due: dt.datetime, **owner) -> list[int]:
    """Record the deliveries, due from ``due``, before anything is sent (one per owner, channel and
    recipient: making them twice makes nothing new); returns the new ones' ids."""
    if not pairs:
        return []
    rows = Delivery.insert_many([{"tenant": tenant, "channel": channel, "recipient": to, "next_attempt_at": due,
                                  **owner} for channel, to in pairs]).on_conflict_ignore().returning(Delivery.id)
    return [row.id for row in rows.execute()]


def notify(message: Message) -> list[int]:
    """The firm's immediate-notification rules that match a saved message: their deliveries' ids."""
    tenant = message.tenant
    # Read once per version of the firm's configuration: most firms have none, and every save asks.
    every = by_version(tenant, "notify_rules", lambda t: tuple(t.notify_rules.order_by(NotifyRule.position)))
    rules = [r for r in every
             if (not r.urgent or message.urgent) and (not r.categories or message.category in r.categories)]
    if not rules:
        return []
    recipients = Recipient.select().where(Recipient.notify.in_([r.id for r in rules])).order_by(Recipient.position)
    create(tenant, targets(recipients, list(tenant.staff)), message.taken_at, message=message)
    return [d.id for d in Delivery.select(Delivery.id).where(Delivery.message == message)]


def claim(delivery_id: int, now: dt.datetime | None = None) -> Delivery | None:
    """Take a due delivery for sending; None when another worker has it or it is not due."""
    now = now or utcnow()
    taken = Delivery.update(status=SENDING, claimed_at=now, attempts=Delivery.attempts + 1).where(
        (Delivery.id == delivery_id) & Delivery.claimable(now, CLAIM_TIMEOUT)).returning(Delivery)
    return next(iter(taken.execute()), None)


class Claims:
    """The deliveries this process is sending. While there are any, one thread renews their claims
    every RENEW_EVERY, on its own connection: a sender waiting on a slow mail server keeps its
    deliveries, and a dead process's are free after CLAIM_TIMEOUT."""

    def __init__(self) -> None:
        self._held: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._idle = threading.Event()  # set when nothing is held: the renewer ends

    @contextlib.contextmanager
    def holding(self, delivery_id: int):
        with self._lock:
            self._held[delivery_id] += 1
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name="dengon-claims", daemon=True)
                self._renewer.start()
        try:
            yield
        finally:
            with self._lock:
                self._held -= Counter({delivery_id: 1})
                if not self._held:
                    self._idle.set()

    def _renew(self) -> None:
        while True:
            self._idle.wait(RENEW_EVERY)
            with self._lock:
                self._idle.clear()
                if not self._held:  # nothing left to renew: the next claim starts a new thread
                    self._renewer = None
                    return
                ids = list(self._held)
            try:
                with db.connection_context():
                    Delivery.renew_claims(ids, utcnow())
            except pw.DatabaseError:  # the next beat tries again; the lease outlasts a few misses
                log.warning("could not renew the claims of deliveries %s", ids, exc_info=True)


claims = Claims()


def outgoing(settings, delivery: Delivery) -> channels.Outgoing:
    # The report (or message) read with its firm: one query, not two.
    owner = (ReportRun.select(ReportRun, Tenant).join(Tenant).where(ReportRun.id == delivery.run_id)
             if delivery.run_id is not None else
             Message.select(Message, Tenant).join(Tenant).where(Message.id == delivery.message_id)).get()
    tenant = owner.tenant
    # Names the delivery in its Message-ID and outbox file: the same on every attempt, and not
    # reused by a database made afresh.
    key = f"delivery-{delivery.id}-{delivery.created_at:%Y%m%d%H%M%S}"
    to = delivery.recipient
    if delivery.channel == "fax":  # dialled as the firm dials: 03-1234-5679 at home, +1 … abroad
        to = phones.display(to, tenant.region)
    if isinstance(owner, ReportRun):
        stamp = owner.scheduled_at.astimezone(tenant.zone).strftime("%Y%m%d-%H%M")
        return channels.Outgoing(delivery.channel, to, owner.subject,
                                 owner.sms if delivery.channel == "sms" else owner.text, owner.html, owner.pdf,
                                 f"{tenant.slug}-{owner.rule_key}-{stamp}.pdf", key)
    rendered = render.notification(settings, owner, delivery.channel)
    return channels.Outgoing(delivery.channel, to, rendered.subject,
                             rendered.sms if delivery.channel == "sms" else rendered.text, rendered.html,
                             rendered.pdf, f"{tenant.slug}-message-{owner.id}.pdf", key)


def attempt(sender: channels.Sender, delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """Claim and send one delivery; returns its new status (None: not ours to send now)."""
    now = now or utcnow()
    delivery = claim(delivery_id, now)
    if delivery is None:
        return None
    with claims.holding(delivery.id):
        return _attempt(sender, delivery, now)


def _attempt(sender: channels.Sender, delivery: Delivery, now: dt.datetime) -> str:
    try:
        out = outgoing(sender.settings, delivery)
        reference = sender.send(out)
    except channels.Permanent as exc:
        return _fail(delivery, str(exc))
    except channels.Transient as exc:
        if delivery.attempts >= MAX_ATTEMPTS:
            return _fail(delivery, f"{exc} (gave up after {delivery.attempts} attempts)")
        wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (delivery.attempts - 1))
        Delivery.update(status=RETRY, last_error=str(exc), next_attempt_at=now + wait).where(
            Delivery.id == delivery.id).execute()
        log.warning("delivery %s (%s to %s) will be retried in %s: %s", delivery.id, delivery.channel,
                    delivery.recipient, wait, exc)
        return RETRY
    except Exception as exc:  # a bug must not leave the delivery claimed and silent
        log.exception("delivery %s failed unexpectedly", delivery.id)
        return _fail(delivery, f"internal error: {exc}")
    Delivery.update(status=SENT, sent_at=utcnow(), last_error="", provider_ref=reference,
                    segments=channels.sms_segments(out.text) if delivery.channel == "sms" else None).where(
        Delivery.id == delivery.id).execute()
    return SENT


def _fail(delivery: Delivery, error: str) -> str:
    Delivery.update(status=FAILED, last_error=error).where(Delivery.id == delivery.id).execute()
    log.error("delivery %s (%s to %s) failed: %s", delivery.id, delivery.channel, delivery.recipient, error)
    return FAILED


def send(settings, ids: Iterable[int], now: dt.datetime | None = None) -> dict[str, int]:
    """Send these deliveries (those due and not another worker's) over one connection per
    channel; returns how many ended in each status."""
    outcome = Counter()
    with channels.Sender(settings) as sender:
        for delivery_id in ids:
            try:
                status = attempt(sender, delivery_id, now)
            except pw.DatabaseError:  # its record could not be read or written: it stays due
                log.exception("delivery %s not sent this time", delivery_id)
                continue
            if status:
                outcome[status] += 1
    return dict(outcome)


def send_soon(settings, ids: list[int]) -> None:
    """Send these now, beside the request that made them; what this misses (the process stops,
    the server is down) the worker's dispatcher sends or retries."""
    def work():
        with db.connection_context():
            send(settings, ids)

    threading.Thread(target=work, name="dengon-send", daemon=True).start()


def due(now: dt.datetime | None = None, limit: int = BATCH) -> list[int]:
    now = now or utcnow()
    return [d.id for d in Delivery.select(Delivery.id).where(Delivery.claimable(now, CLAIM_TIMEOUT))
            .order_by(Delivery.next_attempt_at).limit(limit)]


def send_due(settings, now: dt.datetime | None = None) -> dict[str, int]:
    """Send every delivery that is due; returns how many ended in each status."""
    outcome = Counter()
    while True:  # batch after batch: a big report time has thousands due at once
        batch = due(now)
        outcome.update(send(settings, batch, now))
        if len(batch) < BATCH:
            return dict(outcome)


def resend(delivery: Delivery) -> None:
    """Staff send a failed delivery again: a fresh round of attempts."""
    Delivery.update(status=PENDING, attempts=0, next_attempt_at=utcnow(), last_error="").where(
        (Delivery.id == delivery.id) & (Delivery.status == FAILED)).execute()


def receipt(sid: str, status: str, error_code: str = "") -> bool:
    """The provider's SMS delivery receipt; returns whether a delivery had this SID."""
    if status == "delivered":
        values = {"status": DELIVERED}
    elif status in ("undelivered", "failed"):
        values = {"status": FAILED, "last_error": f"the provider reports the SMS {status} (error {error_code or '?'})"}
    else:
        return Delivery.select().where(Delivery.provider_ref == sid).exists()
    return Delivery.update(**values).where(
        (Delivery.provider_ref == sid) & (Delivery.channel == "sms")).execute() > 0


