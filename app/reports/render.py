"""What a firm receives: a report (e-mail with HTML and text parts, SMS, fax PDF) or an immediate
notification, rendered from the templates under reports/ — a firm's own folder
(tenants/<slug>/templates/) is looked in first — in the firm's language."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import jinja2
import peewee as pw

from .. import i18n
from ..calls import blocking
from ..calls.models import Call
from ..messages import forms
from ..messages.models import Message
from ..settings import PROJECT_ROOT
from ..tenants import labels
from ..tenants.models import NOISE_CATEGORIES, Recipient, ReportRule, Staff, Tenant
from ..web.templates import css_string, localtime, phone

REPORTS_DIR = PROJECT_ROOT / "reports"
TENANTS_DIR = PROJECT_ROOT / "tenants"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str = ""
    sms: str = ""
    pdf: bytes | None = None


def environment(slug: str | None) -> jinja2.Environment:
    """The firm's own templates first, when it has any; else the shared environment, so the
    templates are compiled once for every firm (not once per report). No firm (mail to staff): shared."""
    overrides = TENANTS_DIR / slug / "templates" if slug else None
    return _environment(str(overrides) if overrides and overrides.is_dir() else None)


@lru_cache(maxsize=64)
def _environment(overrides: str | None) -> jinja2.Environment:
    folders = [overrides] if overrides else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, str(REPORTS_DIR)]),
        autoescape=jinja2.select_autoescape(["html"], default=False),
        extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals["labels"] = labels
    env.filters["phone"] = phone
    env.filters["localtime"] = localtime
    env.filters["css_string"] = css_string
    return env


def covered(tenant: Tenant, rule: ReportRule, start: dt.datetime, end: dt.datetime) -> list[Message]:
    """The messages of the report's period that its filters let through: urgent first, then by time."""
    query = Message.select().where((Message.tenant == tenant) & (Message.taken_at > start) & (Message.taken_at <= end))
    if rule.include_categories:
        query = query.where(Message.category.in_(rule.include_categories))
    if rule.exclude_categories:
        query = query.where(Message.category.not_in(rule.exclude_categories))
    if rule.urgent_only:
        query = query.where(Message.urgent == True)  # noqa: E712
    messages = list(query.order_by(Message.taken_at, Message.id))
    if rule.only_for_staff:
        messages = [m for m in messages if m.fields.get("for_staff") in rule.only_for_staff]
    return sorted(messages, key=lambda m: not m.urgent)


@dataclass
class Setup:
    """What a report needs of its firm besides the messages; read for many reports at once."""

    recipients: list[Recipient]
    staff: list[Staff]
    forms: list[forms.Form]

    @classmethod
    def of_rules(cls, rules: list[ReportRule]) -> dict[int, "Setup"]:
        """By rule id: four queries for any number of reports, not four per report."""
        tenant_ids = list({rule.tenant_id for rule in rules})
        recipients: dict[int, list[Recipient]] = {rule.id: [] for rule in rules}
        for r in Recipient.select().where(Recipient.report.in_(list(recipients))).order_by(Recipient.position):
            recipients[r.report_id].append(r)
        staff: dict[int, list[Staff]] = {tenant_id: [] for tenant_id in tenant_ids}
        for s in Staff.select().where(Staff.tenant.in_(tenant_ids)).order_by(Staff.position):
            staff[s.tenant_id].append(s)
        by_tenant = forms.forms_by_tenant(tenant_ids)
        return {rule.id: cls(recipients[rule.id], staff[rule.tenant_id], by_tenant[rule.tenant_id]) for rule in rules}


def _context(tenant: Tenant, messages: list[Message], base_url: str, setup: Setup | None = None) -> dict:
    staff = {s.key: s for s in (setup.staff if setup else tenant.staff.order_by(Staff.position))}
    call_types = {f.key: f for f in (setup.forms if setup else forms.forms_of(tenant))}
    items = [{"message": m, "rows": forms.rows_of(m, call_types.get(m.call_type)),
              "link": message_link(base_url, m)} for m in messages]
    counts = Counter(m.category for m in messages)
    return {"firm": tenant, "items": items, "staff_by_key": staff, "count": len(messages),
            "urgent_count": sum(m.urgent for m in messages),
            "counts": [(labels.CATEGORY_LABELS[c], n) for c, n in sorted(counts.items(), key=lambda kv: -kv[1])],
            "link": f"{base_url}/portal", "zone": tenant.timezone, "block_links": {}, "callers": {},
            "left_out": [], "left_out_noise": [], "left_out_more": 0, "left_out_link": ""}


