"""What went out, for the people who answer for it: deliveries (failed ones first, with the provider's
error, and a way to send again), the outbox of a service without providers, and each firm's archive
of reports as they were sent."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ..accounts.models import MANAGERS, STAFF_ROLES
from ..i18n import N_
from ..reports.models import ReportRun
from ..tenants.models import Tenant
from ..web.auth import firm_for, row_or_404, view
from ..web.templates import render
from . import service
from .models import FAILED, RETRY, Delivery

OUTBOX_CHANNELS = ("email", "sms", "fax")
OUTBOX_TYPES = {".eml": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".pdf": "application/pdf"}
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SHOWN = 200
STATUS_LABELS = {"pending": N_("Waiting to be sent"), "sending": N_("Sending"), "sent": N_("Sent"),
                 "delivered": N_("Delivered"), "retry": N_("Will be retried"), "failed": N_("Failed")}


@view(roles=STAFF_ROLES)
def deliveries(request: Request):
    """Failing deliveries first (they need someone), then the latest."""
    everything = request.query_params.get("all") == "1"
    query = Delivery.select(Delivery, Tenant).join(Tenant)
    if not everything:
        query = query.where(Delivery.status.in_([FAILED, RETRY]))
    rows = query.order_by(pw.Case(Delivery.status, ((FAILED, 0), (RETRY, 1)), 2), Delivery.id.desc()).limit(SHOWN)
    return render(request, "admin/deliveries.html", {"deliveries": list(rows), "everything": everything,
                                                     "can_resend": request.state.user.role in MANAGERS,
                                                     "delivery_labels": STATUS_LABELS})


@view(roles=MANAGERS)
def resend(request: Request):
    delivery = row_or_404(Delivery, request)
    service.resend(delivery)
    service.send_soon(request.app.state.settings, [delivery.id])
    return Response(status_code=303, headers={"Location": "/admin/deliveries"})


def _outbox(request: Request) -> Path:
    return Path(request.app.state.settings.OUTBOX_DIR)


@view(roles=STAFF_ROLES)
def outbox(request: Request):
    files = []
    for channel in OUTBOX_CHANNELS:
        folder = _outbox(request) / channel
        if folder.is_dir():
            files += [(channel, p) for p in folder.iterdir() if FILE_NAME.match(p.name) and p.is_file()]
    files.sort(key=lambda item: item[1].stat().st_mtime, reverse=True)
    return render(request, "admin/outbox.html", {"files": [(c, p.name, p.stat().st_size) for c, p in files[:SHOWN]]})


@view(roles=STAFF_ROLES)
def outbox_file(request: Request):
    channel, name = request.path_params["channel"], request.path_params["name"]
    path = _outbox(request) / channel / name
    if channel not in OUTBOX_CHANNELS or not FILE_NAME.match(name) or path.suffix not in OUTBOX_TYPES \
            or not path.is_file():
        raise HTTPException(404)
    if path.suffix == ".eml":
        return Response(_readable(path.read_bytes()), media_type=OUTBOX_TYPES[".eml"])
    return FileResponse(path, media_type=OUTBOX_TYPES[path.suffix])


def _readable(raw: bytes) -> str:
    """A mail as a person reads it: its headers decoded, its text part, its attachments' names (the
    file itself has them in base64)."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    head = "".join(f"{name}: {mail[name]}\n" for name in ("From", "To", "Date", "Subject") if mail[name])
    body = mail.get_body(("plain",))
    attached = "".join(f"\n[{part.get_filename()}]" for part in mail.iter_attachments())
    return f"{head}\n{body.get_content() if body else ''}{attached}\n"


@view()
def archive(request: Request):
    """A firm's reports as they were sent: staff see every firm's, a client user their own."""
    tenant = firm_for(request, request.path_params["slug"])
    runs = (ReportRun.select(ReportRun.id, ReportRun.rule_key, ReportRun.scheduled_at, ReportRun.period_start,
                             ReportRun.message_count, ReportRun.skipped, ReportRun.subject,
                             ReportRun.pdf.is_null(False).alias("has_pdf"))
            .where(ReportRun.tenant == tenant).order_by(ReportRun.scheduled_at.desc()).limit(SHOWN))
    return render(request, "firms/reports.html", {"firm": tenant, "runs": list(runs)})


@view()
def archived(request: Request):
    tenant = firm_for(request, request.path_params["slug"])
    run = ReportRun.get_or_none((ReportRun.id == request.path_params["id"]) & (ReportRun.tenant == tenant))
    kind = request.path_params["kind"]
    if run is None or run.skipped or kind not in ("html", "txt", "pdf") or (kind == "pdf" and run.pdf is None):
        raise HTTPException(404)
    stamp = run.scheduled_at.astimezone(tenant.zone).strftime("%Y%m%d-%H%M")
    name = f"{tenant.slug}-{run.rule_key}-{stamp}.{kind}"
    if kind == "pdf":
        return Response(bytes(run.pdf), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})
    if kind == "txt":
        return Response(run.text, media_type="text/plain; charset=utf-8")
    # The report's own HTML, as mailed; sandboxed so nothing in it runs in the app's origin.
    return Response(run.html, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"})
