"""The firm editor: every key of the tenant file in a form, checked by the file's own validator,
a diff before saving, optimistic locking against another manager's save."""

import html
import re
from html.parser import HTMLParser

from starlette.datastructures import FormData

from app.tenants import editor, store
from app.tenants.models import STANDARD_FIELDS, Tenant
from app.tenants.versions import TenantVersion

from .conftest import _user, log_in


class _Form(HTMLParser):
    """What a browser would post for the form with id ``editor``: [(name, value)] in page order."""

    def __init__(self):
        super().__init__()
        self.fields, self.inside, self.select, self.textarea, self.options = [], False, None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "editor"
        owned = self.inside or a.get("form") == "editor"
        if not owned or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") != "submit" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self.textarea = [a["name"], ""]
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea:
            self.fields.append((self.textarea[0], self.textarea[1].removeprefix("\n")))
            self.textarea = None
        elif tag == "select" and self.select:
            chosen = [v for v, selected in self.options if selected] or [v for v, _s in self.options[:1]]
            self.fields.append((self.select, chosen[0] if chosen else ""))
            self.select = None


def form_of(html: str) -> list[tuple[str, str]]:
    parser = _Form()
    parser.feed(html)
    return parser.fields


def changed(fields, **values) -> list[tuple[str, str]]:
    """The form with some inputs set (names as keyword arguments, ``__`` for ``.``)."""
    values = {k.replace("__", "."): v for k, v in values.items()}
    return [(name, values.pop(name) if name in values else value) for name, value in fields] + list(values.items())


def data(fields) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in fields:
        grouped.setdefault(name, []).append(value)
    return grouped


def post(client, fields, action):
    return client.post("/firms/yamada-law/edit", data=data([*fields, ("_action", action)]), follow_redirects=False)


def test_a_demo_firm_through_the_form_and_back_is_the_same_configuration(client, admin, demo_firms):
    for tenant in Tenant.select():
        config = store.snapshot(tenant)
        html_form = FormData(form_of(_editor_html(client, admin, tenant.slug)))
        raw = {**editor.from_form(html_form), "slug": tenant.slug}
        again, problems = editor.validate(raw)
        assert problems == [] and store.diff(config, again) == {}, tenant.slug


def _editor_html(client, admin, slug):
    if not client.cookies.get("dengon_session"):
        log_in(client, admin)
    response = client.get(f"/firms/{slug}/edit")
    assert response.status_code == 200
    return response.text


