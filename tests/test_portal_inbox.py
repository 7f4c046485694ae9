"""The firm's portal: its inbox (buckets, filters, pages, unread), handled one at a time and in bulk,
each message's page with its delivery log, the CSV for Excel (also from the API), and isolation."""

import csv
import datetime as dt
import io
import re

import pytest

from app.accounts import service as accounts
from app.delivery import service as delivery
from app.messages import forms, service
from app.messages.models import Message, MessageRead
from app.portal.views import live_row
from app.reports.service import make_run
from app.tenants import store
from app.tenants.models import ReportRule

from .conftest import PASSWORD, csrf_token, log_in, minimal_config
from .test_api import bearer

JST = dt.timezone(dt.timedelta(hours=9))
STAFF = [{"key": "yamada", "name": "山田 太郎", "mobile": "090-1234-5678"},
         {"key": "sato", "name": "佐藤 次郎"}]


@pytest.fixture
def firm(firm_a):
    return store.import_config(minimal_config(
        "firm-a", "03-1111-2222", staff=STAFF,
        reports=[{"key": "evening", "at": ["18:00"], "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                  "deliver": [{"channel": "email", "to": ["office@firm-a.example.jp"]}]}],
        notify=[{"urgent": True, "deliver": [{"channel": "sms", "to_staff": ["yamada"]}]}]))


@pytest.fixture
def bob(firm):
    """A second client user of firm A."""
    return accounts.add_user("bob@firm-a.example.jp", "client", password=PASSWORD, tenant_slug="firm-a", name="Bob")


DEFAULT_FIELDS = {"caller_name": "田中 一郎", "caller_company": "東和商事", "callback_number": "+819011112222",
                  "body": "見積もりの件で\nお電話ください"}


def take(firm, at=None, category="message", urgent=False, by=None, only=False, **fields):
    """A message as an operator saved it: the usual caller's, with ``fields`` changed (or ``only`` those)."""
    fields = fields if only else {**DEFAULT_FIELDS, **fields}
    clean = forms.Clean(forms.form_of(firm, None), category, urgent, fields, list(fields)[:1], {})
    message = service.record(firm, clean, by)
    if at is not None:
        Message.update(taken_at=at).where(Message.id == message.id).execute()
    return Message.get_by_id(message.id)


def rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="message-(\d+)"', html)]


def test_a_noise_call_is_never_in_the_inbox_and_always_in_the_noise_bucket(client, firm, alice):
    message = take(firm)
    sales = take(firm, category="sales", only=True, caller_company="売り込み株式会社")
    log_in(client, alice)
    assert rows(client.get("/portal").text) == [message.id]
    assert rows(client.get("/portal", params={"bucket": "noise"}).text) == [sales.id]
    # Not even by naming its category, or by searching for it, in the inbox
    assert rows(client.get("/portal", params={"q": "売り込み"}).text) == []
    assert rows(client.get("/portal", params={"q": "売り込み", "bucket": "noise"}).text) == [sales.id]
    page = client.get("/portal", params={"category": "sales"}).text
    assert rows(page) == [sales.id] and 'aria-current="page">迷惑' in page


def test_filters_combine_and_stay_in_the_links(client, firm, alice):
    base = dt.datetime(2026, 3, 10, 9, tzinfo=JST)
    urgent_for_yamada = take(firm, base, urgent=True, caller_name="田中", for_staff="yamada", body="至急")
    take(firm, base, caller_name="田中", for_staff="sato", body="普通")
    old = take(firm, base - dt.timedelta(days=30), urgent=True, caller_name="田中", for_staff="yamada")
    complaint = take(firm, base, category="complaint", caller_name="鈴木")
    handled = take(firm, base, caller_name="高橋")
    service.set_handled(handled, True, alice)
    log_in(client, alice)

    def shown(**params):
        return set(rows(client.get("/portal", params=params).text))

    assert shown(addressee="yamada", urgent="1") == {urgent_for_yamada.id, old.id}
    assert shown(addressee="yamada", urgent="1", since="2026-03-01", until="2026-03-10") == {urgent_for_yamada.id}
    assert shown(until="2026-02-28") == {old.id}
    assert shown(category="complaint") == {complaint.id}
    assert shown(handled="yes") == {handled.id}
    assert handled.id not in shown(handled="no")
    assert shown(q="田中", since="2026-03-10") == shown(q="田中", since="2026-03-10", until="2026-03-10")
    page = client.get("/portal", params={"addressee": "yamada", "urgent": "1", "q": "田中"}).text
    # the CSV and the other bucket keep the filters
    assert "/portal/messages.csv?addressee=yamada&amp;urgent=1&amp;q=" in page
    assert "/portal?bucket=noise&amp;addressee=yamada&amp;urgent=1" in page


def test_a_bad_filter_is_named_and_the_typed_text_kept(client, firm, alice):
    take(firm)
    log_in(client, alice)
    response = client.get("/portal", params={"since": "2026-13-40", "addressee": "nobody"})
    assert response.status_code == 422
    assert 'value="2026-13-40"' in response.text and "2026-03-31" in response.text
    assert len(rows(response.text)) == 1  # the rest of the view still shows


def test_the_inbox_pages_newest_first_by_keyset(client, firm, alice):
    base = dt.datetime(2026, 3, 1, 9, tzinfo=JST)
    made = [take(firm, base + dt.timedelta(minutes=i)).id for i in range(65)]
    log_in(client, alice)
    seen, url = [], "/portal"
    while url:
        page = client.get(url).text
        seen += rows(page)
        found = re.search(r'href="(/portal\?cursor=[^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == list(reversed(made))


def test_opening_a_message_marks_it_read_for_that_user_only_and_staff_see_who_read_it_first(
        client, firm, alice, bob, operator):
    message = take(firm)
    log_in(client, alice)
    assert 'class="inbox-row unread' in client.get("/portal").text
    opened = client.get(f"/portal/messages/{message.id}")
    assert opened.status_code == 200 and "見積もりの件で" in opened.text
    assert 'class="inbox-row unread' not in client.get("/portal").text
    client.get(f"/portal/messages/{message.id}")  # a second opening changes nothing
    assert MessageRead.select().count() == 1
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, bob)
    assert 'class="inbox-row unread' in client.get("/portal").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal")})
    log_in(client, operator)
    page = client.get(f"/messages/{message.id}").text
    assert "alice@firm-a.example.jp" in page and "顧客が既読" in page


def test_staff_see_that_the_firm_has_not_read_a_message_yet(client, firm, operator):
    message = take(firm)
    log_in(client, operator)
    assert "顧客はまだ読んでいません" in client.get(f"/messages/{message.id}").text


def test_one_message_is_marked_handled_with_a_note_and_reopened(client, firm, alice):
    message = take(firm)
    log_in(client, alice)
    token = csrf_token(client, "/portal")
    response = client.post(f"/portal/messages/{message.id}/handled",
                           data={"csrf_token": token, "handled": "1", "note": "折り返し済み"}, follow_redirects=False)
    assert response.status_code == 303
    message = Message.get_by_id(message.id)
    assert message.handled and message.handled_by_id == alice.id and message.handled_note == "折り返し済み"
    # from the row: no note field, so the note stays
    client.post(f"/portal/messages/{message.id}/handled",
                data={"csrf_token": token, "handled": "0", "next": "/portal?handled=yes"})
    message = Message.get_by_id(message.id)
    assert not message.handled and message.handled_note == "折り返し済み"


def test_a_note_too_long_is_refused_with_the_text_kept(client, firm, alice):
    message = take(firm)
    log_in(client, alice)
    response = client.post(f"/portal/messages/{message.id}/handled",
                           data={"csrf_token": csrf_token(client, "/portal"), "handled": "1", "note": "長" * 2001})
    assert response.status_code == 422 and "長" * 2001 in response.text and "2000" in response.text
    assert not Message.get_by_id(message.id).handled


def test_bulk_handled_marks_the_ticked_messages_of_the_firm_and_cannot_touch_another_firms(
        client, firm, firm_b, alice):
    mine = [take(firm) for _ in range(3)]
    theirs = take(firm_b)
    log_in(client, alice)
    response = client.post("/portal/handled", data={
        "csrf_token": csrf_token(client, "/portal"), "handled": "1", "note": "一括",
        "message": [str(mine[0].id), str(mine[1].id), str(theirs.id)], "next": "/portal?handled=no"},
        follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/portal?handled=no"
    assert [Message.get_by_id(m.id).handled for m in mine] == [True, True, False]
    assert Message.get_by_id(mine[0].id).handled_note == "一括"
    assert not Message.get_by_id(theirs.id).handled


def test_the_message_page_shows_fields_the_call_the_recording_history_and_every_delivery(
        client, firm, alice, settings):
    message = take(firm, dt.datetime(2026, 11, 20, 10, tzinfo=JST), urgent=True, for_staff="yamada")
    Message.update(recording_url="https://api.twilio.com/rec/RE1.mp3", recording_seconds=12).where(
        Message.id == message.id).execute()
    delivery.notify(message)
    rule = ReportRule.get()
    made = make_run(settings, firm, rule, dt.datetime(2026, 11, 20, 18, tzinfo=JST))
    assert made.message_count == 1
    log_in(client, alice)
    page = client.get(f"/portal/messages/{message.id}").text
    assert "田中 一郎" in page and "東和商事" in page and "090-1111-2222" in page and "山田 太郎" in page
    assert "復唱済" in page  # the read-back mark of the caller's name
    assert '<audio controls preload="none" src="https://api.twilio.com/rec/RE1.mp3">' in page
    log = page[page.index("<h2>配信記録"):page.index("<h2>履歴")]  # (the nav has 通話履歴)
    assert "office@firm-a.example.jp" in log and "11/20 18:00" in log  # the report
    assert "090-1234-5678" in log and "SMS" in log  # the urgent SMS
    assert 'action="/portal/blocked"' in page and 'name="number" value="+819011112222"' in page


def test_a_message_without_any_number_offers_no_blocking(client, firm, alice):
    message = take(firm, only=True, caller_name="匿名")
    log_in(client, alice)
    assert 'action="/portal/blocked"' not in client.get(f"/portal/messages/{message.id}").text


def test_another_firms_client_gets_404_on_each_portal_route_of_a_message(client, firm, firm_b, alice, charlie):
    message = take(firm)
    log_in(client, charlie)
    assert client.get(f"/portal/messages/{message.id}").status_code == 404
    token = csrf_token(client, "/portal")
    assert client.post(f"/portal/messages/{message.id}/handled", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/portal/messages/{message.id}/ack", data={"csrf_token": token}).status_code == 404
    assert not Message.get_by_id(message.id).handled and not Message.get_by_id(message.id).acknowledged
    assert rows(client.get("/portal", params={"q": "田中"}).text) == []
    assert "田中" not in client.get("/portal/messages.csv").content.decode("utf-8-sig")


def test_staff_following_a_portal_link_land_on_their_own_message_page(client, firm, operator):
    message = take(firm)
    log_in(client, operator)
    response = client.get(f"/portal/messages/{message.id}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/messages/{message.id}"
    assert client.get("/portal").status_code == 403


def test_the_live_stream_carries_a_new_message_only_to_its_own_firm_and_only_when_the_view_shows_it(
        app, firm, firm_b, alice, charlie):
    from starlette.datastructures import QueryParams
    from starlette.requests import Request

    message = take(firm, urgent=True)
    noise = take(firm, category="silent")
    request = Request({"type": "http", "app": app, "query_string": b"", "headers": [], "path": "/portal/events"})
    assert live_row(request, charlie, message.id, QueryParams("")) is None
    event = live_row(request, alice, message.id, QueryParams(""))
    assert event.startswith("event: message\n") and f'id="message-{message.id}"' in event and "田中 一郎" in event
    assert live_row(request, alice, noise.id, QueryParams("")) is None
    assert live_row(request, alice, noise.id, QueryParams("bucket=noise")) is not None
    assert live_row(request, alice, message.id, QueryParams("handled=yes")) is None


def test_the_csv_opens_in_japanese_excel_with_every_page_and_labels(client, firm, alice):
    base = dt.datetime(2026, 3, 1, 9, tzinfo=JST)
    for i in range(620):  # more than one page of the export
        take(firm, base + dt.timedelta(minutes=i), caller_name=f"田中{i}", callback_number="+819011112222",
             for_staff="yamada", body="=HYPERLINK(\"http://evil\")" if i == 0 else "用件")
    take(firm, base, category="sales", only=True)
    log_in(client, alice)
    response = client.get("/portal/messages.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header, body = table[0], table[1:]
    for label in ("受付日時", "分類", "至急", "お名前", "連絡先", "宛先", "用件", "復唱済", "対応済み"):
        assert label in header, (label, header)
    assert len(body) == 620  # every page, noise left out as in the inbox
    row = dict(zip(header, body[-1]))
    assert row["受付日時"] == "2026-03-01 09:00" and row["宛先"] == "山田 太郎"
    assert row["連絡先"] == "090-1111-2222" and row["至急"] == "" and row["対応済み"] == "未対応"
    assert row["用件"].startswith("'=HYPERLINK")


def test_the_api_csv_lists_what_the_api_lists_and_q_narrows_both(client, firm, alice, operator):
    take(firm, only=True, caller_name="田中 一郎", callback_number="+819055556666")
    take(firm, only=True, caller_name="鈴木 花子", callback_number="+81311112222")
    response = client.get("/api/v1/messages", params={"q": "田中"}, headers=bearer(alice))
    assert [m["fields"]["caller_name"] for m in response.json()["messages"]] == ["田中 一郎"]
    response = client.get("/api/v1/messages", params={"q": "1111-2222"}, headers=bearer(alice))
    assert [m["fields"]["caller_name"] for m in response.json()["messages"]] == ["鈴木 花子"]
    response = client.get("/api/v1/messages.csv", params={"q": "鈴木"}, headers=bearer(alice))
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert len(table) == 2 and "鈴木 花子" in table[1]
    english = client.get("/api/v1/messages.csv", headers=bearer(operator) | {"Accept-Language": "en"})
    header = next(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert "Firm" in header and "Caller name" in header  # staff see every firm, each row names its firm
    refused = client.get("/api/v1/messages.csv", params={"handled": "maybe"}, headers=bearer(alice))
    assert refused.status_code == 422 and "handled" in refused.json()["errors"]


def test_the_api_csv_is_404_for_another_firm_and_401_without_a_token(client, firm, firm_b, charlie):
    assert client.get("/api/v1/messages.csv", params={"tenant": "firm-a"}, headers=bearer(charlie)).status_code == 404
    assert client.get("/api/v1/messages.csv").status_code == 401


def test_a_report_run_records_which_messages_it_carried(firm, settings):
    from app.reports.models import ReportRunMessage

    inside = take(firm, dt.datetime(2026, 11, 20, 10, tzinfo=JST))
    take(firm, dt.datetime(2026, 11, 21, 10, tzinfo=JST))
    make_run(settings, firm, ReportRule.get(), dt.datetime(2026, 11, 20, 18, tzinfo=JST))
    assert [r.message_id for r in ReportRunMessage.select()] == [inside.id]


def test_the_live_stream_is_for_signed_in_client_users_only(client, firm, operator):
    assert client.get("/portal/events").status_code == 404
    log_in(client, operator)
    assert client.get("/portal/events").status_code == 404
