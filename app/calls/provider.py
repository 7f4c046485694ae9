"""The telephony provider's REST API (Twilio, or a compatible one at TWILIO_API_BASE).

Two jobs: put a taken call through to the operator's browser (or, for a 取次, to a staff member's
mobile), and give that browser an access token for the Voice SDK. Tokens are signed with an API key; Dengon creates one for itself on
first use (only the account SID and auth token are configured) and keeps it in the database.
"""

from __future__ import annotations

import peewee as pw
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.rest import Client

from ..accounts.models import User
from ..db import BaseModel, UTCDateTimeField, db, utcnow

TOKEN_SECONDS = 3600


class ProviderError(Exception):
    """The provider refused or could not be reached; the message says which call and what it answered."""


class ProviderKey(BaseModel):
    """The API key Dengon signs Voice SDK tokens with, created through the provider's API."""

    account_sid = pw.CharField(max_length=64, unique=True)
    sid = pw.CharField(max_length=64)
    secret = pw.CharField(max_length=128)
    created_at = UTCDateTimeField(default=utcnow)


def client(settings) -> Client:
    rest = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    rest.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
    return rest


def identity(user: User) -> str:
    return f"operator-{user.id}"


def connect(settings, call_sid: str, operator: User) -> None:
    """Redirect the waiting caller to TwiML that rings ``operator``'s browser."""
    redirect(settings, call_sid, f"/twilio/connect?operator={operator.id}")


def redirect(settings, call_sid: str, path: str) -> None:
    """Tell the provider to carry on with the caller's call as the TwiML at ``path`` (of PUBLIC_URL) says."""
    try:
        client(settings).calls(call_sid).update(url=f"{settings.PUBLIC_URL}{path}", method="POST")
    except TwilioRestException as exc:
        raise ProviderError(f"call {call_sid}: the provider answered {exc.status}: {exc.msg}") from exc
    except (TwilioException, requests.RequestException) as exc:
        raise ProviderError(f"call {call_sid}: the provider could not be reached ({exc})") from exc


def _signing_key(settings) -> ProviderKey:
    key = ProviderKey.get_or_none(ProviderKey.account_sid == settings.TWILIO_ACCOUNT_SID)
    if key:
        return key
    try:
        created = client(settings).new_keys.create(friendly_name="Dengon operator browsers")
    except TwilioRestException as exc:
        raise ProviderError(f"creating an API key: the provider answered {exc.status}: {exc.msg}") from exc
    except (TwilioException, requests.RequestException) as exc:
        raise ProviderError(f"creating an API key: the provider could not be reached ({exc})") from exc
    try:
        with db.atomic():
            return ProviderKey.create(account_sid=settings.TWILIO_ACCOUNT_SID, sid=created.sid, secret=created.secret)
    except pw.IntegrityError:  # another process created one at the same moment: use that
        return ProviderKey.get(ProviderKey.account_sid == settings.TWILIO_ACCOUNT_SID)


def voice_token(settings, operator: User) -> str:
    key = _signing_key(settings)
    token = AccessToken(settings.TWILIO_ACCOUNT_SID, key.sid, key.secret, identity=identity(operator),
                        ttl=TOKEN_SECONDS)
    token.add_grant(VoiceGrant(incoming_allow=True))
    return token.to_jwt()
