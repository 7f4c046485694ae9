"""Change requests from a firm: its owner proposes new instructions, staff, hours or report
recipients in the portal; an account manager approves one (it becomes a version of the firm) or
declines it with a note. Either way the proposer is told by e-mail.

A request keeps only the sections its proposer changed, so approving it later replaces those
sections of the firm as it is then and keeps what anybody else changed in the others."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import peewee as pw

from .. import i18n
from ..accounts.models import User
from ..audit import AuditEntry
from ..db import BaseModel, JSONField, UTCDateTimeField, db, utcnow
from ..i18n import N_, _
from . import store
from .config import Problem, TenantFileError, as_file, validate
from .models import Tenant

SECTIONS = ("instructions", "staff", "hours", "recipients")
OPEN, APPROVED, DECLINED, WITHDRAWN = "open", "approved", "declined", "withdrawn"
STATUS_LABELS = {OPEN: N_("Waiting for the answering service"), APPROVED: N_("Approved"),
                 DECLINED: N_("Declined"), WITHDRAWN: N_("Withdrawn")}


class ChangeRequest(BaseModel):
    tenant = pw.ForeignKeyField(Tenant, backref="change_requests", on_delete="CASCADE")
    proposed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    proposed_by_label = pw.CharField(max_length=254, default="")  # kept when the user is gone
    created_at = UTCDateTimeField(default=utcnow)
    base_version = pw.IntegerField()  # the firm's version the proposal was made on
    proposed = JSONField()  # {section: its canonical value}, only the sections changed
    changes = JSONField()  # {key path: [old, new]} against the base version
    note = pw.TextField(default="")
    status = pw.CharField(max_length=16, default=OPEN, index=True)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    decided_at = UTCDateTimeField(null=True)
    decision_note = pw.TextField(default="")
    version = pw.IntegerField(null=True)  # the firm's version the approval saved

    @classmethod
    def of_firm(cls, tenant: Tenant, limit: int = 50):
        return cls.select().where(cls.tenant == tenant).order_by(cls.id.desc()).limit(limit)

    @classmethod
    def open_count(cls) -> int:
        return cls.select().where(cls.status == OPEN).count()

    @classmethod
    def queue(cls):
        """Open requests, oldest first: the order they are answered in."""
        return cls.select(cls, Tenant).join(Tenant).where(cls.status == OPEN).order_by(cls.id)

    @classmethod
    def decided(cls, limit: int = 30):
        return (cls.select(cls, Tenant).join(Tenant).where(cls.status != OPEN)
                .order_by(cls.decided_at.desc(), cls.id.desc()).limit(limit))

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


@dataclass
class Invalid(Exception):
    """The proposal (or, at approval, the firm with it) fails the tenant file's checks."""

    problems: list[Problem] = field(default_factory=list)


class AlreadyDecided(Exception):
    """Someone decided or withdrew the request first."""


class FirmMoved(Exception):
    """The firm was saved after the manager looked at what approving would change."""


def sections_of(config: dict) -> dict:
    return {"instructions": config["instructions"], "staff": config["staff"], "hours": config["hours"],
            "recipients": {r["key"]: r["deliver"] for r in config["reports"]}}


def with_sections(config: dict, proposed: dict) -> dict:
    """``config`` with the ``proposed`` sections in place of its own. Recipients go to the reports of
    the same key; a report removed meanwhile has none to take."""
    merged = copy.deepcopy(config)
    for section, value in proposed.items():
        if section == "recipients":
            for report in merged["reports"]:
                if report["key"] in value:
                    report["deliver"] = copy.deepcopy(value[report["key"]])
        else:
            merged[section] = copy.deepcopy(value)
    return merged


def checked(config: dict, proposed: dict, default_region: str) -> tuple[dict, list[Problem]]:
    """The whole firm with the proposed sections, through the one validator, as a file would be."""
    return validate(as_file(with_sections(config, proposed)), default_region=default_region)


def propose(tenant: Tenant, user: User, sections: dict, note: str, *, default_region: str) -> ChangeRequest:
    """Keep the sections that differ from the firm now as an open request; Invalid when the firm
    with them would not pass, or when nothing differs."""
    store.versions(tenant)  # a firm from before versions has its version 1 now: the request's base
    base = store.snapshot(tenant)
    config, problems = checked(base, sections, default_region)
    if problems:
        raise Invalid(problems)
    now, before = sections_of(config), sections_of(base)
    proposed = {s: now[s] for s in SECTIONS if s in sections and now[s] != before[s]}
    if not proposed:
        raise Invalid([Problem("", _("Nothing differs from the current settings: change a value first."))])
    with db.atomic():
        request = ChangeRequest.create(tenant=tenant, proposed_by=user, proposed_by_label=user.email,
                                       base_version=tenant.version, proposed=proposed,
                                       changes=store.diff(base, with_sections(base, proposed)), note=note.strip())
        AuditEntry.record("change_request.propose", actor=user, tenant=tenant, target=f"#{request.id}",
                          changes=request.changes)
    return request


