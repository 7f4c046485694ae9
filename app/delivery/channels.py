"""The three channels behind one call, ``send(settings, outgoing)``: e-mail (SMTP_URL), SMS (the
provider's Messages API) and fax (a PDF through FAX_TRANSPORT). A channel without a provider
configured writes to the outbox (OUTBOX_DIR) instead, so a demo shows real reports.

A failure is Transient (try again later: connection refused, 4xx from SMTP, 5xx or 429 from the
provider) or Permanent (the address or number is refused): the caller retries only the first.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

SMTP_TIMEOUT = 30


class Transient(Exception):
    """Worth another try later."""


class Permanent(Exception):
    """Will fail the same way every time: stop, and show it to staff."""


@dataclass
class Outgoing:
    channel: str  # email, sms, fax
    to: str  # an e-mail address, or an E.164 number
    subject: str
    text: str  # the e-mail's plain part, or the SMS
    html: str = ""
    pdf: bytes | None = None
    pdf_name: str = "report.pdf"
    key: str = ""  # names the delivery: the e-mail's Message-ID, the outbox file


def send(settings, outgoing: Outgoing) -> str:
    """Send; returns the provider's reference (Message-ID, SMS SID, file written)."""
    if outgoing.channel == "email":
        return _email(settings, outgoing, outgoing.to)
    if outgoing.channel == "sms":
        return _sms(settings, outgoing)
    if outgoing.channel == "fax":
        return _fax(settings, outgoing)
    raise Permanent(f"unknown channel {outgoing.channel!r}")


# --------------------------------------------------------------------------------------------
# e-mail

def _mime(settings, outgoing: Outgoing, to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.MAIL_FROM
    mail["To"] = to
    mail["Subject"] = outgoing.subject
    # The same Message-ID on every attempt: a receiving system can tell a retry from a new mail.
    mail["Message-ID"] = make_msgid(idstring=outgoing.key or uuid.uuid4().hex, domain="dengon")
    mail.set_content(outgoing.text or outgoing.subject)
    if outgoing.html:
        mail.add_alternative(outgoing.html, subtype="html")
    if outgoing.pdf is not None:
        mail.add_attachment(outgoing.pdf, maintype="application", subtype="pdf", filename=outgoing.pdf_name)
    return mail


def _email(settings, outgoing: Outgoing, to: str) -> str:
    mail = _mime(settings, outgoing, to)
    if not settings.SMTP_URL:
        return _to_outbox(settings, outgoing.channel, outgoing.key, ".eml", bytes(mail))
    url = urlsplit(settings.SMTP_URL)
    try:
        if url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(url.hostname, url.port or 25, timeout=SMTP_TIMEOUT)
        with smtp:
            if url.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        replies = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in exc.recipients.values())
        error = f"the mail server refused {to}: {replies}"
        raise (Transient(error) if all(400 <= c < 500 for c in codes) else Permanent(error)) from exc
    except smtplib.SMTPResponseException as exc:
        error = f"the mail server answered {exc.smtp_code} {exc.smtp_error!r}"
        raise (Transient(error) if exc.smtp_code < 500 else Permanent(error)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise Transient(f"the mail server could not be reached: {exc}") from exc
    return mail["Message-ID"]


# --------------------------------------------------------------------------------------------
# SMS

def sms_segments(text: str) -> int:
    """How many SMS the text is billed as: GSM-7 fits 160 characters (153 per part when split),
    anything else — Japanese — is sent as UCS-2: 70 (67 per part), counted in UTF-16 units."""
    if all(ord(ch) < 128 and ch not in "`^{}[]~\\|" for ch in text):
        size, single, part = len(text), 160, 153
    else:
        size, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if size <= single else -(-size // part)


def sms_configured(settings) -> bool:
    return bool(settings.provider_configured and settings.TWILIO_SMS_FROM)


def _sms(settings, outgoing: Outgoing) -> str:
    if not sms_configured(settings):
        return _to_outbox(settings, "sms", outgoing.key, ".txt", f"To: {outgoing.to}\n\n{outgoing.text}\n".encode())
    from ..calls.provider import client

    sender = settings.TWILIO_SMS_FROM
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    try:
        created = client(settings).messages.create(
            to=outgoing.to, body=outgoing.text, status_callback=f"{settings.PUBLIC_URL}/twilio/sms-status", **origin)
    except TwilioRestException as exc:
        error = f"the provider answered {exc.status} (code {exc.code}): {exc.msg}"
        raise (Transient(error) if exc.status >= 500 or exc.status == 429 else Permanent(error)) from exc
    except (TwilioException, requests.RequestException) as exc:
        raise Transient(f"the provider could not be reached: {exc}") from exc
    return created.sid


# --------------------------------------------------------------------------------------------
# fax

def _fax(settings, outgoing: Outgoing) -> str:
    if outgoing.pdf is None:
        raise Permanent("a fax needs a PDF")
    digits = re.sub(r"\D", "", outgoing.to)
    if settings.FAX_TRANSPORT == "email-gateway":
        # The usual gateway convention: the PDF mailed to <number>@gateway.
        return _email(settings, outgoing, f"{digits}@{settings.FAX_GATEWAY_DOMAIN}")
    if settings.FAX_TRANSPORT == "directory":
        return _write_atomically(Path(settings.FAX_DIRECTORY), f"{digits}-{outgoing.key or uuid.uuid4().hex}.pdf",
                                 outgoing.pdf)
    return _to_outbox(settings, "fax", f"{digits}-{outgoing.key}", ".pdf", outgoing.pdf)


# --------------------------------------------------------------------------------------------
# the outbox: what would have been sent, for staff to read

def _to_outbox(settings, channel: str, key: str, suffix: str, data: bytes) -> str:
    return _write_atomically(Path(settings.OUTBOX_DIR) / channel, f"{key or uuid.uuid4().hex}{suffix}", data)


def _write_atomically(folder: Path, name: str, data: bytes) -> str:
    """Write beside, then rename: whoever watches the folder never sees half a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".", suffix=".part", delete=False) as f:
            f.write(data)
        os.replace(f.name, folder / name)
    except OSError as exc:
        raise Transient(f"could not write {folder / name}: {exc}") from exc
    return str(folder / name)
