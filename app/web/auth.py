"""Who is asking, and may they? Every page handler goes through ``view``; every firm through ``firm_for``.

Handlers are plain functions run in a worker thread with a database connection of their own
(peewee is synchronous). ``view`` reads the session, sets the locale, enforces the roles and
reads a submitted form before entering the thread, so handlers stay short and synchronous.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl, quote

from itsdangerous import BadSignature, Signer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import i18n
from ..accounts.models import ADMIN, CLIENT, OPERATOR, SUPERVISOR, Session, User
from ..db import db
from ..tenants.models import Tenant
from . import limits
from .csrf import SESSION_COOKIE
from .inputs import bad_field, bad_query_field

LANG_COOKIE = "dengon_lang"

# The firm editor posts every key of a firm: a large one (50 staff, 20 call types, 10 reports) has
# about 1,500 fields. The body's size is bounded in limits.py.
MAX_FORM_FIELDS = 5000
# The longest field (a 4,000-character textarea) is ~36 KB encoded. Decoding one value is a single
# uninterruptible step that would hold up every request (~30 ms for 1 MB of escapes, even in a thread).
MAX_FIELD_BYTES = 64 * 1024


class BadInput(HTTPException):
    """A field holds text nobody can store: 400, with the field named on the error page."""

    def __init__(self, field: str):
        super().__init__(400, detail=field)
        self.field = field


LANDING = {ADMIN: "/admin", SUPERVISOR: "/supervisor", OPERATOR: "/console", CLIENT: "/portal"}


def _signer(request: Request) -> Signer:
    return Signer(request.app.state.settings.SECRET_KEY, salt="dengon.session")


def session_for(request: Request, *, touch: bool = True) -> Session | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        token = _signer(request).unsign(raw).decode()
    except BadSignature:
        return None
    return Session.find(token, touch=touch)


def start_session(request: Request, response: Response, user: User) -> None:
    _, token = Session.start(user)
    response.set_cookie(SESSION_COOKIE, _signer(request).sign(token).decode(), httponly=True, samesite="lax",
                        secure=request.app.state.settings.https, max_age=int(Session.IDLE.total_seconds()) * 14)


def end_session(request: Request, response: Response) -> None:
    if (session := getattr(request.state, "session", None)) is not None:
        session.delete_instance()
    response.delete_cookie(SESSION_COOKIE)


def view(*, roles: frozenset[str] | set[str] | None = None, public: bool = False):
    """Wrap a synchronous page handler: session, locale, access check, form, database connection."""

    def decorate(handler):
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            request.state.form = None
            if request.method == "POST":
                request.state.form = await _form(request)
            return await run_in_threadpool(_run, handler, request, roles, public)

        return endpoint

    return decorate


async def _form(request: Request) -> FormData:
    """The posted form; its body is at most FORM_BODY_LIMIT (limits.py)."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # Decoding escapes is pure Python (~70 ms for 1 MB of them): a big form is read off the event loop.
        return await limits.parsed(_urlencoded, await request.body())
    # Page forms carry no uploads; refusing files keeps anonymous posts from spooling to disk.
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES)


def _urlencoded(body: bytes) -> FormData:
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise HTTPException(400, f"Too many fields: at most {MAX_FORM_FIELDS}.")
    if any(len(field) > MAX_FIELD_BYTES for field in body.split(b"&")):
        raise HTTPException(413, f"A field is over {MAX_FIELD_BYTES // 1024} KB.")
    # Bytes that are no UTF-8 stay as lone surrogates (not "�"), so the door refuses them by name (inputs.py).
    return FormData(parse_qsl(body.decode("utf-8", "surrogateescape"), keep_blank_values=True,
                              errors="surrogateescape"))


def _run(handler, request: Request, roles, public: bool) -> Response:
    with db.connection_context():
        session = session_for(request)
        user = session.user if session else None
        request.state.session, request.state.user = session, user
        i18n.set_locale(user.language if user else request.cookies.get(LANG_COOKIE))
        field = (bad_query_field(request.scope.get("query_string", b"")) or bad_field(request.path_params)
                 or bad_field(request.state.form or {}))
        if field:
            raise BadInput(field)
        if not public:
            if user is None:
                return login_redirect(request)
            if roles is not None and user.role not in roles:
                # A client user is an outsider to every staff area: 404, as for another firm's data.
                raise HTTPException(404 if user.role == CLIENT else 403)
        return handler(request)


async def stream_session(request: Request, roles) -> Session | None:
    """For long-lived async handlers (event streams): the session of a logged-in user with one of
    ``roles`` (its user read with it), or None."""

    def look_up():
        with db.connection_context():
            session = session_for(request)
            return session if session and session.user.role in roles else None

    return await run_in_threadpool(look_up)


def login_redirect(request: Request) -> Response:
    # After log-in the browser comes back with a GET: only a page it can GET is worth returning to.
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login?next=" + quote(back) if request.method == "GET" else "/login"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def firm_for(request: Request, slug: str) -> Tenant:
    """The one door to a firm: staff see every firm; a client user only their own. Anything else is 404,
    so nobody can learn which firms exist."""
    tenant = Tenant.by_slug(slug)
    if tenant is None or not request.state.user.can_see(tenant):
        raise HTTPException(404)
    return tenant


def row_or_404(model, request: Request, query=None):
    """The ``model`` row the path's ``{id}`` names, or 404; ``query``: a select of ``model`` to read it
    with (joined rows along)."""
    where = model.id == request.path_params["id"]
    row = model.get_or_none(where) if query is None else query.where(where).first()
    if row is None:
        raise HTTPException(404)
    return row


def safe_next(target: str | None, default: str) -> str:
    """Only paths on this site: a crafted ?next= must not send a user elsewhere after log-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
