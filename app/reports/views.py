"""A report's preview page, for those who answer for what goes out: pick a scheduled time, see the
messages of its period and the e-mail, SMS and fax as they would go out (nothing sent, nothing
recorded), and send a test of the e-mail to one address."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..accounts.models import MANAGERS, User
from ..db import utcnow
from ..delivery.channels import sms_segments
from ..i18n import _
from ..tenants.config import EMAIL_RE
from ..tenants.models import ReportRule, Tenant
from ..web.auth import firm_for, view
from ..web.templates import localtime, render
from . import preview

# The e-mail's own HTML, shown in the page's frame: nothing in it runs, nothing is fetched, only
# this site may frame it (every other answer refuses framing: security.py).
EMAIL_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
FRAMED = {"X-Frame-Options": "SAMEORIGIN"}


def _report(request: Request) -> tuple[Tenant, ReportRule]:
    tenant = firm_for(request, request.path_params["slug"])
    rule = ReportRule.get_or_none(ReportRule.tenant == tenant, ReportRule.key == request.path_params["key"])
    if rule is None:
        raise HTTPException(404)
    return tenant, rule


def _at(tenant: Tenant, rule: ReportRule, text: str | None):
    """The time asked for (query or form), else the next scheduled one; and what is wrong with it."""
    if text:
        if (at := preview.parse_at(text)) is not None:
            return at, ""
        return preview.next_time(rule, tenant), preview.bad_at()
    return preview.next_time(rule, tenant), ""


@view(roles=MANAGERS)
def page(request: Request):
    """GET: the preview; POST: the test send, then the preview again with what became of it."""
    tenant, rule = _report(request)
    form = request.state.form or {}
    at, at_error = _at(tenant, rule, form.get("at") if request.method == "POST"
                       else request.query_params.get("at"))
    errors, notice, address = {}, "", ""
    if at_error:
        errors["at"] = at_error
    if request.method == "POST" and at is not None and not at_error:
        address = form.get("email", "").strip()
        if not EMAIL_RE.match(address) or len(address) > User.email.max_length:
            errors["email"] = _("Enter an e-mail address, such as tanaka@example.co.jp.")
        else:
            try:
                preview.send_test(request.app.state.settings, tenant, rule, at, address, request.state.user)
                notice = _("The test report was sent to {email}.").format(email=address)
            except preview.NotSent as exc:
                errors["email"] = _("The test report could not be sent: {reason}").format(reason=exc)
    context = {"firm": tenant, "rule": rule, "at": at, "errors": errors, "notice": notice, "address": address,
               "options": _options(tenant, rule, at)}
    if at is not None:
        made = preview.preview(request.app.state.settings, tenant, rule, at, forms={"sms"})
        query = urlencode({"at": at.astimezone(tenant.zone).isoformat()})
        context.update(made=made, query=query, segments=sms_segments(made.rendered.sms) if made.rendered else 0)
    return render(request, "reports/preview.html", context, status_code=400 if errors else 200)


def _options(tenant: Tenant, rule: ReportRule, at) -> list[tuple[str, str, bool]]:
    """The times to pick from (value, label, chosen): the recent and next ones, and the one shown."""
    times = preview.times_around(rule, tenant)
    if at is not None and at not in times:
        times = sorted([*times, at])
    now = utcnow()
    return [(t.astimezone(tenant.zone).isoformat(),
             localtime(t, tenant.timezone) + (" " + _("(to come)") if t > now else ""), t == at) for t in times]


def _made(request: Request, forms: set[str]):
    tenant, rule = _report(request)
    at, error = _at(tenant, rule, request.query_params.get("at"))
    if at is None or error:
        raise HTTPException(404)
    made = preview.preview(request.app.state.settings, tenant, rule, at, forms=forms)
    if made.rendered is None:  # an empty period the report skips: nothing would go out
        raise HTTPException(404)
    return made.rendered


@view(roles=MANAGERS)
def email_html(request: Request):
    return Response(_made(request, set()).html, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": EMAIL_POLICY, **FRAMED})


@view(roles=MANAGERS)
def fax_pdf(request: Request):
    """The fax as the fax path renders it (WeasyPrint), whether or not the report is faxed."""
    return Response(_made(request, {"fax"}).pdf, media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="preview.pdf"',
                             "Content-Security-Policy": "frame-ancestors 'self'", **FRAMED})
