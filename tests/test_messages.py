"""Taking a message during a call: the call type's form, enforced read-back, drafts, noise calls,
corrections with their history, escalations, voicemails."""

import re

import pytest

from app.calls.models import Call
from app.messages.models import Draft, Escalation, Message
from app.tenants import store

from .conftest import csrf_token, log_in, minimal_config

CALL_TYPES = [
    {"key": "consultation", "label": "法律相談のご依頼", "category": "appointment",
     "fields": ["caller_company", "caller_name", "callback_number", "for_staff", "body"],
     "required": ["caller_name", "callback_number", "body"], "readback": ["caller_name", "callback_number"],
     "extra_fields": [{"key": "case_number", "label": "事件番号", "type": "text", "readback": True},
                      {"key": "court", "label": "裁判所", "type": "select", "options": ["東京地裁", "大阪地裁"]}]},
    {"key": "delivery", "label": "配達のご連絡", "category": "other",
     "fields": ["caller_company", "body"], "required": ["caller_company"]},
]


@pytest.fixture
def law(database):
    return store.import_config(minimal_config(
        "law", "03-1234-5678", call_types=CALL_TYPES,
        staff=[{"key": "yamada", "name": "山田 太郎", "title": "弁護士"}]))


@pytest.fixture
def call(law):
    return Call.create(sid="CA" + "7" * 32, tenant=law, from_number="+819012345678", to_number="+815055550101")


@pytest.fixture
def desk(client, operator, call):
    """An operator's browser on the call's screen pop: posts forms as the page would."""
    log_in(client, operator)
    client.headers["X-CSRF-Token"] = csrf_token(client, f"/console/calls/{call.id}")
    client.headers["HX-Request"] = "true"
    return client


