"""Taking a call, the same from both doors (the console and the JSON API)."""

from __future__ import annotations

from ..accounts.models import User
from . import provider
from .models import Call


class NotWaiting(Exception):
    """Someone else took the call first, or it is no longer waiting."""


def take(app, call_id: int, user: User) -> None:
    """Claim a waiting call for ``user`` (of two at once, exactly one wins), tell every console, and
    with a provider put the caller through to the user's browser phone. Raises NotWaiting, or
    provider.ProviderError when the provider refuses (the call is back in the queue)."""
    settings = app.state.settings
    if not Call.take(call_id, user, audio=settings.provider_configured):
        raise NotWaiting(call_id)
    app.state.events.publish("calls", {"event": "taken", "call": call_id})
    if settings.provider_configured:
        try:
            provider.connect(settings, Call.get_by_id(call_id).sid, user)
        except provider.ProviderError:
            # No audio, no call: give it back to the queue for someone else (or a retry).
            Call.release(call_id, user)
            app.state.events.publish("calls", {"event": "waiting", "call": call_id})
            raise
