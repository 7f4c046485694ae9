"""Presence and notices: the firm sets its in/out board and posts notices (portal and API); operators see
them on the screen pop, as they are now; nothing of it lives in the tenant file."""

import datetime as dt
import re

import pytest
from starlette.routing import Route

from app import db
from app.accounts.service import create_token
from app.audit import AuditEntry
from app.calls.models import Call
from app.main import routes
from app.presence import service
from app.presence.models import Notice
from app.tenants import store
from app.tenants.models import Staff

from .conftest import csrf_token, log_in, minimal_config

TOKYO = dt.timezone(dt.timedelta(hours=9))
NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=TOKYO)
STAFF = [{"key": "yamada", "name": "山田 太郎", "title": "弁護士"}, {"key": "sato", "name": "佐藤 花子"}]


@pytest.fixture
def firm(firm_a):
    return store.import_config(minimal_config("firm-a", "03-1111-2222", staff=STAFF))


@pytest.fixture
def other_firm(firm_b):
    return store.import_config(minimal_config("firm-b", "06-3333-4444", staff=[{"key": "yamada", "name": "山田 一郎"}]))


def yamada(tenant=None):
    return Staff.get((Staff.key == "yamada") & (Staff.tenant == (tenant or Staff.tenant)))


def bearer(user):
    return {"Authorization": f"Bearer {create_token(user.email)[1]}", "Accept-Language": "en"}


def soon(**delta) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).astimezone(TOKYO).replace(microsecond=0)


# The board and the notices, as the models answer them.

def test_a_staff_member_set_out_until_three_reads_out_before_three_and_in_from_three(firm, alice):
    three = NOON.replace(hour=15)
    service.set_presence(yamada(), "out", "裁判所", three, alice, now=NOON)
    before = yamada().effective_presence(three - dt.timedelta(seconds=1))
    assert (before.presence, before.note, before.until) == ("out", "裁判所", three)
    after = yamada().effective_presence(three)
    assert (after.presence, after.note, after.until) == ("in", "", None)
    assert [(e.key, e.presence) for e in Staff.board(firm, three)] == [("yamada", "in"), ("sato", "in")]


def test_out_without_a_time_stays_out_until_the_firm_changes_it(firm, alice):
    service.set_presence(yamada(), "off", "", None, alice, now=NOON)
    assert yamada().effective_presence(NOON + dt.timedelta(days=30)).presence == "off"


def test_a_notice_shows_only_inside_its_window_and_not_once_withdrawn(firm, alice):
    start, end = NOON.replace(hour=13), NOON.replace(hour=17)
    notice = service.post_notice(firm, "佐藤は本日外出、15時戻り", Staff.get(Staff.key == "sato"), start, end, alice,
                                 now=NOON)
    shown = lambda at: [n.text for n in Notice.in_force(firm, at)]  # noqa: E731
    assert shown(start - dt.timedelta(seconds=1)) == []
    assert shown(start) == shown(end - dt.timedelta(seconds=1)) == ["佐藤は本日外出、15時戻り"]
    assert shown(end) == []
    assert [n.id for n in Notice.current_and_upcoming(firm, NOON)] == [notice.id]  # upcoming is listed for the firm
    service.withdraw(notice, alice, now=start)
    assert shown(start + dt.timedelta(minutes=1)) == [] and list(Notice.current_and_upcoming(firm, NOON)) == []


def test_the_screen_json_lists_the_notices_in_force_and_the_board(firm, alice):
    service.set_presence(yamada(), "away", "会議中", soon(hours=1), alice)
    service.post_notice(firm, "12/29〜1/3は休業。急ぎは山田携帯へ", None, None, None, alice)
    screen = service.screen(firm)
    assert [(n["text"], n["staff"], n["ends_at"]) for n in screen["notices"]] == [
        ("12/29〜1/3は休業。急ぎは山田携帯へ", None, None)]
    assert screen["notices"][0]["starts_at"].endswith("+09:00")
    assert [(s["key"], s["presence"], s["note"]) for s in screen["staff"]] == [
        ("yamada", "away", "会議中"), ("sato", "in", "")]
    assert screen["staff"][0]["until"].endswith("+09:00")


