"""The three channels behind one call, ``Sender(settings).send(outgoing)``: e-mail (SMTP_URL), SMS
(the provider's Messages API) and fax (a PDF through FAX_TRANSPORT). A channel without a provider
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
from email import policy
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

# No send waits for ever: each exchange with a mail server or the provider gives up after this many
# seconds (a transient failure, retried), so a stuck send does not keep its delivery claimed.
SMTP_TIMEOUT = 30
PROVIDER_TIMEOUT = 30
_CRLF = policy.compat32.clone(linesep="\r\n")  # SMTP's line ends


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


class Sender:
    """Sends many in a row (a report time sends thousands): e-mail goes over one SMTP connection,
    opened for the first mail and kept while the server keeps it."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, outgoing: Outgoing) -> str:
        """Returns the provider's reference (Message-ID, SMS SID, file written)."""
        if outgoing.channel == "email":
            return self._email(outgoing, outgoing.to)
        if outgoing.channel == "sms":
            return _sms(self.settings, outgoing)
        if outgoing.channel == "fax":
            return self._fax(outgoing)
        raise Permanent(f"unknown channel {outgoing.channel!r}")

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    # ----------------------------------------------------------------------------------------
    # e-mail

    def _email(self, outgoing: Outgoing, to: str) -> str:
        settings = self.settings
        message_id, data = _mime(settings, outgoing, to)
        if not settings.SMTP_URL:
            return _to_outbox(settings, outgoing.channel, outgoing.key, ".eml", data)
        sender = parseaddr(settings.MAIL_FROM)[1]
        kept = self._smtp is not None
        try:
            try:
                self._transfer(sender, to, data)
            except smtplib.SMTPSenderRefused:
                # A server that takes only so many mails per connection refuses the next MAIL FROM
                # (421): before the mail's data, so sending it again on a new connection is safe.
                if not kept:
                    raise
                self._transfer(sender, to, data)
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
        return message_id

    def _transfer(self, sender: str, to: str, data: bytes) -> None:
        smtp = self._kept() or self._connect()
        try:
            smtp.sendmail(sender, [to], data)
        except smtplib.SMTPRecipientsRefused:
            raise  # the server reset the transaction: the connection serves the next mail
        except Exception:
            self._smtp = None  # in an unknown state: the next mail opens a new one
            smtp.close()
            raise

    def _kept(self) -> smtplib.SMTP | None:
        """The kept connection, if the server still answers on it: one that closed it while idle
        must not fail a mail halfway (whether its data arrived would be unknown)."""
        if self._smtp is not None:
            try:
                self._smtp.noop()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
                self._smtp = None
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        url = urlsplit(self.settings.SMTP_URL)
        if url.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=SMTP_TIMEOUT,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(url.hostname, url.port or 25, timeout=SMTP_TIMEOUT)
        try:
            if url.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
        except Exception:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    # ----------------------------------------------------------------------------------------
    # fax

    def _fax(self, outgoing: Outgoing) -> str:
        settings = self.settings
        if outgoing.pdf is None:
            raise Permanent("a fax needs a PDF")
        digits = re.sub(r"\D", "", outgoing.to)
        if settings.FAX_TRANSPORT == "email-gateway":
            # The usual gateway convention: the PDF mailed to <number>@gateway.
            return self._email(outgoing, f"{digits}@{settings.FAX_GATEWAY_DOMAIN}")
        if settings.FAX_TRANSPORT == "directory":
            return _write_atomically(Path(settings.FAX_DIRECTORY), f"{digits}-{outgoing.key or uuid.uuid4().hex}.pdf",
                                     outgoing.pdf)
        return _to_outbox(settings, "fax", f"{digits}-{outgoing.key}", ".pdf", outgoing.pdf)


# --------------------------------------------------------------------------------------------
# e-mail

def _mime(settings, outgoing: Outgoing, to: str) -> tuple[str, bytes]:
    """The mail as sent: (its Message-ID, its bytes). Built with the classic MIME classes, which take
    half the time of EmailMessage's (a report time builds thousands); UTF-8 parts in base64 pass any
    server, 8BITMIME or not."""
    body = MIMEText(outgoing.text or outgoing.subject, "plain", "utf-8")
    if outgoing.html:
        body = MIMEMultipart("alternative", _subparts=[body, MIMEText(outgoing.html, "html", "utf-8")])
    mail = body
    if outgoing.pdf is not None:
        attachment = MIMEApplication(outgoing.pdf, "pdf")
        attachment.add_header("Content-Disposition", "attachment", filename=outgoing.pdf_name)
        mail = MIMEMultipart("mixed", _subparts=[body, attachment])
    # The same Message-ID on every attempt (the key names the delivery): a receiving system can
    # tell a retry from a new mail.
    domain = parseaddr(settings.MAIL_FROM)[1].rpartition("@")[2] or "dengon"
    message_id = f"<{outgoing.key}@{domain}>" if outgoing.key else make_msgid(domain=domain)
    mail["From"] = formataddr(parseaddr(settings.MAIL_FROM), charset="utf-8")  # a Japanese name encoded alone
    mail["To"] = to
    mail["Subject"] = Header(outgoing.subject, "utf-8")
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id
    return message_id, mail.as_bytes(policy=_CRLF)


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
    rest = client(settings)
    rest.http_client.timeout = PROVIDER_TIMEOUT  # the library's default is none at all
    try:
        created = rest.messages.create(
            to=outgoing.to, body=outgoing.text, status_callback=f"{settings.PUBLIC_URL}/twilio/sms-status", **origin)
    except TwilioRestException as exc:
        error = f"the provider answered {exc.status} (code {exc.code}): {exc.msg}"
        raise (Transient(error) if exc.status >= 500 or exc.status == 429 else Permanent(error)) from exc
    except (TwilioException, requests.RequestException) as exc:
        raise Transient(f"the provider could not be reached: {exc}") from exc
    return created.sid


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
