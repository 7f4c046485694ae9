"""Tenant isolation: a user of one firm gets 404 for anything of another firm, on every route."""

import datetime as dt
import re

import pytest
from starlette.routing import Route

from app.main import routes

from .conftest import csrf_token, log_in

FIRM_ROUTES = [r.path for r in routes if isinstance(r, Route) and "{slug}" in r.path and not r.path.startswith("/api/")]
# The API's firm routes, tried with bearer tokens, every method.
API_FIRM_ROUTES = [(method, r.path) for r in routes if isinstance(r, Route) and "{slug}" in r.path
                   and r.path.startswith("/api/") for method in sorted(r.methods - {"HEAD"})]

# Who is entitled to each firm route, when it is not the firm's own client user.
ENTITLED = {"/firms/{slug}/export.toml": "admin",  # a firm's configuration file is for staff only
            "/firms/{slug}/edit": "admin", "/firms/{slug}/edit/preview": "admin",
            "/firms/{slug}/history": "admin", "/firms/{slug}/history/diff": "admin",
            "/firms/{slug}/history/{n:id}/restore": "admin", "/firms/{slug}/test-call": "admin",
            # what a firm's report will look like is for those who answer for it
            **{f"/firms/{{slug}}/reports/{{key}}/preview{page}": "supervisor" for page in ("", "/email.html", "/fax.pdf")}}
POST_ONLY = {r.path for r in routes if isinstance(r, Route) and "GET" not in r.methods}
# API routes only the service's staff may use on a firm; the firm's own token gets 403 there.
API_ENTITLED = {("PUT", "/api/v1/tenants/{slug}"): "admin", ("GET", "/api/v1/tenants/{slug}/versions"): "admin",
                ("GET", "/api/v1/tenants/{slug}/versions/{n:id}"): "admin",
                ("POST", "/api/v1/tenants/{slug}/reports/{key}/preview"): "supervisor"}


def _archived_run(tenant):
    from app.reports.models import ReportRun

    return ReportRun.create(tenant=tenant, rule_key="evening", scheduled_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
                            period_start=dt.datetime(2026, 11, 19, 9, tzinfo=dt.UTC), message_count=1,
                            subject=f"{tenant.name} report", text=f"{tenant.name} report", html=f"<p>{tenant.name}</p>",
                            pdf=b"%PDF-1.7 " + tenant.name.encode())


def _blocked_number(tenant) -> str:
    from app.calls.models import BlockedNumber

    return BlockedNumber.block(tenant, "090-1234-5678", f"{tenant.name}の迷惑電話")[0].number


def _staff_key(tenant) -> str:
    from app.tenants.models import Staff

    return Staff.create(tenant=tenant, key="yamada", name=f"{tenant.name}の山田").key


def _report_key(tenant) -> str:
    from app.tenants.models import Recipient, ReportRule

    rule = ReportRule.create(tenant=tenant, key="evening", at=["18:00"], days=["mon", "tue", "wed", "thu", "fri"])
    Recipient.create(report=rule, channel="email", to=[f"office@{tenant.slug}.example"], to_staff=[])
    return rule.key


def _version_number(tenant) -> str:
    from app.tenants import store

    return str(store.versions(tenant).first().number)


def _notice_id(tenant) -> str:
    from app.presence.models import Notice

    return str(Notice.create(tenant=tenant, text=f"{tenant.name}は本日休業").id)


def _fill(path: str, tenant) -> str:
    """The route's path with every parameter naming a real object of ``tenant``: an outsider must be
    refused the object, not merely a URL that names nothing."""
    values = {"slug": lambda: tenant.slug, "kind": lambda: "pdf", "number": lambda: _blocked_number(tenant),
              "key": lambda: _report_key(tenant) if "/reports/" in path else _staff_key(tenant), "n": lambda: _version_number(tenant),
              "id": lambda: _notice_id(tenant) if "/notices/" in path else str(_archived_run(tenant).id)}
    for name in re.findall(r"{(\w+)(?::\w+)?}", path):
        assert name in values, f"{path}: add a real object for {{{name}}} to this test"
        path = re.sub(r"{%s(?::\w+)?}" % name, values[name](), path)
    return path


