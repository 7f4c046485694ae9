"""A firm's own users, managed by its owner: inviting a colleague by e-mail (a one-time link where
they set their own password) and removing one (their sessions and tokens end at once). Every step
is written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import i18n
from ..audit import AuditEntry
from ..db import db, utcnow
from ..delivery import channels
from ..i18n import _
from ..tenants.config import EMAIL_RE
from ..tenants.models import Tenant
from . import service
from .models import CLIENT, Invitation, User
from .service import MIN_PASSWORD


@dataclass
class Problems(Exception):
    """What is wrong with the form, by field, in the reader's language."""

    errors: dict[str, str] = field(default_factory=dict)


def members(tenant: Tenant):
    """The firm's users who can sign in, the owner first."""
    return (User.select().where(User.tenant == tenant, User.role == CLIENT, User.is_active == True)  # noqa: E712
            .order_by(User.is_owner.desc(), User.created_at, User.id))


def member_or_none(owner: User, user_id: int) -> User | None:
    """One of the owner's firm's users; another firm's (or staff) is nobody, as for a 404."""
    return User.get_or_none((User.id == user_id) & (User.tenant == owner.tenant_id) & (User.role == CLIENT)
                            & (User.is_active == True))  # noqa: E712


def _check(tenant: Tenant, email: str, name: str) -> dict[str, str]:
    errors = {}
    if not EMAIL_RE.match(email) or len(email) > User.email.max_length:
        errors["email"] = _("Enter an e-mail address, such as tanaka@example.co.jp.")
    elif (existing := User.by_email(email)) is not None:
        if existing.tenant_id == tenant.id and existing.role == CLIENT and existing.is_active:
            errors["email"] = _("This person is already one of your users.")
        elif not (existing.tenant_id == tenant.id and existing.role == CLIENT):
            # A removed colleague of this firm may be invited back; any other account is not the firm's.
            errors["email"] = _("This address already has a Dengon account elsewhere. Ask the answering service.")
    if len(name) > User.name.max_length:
        errors["name"] = _("At most {n} characters.").format(n=User.name.max_length)
    return errors


def invite(settings, tenant: Tenant, by: User, email: str, name: str) -> Invitation:
    """Send someone a one-time link to join ``tenant``: the owner inviting a colleague, or an account
    manager inviting a new firm's owner (the first to join a firm owns it). A new link replaces an
    earlier one for the same address. Problems when the form is wrong or the mail could not be sent."""
    email, name = User.normalise_email(email), name.strip()
    if errors := _check(tenant, email, name):
        raise Problems(errors)
    with db.atomic():
        Invitation.withdraw_for(tenant, email)
        invitation, token = Invitation.issue(tenant, email, name, by)
    try:
        with channels.Sender(settings) as sender:
            sender.send(_mail(settings, invitation, token, by))
    except (channels.Transient, channels.Permanent) as exc:
        invitation.delete_instance()
        raise Problems({"email": _("The invitation could not be sent ({reason}). Check the address and try "
                                   "again.").format(reason=exc)}) from exc
    AuditEntry.record("user.invite", actor=by, tenant=tenant, target=email)
    return invitation


def _mail(settings, invitation: Invitation, token: str, by: User) -> channels.Outgoing:
    from ..reports import render

    tenant = invitation.tenant
    env = render.environment(tenant.slug)
    with i18n.use_locale(tenant.language):  # the firm's language, as everything it receives
        # Nobody of the firm has joined yet: this one will own it (accounts/service.py add_user).
        owner = not User.select().where(User.tenant == tenant, User.role == CLIENT).exists()
        context = {"firm": tenant, "name": invitation.name, "inviter": by.name or by.email, "owner": owner,
                   "link": f"{settings.PUBLIC_URL}/invite/{token}", "expires_at": invitation.expires_at,
                   "zone": tenant.timezone}
        subject = env.get_template("invite_subject.txt").render(context).strip()
        text = env.get_template("invite_email.txt").render(context)
        html = env.get_template("invite_email.html").render(context)
    return channels.Outgoing("email", invitation.email, subject, text, html,
                             key=f"invitation-{invitation.id}-{invitation.created_at:%Y%m%d%H%M%S}")


def password_problems(password: str, confirm: str) -> dict[str, str]:
    """What is wrong with a new password typed twice on a one-time link's page, by field."""
    if len(password) < MIN_PASSWORD:
        return {"password": _("Use at least %(num)d characters.") % {"num": MIN_PASSWORD}}
    if password != confirm:
        return {"confirm_password": _("The two passwords differ.")}
    return {}


def accept(invitation: Invitation, password: str, confirm: str, name: str) -> User:
    """The invitee sets their password: they become a client user of the firm (a removed one comes
    back). The link is spent by the one request that gets here first."""
    errors = password_problems(password, confirm)
    name = name.strip() or invitation.name
    if len(name) > User.name.max_length:
        errors["name"] = _("At most {n} characters.").format(n=User.name.max_length)
    if errors:
        raise Problems(errors)
    tenant = invitation.tenant
    with db.atomic():
        if not invitation.use():
            raise LookupError("the invitation was used meanwhile")
        user = User.by_email(invitation.email)
        if user is None:
            user = service.add_user(invitation.email, CLIENT, password=password, tenant_slug=tenant.slug, name=name,
                                    language=tenant.language, actor=invitation.invited_by)
        elif user.tenant_id == tenant.id and user.role == CLIENT:
            user.set_password(password)
            user.name = name
            user.save(only=[User.password_hash, User.name])
            service.set_active(user.email, True, actor=invitation.invited_by)
        else:  # the address became someone else's account after the invitation was sent
            raise LookupError("the address belongs to another account")
        User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
        AuditEntry.record("user.invite.accept", actor=user, tenant=tenant, target=user.email)
    return user


def remove(owner: User, user: User) -> None:
    """Take a colleague's access away at once: signed out everywhere, API tokens revoked, an
    invitation not yet used withdrawn. Their messages' history keeps their name."""
    if user.id == owner.id:
        raise Problems({"user": _("You cannot remove yourself: you own your firm's account.")})
    with db.atomic():
        service.set_active(user.email, False, actor=owner)
        service.revoke_tokens(user.email, actor=owner)
        Invitation.withdraw_for(owner.tenant, user.email)
        AuditEntry.record("user.remove", actor=owner, tenant=owner.tenant, target=user.email)