def test_reimporting_the_tenant_file_keeps_presence_and_notices(firm, alice, tmp_path):
    service.set_presence(yamada(), "out", "出張", soon(days=2), alice)
    notice = service.post_notice(firm, "山田は出張中", yamada(), None, None, alice)
    changed = minimal_config("firm-a", "03-1111-2222", name="改名 株式会社", staff=[
        {"key": "yamada", "name": "山田 太郎", "title": "代表弁護士"}, *STAFF[1:]])
    store.import_config(changed)
    folder = tmp_path / "firm-a"
    folder.mkdir()
    (folder / "tenant.toml").write_text(store.export("firm-a"), encoding="utf-8")
    store.import_files(store.tenant_files(folder), default_region="JP")
    entry = yamada().effective_presence()
    assert (yamada().title, entry.presence, entry.note) == ("代表弁護士", "out", "出張")
    assert Notice.get_by_id(notice.id).staff_id == yamada().id
    assert "presence" not in store.export("firm-a") and "出張" not in store.export("firm-a")


def test_the_migration_maps_in_office_to_presence(tmp_path):
    from playhouse.migrations import Runner

    db.bind(f"sqlite:///{tmp_path / 'old.db'}")
    with db.db.connection_context():
        Runner(db.db.obj, directory=str(db.MIGRATIONS_DIR)).up(target="0007_blocked_numbers")
        db.db.execute_sql("INSERT INTO tenant (slug, name, name_kana, language, timezone, region, answer_phrase, "
                          "instructions, after_hours, after_hours_message, created_at, updated_at) VALUES "
                          "('law', '山田法律事務所', '', 'ja', 'Asia/Tokyo', 'JP', 'はい', '', 'answer', '', "
                          "'2026-01-01', '2026-01-01')")
        for key, in_office in (("in", 1), ("out", 0), ("unknown", None)):
            db.db.execute_sql("INSERT INTO staff (tenant_id, key, name, name_kana, title, email, mobile, fax, position, "
                              "in_office, presence_note) VALUES (1, ?, ?, '', '', '', '', '', 0, ?, '')",
                              (key, key, in_office))
    db.migrate()
    with db.db.connection_context():
        assert {s.key: s.presence for s in Staff.select()} == {"in": "in", "out": "out", "unknown": "in"}
    db.db.close_all()


# The portal: the firm's own client users.

@pytest.fixture
def portal(client, alice, firm):
    log_in(client, alice)
    client.headers["X-CSRF-Token"] = csrf_token(client, "/portal/staff")
    return client


def test_a_client_sets_a_staff_member_out_until_a_time_today_in_one_tap(portal, firm, alice):
    later = soon(hours=2)
    response = portal.post(f"/portal/staff/{yamada().id}", headers={"HX-Request": "true"}, data={
        "presence": "out", "note": "裁判所", "until_time": later.strftime("%H:%M"),
        "until_date": later.strftime("%Y-%m-%d")})
    assert response.status_code == 200 and "<html" not in response.text  # the card, swapped in place
    assert "外出" in response.text and "裁判所" in response.text and later.strftime("%H:%M") + "まで" in response.text
    entry = yamada().effective_presence()
    assert (entry.presence, entry.note, entry.until) == ("out", "裁判所", later.replace(second=0))
    page = portal.get("/portal/staff").text
    assert 'aria-pressed="true">外出' in page


def test_a_time_that_has_passed_is_refused_naming_it_and_keeping_what_was_typed(portal, firm):
    earlier = soon(hours=-1)
    response = portal.post(f"/portal/staff/{yamada().id}", data={
        "presence": "out", "note": "外出中", "until_time": earlier.strftime("%H:%M"),
        "until_date": earlier.strftime("%Y-%m-%d")})
    assert response.status_code == 422
    assert "この日時はすでに過ぎています。" in response.text and 'value="外出中"' in response.text
    assert yamada().presence == "in"
    response = portal.post(f"/portal/staff/{yamada().id}", data={"presence": "out", "until_time": "25:99"})
    assert response.status_code == 422 and "15:00 のように時刻を入力してください" in response.text


