"""Jinja2 set-up: the i18n extension wired to the catalogue, and what every page can use."""

from __future__ import annotations

import datetime as dt

import jinja2
import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from .. import days, i18n, phones
from ..tenants import labels
from ..tenants.changes import changes_in_words
from ..settings import PROJECT_ROOT
from . import csrf

TEMPLATE_DIR = PROJECT_ROOT / "templates"

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown(text: str) -> Markup:
    """Firm-written Markdown (instructions, scripts) as HTML, sanitised: it is shown to every operator."""
    return Markup(nh3.clean(_markdown.render(text or "")))


def _context(request: Request) -> dict:
    return {
        "user": getattr(request.state, "user", None),
        "csrf_token": csrf.token_for(request) if "csrf_cookie" in request.scope else "",
        "locale": i18n.current_locale(),
        "htmx": request.headers.get("hx-request") == "true",
        # htmx navigation inside the page (HX-Location / hx-target="#main") wants the content only.
        "partial": request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "main",
        "voice_enabled": request.app.state.settings.provider_configured,
    }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.globals["labels"] = labels
    env.filters["markdown"] = markdown
    env.filters["phone"] = phone
    env.filters["localtime"] = localtime
    env.filters["zone_name"] = days.zone_name
    env.filters["read_aloud"] = phones.read_aloud
    env.globals["open_change_requests"] = open_change_requests
    env.globals["changes_in_words"] = changes_in_words
    env.globals["message_changes"] = message_changes
    env.globals["report_name"] = report_name
    env.globals["addressees"] = addressees
    return env


def message_changes(changes: dict, firm, staff_by_key: dict) -> list[tuple[str, str, str]]:
    """A message correction's changes in words (its history, the audit log)."""
    from ..messages import forms

    return forms.change_rows(changes, forms.forms_of(firm), staff_by_key, firm.region)


def report_name(rule) -> str:
    """A report as people name it, by when it goes out (its key is the tenant file's business)."""
    return i18n.gettext("Report at {times}").format(times=", ".join(rule.at))


def addressees(recipient, staff, region: str = "JP") -> str:
    """Where a `deliver` entry sends, as people read it: addresses and numbers (national format), then
    the chosen staff by name."""
    names = {s.key: s.name for s in staff}
    return ", ".join([phone(a, region) if a.startswith("+") else a for a in recipient.to] +
                     [names.get(k, k) for k in recipient.to_staff])


def open_change_requests() -> int:
    """For the account managers' menu badge."""
    from ..tenants.requests import ChangeRequest

    return ChangeRequest.open_count()


def phone(number: str | None, region: str = "JP") -> str:
    return phones.display(number, region) if number else ""


def localtime(value, timezone: str = days.SERVICE_ZONE.key, fmt: str = "%Y-%m-%d %H:%M") -> str:
    from zoneinfo import ZoneInfo

    if isinstance(value, str):  # an ISO time kept in JSON (drafts, read-back marks)
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(ZoneInfo(timezone)).strftime(fmt) if value else ""


def css_string(value) -> Markup:
    """``value`` as a quoted CSS string, for a <style> element (HTML escaping does not apply there:
    ``&amp;`` would be printed as is). A backslash or quote cannot end the string, a new line cannot
    break it, and ``<`` is written as its code so ``</style>`` cannot close the element."""
    out = []
    for ch in str(value):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "<" or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")  # the space ends the code
        else:
            out.append(ch)
    return Markup('"' + "".join(out) + '"')


templates = Jinja2Templates(env=_environment(), context_processors=[_context])


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200, headers=None):
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code, headers=headers)
