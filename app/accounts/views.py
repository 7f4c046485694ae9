"""Log-in, log-out, the language switch and the user's own account page."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import i18n
from ..db import utcnow
from ..i18n import _
from ..web.auth import LANDING, LANG_COOKIE, end_session, safe_next, start_session, view
from ..web.templates import render
from . import manage, service
from ..calls.models import SIGNED_OUT, OperatorPresence
from .models import LoginAttempt, PasswordReset, Session, User, verify_dummy
from .service import MIN_PASSWORD


@view(public=True)
def home(request: Request):
    user = request.state.user
    return RedirectResponse(LANDING[user.role] if user else "/login", status_code=303)


@view(public=True)
def login(request: Request):
    next_url = request.query_params.get("next")
    if request.method == "GET":
        if request.state.user:
            return RedirectResponse(safe_next(next_url, LANDING[request.state.user.role]), status_code=303)
        return render(request, "accounts/login.html", {"email": "", "error": None, "next": next_url})

    form = request.state.form
    email = User.normalise_email(form.get("email", ""))
    password = form.get("password", "")
    ip = request.client.host if request.client else "unknown"

    def again(error: str, status: int):
        return render(request, "accounts/login.html", {"email": email, "error": error, "next": next_url},
                      status_code=status)

    # An address longer than any user's is nobody's, but the attempt still counts against the address.
    attempt = LoginAttempt.begin(email[:LoginAttempt.email.max_length], ip)
    if (wait := attempt.locked_for()) is not None:
        attempt.withdraw()
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        return again(i18n.ngettext("Too many failed log-ins. Try again in %(num)d minute.",
                                   "Too many failed log-ins. Try again in %(num)d minutes.", minutes)
                     % {"num": minutes}, 429)
    user = User.by_email(email) if email and len(email) <= User.email.max_length else None
    if user is None:
        verify_dummy(password)  # same work as a real check: the timing must not tell which e-mails exist
    # A disabled user hears exactly what a wrong password hears, after the same work: the answer
    # must not confirm that the password was right.
    if user is None or not user.check_password(password) or not user.is_active:
        return again(_("The e-mail address or password is not correct."), 400)
    attempt.succeed()

    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    response = RedirectResponse(safe_next(next_url, LANDING[user.role]), status_code=303)
    start_session(request, response, user)
    if user.is_staff:
        request.app.state.events.publish("operators", {"event": "signed-in"})  # on the wallboard
    response.set_cookie(LANG_COOKIE, user.language, samesite="lax", max_age=365 * 86400,
                        secure=request.app.state.settings.https)
    return response


@view()
def logout(request: Request):
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    user = request.state.user
    if user is not None and user.is_staff and not Session.select().where(
            (Session.user == user) & (Session.expires_at > utcnow())).exists():
        # Signed out everywhere: no call is offered to, or taken by, an operator who has gone home.
        OperatorPresence.set(user, False, SIGNED_OUT)
        request.app.state.events.publish("calls", {"event": "operator"})  # offers move; off the wallboard
    return response


@view(public=True)
def language(request: Request):
    """Switch the interface language: remembered for the user, and in a cookie for the log-in page."""
    choice = request.state.form.get("language")
    if choice not in i18n.LOCALES:
        choice = i18n.DEFAULT_LOCALE
    if request.state.user:
        User.update(language=choice).where(User.id == request.state.user.id).execute()
    back = safe_next(request.state.form.get("next"), "/")
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(LANG_COOKIE, choice, samesite="lax", max_age=365 * 86400,
                        secure=request.app.state.settings.https)
    return response


@view()
def account(request: Request):
    user = request.state.user
    errors: dict[str, str] = {}
    saved, revoked = False, []
    if request.method == "POST":
        form = request.state.form
        new = form.get("new_password", "")
        if not user.check_password(form.get("current_password", "")):
            errors["current_password"] = _("This is not your current password.")
        if len(new) < MIN_PASSWORD:
            errors["new_password"] = _("Use at least %(num)d characters.") % {"num": MIN_PASSWORD}
        elif new != form.get("confirm_password", ""):
            errors["confirm_password"] = _("The two new passwords differ.")
        if not errors:
            revoked = service.change_password(user, new, keep_session=request.state.session)
            saved = True
    return render(request, "accounts/account.html", {"errors": errors, "saved": saved, "revoked": revoked},
                  status_code=400 if errors else 200)


@view(public=True)
def password_link(request: Request):
    """The page of the link in the mail: the user chooses a new password, once."""
    reset = PasswordReset.open_by_token(request.path_params["token"])
    if reset is None:
        return render(request, "portal/link_refused.html", {"reason": "password"}, status_code=404)
    with i18n.use_locale(reset.user.language):  # whoever opens the link may not be signed in
        context = {"reset": reset, "errors": {}, "min_password": MIN_PASSWORD}
        if request.method == "GET":
            return render(request, "accounts/password_link.html", context)
        form = request.state.form
        try:
            user = manage.use_link(reset, form.get("password", ""), form.get("confirm_password", ""))
        except manage.Problems as problems:
            return render(request, "accounts/password_link.html", {**context, "errors": problems.errors},
                          status_code=400)
        except LookupError:
            return render(request, "portal/link_refused.html", {"reason": "password"}, status_code=404)
    response = RedirectResponse(LANDING[user.role], status_code=303)
    end_session(request, response)  # whoever was signed in in this browser is not the link's user
    start_session(request, response, user)
    return response
