"""The account managers' queue of change requests from firms (/admin/requests): each with its diff,
approved onto the firm as it is now (a new version) or declined with a note; the proposer is told."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..i18n import _
from ..tenants import requests as change_requests
from ..tenants.requests import ChangeRequest
from ..web.auth import row_or_404, view
from ..web.templates import render
from .views import ADMINS


def _labels() -> dict:
    return {"status_labels": change_requests.STATUS_LABELS}


@view(roles=ADMINS)
def queue(request: Request):
    return render(request, "admin/requests.html", {"open": list(ChangeRequest.queue()),
                                                   "decided": list(ChangeRequest.decided()), **_labels()})


def _page(request: Request, found: ChangeRequest, *, errors=None, notice="", warning="", typed_note="",
          status_code=200):
    outlook = None
    if found.is_open:
        outlook = change_requests.outlook(found, default_region=request.app.state.settings.DEFAULT_REGION)
    return render(request, "admin/request.html", {
        "request_": found, "firm": found.tenant, "outlook": outlook, "errors": errors or {}, "notice": notice,
        "warning": warning, "typed_note": typed_note, **_labels()}, status_code=status_code)


@view(roles=ADMINS)
def detail(request: Request):
    return _page(request, row_or_404(ChangeRequest, request))


def _told(request: Request, found: ChangeRequest) -> str:
    """The proposer is mailed; what went wrong, for the manager to pass on another way."""
    failed = change_requests.tell(request.app.state.settings, found)
    if failed is None:
        return ""
    return _("The e-mail to {email} could not be sent ({reason}); let the firm know another way.").format(
        email=found.proposed_by_label, reason=failed)


@view(roles=ADMINS)
def approve(request: Request):
    found = row_or_404(ChangeRequest, request)
    seen = request.state.form.get("seen_version", "")
    try:
        change_requests.approve(found, request.state.user, seen_version=int(seen) if seen.isdigit() else -1,
                                default_region=request.app.state.settings.DEFAULT_REGION)
    except change_requests.FirmMoved:
        return _page(request, found, status_code=409, warning=_(
            "The firm was changed while you were looking: check what approving changes now, then approve again."))
    except change_requests.Invalid as invalid:
        return _page(request, found, status_code=422, errors={"approve": invalid.problems})
    except change_requests.AlreadyDecided:
        return RedirectResponse(f"/admin/requests/{found.id}", status_code=303)
    warning = _told(request, found)
    notice = _("Approved: the firm's version {version} is in force.").format(version=found.version)
    if not warning:
        notice += " " + _("{email} is told by e-mail.").format(email=found.proposed_by_label)
    return _page(request, found, warning=warning, notice=notice)


@view(roles=ADMINS)
def decline(request: Request):
    found = row_or_404(ChangeRequest, request)
    note = request.state.form.get("decision_note", "")
    try:
        change_requests.decline(found, request.state.user, note)
    except change_requests.Invalid as invalid:
        return _page(request, found, status_code=422, errors={"decision_note": invalid.problems[0].message},
                     typed_note=note)
    except change_requests.AlreadyDecided:
        return RedirectResponse(f"/admin/requests/{found.id}", status_code=303)
    warning = _told(request, found)
    notice = _("Declined.")
    if not warning:
        notice += " " + _("{email} is told by e-mail.").format(email=found.proposed_by_label)
    return _page(request, found, warning=warning, notice=notice)
