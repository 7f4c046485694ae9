"""Change requests: a firm's owner proposes new instructions, staff, hours or report recipients in the
portal; an account manager approves (a new version, the proposer mailed) or declines with a note."""

import re

import pytest
from starlette.testclient import TestClient

from app.accounts import service
from app.audit import AuditEntry
from app.calls.models import Call
from app.tenants import store
from app.tenants.models import Tenant
from app.tenants.requests import ChangeRequest
from app.tenants.versions import TenantVersion

from .conftest import PASSWORD, csrf_token, log_in, minimal_config

INSTRUCTIONS = "営業電話はお断りください。"
STAFF = [{"key": "yamada", "name": "山田 太郎", "title": "所長", "email": "yamada@firm-a.example.jp",
          "mobile": "090-1234-5678"},
         {"key": "sato", "name": "佐藤 花子", "email": "sato@firm-a.example.jp"}]
HOURS = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
         "fri": "09:00-18:00", "sat": "", "sun": "", "closed_on_holidays": "JP", "after_hours": "voicemail"}
REPORTS = [{"key": "evening", "at": ["18:00"], "deliver": [
    {"channel": "email", "to": ["office@firm-a.example.jp"], "to_staff": ["yamada"]}]}]


@pytest.fixture
def settings(settings, inbox):
    """Mail goes to a real SMTP server on loopback."""
    return settings.replace(SMTP_URL=inbox.url)


@pytest.fixture
def firm_a(database):
    return store.import_config(minimal_config("firm-a", "03-1111-2222", instructions=INSTRUCTIONS, staff=STAFF,
                                              hours=HOURS, reports=REPORTS))


@pytest.fixture
def bob(alice, firm_a):
    """alice's colleague, not the firm's owner."""
    return service.add_user("bob@firm-a.example.jp", "client", password=PASSWORD, tenant_slug=firm_a.slug)


@pytest.fixture
def manager(app, admin):
    """An account manager in a second browser."""
    with TestClient(app, base_url="http://testserver") as browser:
        log_in(browser, admin)
        yield browser


def form_of(page: str) -> dict:
    """What the browser would post from the portal's request form as shown, untouched."""
    form = re.search(r'<form method="post" action="/portal/requests" .*?</form>', page, re.S)[0]
    data: dict = {}
    for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>(?:[^<]*</textarea>)?", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'name="action"' in tag:
            continue
        if tag.startswith("<textarea"):
            value = re.search(r">([^<]*)</textarea>", tag)[1]
        elif tag.startswith("<select"):
            select = form[form.index(tag):form.index("</select>", form.index(tag))]
            chosen = re.search(r'<option value="([^"]*)" selected', select) or re.search(r'<option value="([^"]*)"', select)
            value = chosen[1]
        elif 'type="checkbox"' in tag:
            if " checked" not in tag:
                continue
            value = re.search(r'value="([^"]*)"', tag)[1]
        else:
            value = re.search(r'value="([^"]*)"', tag)[1]
        value = value.replace("&#34;", '"').replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">") \
            .replace("&amp;", "&")
        data.setdefault(name[1], []).append(value)
    return data


def propose(client, **changes):
    """The owner opens /portal/requests, changes ``changes`` (form field → value) and sends it."""
    data = form_of(client.get("/portal/requests").text)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value if isinstance(value, list) else [value]
    return client.post("/portal/requests", data=data, follow_redirects=False)


def staff_row(page: str, key: str) -> int:
    return int(re.search(r'name="staff-(\d+)-key" value="%s"' % key, page)[1])


def test_an_owner_sees_the_current_settings_prefilled(client, alice, firm_a):
    log_in(client, alice)
    page = client.get("/portal/requests")
    assert page.status_code == 200
    data = form_of(page.text)
    assert data["instructions"] == [INSTRUCTIONS]
    assert data["staff-0-name"] == ["山田 太郎"] and data["staff-0-mobile"] == ["090-1234-5678"]
    assert data["hours-mon"] == ["09:00-18:00"] and data["closed_on_holidays"] == ["JP"]
    assert data["report-0-deliver-0-to"] == ["office@firm-a.example.jp"]
    assert data["report-0-deliver-0-to_staff"] == ["yamada"]
    # Sent untouched, nothing differs: no request.
    response = propose(client)
    assert response.status_code == 422 and "現在の設定と違うところがありません" in response.text
    assert ChangeRequest.select().count() == 0


