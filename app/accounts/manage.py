"""Users as account managers manage them in the browser: adding one (they choose their password by a
one-time link), changing role and firm, handing a firm's ownership over, disabling and enabling, and
password links. Nobody disables themselves, the last active account manager stays one, and each firm
with client users keeps one owner. Every change is written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from .. import i18n
from ..audit import AuditEntry
from ..days import SERVICE_ZONE
from ..db import db, utcnow
from ..delivery import channels
from ..i18n import _
from ..tenants.config import EMAIL_RE
from ..tenants.labels import ROLE_LABELS
from ..tenants.models import Tenant
from . import service
from .firm_users import Problems, password_problems
from .models import ADMIN, CLIENT, ROLES, PasswordReset, User

__all__ = ["Problems", "Sent", "add", "change_access", "make_owner", "set_active", "send_link", "use_link"]


@dataclass
class Sent:
    """A password link just made. ``link`` is shown to the manager once when it did not leave by mail:
    no mail server is configured (the mail is in the outbox, which managers read anyway) or sending failed."""

    reset: PasswordReset
    link: str
    error: str = ""
    shown: bool = False


def _access(role: str, firm_slug: str) -> tuple[Tenant | None, dict[str, str]]:
    """The firm a user with ``role`` gets from the form's choice, or what is wrong, by field."""
    if role not in ROLES:
        return None, {"role": _("Choose a role.")}
    if role != CLIENT:
        return None, {"firm": _("Staff serve every firm: leave the firm empty for this role.")} if firm_slug else {}
    if not firm_slug:
        return None, {"firm": _("A client user belongs to one firm: choose it.")}
    if (tenant := Tenant.by_slug(firm_slug)) is None:
        return None, {"firm": _("There is no such firm.")}
    return tenant, {}


def _last_admin(user: User) -> bool:
    """Whether ``user`` is the only active account manager: nobody would be left to manage the service."""
    return user.role == ADMIN and user.is_active and not User.select().where(
        User.role == ADMIN, User.is_active == True, User.id != user.id).exists()  # noqa: E712


def add(settings, actor: User, email: str, name: str, role: str, firm_slug: str) -> tuple[User, Sent]:
    email, name = User.normalise_email(email), name.strip()
    errors = {}
    if not EMAIL_RE.match(email) or len(email) > User.email.max_length:
        errors["email"] = _("Enter an e-mail address, such as tanaka@example.co.jp.")
    elif User.by_email(email) is not None:
        errors["email"] = _("A user with this e-mail address exists already.")
    if len(name) > User.name.max_length:
        errors["name"] = _("At most {n} characters.").format(n=User.name.max_length)
    tenant, problems = _access(role, firm_slug)
    if errors := {**errors, **problems}:
        raise Problems(errors)
    with db.atomic():
        # No password anyone knows: the new user chooses theirs by the link.
        user = service.add_user(email, role, password=None, tenant_slug=tenant.slug if tenant else None, name=name,
                                language=tenant.language if tenant else i18n.DEFAULT_LOCALE, actor=actor)
    return user, send_link(settings, actor, user, PasswordReset.WELCOME)


def _settle_owner(tenant: Tenant, actor: User) -> None:
    """The firm's owner left it: its longest-standing active client user takes over, if any."""
    if service.has_owner(tenant):
        return
    heir = (User.select().where(User.tenant == tenant, User.role == CLIENT, User.is_active == True)  # noqa: E712
            .order_by(User.created_at, User.id).first())
    if heir is not None:
        User.update(is_owner=True).where(User.id == heir.id).execute()
        AuditEntry.record("user.owner", actor=actor, tenant=tenant, target=heir.email, changes={"is_owner": [False, True]})


def change_access(actor: User, user: User, role: str, firm_slug: str) -> dict:
    """Give ``user`` another role, or (a client user) another firm. Returns what changed."""
    tenant, errors = _access(role, firm_slug)
    if not errors and role != ADMIN and _last_admin(user):
        errors["role"] = _("{email} is the last active account manager: make someone else an account manager "
                           "first.").format(email=user.email)
    if errors:
        raise Problems(errors)
    old_tenant = user.tenant
    moved = (tenant.id if tenant else None) != user.tenant_id
    if role == user.role and not moved:
        return {}
    with db.atomic():
        owner = role == CLIENT and (user.is_owner if not moved else not service.has_owner(tenant))
        changes = {"role": [user.role, role], "firm": [old_tenant.slug if old_tenant else None,
                                                       tenant.slug if tenant else None],
                   "is_owner": [user.is_owner, owner]}
        changes = {key: change for key, change in changes.items() if change[0] != change[1]}
        User.update(role=role, tenant=tenant, is_owner=owner).where(User.id == user.id).execute()
        AuditEntry.record("user.access", actor=actor, tenant=tenant or old_tenant, target=user.email, changes=changes)
        if old_tenant is not None and moved:
            _settle_owner(old_tenant, actor)
    return changes