def test_a_client_posts_a_notice_and_withdraws_it(portal, firm, alice):
    response = portal.post("/portal/notices", data={"text": "12/29〜1/3は休業。急ぎは山田携帯へ", "staff": "yamada",
                                                    "starts_at": "", "ends_at": ""}, follow_redirects=False)
    assert response.status_code == 303
    notice = Notice.get()
    assert (notice.staff.key, notice.ends_at, notice.created_by.id) == ("yamada", None, alice.id)
    page = portal.get("/portal/notices").text
    assert "12/29〜1/3は休業。急ぎは山田携帯へ" in page and "掲示中" in page
    portal.post(f"/portal/notices/{notice.id}/withdraw")
    assert Notice.get_by_id(notice.id).withdrawn_at is not None
    assert f'id="notice-{notice.id}"' not in portal.get("/portal/notices").text


def test_a_notice_ending_before_it_starts_is_refused_with_the_text_kept(portal, firm):
    response = portal.post("/portal/notices", data={"text": "年末年始休業", "starts_at": "2099-12-29T09:00",
                                                    "ends_at": "2099-12-28T18:00"})
    assert response.status_code == 422
    assert "終了は開始より後の日時にしてください。" in response.text and "年末年始休業</textarea>" in response.text
    response = portal.post("/portal/notices", data={"text": " ", "starts_at": "", "ends_at": ""})
    assert response.status_code == 422 and "オペレーターに伝えたい内容を入力してください。" in response.text
    assert Notice.select().count() == 0


def test_another_firms_client_gets_404_on_its_staff_and_notices(client, firm, other_firm, alice, charlie):
    notice = service.post_notice(firm, "臨時休業のお知らせ", None, None, None, alice)
    log_in(client, charlie)
    client.headers["X-CSRF-Token"] = csrf_token(client, "/portal/staff")
    assert client.post(f"/portal/staff/{yamada(firm).id}", data={"presence": "out"}).status_code == 404
    assert client.post(f"/portal/notices/{notice.id}/withdraw").status_code == 404
    assert "山田 太郎" not in client.get("/portal/staff").text
    assert "臨時休業のお知らせ" not in client.get("/portal/notices").text
    assert yamada(firm).presence == "in" and Notice.get_by_id(notice.id).withdrawn_at is None


def test_staff_pages_of_the_portal_are_for_client_users(client, operator, firm):
    log_in(client, operator)
    assert client.get("/portal/staff").status_code == 403


def test_every_change_is_in_the_audit_log_with_who_made_it(portal, firm, alice):
    portal.post(f"/portal/staff/{yamada().id}", data={"presence": "off", "note": "有給"})
    portal.post("/portal/notices", data={"text": "本日休業", "starts_at": "", "ends_at": ""})
    portal.post(f"/portal/notices/{Notice.get().id}/withdraw")
    entries = list(AuditEntry.select().where(AuditEntry.action.in_(
        ["staff.presence", "notice.post", "notice.withdraw"])).order_by(AuditEntry.id))
    assert [(e.action, e.actor_label, e.tenant_id) for e in entries] == [
        ("staff.presence", alice.email, firm.id), ("notice.post", alice.email, firm.id),
        ("notice.withdraw", alice.email, firm.id)]
    assert entries[0].target == "yamada" and entries[0].changes == {"presence": ["in", "off"], "note": ["", "有給"]}
    assert entries[1].changes["text"] == [None, "本日休業"]


# The operator's screen pop.

@pytest.fixture
def call(firm):
    return Call.create(sid="CA" + "5" * 32, tenant=firm, from_number="+819012345678", to_number="+815055550101")


def test_the_screen_pop_shows_the_board_as_it_is_now_and_the_notices_in_force(client, operator, firm, alice, call):
    service.set_presence(yamada(), "out", "裁判所", soon(hours=1), alice)
    Staff.update(presence="away", presence_note="昼食", presence_until=soon(minutes=-1)).where(
        Staff.key == "sato").execute()  # its until has passed: in again
    service.post_notice(firm, "佐藤は本日外出、15時戻り", None, None, None, alice)
    service.post_notice(firm, "来月の休業日", None, soon(days=3), None, alice)
    log_in(client, operator)
    page = client.get(f"/console/calls/{call.id}").text
    assert re.search(r'data-staff="yamada" data-presence="out".*?外出.*?裁判所', page, re.S)
    assert 'data-staff="sato" data-presence="in"' in page and "昼食" not in page
    assert "佐藤は本日外出、15時戻り" in page and "来月の休業日" not in page
    assert 'hx-trigger="sse:firm-%d, refresh"' % firm.id in page and 'sse-connect="/console/events"' in page
    board = client.get(f"/console/calls/{call.id}/board").text
    assert "佐藤は本日外出" in board and 'id="staff-board" hx-swap-oob="true"' in board and "<html" not in board


