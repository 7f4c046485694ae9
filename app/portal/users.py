"""The firm's own users (its owner's page) and the one-time invitation link where a colleague
chooses a password."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from .. import i18n
from ..accounts import firm_users
from ..accounts.models import CLIENT, Invitation
from ..accounts.service import MIN_PASSWORD
from ..web.auth import end_session, start_session, view
from ..web.templates import render


def _owner(request: Request):
    """Only the firm's owner manages its users; to any other client user the page does not exist."""
    user = request.state.user
    if not user.is_owner:
        raise HTTPException(404)
    return user


def _page(request: Request, owner, *, form=None, errors=None, notice="", status_code=200):
    return render(request, "portal/users.html", {
        "firm": owner.tenant, "members": list(firm_users.members(owner.tenant)),
        "pending": list(Invitation.pending(owner.tenant)), "form": form or {"email": "", "name": ""},
        "errors": errors or {}, "notice": notice}, status_code=status_code)


@view(roles=frozenset({CLIENT}))
def users(request: Request):
    owner = _owner(request)
    if request.method == "GET":
        return _page(request, owner)
    form = {"email": request.state.form.get("email", ""), "name": request.state.form.get("name", "")}
    try:
        invitation = firm_users.invite(request.app.state.settings, owner.tenant, owner, form["email"],
                                        form["name"])
    except firm_users.Problems as problems:
        return _page(request, owner, form=form, errors=problems.errors, status_code=400)
    return _page(request, owner, notice=i18n.gettext("An invitation has been sent to {email}.").format(
        email=invitation.email))


@view(roles=frozenset({CLIENT}))
def remove(request: Request):
    owner = _owner(request)
    member = firm_users.member_or_none(owner, request.path_params["id"])
    if member is None:
        raise HTTPException(404)
    try:
        firm_users.remove(owner, member)
    except firm_users.Problems as problems:
        return _page(request, owner, errors=problems.errors, status_code=400)
    return _page(request, owner, notice=i18n.gettext("{email} can no longer sign in.").format(email=member.email))


@view(public=True)
def accept(request: Request):
    invitation = Invitation.open_by_token(request.path_params["token"])
    if invitation is None:
        return render(request, "portal/link_refused.html", {"reason": "invitation"}, status_code=404)
    tenant = invitation.tenant
    with i18n.use_locale(tenant.language):  # the invitee has no language yet: the firm's
        context = {"invitation": invitation, "firm": tenant, "errors": {}, "name": invitation.name,
                   "min_password": MIN_PASSWORD}
        if request.method == "GET":
            return render(request, "portal/invite.html", context)
        form = request.state.form
        try:
            user = firm_users.accept(invitation, form.get("password", ""), form.get("confirm_password", ""),
                                     form.get("name", ""))
        except firm_users.Problems as problems:
            context.update(errors=problems.errors, name=form.get("name", ""))
            return render(request, "portal/invite.html", context, status_code=400)
        except LookupError:
            return render(request, "portal/link_refused.html", {"reason": "invitation"}, status_code=404)
    response = RedirectResponse("/portal", status_code=303)
    end_session(request, response)  # whoever was signed in in this browser is not the invitee
    start_session(request, response, user)
    return response
