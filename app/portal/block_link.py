"""The signed "block this number" link of the report e-mail: no log-in, a confirm page, then POST."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from .. import i18n
from ..calls import blocking
from ..calls.models import BlockedNumber
from ..tenants.models import Tenant
from ..web.auth import view
from ..web.templates import render


@view(public=True)
def block_number(request: Request):
    try:
        tenant_id, number = blocking.read_link(request.app.state.settings.SECRET_KEY, request.path_params["token"])
    except blocking.BadLink as bad:
        tenant = Tenant.get_or_none(Tenant.id == bad.tenant_id) if bad.tenant_id else None
        with i18n.use_locale(tenant.language if tenant else i18n.current_locale()):
            return render(request, "portal/link_refused.html",
                          {"reason": "expired" if bad.expired else "tampered", "firm": tenant}, status_code=400)
    tenant = Tenant.get_or_none(Tenant.id == tenant_id)
    if tenant is None:  # the firm is gone
        raise HTTPException(404)
    with i18n.use_locale(tenant.language):  # the reader may not be signed in: the firm's language
        done = BlockedNumber.blocks(tenant.id, number)
        if request.method == "POST" and not done:
            user = request.state.user
            BlockedNumber.block(tenant, number, i18n.gettext("Blocked from the report e-mail"),
                           by=user if user and user.can_see(tenant) else None, via="report e-mail link")
            done = True
        return render(request, "portal/block.html", {"firm": tenant, "number": number, "done": done,
                                                      "just_now": request.method == "POST"})