@dataclass
class Outlook:
    """What approving a request would do to the firm as it is now."""

    config: dict
    changes: dict  # against the current configuration
    problems: list[Problem]
    version: int  # the firm's version now
    moved: bool  # the firm was saved since the request was made


def outlook(request: ChangeRequest, *, default_region: str) -> Outlook:
    tenant = Tenant.get_by_id(request.tenant_id)
    current = store.snapshot(tenant)
    config, problems = checked(current, request.proposed, default_region)
    changes = store.diff(current, with_sections(current, request.proposed))
    return Outlook(config, changes, problems, tenant.version, tenant.version != request.base_version)


def approve(request: ChangeRequest, manager: User, *, seen_version: int | None, default_region: str) -> ChangeRequest:
    """Apply the request's sections onto the firm as it is now and save that as a version (via
    "request"). FirmMoved when the firm changed after the manager saw ``seen_version``; Invalid when
    the firm with the request no longer passes."""
    with db.atomic():
        view = outlook(request, default_region=default_region)
        if seen_version is not None and view.version != seen_version:
            raise FirmMoved()
        if view.problems:
            raise Invalid(view.problems)
        try:
            saved = store.save(view.config, actor=manager, via="request", expected_version=view.version,
                               note=_("change request #{number}").format(number=request.id))
        except store.StaleVersion as exc:
            raise FirmMoved() from exc
        except TenantFileError as exc:
            raise Invalid([p for _source, p in exc.problems]) from exc
        # No save when the firm already had these values: the request is met all the same.
        version = saved.version.number if saved.version else view.version
        _decide(request, manager, APPROVED, "", version)
        AuditEntry.record("change_request.approve", actor=manager, tenant=request.tenant, target=f"#{request.id}",
                          changes=view.changes)
    return request


def decline(request: ChangeRequest, manager: User, note: str) -> ChangeRequest:
    if not note.strip():
        raise Invalid([Problem("decision_note", _("Say why, for the firm: this note is sent to them."))])
    with db.atomic():
        _decide(request, manager, DECLINED, note.strip(), None)
        AuditEntry.record("change_request.decline", actor=manager, tenant=request.tenant, target=f"#{request.id}",
                          changes={"decision_note": [None, note.strip()]})
    return request


def withdraw(request: ChangeRequest, user: User) -> ChangeRequest:
    with db.atomic():
        _decide(request, user, WITHDRAWN, "", None)
        AuditEntry.record("change_request.withdraw", actor=user, tenant=request.tenant, target=f"#{request.id}")
    return request


def _decide(request: ChangeRequest, user: User, status: str, note: str, version: int | None) -> None:
    # Conditional on still being open: of two decisions at once, the second changes nothing and fails.
    now = utcnow()
    if not (ChangeRequest.update(status=status, decided_by=user, decided_at=now, decision_note=note, version=version)
            .where(ChangeRequest.id == request.id, ChangeRequest.status == OPEN).execute()):
        raise AlreadyDecided()
    request.status, request.decided_by, request.decided_at = status, user, now
    request.decision_note, request.version = note, version


def tell(settings, request: ChangeRequest) -> str | None:
    """Mail the proposer the decision, in the firm's language. The reason when it could not be sent
    (the decision stands either way), or None."""
    from ..delivery import channels
    from ..reports import render

    proposer = request.proposed_by
    if proposer is None or not proposer.is_active:
        return _("the person who asked can no longer sign in")
    tenant = request.tenant
    env = render.environment(tenant.slug)
    with i18n.use_locale(tenant.language):  # the firm's language, as everything it receives
        context = {"firm": tenant, "request": request, "approved": request.status == APPROVED,
                   "name": proposer.name or proposer.email, "link": f"{settings.PUBLIC_URL}/portal/requests",
                   "zone": tenant.timezone}
        subject = env.get_template("request_subject.txt").render(context).strip()
        text = env.get_template("request_email.txt").render(context)
        html = env.get_template("request_email.html").render(context)
    mail = channels.Outgoing("email", proposer.email, subject, text, html, key=f"change-request-{request.id}")
    try:
        with channels.Sender(settings) as sender:
            sender.send(mail)
    except (channels.Transient, channels.Permanent) as exc:
        AuditEntry.record("change_request.mail_failed", tenant=tenant, label="mail",
                          target=f"#{request.id} {proposer.email}: {exc}"[:200])
        return str(exc)
    return None
