"""Every setting Dengon reads from the environment, declared as data.

This is the only module that reads ``os.environ``. Each setting has a default and a one-line
help text (the README table is checked against this list by a test); a bad value stops
start-up with a message naming the variable and what was expected.
"""

from __future__ import annotations

import email.utils
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import phonenumbers

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting has a value Dengon cannot use."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    check: Callable[[str], str | None] | None = None  # returns a problem, or None when fine


def _url(schemes: tuple[str, ...], need_host: bool = True):
    def check(value: str) -> str | None:
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            return f"a URL starting with {' or '.join(s + '://' for s in schemes)}"
        if need_host and not parts.hostname:
            return "a URL with a host name"
        try:
            parts.port
        except ValueError:
            return "a URL with a numeric port"
        return None

    return check


def _database_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme == "sqlite":
        return None if parts.path not in ("", "/") else "sqlite:///path/to/file.db"
    if parts.scheme in ("postgresql", "postgres"):
        return None if parts.path.strip("/") else "postgresql://user@host/dbname (with a database name)"
    return "a sqlite:///… or postgresql://… URL"


def _one_of(*choices: str):
    def check(value: str) -> str | None:
        return None if value in choices else "one of " + ", ".join(choices)

    return check


def _seconds(value: str) -> str | None:
    return None if value.isascii() and value.isdigit() and int(value) <= 600 else "a whole number of seconds, 0 to 600"


def _email(value: str) -> str | None:
    address = email.utils.parseaddr(value)[1]  # "Dengon <dengon@example.jp>" is fine too
    local, at, domain = address.rpartition("@")
    return None if at and local and domain and " " not in address else "an e-mail address like dengon@example.jp"


def _region(value: str) -> str | None:
    return None if value in phonenumbers.SUPPORTED_REGIONS else "a two-letter country code such as JP"


def _sms_from(value: str) -> str | None:
    if value.startswith("MG") and len(value) == 34:
        return None
    try:
        if phonenumbers.is_valid_number(phonenumbers.parse(value, None)):
            return None
    except phonenumbers.NumberParseException:
        pass
    return "a phone number in +E.164 form or a messaging service SID (MG…)"


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "sqlite:///var/dengon.db",
            "Database: sqlite:///path (embedded, WAL) or postgresql://user@host/db (production).",
            _database_url),
    Setting("REDIS_URL", None,
            "When set, the task queue and live events use Redis; unset, a SQLite queue and in-process events.",
            _url(("redis", "rediss", "unix"), need_host=False)),
    Setting("SECRET_KEY", None,
            "Key that signs session cookies; generated once into var/secret_key when unset."),
    Setting("PUBLIC_URL", "http://127.0.0.1:8000",
            "Externally visible base URL; provider webhook signatures are checked against it.",
            _url(("http", "https"))),
    Setting("SMTP_URL", None,
            "smtp://[user:pass@]host:port, smtp+starttls://… or smtps://…; unset, mail goes to the outbox.",
            _url(("smtp", "smtp+starttls", "smtps"))),
    Setting("MAIL_FROM", "dengon@localhost", "Sender address of every e-mail.", _email),
    Setting("OUTBOX_DIR", "var/outbox",
            "Where mail, SMS and faxes land when no provider is configured; browsable by staff."),
    Setting("TWILIO_ACCOUNT_SID", None, "Telephony provider account SID."),
    Setting("TWILIO_AUTH_TOKEN", None,
            "Telephony provider auth token; also verifies webhook signatures."),
    Setting("TWILIO_API_BASE", "https://api.twilio.com",
            "Base URL of the provider's REST API (for Twilio-compatible providers).",
            _url(("http", "https"))),
    Setting("TWILIO_SMS_FROM", None, "Sender number (+E.164) or messaging service SID for SMS.", _sms_from),
    Setting("FAX_TRANSPORT", "outbox",
            "email-gateway (PDF mailed to <digits>@FAX_GATEWAY_DOMAIN), directory (PDF written to FAX_DIRECTORY) or outbox.",
            _one_of("email-gateway", "directory", "outbox")),
    Setting("FAX_GATEWAY_DOMAIN", None, "Mail domain of the fax gateway, for FAX_TRANSPORT=email-gateway."),
    Setting("FAX_DIRECTORY", None, "Folder a fax server picks PDFs up from, for FAX_TRANSPORT=directory."),
    Setting("DEFAULT_REGION", "JP",
            "Region for national-format phone numbers where a tenant sets none.", _region),
    Setting("OFFER_SECONDS", "5",
            "Seconds a waiting call is the longest-idle operator's alone before any available operator may take it.",
            _seconds),
    Setting("SERVICE_LEVEL_SECONDS", "20",
            "A call answered within this many seconds of arriving counts toward the service level.", _seconds),
)


class Settings:
    """The settings in force, one attribute per name in ``SETTINGS`` (``None`` when unset)."""

    def __init__(self, values: dict[str, str | None]):
        self._values = values
        for name, value in values.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"Settings({', '.join(n for n, v in self._values.items() if v is not None)})"

    @property
    def https(self) -> bool:
        return self.PUBLIC_URL.startswith("https://")

    @property
    def provider_configured(self) -> bool:
        return bool(self.TWILIO_ACCOUNT_SID and self.TWILIO_AUTH_TOKEN)

    @property
    def offer_seconds(self) -> int:
        return int(self.OFFER_SECONDS)

    @property
    def service_level_seconds(self) -> int:
        return int(self.SERVICE_LEVEL_SECONDS)

    def replace(self, **changes: str | None) -> "Settings":
        return Settings({**self._values, **changes})


def load(environ: dict[str, str] | None = None, *, var_dir: Path | None = None) -> Settings:
    """Read and check every setting; raise SettingsError listing every bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    problems = []
    for setting in SETTINGS:
        raw = environ.get(setting.name, "").strip()
        value = raw or setting.default
        if raw and setting.check and (expected := setting.check(raw)):
            problems.append(f"{setting.name}={raw!r}: expected {expected}")
        values[setting.name] = value
    # The token alone is enough to verify webhooks; calling the provider's API needs both.
    if values["TWILIO_ACCOUNT_SID"] and not values["TWILIO_AUTH_TOKEN"]:
        problems.append("TWILIO_AUTH_TOKEN: expected a value, because TWILIO_ACCOUNT_SID is set")
    needs = {"email-gateway": "FAX_GATEWAY_DOMAIN", "directory": "FAX_DIRECTORY"}.get(values["FAX_TRANSPORT"])
    if needs and not values[needs]:
        problems.append(f"{needs}: expected a value, because FAX_TRANSPORT={values['FAX_TRANSPORT']}")
    if problems:
        raise SettingsError("; ".join(problems))
    values["PUBLIC_URL"] = values["PUBLIC_URL"].rstrip("/")
    if not values["SECRET_KEY"]:
        values["SECRET_KEY"] = _stored_secret(var_dir or Path("var"))
    return Settings(values)


def _stored_secret(var_dir: Path) -> str:
    """The generated secret key, created once so sessions survive restarts."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = var_dir / f".secret_key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        # link() fails when the file exists: two processes starting at once agree on one key.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise SettingsError(f"SECRET_KEY: the stored key in {path} is too short; delete the file to make a new one")
    return key
