"""JSON API v1 (interfaces.md): messages for programs, with bearer tokens. The second door to the same
rules as the console's form: ``forms.check`` validates both, ``service.record`` saves both."""

from __future__ import annotations

import datetime as dt
import functools
import json
from zoneinfo import ZoneInfo

import peewee as pw
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .. import i18n
from ..accounts.models import ApiToken, User
from ..calls.models import Call
from ..db import db
from ..i18n import _
from ..messages import export, forms, inbox, search, service
from ..messages.models import API, Message, MessageVersion
from ..tenants.models import CATEGORIES, Staff, Tenant
from ..web.inputs import bad_field, bad_query_field, parse_keyset_cursor, storable
from .models import IdempotencyKey

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class ApiError(Exception):
    def __init__(self, status: int, errors: dict[str, str]):
        self.status, self.errors = status, errors


def not_found() -> ApiError:
    return ApiError(404, {"id": _("Not found.")})


def endpoint(handler=None, *, body: bool = True):
    """Bearer token, locale, JSON body, a database connection; errors as {"errors": {field: message}}.
    ``body=False``: a POST that takes no body (whatever is sent is not read)."""
    if handler is None:
        return functools.partial(endpoint, body=body)

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        # At most API_BODY_LIMIT (limits.py); parsed in the thread, once the token is known to be good.
        raw = await request.body() if body and request.method in WITH_BODY else None
        return await run_in_threadpool(_run, handler, request, raw)

    return wrapped


WITH_BODY = ("POST", "PATCH", "PUT")


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None