def test_a_mistake_is_shown_at_its_field_with_everything_typed_kept(client, alice, firm_a):
    log_in(client, alice)
    row = staff_row(client.get("/portal/requests").text, "sato")
    response = propose(client, **{"instructions": "新しい指示です。", f"staff-{row}-mobile": "03-1234",
                                  "hours-wed": "9時から", "report-0-deliver-0-to": "office@firm-a.example.jp\nnot-an-address"})
    assert response.status_code == 422
    page = response.text
    assert re.search(rf'name="staff-{row}-mobile" value="03-1234"[^>]*aria-invalid="true"', page)
    assert re.search(rf'id="staff-{row}-mobile-error">[^<]*&#34;03-1234&#34;', page)
    assert re.search(r'name="hours-wed" value="9時から"[^>]*aria-invalid="true"', page)
    assert 'id="hours-wed-error"' in page
    assert re.search(r'id="report-0-deliver-0-to-error">[^<]*not-an-address', page)
    assert "新しい指示です。</textarea>" in page  # what was typed, not what is saved
    assert ChangeRequest.select().count() == 0


def test_an_owner_proposes_and_the_request_is_listed_with_its_diff(client, alice, bob, firm_a):
    log_in(client, alice)
    page = client.get("/portal/requests").text
    sato = staff_row(page, "sato")
    new = len(re.findall(r'name="staff-\d+-key"', page)) - 1  # the blank row for someone new
    response = propose(client, **{
        "instructions": "営業電話はお断りください。\r\n至急の場合は山田の携帯へ。",
        f"staff-{sato}-remove": "1", f"staff-{new}-name": "鈴木 一郎", f"staff-{new}-email": "suzuki@firm-a.example.jp",
        "hours-sat": "10:00-12:00", "closed_on_holidays": "",
        "report-0-deliver-0-to": "office@firm-a.example.jp\nboss@firm-a.example.jp", "note": "4月からの体制です"})
    assert response.status_code == 303
    (request,) = ChangeRequest.select()
    assert response.headers["location"] == f"/portal/requests?sent={request.id}"
    assert (request.status, request.base_version, request.proposed_by.id, request.note) == (
        "open", firm_a.version, alice.id, "4月からの体制です")
    assert set(request.proposed) == {"instructions", "staff", "hours", "recipients"}
    assert request.changes["instructions"] == [INSTRUCTIONS, "営業電話はお断りください。\n至急の場合は山田の携帯へ。"]
    assert request.changes["hours.sat"] == ["", "10:00-12:00"]
    assert request.changes["hours.closed_on_holidays"] == ["JP", False]
    assert request.changes["staff[1].name"] == ["佐藤 花子", "鈴木 一郎"]
    assert request.changes["staff[1].key"] == ["sato", "suzuki"]
    assert request.changes["reports[0].deliver[0].to"] == [["office@firm-a.example.jp"],
                                                           ["office@firm-a.example.jp", "boss@firm-a.example.jp"]]
    # Nothing changes until it is approved.
    assert store.snapshot(Tenant.get_by_id(firm_a.id))["instructions"] == INSTRUCTIONS

    listed = client.get(response.headers["location"]).text
    assert "依頼 #%d を送りました" % request.id in listed
    assert "hours.sat" in listed and "10:00-12:00" in listed and "boss@firm-a.example.jp" in listed
    assert "対応待ち" in listed
    assert AuditEntry.get(AuditEntry.action == "change_request.propose").actor.id == alice.id

    # A colleague sees it, and cannot propose or withdraw.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, bob)
    seen = client.get("/portal/requests")
    assert seen.status_code == 200 and "hours.sat" in seen.text and 'action="/portal/requests" ' not in seen.text
    token = csrf_token(client, "/portal/requests")
    assert client.post("/portal/requests", data={"csrf_token": token, "instructions": "x"}).status_code == 403
    assert client.post(f"/portal/requests/{request.id}/withdraw", data={"csrf_token": token}).status_code == 403
    assert ChangeRequest.select().count() == 1 and ChangeRequest.get().status == "open"