def filled(**overrides):
    data = {"typed_call_type": "consultation", "call_type": "consultation", "field.caller_company": "東和商事",
            "field.caller_name": "佐藤 花子", "field.callback_number": "090-1234-5678", "field.for_staff": "山田太郎",
            "field.body": "契約書の件で折り返しをお願いします。", "field.case_number": "令和6年(ワ)123",
            "category": "appointment"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def confirmed(*keys, **values):
    """The read-back boxes ticked for ``keys``, each for the value given (or the filled one)."""
    data = filled(**{f"field.{k}": v for k, v in values.items()})
    return {**data, "readback": list(keys), **{f"confirmed.{k}": data[f"field.{k}"] for k in keys}}


def everything_confirmed():
    return confirmed("caller_name", "callback_number", "case_number")


def switch_to(client, user):
    """The operator logs out; ``user`` logs in on the same browser."""
    client.post("/logout", data={"csrf_token": client.headers.pop("X-CSRF-Token")})
    del client.headers["HX-Request"]
    log_in(client, user)


def test_the_screen_pop_shows_the_call_types_form_with_the_callers_number_prefilled(desk, call):
    html = desk.get(f"/console/calls/{call.id}").text
    assert "法律相談のご依頼" in html and "配達のご連絡" in html
    assert re.search(r'name="field.callback_number" value="090-1234-5678"', html)
    assert html.index('name="field.caller_company"') < html.index('name="field.caller_name"') < html.index(
        'name="field.body"') < html.index('name="field.case_number"')
    assert 'data-confirms="f-callback_number"' in html and 'data-confirms="f-case_number"' in html
    assert 'data-confirms="f-body"' not in html  # not a read-back field
    # Read aloud digit by digit, in the number's groups.
    assert re.search(r'<span class="digit-group">(<span class="digit">\d</span>){3}</span>'
                     r'<span class="digit-group">(<span class="digit">\d</span>){4}</span>', html)


def test_saving_without_confirming_a_read_back_field_is_refused_naming_it_and_keeps_everything_typed(desk, call):
    response = desk.post(f"/console/calls/{call.id}/message", data=confirmed("caller_name", "case_number"))
    assert response.status_code == 422
    error = re.search(r'id="f-callback_number-error">([^<]+)<', response.text).group(1)
    assert error == "復唱して確認してください。"
    for value in ("東和商事", "佐藤 花子", "090-1234-5678", "契約書の件で折り返しをお願いします。", "令和6年(ワ)123"):
        assert value in response.text
    assert Message.select().count() == 0


def test_a_confirmation_given_for_another_value_does_not_count(desk, call):
    data = confirmed("caller_name", "callback_number", "case_number")
    data["field.callback_number"] = "090-1234-5679"  # edited after the box was ticked
    response = desk.post(f"/console/calls/{call.id}/message", data=data)
    assert response.status_code == 422 and 'id="f-callback_number-error"' in response.text


def test_a_confirmed_message_is_saved_with_its_read_back_marks(desk, call, operator):
    response = desk.post(f"/console/calls/{call.id}/message", data=confirmed("caller_name", "callback_number",
                                                                               "case_number"))
    assert response.status_code == 200, response.text
    message = Message.get()
    assert message.fields["callback_number"] == "+819012345678"
    assert message.fields["for_staff"] == "yamada"  # the firm's person, however the name was spaced
    assert set(message.readback) == {"caller_name", "callback_number", "case_number"}
    assert message.readback["callback_number"]["by"] == operator.id
    assert (message.category, message.call_type, message.call_id) == ("appointment", "consultation", call.id)
    assert response.text.count("✓") == 3
    assert Draft.select().count() == 0  # the draft goes when the message is saved


def test_back_on_the_call_after_saving_the_saved_message_is_shown_not_a_blank_form(desk, call):
    desk.post(f"/console/calls/{call.id}/message", data=everything_confirmed())
    html = desk.get(f"/console/calls/{call.id}").text
    assert "伝言を保存しました" in html and 'id="message-form"' not in html and "山田 太郎" in html
    assert 'id="message-form"' in desk.get(f"/console/calls/{call.id}?another=1").text


def test_required_fields_and_typed_values_are_checked(desk, call):
    data = confirmed("caller_name", "callback_number", **{"caller_name": "", "callback_number": "12345"})
    data["field.court"] = "名古屋地裁"
    response = desk.post(f"/console/calls/{call.id}/message", data=data)
    assert response.status_code == 422
    assert re.search(r'id="f-caller_name-error">入力してください。<', response.text)
    assert re.search(r'id="f-callback_number-error">地域 JP の電話番号として正しくありません。<', response.text)
    assert re.search(r'id="f-court-error">次のいずれかを指定してください: 東京地裁, 大阪地裁。<', response.text)


def test_what_is_typed_is_kept_as_a_draft_and_comes_back_after_a_reload(desk, call):
    desk.post(f"/console/calls/{call.id}/draft", data=confirmed("callback_number", body="途中まで"))
    html = desk.get(f"/console/calls/{call.id}").text
    assert "途中まで" in html and "佐藤 花子" in html
    assert re.search(r'value="callback_number" data-confirms="f-callback_number"\s+checked', html)


def test_an_operator_sees_their_unsaved_drafts_until_the_message_is_saved(desk, call):
    desk.post(f"/console/calls/{call.id}/draft", data=filled())
    console = desk.get("/console").text
    assert "未保存の伝言" in console and f'href="/console/calls/{call.id}"' in console and "佐藤 花子" in console
    desk.post(f"/console/calls/{call.id}/message", data=everything_confirmed())
    assert "未保存の伝言" not in desk.get("/console").text


def test_switching_the_call_type_keeps_what_was_typed(desk, call):
    desk.post(f"/console/calls/{call.id}/draft", data=filled())
    switched = desk.post(f"/console/calls/{call.id}/draft?switch=1", data={**filled(), "call_type": "delivery"})
    assert 'name="field.case_number"' not in switched.text and "東和商事" in switched.text
    assert re.search(r'<option value="other" selected>', switched.text)  # the call type's category
    back = desk.post(f"/console/calls/{call.id}/draft?switch=1",
                     data={"typed_call_type": "delivery", "call_type": "consultation", "field.caller_company": "東和商事",
                           "field.body": "契約書の件で折り返しをお願いします。", "category": "other"})
    assert "令和6年(ワ)123" in back.text and "佐藤 花子" in back.text


def test_a_noise_call_is_recorded_with_one_click(desk, call):
    response = desk.post(f"/console/calls/{call.id}/noise", data={"category": "sales"})
    assert response.status_code == 200
    message = Message.get()
    assert (message.category, message.fields, message.readback) == ("sales", {}, {})
    # What was recorded, in those words; not "message saved" under the call type the form had open.
    assert "営業電話として記録しました" in response.text
    assert "伝言を保存しました" not in response.text and "法律相談のご依頼" not in response.text
    for page in (f"/messages/{message.id}",):
        html = desk.get(page).text
        assert "営業電話として記録しました" in html and "法律相談のご依頼" not in html


def test_a_noise_record_is_labelled_as_such_in_the_firms_portal_and_mail(client, settings, call, law, operator):
    from app.accounts import service as accounts
    from app.messages import forms, service
    from app.reports.render import notification

    from .conftest import PASSWORD

    message = service.record(law, forms.Clean(forms.form_of(law, "consultation"), "wrong_number", False, {}, [], {}),
                             operator, call=call)
    client_user = accounts.add_user("owner@law.example.jp", "client", password=PASSWORD, tenant_slug="law")
    log_in(client, client_user)
    html = client.get(f"/portal/messages/{message.id}").text
    assert "間違い電話として記録しました" in html and "法律相談のご依頼" not in html
    mail = notification(settings, message, "email")
    assert "間違い電話" in mail.text and "法律相談のご依頼" not in mail.text + mail.html


def test_after_call_work_is_the_time_from_the_calls_end_to_the_saved_message(desk, call):
    import datetime as dt

    from app.db import utcnow
    Call.update(ended_at=utcnow() - dt.timedelta(seconds=95)).where(Call.id == call.id).execute()
    desk.post(f"/console/calls/{call.id}/message", data=everything_confirmed())
    assert 94 <= Message.get().after_call_seconds <= 100


def test_a_supervisor_corrects_a_message_and_every_version_is_kept(client, desk, call, supervisor):
    desk.post(f"/console/calls/{call.id}/message", data=everything_confirmed())
    message = Message.get()
    switch_to(client, supervisor)
    token = csrf_token(client, f"/messages/{message.id}")
    response = client.post(f"/messages/{message.id}/correct", follow_redirects=False, data={
        "csrf_token": token, "call_type": "consultation", "field.caller_company": "東和商事",
        "field.caller_name": "佐藤 花子", "field.callback_number": "090-1234-0000", "field.for_staff": "yamada",
        "field.body": "契約書の件で折り返しをお願いします。", "category": "callback", "note": "番号違い(本人より再架電)"})
    assert response.status_code == 303
    message = Message.get()
    assert message.version == 2 and message.category == "callback"
    assert message.fields["callback_number"] == "+819012340000"
    assert set(message.readback) == {"caller_name"}  # the new number was never read back
    page = client.get(f"/messages/{message.id}").text
    assert "番号違い(本人より再架電)" in page and "090-1234-5678 → 090-1234-0000" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "第 2 版" in page and "第 1 版" in page


def test_an_operator_cannot_correct_a_message(desk, call):
    desk.post(f"/console/calls/{call.id}/message", data=everything_confirmed())
    message = Message.get()
    assert desk.post(f"/messages/{message.id}/correct", data=filled()).status_code == 403
    assert Message.get().version == 1


def test_an_escalation_reaches_the_supervisors_until_resolved(client, desk, call, supervisor):
    refused = desk.post(f"/console/calls/{call.id}/escalate", data={"reason": "  "})
    assert refused.status_code == 422
    desk.post(f"/console/calls/{call.id}/escalate", data={"reason": "弁護士に至急つないでほしいとの強い要望"})
    switch_to(client, supervisor)
    board = client.get("/supervisor").text
    assert "弁護士に至急つないでほしいとの強い要望" in board
    escalation = Escalation.get()
    client.post(f"/supervisor/escalations/{escalation.id}/resolve",
                data={"csrf_token": csrf_token(client, "/supervisor"), "resolution": "山田先生に連絡済み"})
    assert "弁護士に至急つないでほしいとの強い要望" not in client.get("/supervisor").text
    assert Escalation.get().resolution == "山田先生に連絡済み"


def test_the_addressee_is_chosen_from_the_firms_staff_by_name_or_typed_for_someone_else(desk, call, supervisor):
    html = desk.get(f"/console/calls/{call.id}").text
    assert re.search(r'<option value="yamada"[^>]*>山田 太郎\(弁護士\)</option>', html)
    assert "その他…" in html
    desk.post(f"/console/calls/{call.id}/message", data={**everything_confirmed(), "pick.for_staff": "yamada",
                                                          "field.for_staff": ""})
    assert Message.get().fields["for_staff"] == "yamada"
    desk.post(f"/console/calls/{call.id}/message", data={**everything_confirmed(), "pick.for_staff": "other",
                                                          "field.for_staff": "鈴木 事務長"})
    assert Message.select().order_by(Message.id.desc()).get().fields["for_staff"] == "鈴木 事務長"
    # The message's page, where a supervisor corrects it, picks the addressee the same way.
    switch_to(desk, supervisor)
    first, second = Message.select().order_by(Message.id)
    assert re.search(r'<option value="yamada" selected>山田 太郎', desk.get(f"/messages/{first.id}").text)
    page = desk.get(f"/messages/{second.id}").text
    assert re.search(r'<option value="other" class="other" selected>', page) and 'value="鈴木 事務長"' in page