def _run(handler, request: Request, raw: bytes | None) -> Response:
    with db.connection_context():
        header = request.headers.get("authorization", "")
        scheme, _space, token = header.partition(" ")
        user = ApiToken.authenticate(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        asked = request.headers.get("accept-language", "")[:2].lower()
        with i18n.use_locale(asked if asked in i18n.LOCALES else user.language if user else "en"):
            if user is None:
                return JSONResponse({"errors": {"token": _("A valid API token is required (Authorization: Bearer …).")}},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            try:
                body = None if raw is None else _json_or_none(raw)
                if raw is not None and not isinstance(body, dict):
                    raise ApiError(422, {"body": _("Expected a JSON object.")})
                if field := (bad_query_field(request.scope.get("query_string", b""))
                             or bad_field(request.path_params) or bad_field(body)):
                    raise ApiError(422, {field: _("Expected UTF-8 text without NUL characters.")})
                return handler(request, user, body)
            except ApiError as exc:
                return JSONResponse({"errors": exc.errors}, status_code=exc.status)


def firm(request: Request, user: User) -> Tenant:
    """The firm the path's {slug} names, if this user may see it; else 404 (as for a firm that does not exist)."""
    # A slug or key no database could store names nothing: 404, like an id too long.
    if not all(storable(v) and len(v) <= 200 for v in request.path_params.values() if isinstance(v, str)):
        raise ApiError(404, {"slug": _("No such firm.")})
    tenant = Tenant.by_slug(request.path_params["slug"])
    if tenant is None or not user.can_see(tenant):
        raise ApiError(404, {"slug": _("No such firm.")})
    return tenant


def _visible(user: User):
    """The messages this user may see: their own firm's, or every firm's for staff."""
    # Only the firm's and the call's columns the JSON shows: building whole rows costs more than the query.
    query = (Message.select(Message, Tenant.id, Tenant.slug, Tenant.timezone, Call.id, Call.sid).join(Tenant)
             .switch(Message).join(Call, pw.JOIN.LEFT_OUTER))
    return query if user.is_staff else query.where(Message.tenant == user.tenant_id)


def _message(user: User, message_id: int) -> Message:
    message = _visible(user).where(Message.id == message_id).first()
    if message is None:
        raise not_found()
    return message


def _time(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value else None


def message_json(message: Message, names: dict[int, str], detail: bool = False,
                 versions: list[MessageVersion] | None = None) -> dict:
    """``versions``: the message's versions in order, when known (else read)."""
    zone = ZoneInfo(message.tenant.timezone)
    data = {
        "id": message.id, "tenant": message.tenant.slug, "call_type": message.call_type,
        "category": message.category, "urgent": message.urgent, "fields": message.fields,
        "readback": list(message.readback), "taken_at": _time(message.taken_at, zone),
        "taken_by": names.get(message.taken_by_id), "handled": message.handled,
        "handled_at": _time(message.handled_at, zone), "handled_note": message.handled_note,
        "acknowledged_at": _time(message.acknowledged_at, zone),
        "acknowledged_by": names.get(message.acknowledged_by_id),
        "call_sid": message.call.sid if message.call_id else None, "source": message.source,
        "version": message.version,
        # fields.for_staff keeps the staff key (or the name typed for someone else); this is whom it names
        "for_staff_name": (names.get((message.tenant_id, message.fields["for_staff"]), message.fields["for_staff"])
                           if message.fields.get("for_staff") else None),
    }
    if message.recording_url:
        data.update(recording_url=message.recording_url, recording_seconds=message.recording_seconds)
    if detail:
        data["readback_details"] = {k: {"by": v["by_name"], "at": _time(dt.datetime.fromisoformat(v["at"]), zone)}
                                    for k, v in message.readback.items()}
        data["after_call_seconds"] = message.after_call_seconds
        data["history"] = [
            {"version": v.number, "edited_at": _time(v.edited_at, zone), "edited_by": v.edited_by_name or None,
             "changes": v.changes, "note": v.note}
            for v in (versions if versions is not None else message.versions.order_by(MessageVersion.number))]
    return data


def _names(messages: list[Message], known: dict | None = None) -> dict:
    """The users' names by id, and the addressees' by (firm id, staff key): two queries for a page.
    ``known``: names already at hand, not asked for again."""
    found: dict = dict(known or {})
    ids = {i for m in messages for i in (m.taken_by_id, m.acknowledged_by_id) if i and i not in found}
    if ids:
        found.update({u.id: u.name or u.email
                      for u in User.select(User.id, User.name, User.email).where(User.id.in_(ids))})
    wanted = {(m.tenant_id, m.fields["for_staff"]) for m in messages if m.fields.get("for_staff")}
    if wanted:
        for s in Staff.select(Staff.tenant, Staff.key, Staff.name).where(
                Staff.tenant.in_({t for t, _key in wanted}) & Staff.key.in_({k for _t, k in wanted})):
            found[(s.tenant_id, s.key)] = s.name
    return found


def _parse_time(params, key: str, errors: dict) -> dt.datetime | None:
    text = params.get(key)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
        value.astimezone(dt.timezone.utc)  # as stored: the year 1 at +09:00 is before the year 1 in UTC
    except (ValueError, OverflowError):
        value = None
    if value is None or value.tzinfo is None:
        errors[key] = _("Expected an ISO 8601 time with its offset, such as 2026-11-23T09:00:00+09:00.")
        return None
    return value


def _filtered(request: Request, user: User, errors: dict) -> tuple[pw.ModelSelect, Tenant | None]:
    """The messages GET /api/v1/messages (and its CSV) lists for these query parameters, every page;
    what is wrong with them goes into ``errors``."""
    params = request.query_params
    query, tenant = _visible(user), None
    if slug := params.get("tenant"):
        tenant = Tenant.by_slug(slug)
        if tenant is None or not user.can_see(tenant):
            raise ApiError(404, {"tenant": _("No such firm.")})
        query = query.where(Message.tenant == tenant)
    if since := _parse_time(params, "since", errors):
        query = query.where(Message.taken_at >= since)
    if until := _parse_time(params, "until", errors):
        query = query.where(Message.taken_at < until)
    if category := params.get("category"):
        if category not in CATEGORIES:
            errors["category"] = _("Expected one of: {options}.").format(options=", ".join(CATEGORIES))
        query = query.where(Message.category == category)
    if (handled := params.get("handled")) is not None:
        if handled not in ("true", "false"):
            errors["handled"] = _("Expected true or false.")
        query = query.where(Message.handled == (handled == "true"))
    if q := params.get("q"):
        query = search.narrow(query, q)
    return query, tenant


@endpoint
def list_messages(request: Request, user: User, body) -> Response:
    """Newest first, a page at a time: the cursor names the last message of the page (keyset paging,
    as fast a thousand pages deep as on the first)."""
    params, errors = request.query_params, {}
    query, _tenant = _filtered(request, user, errors)
    limit = params.get("limit", str(DEFAULT_LIMIT))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3 and 1 <= int(limit) <= MAX_LIMIT):
        errors["limit"] = _("Expected a number from 1 to {n}.").format(n=MAX_LIMIT)
        limit = str(DEFAULT_LIMIT)
    if cursor := params.get("cursor"):
        try:
            query = inbox.after_cursor(query, *parse_keyset_cursor(cursor))
        except ValueError:
            errors["cursor"] = _("Not a cursor this API gave out.")
    if errors:
        raise ApiError(422, errors)
    page = list(inbox.newest_first(query).limit(int(limit) + 1))
    more = len(page) > int(limit)
    page = page[:int(limit)]
    names = _names(page)
    return JSONResponse({"messages": [message_json(m, names) for m in page],
                         "next_cursor": inbox.cursor_of(page[-1]) if more else None})


@endpoint
def messages_csv(request: Request, user: User, body) -> Response:
    """The messages GET /api/v1/messages lists (same filters, every page), as CSV for spreadsheets."""
    errors = {}
    query, tenant = _filtered(request, user, errors)
    if errors:
        raise ApiError(422, errors)
    tenants = [tenant] if tenant else [user.tenant] if not user.is_staff else list(Tenant.select())
    writer = export.Writer(tenants, i18n.current_locale(), with_firm=user.is_staff and tenant is None)
    name = export.filename(tenant or (None if user.is_staff else user.tenant), dt.date.today())
    return StreamingResponse(writer.stream(query.select(Message)), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@endpoint
def get_message(request: Request, user: User, body) -> Response:
    message = _message(user, request.path_params["id"])
    return JSONResponse(message_json(message, _names([message]), detail=True))


@endpoint
def create_message(request: Request, user: User, body: dict) -> Response:
    """Record a message, with the form's rules: required fields, typed values, read-back confirmed."""
    if not user.is_staff:
        raise ApiError(403, {"token": _("Only the answering service's staff record messages.")})
    # Named apart: the checks below loop over body keys with ``key``.
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and (replay := _replay(user, idempotency_key, body)) is not None:
        return replay
    errors: dict[str, str] = {}
    call = tenant = None
    if sid := body.get("call_sid"):
        call = Call.get_or_none(Call.sid == str(sid))
        if call is None:
            errors["call_sid"] = _("No call with this CallSid.")
        tenant = call.tenant if call else None
    if slug := body.get("tenant"):
        named = Tenant.by_slug(str(slug))
        if named is None:
            errors["tenant"] = _("No such firm.")
        elif tenant is not None and named.id != tenant.id:
            errors["tenant"] = _("The call named by call_sid is for another firm.")
        tenant = tenant or named
    elif tenant is None and "call_sid" not in errors:
        errors["tenant"] = _("Required unless call_sid names a call of a known firm.")
    fields, readback = body.get("fields", {}), body.get("readback", [])
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        errors["fields"] = _("Expected an object of field keys and text values.")
    if not isinstance(readback, list) or not all(isinstance(k, str) for k in readback):
        errors["readback"] = _("Expected a list of field keys.")
    if body.get("urgent") is not None and not isinstance(body["urgent"], bool):
        errors["urgent"] = _("Expected true or false.")
    for key in ("call_type", "category"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errors[key] = _("Expected text.")
    if errors:
        raise ApiError(422, errors)
    # Left out (or null), urgency is the call type's preset (its ``urgent = true``).
    entry = forms.Entry(body.get("call_type"), body.get("category"), body.get("urgent"), fields, set(readback))
    form = forms.form_of(tenant, entry.call_type)
    if form is not None:
        unknown = [k for k in readback if not (f := form.field(k)) or not f.readback]
        if unknown:
            errors["readback"] = _("Not read-back fields of this call type: {keys}.").format(keys=", ".join(unknown))
    clean, problems = forms.check(tenant, entry)
    errors.update(problems)
    if errors:
        raise ApiError(422, errors)
    if idempotency_key is None:
        message, data = _record(tenant, clean, user, call)
    else:
        try:
            with db.atomic():
                message, data = _record(tenant, clean, user, call)
                IdempotencyKey.remember(user, idempotency_key, body, 201, data)
        except pw.IntegrityError:
            # A twin with the same key committed first: this one's message is rolled back; answer as it did.
            if (replay := _replay(user, idempotency_key, body)) is None:
                raise
            return replay
    service.announce(request.app, message)
    return JSONResponse(data, status_code=201, headers={"Location": f"/api/v1/messages/{message.id}"})


def _record(tenant: Tenant, clean: forms.Clean, user: User, call: Call | None) -> tuple[Message, dict]:
    """Save the message; it and its JSON, made from what was just written (as a GET then shows it)."""
    message = service.record(tenant, clean, user, call=call, source=API)
    return message, message_json(message, _names([message], {user.id: user.name or user.email}), detail=True,
                                 versions=[service.first_version(message, user)])


def _replay(user: User, key: str, body: dict) -> Response | None:
    """The stored result of an earlier request with this Idempotency-Key, or None when there is none.
    Only created messages are remembered: a refused request wrote nothing, so it may be corrected
    and sent again with the same key."""
    if not IdempotencyKey.is_valid(key):
        raise ApiError(422, {"idempotency_key": _("The Idempotency-Key header must be 1 to {n} printable ASCII "
                                                  "characters.").format(n=IdempotencyKey.MAX_LENGTH)})
    if (stored := IdempotencyKey.recall(user, key)) is None:
        return None
    if stored.body_hash != IdempotencyKey.digest(body):
        raise ApiError(422, {"idempotency_key": _("This Idempotency-Key was used with a different request body in "
                                                  "the last 24 hours; use a new key for a new message.")})
    return JSONResponse(stored.response, status_code=stored.status, headers={
        "Location": f"/api/v1/messages/{stored.response['id']}", "Idempotent-Replayed": "true"})


@endpoint
def update_message(request: Request, user: User, body: dict) -> Response:
    """The firm (or staff) marks a message handled, with an optional note."""
    message = _message(user, request.path_params["id"])
    errors = {}
    if not isinstance(body.get("handled"), bool):
        errors["handled"] = _("Expected true or false.")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        errors["note"] = _("Expected text of at most {n} characters.").format(n=2000)
    if errors:
        raise ApiError(422, errors)
    service.set_handled(message, body["handled"], user, note)
    message = _message(user, message.id)
    return JSONResponse(message_json(message, _names([message]), detail=True))


@endpoint(body=False)
def acknowledge_message(request: Request, user: User, body) -> Response:
    """The firm has seen the message: an urgent one's escalation stops. Again: the first stays."""
    message = _message(user, request.path_params["id"])
    message.acknowledge(user)
    message = _message(user, message.id)
    return JSONResponse(message_json(message, _names([message]), detail=True))


async def openapi(request: Request) -> Response:
    from .openapi import document

    return JSONResponse(document(request.app.state.settings.PUBLIC_URL))