def test_checking_an_unchanged_form_says_nothing_changed(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    page = post(client, fields, "check").text
    assert "変更はありません" in page and 'value="save"' not in page


def test_a_mistake_is_shown_at_its_field_in_japanese_with_everything_typed_kept(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    response = post(client, changed(fields, hours__wed="9:00-18:00x", name="山田総合法律事務所"), "check")
    assert response.status_code == 422
    page = html.unescape(response.text)
    # The error sits under the Wednesday input, which keeps what was typed, as does every other input.
    wed = page[page.index('id="f-hours.wed"'):]
    assert 'value="9:00-18:00x"' in wed[:400] and 'aria-invalid="true"' in wed[:400]
    assert '"9:00-18:00x" は時間帯ではありません' in wed[:1500]
    assert 'value="山田総合法律事務所"' in page
    assert TenantVersion.select().where(TenantVersion.note == "browser").count() == 0
    assert Tenant.by_slug("yamada-law").name == "山田法律事務所"


def test_an_error_inside_a_list_of_choices_is_shown_at_that_list(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    # Required but no longer asked for: the problem is call_types[0].required[i], shown at the grid.
    fields = [(n, v) for n, v in fields if not (n == "call_types[0].fields" and v == "body")]
    page = html.unescape(post(client, fields, "check").text)
    assert 'id="e-call_types[0].required"' in page and "この通話種別の項目にありません" in page


def test_the_diff_is_shown_before_saving_and_saving_makes_a_version(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    version = Tenant.by_slug("yamada-law").version
    review = post(client, changed(fields, hours__wed="10:00-18:00"), "check")
    assert review.status_code == 200
    assert "水" in review.text and "09:00-18:00" in review.text and "10:00-18:00" in review.text
    assert Tenant.by_slug("yamada-law").version == version  # nothing saved yet
    saved = post(client, form_of(review.text), "save")
    assert saved.status_code == 303 and saved.headers["location"] == f"/firms/yamada-law?saved={version + 1}"
    latest = TenantVersion.get(TenantVersion.number == version + 1)
    assert latest.via == "browser" and latest.saved_by.email == admin.email
    assert latest.changes == {"hours.wed": ["09:00-18:00", "10:00-18:00"]}
    assert f"第 {version + 1} 版を保存しました" in client.get(saved.headers["location"]).text


def test_a_form_changed_after_its_diff_was_shown_shows_the_diff_again_instead_of_saving(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    review = post(client, changed(fields, hours__wed="10:00-18:00"), "check")
    response = post(client, changed(form_of(review.text), hours__thu="11:00-18:00"), "save")
    assert response.status_code == 200 and "11:00-18:00" in response.text
    assert Tenant.by_slug("yamada-law").hours["thu"] == "09:00-18:00"


def test_a_stale_save_shows_the_other_managers_change_and_keeps_ones_own_input(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    review = post(client, changed(fields, hours__wed="10:00-18:00"), "check")
    # Meanwhile another account manager changes the name and saves.
    other = _user("other-manager@dengon.example", "admin")
    config = store.snapshot(Tenant.by_slug("yamada-law"))
    store.save({**config, "name": "山田総合法律事務所"}, actor=other, via="browser")
    response = post(client, form_of(review.text), "save")
    assert response.status_code == 409
    page = response.text
    assert "other-manager@dengon.example" in page and "山田総合法律事務所" in page
    assert 'value="10:00-18:00"' in page  # their own input kept
    assert Tenant.by_slug("yamada-law").hours["wed"] == "09:00-18:00"
    # Checked again against the new version, it saves.
    review = post(client, form_of(page), "check")
    assert post(client, form_of(review.text), "save").status_code == 303
    assert Tenant.by_slug("yamada-law").hours["wed"] == "10:00-18:00"


def test_a_number_another_firm_owns_is_refused_at_its_field(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    taken = store.snapshot(Tenant.by_slug("sakura-clinic"))["numbers"][0]["number"]
    review = post(client, changed(fields, **{"numbers[0].number": taken}), "check")
    response = post(client, form_of(review.text), "save")
    assert response.status_code == 422
    assert 'id="e-numbers[0].number"' in response.text and "sakura-clinic" in response.text


def call_type_labels(fields) -> list[str]:
    return [v for n, v in fields if re.fullmatch(r"call_types\[\d+\]\.label", n)]


def test_items_are_added_moved_and_removed_without_javascript(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    labels = call_type_labels(fields)
    assert len(labels) >= 2
    moved = form_of(post(client, fields, "down:call_types[0]").text)
    assert call_type_labels(moved) == [labels[1], labels[0], *labels[2:]]
    added = post(client, moved, "add:staff").text
    assert 'data-item="staff[' in added and "data-focus" in added
    assert len([n for n, v in form_of(added) if re.fullmatch(r"staff\[\d+\]", n)]) == \
        len([n for n, v in fields if re.fullmatch(r"staff\[\d+\]", n)]) + 1
    removed = form_of(post(client, form_of(added), "remove:call_types[0]").text)
    assert call_type_labels(removed) == [labels[0], *labels[2:]]


def test_the_plan_is_edited_and_saved_with_the_firm(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    fields = changed(fields, plan="1", plan__name="スタンダード", plan__monthly_fee="15,000",
                     plan__included_calls="100", plan__bill_voicemail="1", plan__statement_to="keiri@example.jp")
    review = post(client, fields, "check")
    assert "15000" in review.text
    assert post(client, form_of(review.text), "save").status_code == 303
    plan = store.snapshot(Tenant.by_slug("yamada-law"))["plan"]
    assert plan == {"name": "スタンダード", "monthly_fee": 15000, "overage_fee": 0, "included_calls": 100,
                    "bill_noise": False, "bill_voicemail": True, "statement_to": ["keiri@example.jp"]}
    assert "monthly_fee = 15000" in store.export("yamada-law")


def test_the_preview_shows_the_unsaved_answer_phrase_and_call_types_as_the_operator_sees_them(
        client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    fields = changed(fields, answer_phrase="はい、山田総合法律事務所です。", instructions="**必ず**お名前を伺う")
    page = client.post("/firms/yamada-law/edit/preview", data=data(changed(fields, _preview_type="1"))).text
    assert "はい、山田総合法律事務所です。" in page and "<strong>必ず</strong>" in page
    assert 'class="screen-pop editor-preview" inert' in page and 'id="message-form"' in page
    second = [v for n, v in fields if n == "call_types[1].label"][0]
    assert f"<option value=\"{[v for n, v in fields if n == 'call_types[1].key'][0]}\" selected>{second}" in page
    assert Tenant.by_slug("yamada-law").answer_phrase != "はい、山田総合法律事務所です。"


def test_only_account_managers_edit_firms(client, supervisor, demo_firms):
    log_in(client, supervisor)
    assert client.get("/firms/yamada-law/edit").status_code == 403
    assert client.get("/firms/no-such-firm/edit").status_code == 404


def test_new_lines_as_browsers_send_them_are_no_change(client, admin, demo_firms):
    fields = form_of(_editor_html(client, admin, "yamada-law"))
    crlf = [(n, v.replace("\n", "\r\n")) for n, v in fields]
    assert any("\r\n" in v for n, v in crlf if n == "instructions")
    assert "変更はありません" in post(client, crlf, "check").text


def test_a_large_firm_goes_through_the_editor_whole(client, admin, database):
    staff = [{"key": f"s{i}", "name": f"社員 {i}", "name_kana": "しゃいん", "title": "課長",
              "email": f"s{i}@example.jp", "mobile": f"090-1234-{i:04d}", "fax": f"03-1234-{i:04d}"} for i in range(50)]
    call_types = [{"key": f"t{i}", "label": f"種別 {i}", "fields": list(STANDARD_FIELDS),
                   "required": ["caller_name"], "readback": ["callback_number"],
                   "extra_fields": [{"key": "case", "label": "番号", "readback": True}]} for i in range(20)]
    config, problems = editor.validate({
        "slug": "large", "name": "大きな会社", "answer_phrase": "はい", "staff": staff, "call_types": call_types,
        "numbers": [{"number": "03-9876-5432", "kind": "forwarded"}],
        "reports": [{"key": f"r{i}", "at": ["18:00"], "deliver": [{"channel": "email", "to_staff": ["s1", "s2"]}]}
                    for i in range(10)]})
    assert problems == []
    store.save(config, via="file")
    log_in(client, admin)
    fields = form_of(client.get("/firms/large/edit").text)
    assert len(fields) > 900
    response = client.post("/firms/large/edit", data=data([*fields, ("_action", "check")]))
    assert response.status_code == 200 and "変更はありません" in response.text


def test_the_staff_to_put_through_to_and_to_report_to_are_ticked_by_their_names(client, admin, demo_firms):
    page = html.unescape(_editor_html(client, admin, "daiwa-kensetsu"))
    transfer = page[page.index('id="f-call_types[0].transfer_to_staff"'):]
    transfer = transfer[:transfer.index("</fieldset>")]
    # Each box still posts the key; the manager reads the person's name beside it.
    labels = re.findall(r'<input type="checkbox"[^>]*value="(\w+)"[^>]*>\s*([^<]+?)\s*</label>', transfer)
    assert dict(labels)["takeda"] == "武田 翔" and dict(labels)["kimura"] == "木村 正人"
    assert all(label != key for key, label in labels)
    report = page[page.index('id="f-reports[0].deliver[0].to_staff"'):]
    report = report[:report.index("</fieldset>")]
    labels = re.findall(r'<input type="checkbox"[^>]*value="(\w+)"[^>]*>\s*([^<]+?)\s*</label>', report)
    assert dict(labels)["ito"] == "伊藤 浩二" and all(label != key for key, label in labels)