def _open(client, path: str, url: str):
    """GET the page, or for a route that only takes a form, post an empty one (with its CSRF token)."""
    if path in POST_ONLY:
        return client.post(url, data={"csrf_token": csrf_token(client, "/account")})
    return client.get(url)


def test_every_firm_route_is_covered_by_the_outsider_test():
    # New routes that show a firm's data are picked up here automatically; this guards the list itself.
    assert {"/firms/{slug}", "/firms/{slug}/export.toml", "/firms/{slug}/reports/{id:id}.{kind}",
            "/firms/{slug}/edit", "/firms/{slug}/edit/preview"} <= set(FIRM_ROUTES)


@pytest.mark.parametrize("path", FIRM_ROUTES)
def test_an_outsider_gets_404_on_another_firms_route_where_its_owner_gets_200(client, request, path, alice, charlie):
    url = _fill(path, alice.tenant)
    log_in(client, charlie)
    response = _open(client, path, url)
    assert response.status_code == 404, url
    assert alice.tenant.name not in response.text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, request.getfixturevalue(ENTITLED.get(path, "alice")))
    assert _open(client, path, url).status_code == 200, url


@pytest.mark.parametrize("path", FIRM_ROUTES)
def test_a_firm_that_does_not_exist_is_404_too(client, path, admin, alice):
    url = _fill(path, alice.tenant).replace(alice.tenant.slug, "no-such-firm")
    log_in(client, admin)
    assert _open(client, path, url).status_code == 404, url


@pytest.mark.parametrize("method, path", API_FIRM_ROUTES)
def test_an_outsiders_token_gets_404_on_another_firms_api_route_where_its_owners_is_served(
        client, method, path, alice, charlie, admin, supervisor):
    from app.accounts.service import create_token

    url = _fill(path, alice.tenant)
    tokens = {u: {"Authorization": f"Bearer {create_token(u.email)[1]}"} for u in (alice, charlie, admin, supervisor)}
    response = client.request(method, url, json={}, headers=tokens[charlie])
    assert response.status_code == 404, url
    assert alice.tenant.name not in response.text
    missing = client.request(method, url.replace(alice.tenant.slug, "no-such-firm"), json={}, headers=tokens[admin])
    assert missing.status_code == 404, url
    # The entitled are served (an empty body may be refused as such, but never as another firm's).
    entitled = {"admin": admin, "supervisor": supervisor}.get(API_ENTITLED.get((method, path)), alice)
    assert client.request(method, url, json={}, headers=tokens[entitled]).status_code in (200, 201, 204, 422), url
    if entitled is not alice:
        assert client.request(method, url, json={}, headers=tokens[alice]).status_code == 403, url


def test_a_client_sees_their_own_firm(client, alice):
    log_in(client, alice)
    assert client.get(f"/firms/{alice.tenant.slug}").status_code == 200
    assert alice.tenant.name in client.get("/portal").text


def test_a_client_is_sent_from_the_directory_to_their_own_firm_only(client, alice, charlie):
    log_in(client, charlie)
    response = client.get("/firms?q=firm-a", follow_redirects=False)
    assert response.headers["location"] == f"/firms/{charlie.tenant.slug}"
    assert alice.tenant.name not in client.get("/firms?q=firm-a").text


def test_a_client_cannot_download_even_their_own_firms_configuration(client, alice):
    log_in(client, alice)
    assert client.get(f"/firms/{alice.tenant.slug}/export.toml").status_code == 403


def test_staff_see_every_firm(client, operator, firm_a, firm_b):
    log_in(client, operator)
    page = client.get("/firms").text
    assert firm_a.name in page and firm_b.name in page