def test_approving_makes_a_version_via_request_and_mails_the_proposer(client, manager, alice, firm_a, operator,
                                                                      inbox, app):
    log_in(client, alice)
    propose(client, instructions="新しい指示:至急の電話は山田の携帯へ転送。")
    (request,) = ChangeRequest.select()

    queue = manager.get("/admin/requests").text
    assert "firm-a 株式会社" in queue and "instructions" in queue and "新しい指示" in queue
    assert re.search(r'href="/admin/requests">[^<]*<span class="badge"[^>]*>1</span>', queue)
    page = manager.get(f"/admin/requests/{request.id}").text
    seen = re.search(r'name="seen_version" value="(\d+)"', page)[1]
    approved = manager.post(f"/admin/requests/{request.id}/approve",
                            data={"seen_version": seen, "csrf_token": csrf_token(manager, "/admin/requests")})
    assert approved.status_code == 200 and "承認しました" in approved.text

    firm = Tenant.get_by_id(firm_a.id)
    version = TenantVersion.get(TenantVersion.tenant == firm, TenantVersion.number == firm.version)
    assert (version.via, version.saved_by_label, version.note) == ("request", "admin@dengon.example",
                                                                   f"変更依頼 #{request.id}")
    assert version.changes == {"instructions": [INSTRUCTIONS, "新しい指示:至急の電話は山田の携帯へ転送。"]}
    assert firm.instructions == "新しい指示:至急の電話は山田の携帯へ転送。"
    request = ChangeRequest.get_by_id(request.id)
    assert (request.status, request.version, request.decided_by.email) == ("approved", firm.version,
                                                                           "admin@dengon.example")
    assert AuditEntry.get(AuditEntry.action == "change_request.approve").actor.email == "admin@dengon.example"

    (mail,) = inbox.wait_for(1)[:1] and inbox.to("alice@firm-a.example.jp")
    assert f"#{request.id}" in mail["Subject"] and "承認" in mail["Subject"]
    assert "http://testserver/portal/requests" in mail.get_body(("plain",)).get_content()
    assert "承認済み" in client.get("/portal/requests").text
    assert 'class="badge"' not in manager.get("/admin/requests").text

    # The operator's next screen pop of a call for the firm shows the new instructions.
    call, _ = Call.arrive("CA-after-approval", to="", caller="090-5555-6666", forwarded_from="03-1111-2222",
                          region="JP")
    with TestClient(app, base_url="http://testserver") as desk:
        log_in(desk, operator)
        assert "至急の電話は山田の携帯へ転送" in desk.get(f"/console/calls/{call.id}").text


def test_declining_needs_a_note_which_the_proposer_is_told(client, manager, alice, firm_a, inbox):
    log_in(client, alice)
    propose(client, **{"hours-sun": "10:00-15:00"})
    (request,) = ChangeRequest.select()
    token = csrf_token(manager, f"/admin/requests/{request.id}")
    bare = manager.post(f"/admin/requests/{request.id}/decline", data={"decision_note": "  ", "csrf_token": token})
    assert bare.status_code == 422 and 'id="decision-note-error"' in bare.text
    assert ChangeRequest.get_by_id(request.id).status == "open"

    note = "日曜はオペレーターの体制がないため、お受けできません。"
    declined = manager.post(f"/admin/requests/{request.id}/decline", data={"decision_note": note, "csrf_token": token})
    assert declined.status_code == 200 and "お断りしました" in declined.text
    request = ChangeRequest.get_by_id(request.id)
    assert (request.status, request.decision_note, request.version) == ("declined", note, None)
    assert Tenant.get_by_id(firm_a.id).hours["sun"] == ""
    (mail,) = inbox.wait_for(1)[:1] and inbox.to("alice@firm-a.example.jp")
    assert "お断り" in mail["Subject"] and note in mail.get_body(("plain",)).get_content()
    portal = client.get("/portal/requests").text
    assert "お断り" in portal and note in portal
    assert AuditEntry.get(AuditEntry.action == "change_request.decline").changes == {"decision_note": [None, note]}
    # Decided is decided: approving afterwards changes nothing.
    manager.post(f"/admin/requests/{request.id}/approve", data={"seen_version": "1", "csrf_token": token})
    assert ChangeRequest.get_by_id(request.id).status == "declined"