def message_link(base_url: str, message: Message) -> str:
    """Where the firm reads this one message: every mail, SMS and notice links to it, not to the portal's front."""
    return f"{base_url}/portal/messages/{message.id}"


def period_query(tenant: Tenant, start: dt.datetime, end: dt.datetime) -> str:
    """The inbox's filter for a report's period: whole days in the firm's zone, from the day it starts
    to the day it ends (a period ending at midnight ends the day before)."""
    since = start.astimezone(tenant.zone).date()
    until = (end - dt.timedelta(seconds=1)).astimezone(tenant.zone).date()
    return f"since={since.isoformat()}&until={max(since, until).isoformat()}"


def caller_number(message: Message, from_number: str = "") -> str:
    """The number to block for a noise call: the caller's, else the number the operator noted."""
    number = from_number or message.fields.get("callback_number") or ""
    return number if number.startswith("+") else ""


# The left-out noise callers listed in the e-mail, each with its block link; the rest are counted.
LEFT_OUT_LISTED = 20


def _left_out(settings, tenant: Tenant, rule: ReportRule, start: dt.datetime, end: dt.datetime,
              messages: list[Message]) -> dict:
    """What the firm's rules kept out of this report: counts per category, a link to see them, and
    the noise calls among them (and among those included) with a signed link that blocks the caller."""
    period = (Message.tenant == tenant) & (Message.taken_at > start) & (Message.taken_at <= end)
    in_period = Counter(dict(Message.select(Message.category, pw.fn.COUNT(Message.id)).where(period)
                             .group_by(Message.category).tuples()))
    excluded = in_period - Counter(m.category for m in messages)
    order = list(labels.CATEGORY_LABELS)
    left_out = sorted(excluded.items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 99))
    base = settings.PUBLIC_URL
    query = period_query(tenant, start, end)
    all_noise = bool(excluded) and all(c in NOISE_CATEGORIES for c in excluded)
    found: dict = {"left_out": [(labels.CATEGORY_LABELS.get(c, c), n) for c, n in left_out],
                   "left_out_link": f"{base}/portal?bucket=noise&{query}" if all_noise else f"{base}/portal?{query}",
                   "period_link": f"{base}/portal?{query}", "block_links": {}, "callers": {}, "left_out_noise": [],
                   "left_out_more": 0}
    if not any(c in NOISE_CATEGORIES for c in in_period):
        return found
    included = {m.id for m in messages}
    # Only what the list shows: a report time makes thousands of these.
    noise = (Message.select(Message.id, Message.category, Message.taken_at, Message.fields, Call.from_number)
             .join(Call, pw.JOIN.LEFT_OUTER, on=(Message.call == Call.id))
             .where(period & Message.category.in_(NOISE_CATEGORIES)).order_by(Message.taken_at, Message.id)
             .objects())
    for m in noise:
        number = caller_number(m, m.from_number or "")
        if not number:
            continue
        block = block_link(settings, tenant, number)
        found["block_links"][m.id], found["callers"][m.id] = block, number
        if m.id not in included:
            if len(found["left_out_noise"]) < LEFT_OUT_LISTED:
                found["left_out_noise"].append({"message": m, "number": number, "block_link": block})
            else:
                found["left_out_more"] += 1
    return found


def block_link(settings, tenant: Tenant, number: str) -> str:
    return f"{settings.PUBLIC_URL}/block/{blocking.link_token(settings.SECRET_KEY, tenant.id, number)}"


def report(settings, tenant: Tenant, rule: ReportRule, start: dt.datetime, end: dt.datetime,
           messages: list[Message], setup: Setup, channels: set[str] | None = None) -> Rendered:
    """Every form of one report its recipients' channels need (the e-mail always: it is archived);
    ``channels`` chooses other forms instead (a preview shows the SMS and fax of any report)."""
    env = environment(tenant.slug)
    channels = {r.channel for r in setup.recipients} if channels is None else channels
    # The firm's language for all of it, labels made in Python included, whatever the process's own
    # (the command line's is English, a thread's the default).
    with i18n.use_locale(tenant.language):
        context = {**_context(tenant, messages, settings.PUBLIC_URL, setup), "rule": rule, "start": start, "end": end,
                   **_left_out(settings, tenant, rule, start, end, messages)}
        context["link"] = context["period_link"]  # the SMS's one link: this report's messages in the inbox
        subject = env.get_template("subject.txt").render(context).strip()
        rendered = Rendered(subject, env.get_template("email.txt").render(context),
                            env.get_template("email.html").render(context))
        if "sms" in channels:
            rendered.sms = sms_report(env, context)
        if "fax" in channels:
            rendered.pdf = pdf(env.get_template("fax.html").render(context))
    return rendered