def test_the_directory_finds_a_firm_by_any_format_of_its_number(client, operator, firm_a, firm_b):
    log_in(client, operator)
    for query in ("03-1111-2222", "0311112222", "+81 3 1111 2222", "０３１１１１２２２２"):
        page = client.get("/firms", params={"q": query}, headers={"HX-Request": "true"}).text
        assert firm_a.name in page and firm_b.name not in page, query
        assert "<html" not in page  # htmx gets the rows only


def test_the_admin_lists_span_all_firms_and_are_for_admins_only(client, admin, alice, charlie):
    log_in(client, admin)
    users = client.get("/admin/users").text
    assert alice.email in users and charlie.email in users
    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin")})
    log_in(client, alice)
    assert client.get("/admin/users").status_code == 404


@pytest.mark.parametrize("role", ["admin", "supervisor", "operator", "alice"])
def test_no_link_on_any_page_a_role_can_reach_leads_to_an_error(client, request, role, demo_firms):
    user = request.getfixturevalue(role)
    landing = log_in(client, user).headers["location"]
    seen, queue = set(), [landing]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, f"{role}: {path} → {response.status_code}"
        if response.headers["content-type"].startswith("text/html"):
            for href in re.findall(r'href="(/[^"#]*)"', response.text):
                if not href.startswith("/static/") and href not in seen:
                    queue.append(href.replace("&amp;", "&"))
    assert len(seen) >= 3


CALL_ROUTES = [r for r in routes if isinstance(r, Route) and "{id:id}" in r.path and r.path.startswith("/console/")]


@pytest.mark.parametrize("route", CALL_ROUTES, ids=lambda r: r.path)
def test_a_client_gets_404_on_every_call_route_even_for_a_call_of_their_own_firm(client, route, alice, charlie):
    from app.calls.models import Call

    own, _ = Call.arrive("CA-own", to="", caller="", forwarded_from="03-1111-2222", region="JP")
    other, _ = Call.arrive("CA-other", to="", caller="", forwarded_from="06-3333-4444", region="JP")
    assert own.tenant.id == alice.tenant.id and other.tenant.id == charlie.tenant.id
    log_in(client, alice)
    for call in (own, other):
        path = route.path.replace("{id:id}", str(call.id))
        if "POST" in route.methods:
            response = client.post(path, data={"csrf_token": csrf_token(client, "/portal")})
        else:
            response = client.get(path)
        assert response.status_code == 404, path
    assert Call.get_by_id(own.id).status == "queued"


def test_a_client_gets_404_on_the_console_event_stream_and_the_voice_token(client, alice):
    log_in(client, alice)
    assert client.get("/console/events").status_code == 404
    assert client.get("/console/voice-token").status_code == 404


MESSAGE_ROUTES = [r for r in routes if isinstance(r, Route) and "{id:id}" in r.path
                  and r.path.startswith(("/messages/", "/supervisor/"))]


@pytest.mark.parametrize("route", MESSAGE_ROUTES, ids=lambda r: r.path)
def test_a_client_gets_404_on_every_staff_message_route_even_for_their_own_firms_message(client, route, alice,
                                                                                        charlie, operator):
    from app.messages import forms, service
    from app.messages.models import Escalation, Message

    made = []
    for firm in (alice.tenant, charlie.tenant):
        clean, _ = forms.check(firm, forms.Entry(category="sales"))
        message = service.record(firm, clean, operator)
        made.append((message, Escalation.create(tenant=firm, message=message, raised_by=operator, reason="要確認")))
    log_in(client, alice)
    for message, escalation in made:
        target = escalation if route.path.startswith("/supervisor/") else message
        path = route.path.replace("{id:id}", str(target.id))
        if "POST" in route.methods:
            response = client.post(path, data={"csrf_token": csrf_token(client, "/portal"), "handled": "1"})
        else:
            response = client.get(path)
        assert response.status_code == 404, path
    assert Message.select().where(Message.handled | (Message.version > 1)).count() == 0
    assert Escalation.select().where(Escalation.resolved_at.is_null(False)).count() == 0
    assert client.get("/messages").status_code == 404
