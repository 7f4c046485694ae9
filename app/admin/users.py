"""Users, for account managers: the list (filter by role and firm, search by e-mail), adding a user,
and one user's page where their role, firm, ownership, access and password link are changed."""

from __future__ import annotations

import peewee as pw
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import i18n
from ..accounts import manage
from ..accounts.models import ADMIN, ROLES, PasswordReset, User
from ..audit import AuditEntry
from ..tenants.models import Tenant
from ..web.auth import LANDING, row_or_404, view
from ..web.templates import render

ADMINS = frozenset({ADMIN})
SHOWN = 200  # users on one page; a search or filter finds the others


@view(roles=ADMINS)
def user_list(request: Request):
    params = request.query_params
    role, firm, q = params.get("role", ""), params.get("firm", ""), params.get("q", "").strip()
    rows = (User.select(User, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER)
            .order_by(User.role, Tenant.name_kana, Tenant.name, User.email))
    if role in ROLES:
        rows = rows.where(User.role == role)
    if firm:
        rows = rows.where(Tenant.slug == firm)
    if q:
        rows = rows.where(User.email.contains(User.normalise_email(q)))
    users = list(rows.limit(SHOWN + 1))
    return render(request, "admin/users.html", {
        "users": users[:SHOWN], "more": len(users) > SHOWN, "pending": PasswordReset.pending(users),
        "firms": list(Tenant.listed()), "roles": ROLES, "filters": {"role": role, "firm": firm, "q": q}})


def _add_page(request: Request, form: dict, errors: dict, status_code: int = 200):
    return render(request, "admin/user_new.html", {"form": form, "errors": errors, "roles": ROLES,
                                                   "firms": list(Tenant.listed())}, status_code=status_code)


@view(roles=ADMINS)
def add(request: Request):
    if request.method == "GET":
        return _add_page(request, {"email": "", "name": "", "role": "", "firm": request.query_params.get("firm", "")}, {})
    form = {key: request.state.form.get(key, "") for key in ("email", "name", "role", "firm")}
    try:
        user, sent = manage.add(request.app.state.settings, request.state.user, form["email"], form["name"],
                                form["role"], form["firm"])
    except manage.Problems as problems:
        return _add_page(request, form, problems.errors, status_code=400)
    return _user_page(request, user, sent=sent,
                      notice=i18n.gettext("{email} has been added.").format(email=user.email))


def _user_page(request: Request, user: User, *, notice: str = "", errors: dict | None = None, sent=None,
               form: dict | None = None, status_code: int = 200):
    user = User.select(User, Tenant).join(Tenant, pw.JOIN.LEFT_OUTER).where(User.id == user.id).get()
    history = (AuditEntry.select().where(AuditEntry.target == user.email)
               .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(20))
    return render(request, "admin/user.html", {
        "person": user, "pending": PasswordReset.pending([user]).get(user.id), "history": list(history),
        "firms": list(Tenant.listed()), "roles": ROLES, "notice": notice, "errors": errors or {}, "sent": sent,
        "form": form or {"role": user.role, "firm": user.tenant.slug if user.tenant else ""}}, status_code=status_code)


@view(roles=ADMINS)
def detail(request: Request):
    return _user_page(request, row_or_404(User, request))


@view(roles=ADMINS)
def access(request: Request):
    user, actor = row_or_404(User, request), request.state.user
    form = {key: request.state.form.get(key, "") for key in ("role", "firm")}
    try:
        changed = manage.change_access(actor, user, form["role"], form["firm"])
    except manage.Problems as problems:
        return _user_page(request, user, errors=problems.errors, form=form, status_code=400)
    if user.id == actor.id and form["role"] != ADMIN:  # a manager stepping down leaves this area
        return RedirectResponse(LANDING[form["role"]], status_code=303)
    return _user_page(request, user, notice=i18n.gettext("Saved.") if changed else i18n.gettext("Nothing changed."))


@view(roles=ADMINS)
def owner(request: Request):
    user = row_or_404(User, request)
    try:
        manage.make_owner(request.state.user, user)
    except manage.Problems as problems:
        return _user_page(request, user, errors=problems.errors, status_code=400)
    return _user_page(request, user, notice=i18n.gettext("{email} now owns {firm}: they invite and remove its "
                                                         "users.").format(email=user.email, firm=user.tenant.name))


def _set_active(request: Request, active: bool):
    user = row_or_404(User, request)
    try:
        ended = manage.set_active(request.state.user, user, active)
    except manage.Problems as problems:
        return _user_page(request, user, errors=problems.errors, status_code=400)
    if active:
        notice = i18n.gettext("{email} can sign in again.").format(email=user.email)
    else:
        notice = i18n.ngettext("{email} can no longer sign in: %(num)d session ended, and their API tokens are "
                               "refused.", "{email} can no longer sign in: %(num)d sessions ended, and their API "
                               "tokens are refused.", ended) % {"num": ended}
        notice = notice.format(email=user.email)  # last: an address may hold "%"
    return _user_page(request, user, notice=notice)


@view(roles=ADMINS)
def disable(request: Request):
    return _set_active(request, False)


@view(roles=ADMINS)
def enable(request: Request):
    return _set_active(request, True)


@view(roles=ADMINS)
def password_link(request: Request):
    user = row_or_404(User, request)
    try:
        sent = manage.send_link(request.app.state.settings, request.state.user, user)
    except manage.Problems as problems:
        return _user_page(request, user, errors=problems.errors, status_code=400)
    return _user_page(request, user, sent=sent)