def test_approving_after_the_firm_changed_keeps_the_other_changes_and_shows_the_new_diff(client, manager, alice,
                                                                                         firm_a, admin):
    log_in(client, alice)
    propose(client, instructions="新しい指示です。")
    (request,) = ChangeRequest.select()
    # Meanwhile an account manager changes the firm's staff and its instructions.
    changed = store.snapshot(firm_a)
    changed["staff"][1]["title"] = "事務長"
    changed["instructions"] = "マネージャーが書いた指示。"
    store.save(changed, actor=admin, via="browser")

    page = manager.get(f"/admin/requests/{request.id}").text
    assert "変更されています" in page and "マネージャーが書いた指示。" in page
    stale = manager.post(f"/admin/requests/{request.id}/approve",
                         data={"seen_version": str(request.base_version), "csrf_token": csrf_token(manager, "/admin")})
    assert stale.status_code == 409 and ChangeRequest.get_by_id(request.id).status == "open"
    seen = re.search(r'name="seen_version" value="(\d+)"', stale.text)[1]
    manager.post(f"/admin/requests/{request.id}/approve", data={"seen_version": seen,
                                                                "csrf_token": csrf_token(manager, "/admin")})
    firm = store.snapshot(Tenant.get_by_id(firm_a.id))
    assert firm["instructions"] == "新しい指示です。"
    assert firm["staff"][1]["title"] == "事務長"  # the other change is kept


def test_a_request_the_firm_can_no_longer_take_is_refused_clearly(client, manager, alice, firm_a, admin):
    log_in(client, alice)
    row = staff_row(client.get("/portal/requests").text, "sato")
    propose(client, **{f"staff-{row}-remove": "1"})
    (request,) = ChangeRequest.select()
    # Meanwhile the manager sends the evening report to sato too: without sato, the firm is invalid.
    changed = store.snapshot(firm_a)
    changed["reports"][0]["deliver"][0]["to_staff"] = ["yamada", "sato"]
    store.save(changed, actor=admin, via="browser")
    page = manager.get(f"/admin/requests/{request.id}").text
    assert "承認できません" in page and "reports[0].deliver[0].to_staff[1]" in page
    assert "/approve" not in page
    refused = manager.post(f"/admin/requests/{request.id}/approve",
                           data={"seen_version": str(Tenant.get_by_id(firm_a.id).version),
                                 "csrf_token": csrf_token(manager, "/admin")})
    assert refused.status_code == 422 and ChangeRequest.get_by_id(request.id).status == "open"
    assert [s["key"] for s in store.snapshot(Tenant.get_by_id(firm_a.id))["staff"]] == ["yamada", "sato"]


def test_an_owner_withdraws_an_open_request(client, alice, firm_a):
    log_in(client, alice)
    propose(client, instructions="やっぱり不要")
    (request,) = ChangeRequest.select()
    response = client.post(f"/portal/requests/{request.id}/withdraw",
                           data={"csrf_token": csrf_token(client, "/portal/requests")}, follow_redirects=False)
    assert response.status_code == 303
    assert ChangeRequest.get_by_id(request.id).status == "withdrawn"
    assert "取り下げ" in client.get("/portal/requests").text
    assert AuditEntry.get(AuditEntry.action == "change_request.withdraw").actor.id == alice.id


def test_another_firms_client_gets_404_on_this_firms_requests(client, alice, charlie, firm_a):
    log_in(client, alice)
    propose(client, instructions="firm-a の秘密の指示")
    (request,) = ChangeRequest.select()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, charlie)
    assert "firm-a の秘密の指示" not in client.get("/portal/requests").text
    token = csrf_token(client, "/portal/requests")
    assert client.post(f"/portal/requests/{request.id}/withdraw", data={"csrf_token": token}).status_code == 404
    for path in ("/admin/requests", f"/admin/requests/{request.id}"):
        assert client.get(path).status_code == 404
    for action in ("approve", "decline"):
        response = client.post(f"/admin/requests/{request.id}/{action}",
                               data={"csrf_token": token, "decision_note": "x"})
        assert response.status_code == 404
    assert ChangeRequest.get_by_id(request.id).status == "open"


@pytest.mark.parametrize("role", ["operator", "supervisor"])
def test_staff_who_are_not_account_managers_get_403_on_the_queue(client, request, role, alice, firm_a):
    log_in(client, alice)
    propose(client, instructions="新しい指示")
    (change,) = ChangeRequest.select()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, request.getfixturevalue(role))
    token = csrf_token(client, "/console")
    assert client.get("/admin/requests").status_code == 403
    assert client.get(f"/admin/requests/{change.id}").status_code == 403
    assert client.post(f"/admin/requests/{change.id}/approve", data={"csrf_token": token}).status_code == 403
    assert ChangeRequest.get_by_id(change.id).status == "open"