def make_owner(actor: User, user: User) -> None:
    """The firm's ownership (inviting and removing its users) passes to ``user``, an active client user."""
    if user.role != CLIENT or not user.is_active:
        raise Problems({"user": _("Only an active client user can own their firm.")})
    if user.is_owner:
        return
    with db.atomic():
        for previous in User.select().where(User.tenant == user.tenant_id, User.is_owner == True):  # noqa: E712
            User.update(is_owner=False).where(User.id == previous.id).execute()
            AuditEntry.record("user.owner", actor=actor, tenant=user.tenant, target=previous.email,
                              changes={"is_owner": [True, False]})
        User.update(is_owner=True).where(User.id == user.id).execute()
        AuditEntry.record("user.owner", actor=actor, tenant=user.tenant, target=user.email,
                          changes={"is_owner": [False, True]})


def set_active(actor: User, user: User, active: bool) -> int:
    """Disable (sessions end, API tokens get 401 at once) or enable a user, as ``dengon users`` does.
    Returns how many sessions were ended."""
    if not active and user.id == actor.id:
        raise Problems({"user": _("You cannot disable your own account.")})
    if not active and _last_admin(user):
        raise Problems({"user": _("{email} is the last active account manager and cannot be disabled.").format(
            email=user.email)})
    return service.set_active(user.email, active, actor=actor)[2]


def send_link(settings, actor: User, user: User, kind: str = PasswordReset.RESET) -> Sent:
    """Mail ``user`` a one-time link to set their password (an earlier link stops working)."""
    if not user.is_active:
        raise Problems({"user": _("{email} is disabled: enable them first.").format(email=user.email)})
    with db.atomic():
        reset, token = PasswordReset.issue(user, kind, actor)
        AuditEntry.record(f"user.password_link.{kind}", actor=actor, tenant=user.tenant, target=user.email,
                          changes={"expires_at": [None, reset.expires_at.isoformat(timespec="minutes")]})
    sent = Sent(reset, f"{settings.PUBLIC_URL}/password/{token}")
    try:
        with channels.Sender(settings) as sender:
            sender.send(_mail(sent, actor))
    except (channels.Transient, channels.Permanent) as exc:
        sent.error = str(exc)
    sent.shown = bool(sent.error or not settings.SMTP_URL)
    return sent


def _mail(sent: Sent, actor: User) -> channels.Outgoing:
    from ..reports import render

    reset, user = sent.reset, sent.reset.user
    tenant = user.tenant
    env = render.environment(tenant.slug if tenant else None)
    with i18n.use_locale(user.language):  # the user's own language, as the pages they sign in to
        context = {"firm": tenant or {"language": user.language, "name": "Dengon"}, "user": user,
                   "welcome": reset.kind == PasswordReset.WELCOME, "manager": actor.name or actor.email,
                   "role": _(ROLE_LABELS[user.role]), "link": sent.link, "expires_at": reset.expires_at,
                   "zone": tenant.timezone if tenant else SERVICE_ZONE.key}
        subject = env.get_template("password_subject.txt").render(context).strip()
        text = env.get_template("password_email.txt").render(context)
        html = env.get_template("password_email.html").render(context)
    return channels.Outgoing("email", user.email, subject, text, html,
                             key=f"password-{reset.id}-{reset.created_at:%Y%m%d%H%M%S}")


def use_link(reset: PasswordReset, password: str, confirm: str) -> User:
    """The user sets their password by the link: spent by the first request that gets here; their other
    browsers are signed out and their API tokens revoked, as any password change does."""
    if errors := password_problems(password, confirm):
        raise Problems(errors)
    user = reset.user
    with db.atomic():
        if not reset.use():
            raise LookupError("the link was used meanwhile")
        service.change_password(user, password)
        User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    return user