def test_a_change_is_announced_to_open_screen_pops_after_it_is_saved(portal, app, firm, monkeypatch):
    sent = []
    monkeypatch.setattr(app.state.events, "publish", lambda topic, data: sent.append(
        (topic, data, yamada().presence, Notice.select().count())))
    portal.post(f"/portal/staff/{yamada().id}", data={"presence": "out"})
    portal.post("/portal/notices", data={"text": "本日休業", "starts_at": "", "ends_at": ""})
    event = {"event": "changed", "tenant": firm.id}
    assert sent == [("firms", event, "out", 0), ("firms", event, "out", 1)]


# The API (interfaces.md, "A firm's self-service").

def test_the_api_lists_the_board_and_sets_a_staff_member_out_until_a_time(client, firm, alice):
    until = soon(hours=3)
    response = client.patch("/api/v1/tenants/firm-a/staff/yamada", headers=bearer(alice),
                            json={"presence": "out", "note": "出張", "until": until.isoformat()})
    assert response.status_code == 200, response.text
    assert response.json() | {"changed_at": None} == {
        "key": "yamada", "name": "山田 太郎", "name_kana": "", "title": "弁護士", "presence": "out", "note": "出張",
        "until": until.isoformat(), "changed_at": None}
    listed = client.get("/api/v1/tenants/firm-a/staff", headers=bearer(alice)).json()["staff"]
    assert [(s["key"], s["presence"]) for s in listed] == [("yamada", "out"), ("sato", "in")]
    Staff.update(presence_until=soon(seconds=-1)).where(Staff.key == "yamada").execute()
    listed = client.get("/api/v1/tenants/firm-a/staff", headers=bearer(alice)).json()["staff"]
    assert (listed[0]["presence"], listed[0]["note"], listed[0]["until"]) == ("in", "", None)


def test_the_api_posts_lists_and_withdraws_notices(client, firm, alice):
    ends = soon(days=1)
    response = client.post("/api/v1/tenants/firm-a/notices", headers=bearer(alice),
                           json={"text": "佐藤は本日外出、15時戻り", "staff": "sato", "ends_at": ends.isoformat()})
    assert response.status_code == 201, response.text
    notice = response.json()
    assert isinstance(notice["id"], int) and notice["staff"] == "sato" and notice["ends_at"] == ends.isoformat()
    assert notice["in_force"] is True and notice["starts_at"].endswith("+09:00")
    later = client.post("/api/v1/tenants/firm-a/notices", headers=bearer(alice),
                        json={"text": "年末年始休業", "starts_at": soon(days=30).isoformat()}).json()
    listed = client.get("/api/v1/tenants/firm-a/notices", headers=bearer(alice)).json()["notices"]
    assert [(n["id"], n["in_force"]) for n in listed] == [(notice["id"], True), (later["id"], False)]
    assert client.delete(f"/api/v1/tenants/firm-a/notices/{notice['id']}", headers=bearer(alice)).status_code == 204
    assert client.delete(f"/api/v1/tenants/firm-a/notices/{notice['id']}", headers=bearer(alice)).status_code == 204
    listed = client.get("/api/v1/tenants/firm-a/notices", headers=bearer(alice)).json()["notices"]
    assert [n["id"] for n in listed] == [later["id"]]
    assert AuditEntry.select().where(AuditEntry.action == "notice.withdraw").count() == 1


def test_staff_tokens_act_on_any_firm(client, firm, other_firm, operator):
    response = client.patch("/api/v1/tenants/firm-b/staff/yamada", headers=bearer(operator), json={"presence": "off"})
    assert response.status_code == 200 and yamada(other_firm).presence == "off"
    assert AuditEntry.get(AuditEntry.action == "staff.presence").actor_label == operator.email