def notification(settings, message: Message, channel: str) -> Rendered:
    """An immediate notice of one message: e-mail, SMS, or a one-page fax."""
    tenant = message.tenant
    env = environment(tenant.slug)
    with i18n.use_locale(tenant.language):  # as for a report: all of it in the firm's language
        context = _context(tenant, [message], settings.PUBLIC_URL)
        context["link"] = message_link(settings.PUBLIC_URL, message)
        call_types = {f.key: f for f in forms.forms_of(tenant)}
        if message.category in NOISE_CATEGORIES and (number := caller_number(
                message, message.call.from_number if message.call_id else "")):
            context["block_links"] = {message.id: block_link(settings, tenant, number)}
            context["callers"] = {message.id: number}
        subject = env.get_template("notify_subject.txt").render(context).strip()
        if channel == "sms":
            return Rendered(subject, "", sms=sms_notice(env, context, call_types.get(message.call_type)))
        rendered = Rendered(subject, env.get_template("notify_email.txt").render(context),
                            env.get_template("notify_email.html").render(context))
        if channel == "fax":
            rendered.pdf = pdf(env.get_template("fax.html").render({**context, "notice": True, "rule": None,
                                                                     "start": None, "end": message.taken_at}))
    return rendered


# An immediate SMS stays within three parts (UCS-2: 3 × 67 characters): beyond, the free text is cut.
SMS_LIMIT = 3 * 67
FREE_TEXT = ("body",)


def sms_notice(env: jinja2.Environment, context: dict, form: forms.Form | None) -> str:
    """The message as an SMS: the caller and every required and read-back field of its call type (never
    dropped), then as much of the free text as keeps it within SMS_LIMIT, cut with …"""
    rows = context["items"][0]["rows"]
    wanted = {f.key for f in form.fields if f.required or f.readback} if form else {r["key"] for r in rows}
    wanted.discard("body")
    kept = [r for r in rows if r["key"] in wanted or r["key"] in ("caller_name", "callback_number")]
    body = " ".join(next((r["value"] for r in rows if r["key"] == "body"), "").split())
    template = env.get_template("notify_sms.txt")

    def text(cut: str) -> str:
        return " ".join(template.render({**context, "sms_rows": kept, "sms_body": cut}).split())

    full = text(body)
    over = len(full.encode("utf-16-le")) // 2 - SMS_LIMIT
    if over <= 0 or not body:
        return full
    keep = max(0, len(body) - over - 1)
    return text(body[:keep] + "…" if keep else "")


# A report SMS lists several messages: up to five parts (UCS-2: 5 × 67 characters), each one billed.
REPORT_SMS_LIMIT = 5 * 67


def _sms_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def sms_report(env: jinja2.Environment, context: dict) -> str:
    """The report as an SMS: its messages in the report's order, as many as keep it within
    REPORT_SMS_LIMIT, then how many more there are behind the link: none is left out unsaid."""
    template = env.get_template("sms.txt")
    items = context["items"]

    def text(listed: int) -> str:
        raw = template.render({**context, "sms_items": items[:listed], "sms_more": len(items) - listed})
        return "\n".join(" ".join(line.split()) for line in raw.splitlines() if line.strip())

    best = text(0)  # sent even when too long by itself (a very long firm name): the count and the link
    for listed in range(1, len(items) + 1):
        candidate = text(listed)
        if _sms_units(candidate) > REPORT_SMS_LIMIT:
            break
        best = candidate
    return best


_fonts = threading.local()


def pdf(html: str) -> bytes:
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    # One font configuration per thread: a new one per PDF costs time and leaks ~0.3 MB each.
    if not hasattr(_fonts, "config"):
        _fonts.config = FontConfiguration()
    return weasyprint.HTML(string=html, base_url=str(REPORTS_DIR)).write_pdf(font_config=_fonts.config)
