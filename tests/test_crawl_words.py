"""People read names, not codes: every page each role reaches from its landing page, with the demo
data and a day's work in it, is crawled and its visible text searched for internal keys (staff,
report and call-type keys, audit action codes) and E.164 numbers."""

import datetime as dt
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest

from app.accounts.models import User
from app.calls.models import BlockedNumber, Call
from app.delivery import service as delivery
from app.messages import forms, service
from app.presence import service as presence
from app.reports.service import make_run
from app.tenants import requests as change_requests
from app.tenants import store
from app.tenants.models import CallType, ReportRule, Staff, Tenant

from .conftest import csrf_token

E164 = re.compile(r"\+\d{9,15}")
# Pages a crawl does not open: live streams, files, and what only a POST changes.
SKIP = re.compile(r"^/(static/|console/events|portal/events)|\.(csv|pdf|toml|txt|eml)$|/logout$")
MAX_PAGES = 120  # per role: the demo's pages are fewer; the bound stops a link loop

# Admin pages that show keys on purpose, as their subject. Keep this short.
ALLOWED = {
    # The firm editor edits the tenant file: each item is headed by its key, staff are chosen by key.
    re.compile(r"^/firms/[^/]+/edit$"),
}


class Visible(HTMLParser):
    """The text a person sees: no tags, no attribute values, no script or style, no value a form
    field holds (a textarea's text is its value); every same-site link."""

    HIDDEN = {"script", "style", "textarea", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.links, self._hidden = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/") and not href.startswith("//"):
            self.links.append(urldefrag(href)[0])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def visible(html: str) -> tuple[str, list[str]]:
    parser = Visible()
    parser.feed(html)
    return " ".join(parser.text), parser.links


def internal_keys() -> set[str]:
    from app.audit import AuditEntry

    keys = {s.key for s in Staff.select()} | {r.key for r in ReportRule.select()}
    keys |= {t.key for t in CallType.select()} | {e.action for e in AuditEntry.select()}
    return keys


def leaks(text: str, keys: set[str]) -> list[str]:
    """Each key or number found, with what surrounds it (to find it on the page)."""
    patterns = [E164] + [re.compile(rf"(?<![\w.-]){re.escape(key)}(?![\w@-])") for key in keys]
    # a key as a word of its own: "ito" in "Kitoh" or in "ito@…" is no leak
    return [f"{match.group()} in “{' '.join(text[max(0, match.start() - 25):match.end() + 25].split())}”"
            for pattern in patterns for match in list(pattern.finditer(text))[:1]]


@pytest.fixture
def day_of_work(database, demo_logins, settings):
    """What a day leaves behind at the demo firms: calls taken, messages (one urgent with every
    field, one noise call), a correction, a report made, notifications queued, presence changes,
    a notice, a blocked caller, a change request and a firm saved in the browser."""
    daiwa = Tenant.get(Tenant.slug == "daiwa-kensetsu")
    operator = User.by_email("operator1@example.com")
    supervisor = User.by_email("supervisor@example.com")
    admin = User.by_email("admin@example.com")
    client = User.by_email("daiwa-kensetsu@example.com")
    call, _ = Call.arrive(f"CA{uuid.uuid4().hex}", to="+815037865120", caller="090-1234-5678", forwarded_from="",
                          region="JP")
    Call.take(call.id, operator, audio=False)
    form = forms.form_of(daiwa, "site-emergency")
    fields = {"caller_company": "東和建材", "caller_name": "佐藤 一郎", "callback_number": "+819012345678",
              "for_staff": "ito", "body": "足場が倒れました", "site_name": "川口三丁目現場"}
    message = service.record(daiwa, forms.Clean(form, "message", True, fields, ["caller_name", "callback_number",
                                                                               "site_name"], {"site_name": "現場名"}),
                             operator, call=call)
    delivery.notify(message)
    service.correct(message, forms.Clean(form, "complaint", True, {**fields, "body": "足場が倒れました(けが人なし)"},
                                         [], {"site_name": "現場名"}), supervisor, note="内容の訂正")
    noise_call, _ = Call.arrive(f"CA{uuid.uuid4().hex}", to="+815037865120", caller="03-9876-5432",
                                forwarded_from="", region="JP")
    Call.take(noise_call.id, operator, audio=False)
    service.record(daiwa, forms.Clean(form, "sales", False, {}, [], {}), operator, call=noise_call)
    Call.arrive(f"CA{uuid.uuid4().hex}", to="+815099998888", caller="+818011112222", forwarded_from="", region="JP")
    rule = ReportRule.get(ReportRule.tenant == daiwa, ReportRule.key == "daily")
    make_run(settings, daiwa, rule, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1))
    ito = Staff.get(Staff.tenant == daiwa, Staff.key == "ito")
    presence.set_presence(ito, "out", "現場", None, client)
    presence.post_notice(daiwa, "本日は伊藤が終日不在です", ito, None, None, client)
    BlockedNumber.block(daiwa, "+81398765432", "営業", client)
    config = store.snapshot(daiwa)
    change_requests.propose(daiwa, client, {"instructions": config["instructions"] + "\n追記"}, "追記のお願い",
                            default_region="JP")
    store.save({**config, "name_kana": "だいわけんせつ"}, actor=admin, via="browser")
    return {"message": message, "call": call, "firm": daiwa}


def crawl(client, start: list[str], keys: set[str]) -> tuple[dict[str, list[str]], set[str]]:
    seen, queue, found = set(), list(start), {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or SKIP.search(urlsplit(path).path):
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        text, links = visible(response.text)
        if not any(pattern.match(urlsplit(path).path) for pattern in ALLOWED):
            if problems := leaks(text, keys):
                found[path] = problems
        queue += [link for link in links if link not in seen]
    return found, seen


def log_in(client, email: str, password: str) -> None:
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)},
                           follow_redirects=False)
    assert response.status_code == 303


@pytest.mark.parametrize("role", ["admin", "supervisor", "operator", "client"])
def test_no_page_shows_an_internal_key_or_an_e164_number(client, demo_logins, day_of_work, role):
    email, password = next((e, p) for e, p, r, slug in demo_logins if r == role and slug in (None, "daiwa-kensetsu"))
    log_in(client, email, password)
    m, call, firm = day_of_work["message"], day_of_work["call"], day_of_work["firm"]
    run = firm.report_runs.first()
    details = ([f"/portal/messages/{m.id}", f"/firms/{firm.slug}/reports"] if role == "client" else
               [f"/messages/{m.id}", f"/console/calls/{call.id}", f"/firms/{firm.slug}/reports"])
    details.append(f"/firms/{firm.slug}/reports/{run.id}.html")
    found, seen = crawl(client, [client.get("/").url.path, *details], internal_keys())
    assert len(seen) > 5
    if role == "admin":
        assert {f"/messages/{m.id}", f"/console/calls/{call.id}", "/admin/audit", "/admin/deliveries"} <= seen
    assert found == {}, "\n".join(
        f"{path}: {problem}" for path, problems in found.items() for problem in problems)