@pytest.mark.parametrize("body, errors", [
    ({"presence": "lunch"}, {"presence"}),
    ({"presence": "out", "until": "2099-01-01T15:00"}, {"until"}),  # no offset
    ({"presence": "out", "until": "2020-01-01T15:00:00+09:00"}, {"until"}),  # passed
    ({"presence": "in", "until": "2099-01-01T15:00:00+09:00"}, {"until"}),
    ({"presence": "out", "note": "x" * 201, "until": 15}, {"note", "until"}),
    ({"note": 3}, {"presence", "note"}),
])
def test_the_api_refuses_a_bad_presence_naming_each_field(client, firm, alice, body, errors):
    response = client.patch("/api/v1/tenants/firm-a/staff/yamada", headers=bearer(alice), json=body)
    assert response.status_code == 422 and set(response.json()["errors"]) == errors
    assert yamada().presence == "in"


@pytest.mark.parametrize("body, errors", [
    ({}, {"text"}),
    ({"text": "休業", "staff": "nobody"}, {"staff"}),
    ({"text": "休業", "staff": 7}, {"staff"}),
    ({"text": "休業", "starts_at": "2099-12-29T09:00:00+09:00", "ends_at": "2099-12-28T09:00:00+09:00"}, {"ends_at"}),
    ({"text": "休業", "ends_at": "2020-12-28T09:00:00+09:00"}, {"ends_at"}),
    ({"text": "休業", "starts_at": "明日"}, {"starts_at"}),
    ({"text": "x" * 501}, {"text"}),
])
def test_the_api_refuses_a_bad_notice_naming_each_field(client, firm, alice, body, errors):
    response = client.post("/api/v1/tenants/firm-a/notices", headers=bearer(alice), json=body)
    assert response.status_code == 422 and set(response.json()["errors"]) == errors
    assert Notice.select().count() == 0


API_ROUTES = [(method, r.path) for r in routes if isinstance(r, Route) and r.path.startswith("/api/v1/tenants/{slug}/")
              and re.search(r"/(staff|notices)", r.path) for method in r.methods - {"HEAD"}]


def test_every_self_service_route_is_in_the_outsider_test():
    assert {p for _m, p in API_ROUTES} == {"/api/v1/tenants/{slug}/staff", "/api/v1/tenants/{slug}/staff/{key}",
                                          "/api/v1/tenants/{slug}/notices", "/api/v1/tenants/{slug}/notices/{id:id}"}


@pytest.mark.parametrize("method, path", API_ROUTES)
def test_another_firms_client_gets_404_on_every_self_service_route(client, firm, other_firm, alice, charlie,
                                                                   method, path):
    notice = service.post_notice(firm, "休業", None, None, None, alice)
    url = path.replace("{slug}", "firm-a").replace("{key}", "yamada").replace("{id:id}", str(notice.id))
    body = {"presence": "out"} if "staff/" in path else {"text": "乗っ取り"}
    response = client.request(method, url, headers=bearer(charlie), json=body if method in ("POST", "PATCH") else None)
    assert response.status_code == 404 and "山田" not in response.text and "休業" not in response.text
    assert yamada(firm).presence == "in" and Notice.select().count() == 1 and notice.is_in_force()
    # The firm's own client is answered on the same route.
    own = client.request(method, url, headers=bearer(alice), json=body if method in ("POST", "PATCH") else None)
    assert own.status_code in (200, 201, 204), own.text


def test_a_firm_or_staff_member_that_does_not_exist_is_404(client, firm, operator):
    assert client.get("/api/v1/tenants/no-such-firm/staff", headers=bearer(operator)).status_code == 404
    response = client.patch("/api/v1/tenants/firm-a/staff/nobody", headers=bearer(operator), json={"presence": "out"})
    assert response.status_code == 404 and set(response.json()["errors"]) == {"key"}
    assert client.delete("/api/v1/tenants/firm-a/notices/999", headers=bearer(operator)).status_code == 404


def test_a_notice_said_to_start_centuries_ago_is_answered_with_a_time_in_whole_minutes_offset(client, alice):
    # Tokyo kept local mean time (+09:18:59) before 1888: no offset a date-time in ISO 8601 can carry.
    headers = {"Authorization": f"Bearer {create_token(alice.email)[1]}"}
    response = client.post(f"/api/v1/tenants/{alice.tenant.slug}/notices", headers=headers,
                           json={"text": "休業", "starts_at": "1122-08-16T05:56:41+20:24"})
    assert response.status_code == 201
    assert response.json()["starts_at"] == "1122-08-15T09:32:41+00:00"
