"""The one search box (messages.search.narrow): Japanese terms of one and two characters, phone
numbers in any format or fragment, every field, corrections and deletions, one firm only."""

import pytest

from app.calls.models import Call
from app.messages import forms, search, service
from app.messages.models import Message
from app.tenants.models import Tenant

from .conftest import POSTGRES


# SQLite looks a common term up newest message first, a rare one match first: every test here
# runs with each plan, which must find the same messages.
@pytest.fixture(autouse=True, params=[None] if POSTGRES else [None, 1],
                ids=lambda v: "match first" if v is None else "newest first")
def plan(request, monkeypatch):
    monkeypatch.setattr(search, "COMMON", request.param)


def save(firm, user=None, call=None, **fields):
    """A message of ``firm`` saved as an operator's console saves it."""
    values = {"caller_name": "佐藤 花子", "callback_number": "090-1234-5678", "body": "折り返しをお願いします。"}
    values.update(fields)
    clean, problems = forms.check(firm, forms.Entry(fields={k: v for k, v in values.items() if v is not None}),
                                  enforce_readback=False)
    assert not problems, problems
    return service.record(firm, clean, user, call=call)


def found(text, firm=None, **kwargs):
    query = Message.select()
    if firm is not None:
        query = query.where(Message.tenant == firm)
    return {m.id for m in search.narrow(query, text, **kwargs)}


@pytest.fixture
def people(firm_a):
    return {"tanaka": save(firm_a, caller_name="田中 一郎", callback_number="03-5555-0101"),
            "yamada": save(firm_a, caller_name="山田 次郎", callback_number="090-8765-4321"),
            "sato": save(firm_a, caller_name="佐藤 花子", caller_company="株式会社タナカ",
                         callback_number="06-6543-2100", body="明日の打ち合わせの件です。")}


def test_one_and_two_japanese_characters_find_names_and_a_pair_does_not_find_its_characters_apart(people, firm_a):
    assert found("田", firm_a) == {people["tanaka"].id, people["yamada"].id}
    assert found("田中", firm_a) == {people["tanaka"].id}
    assert found("中田", firm_a) == set()
    assert found("山田次郎", firm_a) == {people["yamada"].id}  # the space in the name is ignored


def test_longer_terms_must_appear_as_written_not_as_scattered_pairs(firm_a):
    whole = save(firm_a, body="田中様よりお電話")
    scattered = save(firm_a, body="田中です。中様")  # 田中 and 中様 both there, 田中様 not
    assert found("田中様", firm_a) == {whole.id}
    assert scattered.id not in found("田中様", firm_a)


def test_katakana_hiragana_width_and_case_are_the_same_to_search(people, firm_a):
    assert found("たなか", firm_a) == {people["sato"].id}
    assert found("ﾀﾅｶ", firm_a) == {people["sato"].id}  # half-width katakana
    latin = save(firm_a, caller_company="ACME Japan")
    assert found("ａｃｍｅ", firm_a) == {latin.id}


def test_a_phone_number_is_found_in_every_format_and_by_a_fragment(people, firm_a):
    tanaka = {people["tanaka"].id}
    for typed in ("03-5555-0101", "0355550101", "+81 3 5555 0101", "+81355550101", "０３－５５５５－０１０１",
                  "(03) 5555-0101", "5555-0101", "0101", "０１０１"):
        assert found(typed, firm_a) == tanaka, typed


def test_the_callers_own_number_is_found_even_when_the_callback_number_differs(firm_a):
    call = Call.create(sid="CA" + "1" * 32, tenant=firm_a, from_number="+818011112222", to_number="+815055550101")
    message = save(firm_a, call=call, callback_number="06-7777-8888")  # a number to call back other than the caller's
    assert found("080-1111-2222", firm_a) == {message.id}
    assert found("1111", firm_a) == {message.id}


def test_an_extra_fields_text_is_found(database):
    from app.tenants import store

    from .conftest import minimal_config

    firm = store.import_config(minimal_config("law", call_types=[
        {"key": "consultation", "label": "法律相談", "category": "message", "fields": ["caller_name", "body"],
         "extra_fields": [{"key": "case_number", "label": "事件番号", "type": "text"}]}]))
    form = forms.form_of(firm, "consultation")
    clean, problems = forms.check(firm, forms.Entry(call_type=form.key, fields={
        "caller_name": "高橋 誠", "body": "至急", "case_number": "令和6年(ワ)第1234号"}), enforce_readback=False)
    assert not problems, problems
    message = service.record(firm, clean, None)
    assert found("ワ", firm) == {message.id}
    assert found("令和6年", firm) == {message.id}


def test_a_correction_changes_what_is_found(people, firm_a, supervisor):
    message = people["tanaka"]
    clean, problems = forms.check(firm_a, forms.Entry(fields={**message.fields, "caller_name": "鈴木 一郎"}),
                                  enforce_readback=False)
    assert not problems
    assert service.correct(message, clean, supervisor)
    assert message.id not in found("田中", firm_a)
    assert found("鈴木", firm_a) == {message.id}
    assert found("0101", firm_a) == {message.id}  # what did not change is still found


def test_a_deleted_message_leaves_nothing_behind_that_a_new_one_could_inherit(people, firm_a):
    gone = people["tanaka"]
    Message.delete().where(Message.id == gone.id).execute()
    assert found("田中", firm_a) == set()
    newest = save(firm_a, caller_name="伊藤 誠")  # on SQLite it may take the deleted one's id
    assert found("田中", firm_a) == set()
    assert found("伊藤", firm_a) == {newest.id}


def test_a_client_query_never_returns_another_firms_messages(people, firm_a, firm_b):
    theirs = save(firm_b, caller_name="田中 一郎", callback_number="03-5555-0101")
    assert theirs.id not in found("田中", firm_a)
    assert theirs.id not in found("0101", firm_a)
    assert found("田中", firm_b) == {theirs.id}
    # The firm given explicitly, or taken from the query's own condition: the same answer.
    assert found("田中", firm_a, tenant_id=firm_a.id) == {people["tanaka"].id}
    # Staff search across firms finds both.
    assert found("田中") == {people["tanaka"].id, theirs.id}


def test_a_firm_deleted_takes_its_index_with_it(people, firm_a, firm_b):
    theirs = save(firm_b, caller_name="田中 一郎")
    Tenant.delete().where(Tenant.id == firm_a.id).execute()
    assert found("田中") == {theirs.id}


def test_percent_and_underscore_are_plain_characters_not_wildcards(firm_a):
    percent = save(firm_a, body="進捗は50%です")
    underscore = save(firm_a, body="ファイル名はplan_a.pdfです")
    save(firm_a, body="進捗は50です、plan-aとplanaも")
    assert found("50%", firm_a) == {percent.id}
    assert found("%", firm_a) == {percent.id}
    assert found("n_a", firm_a) == {underscore.id}
    assert found("_", firm_a) == {underscore.id}
    assert found("%%", firm_a) == set()


def test_an_empty_query_changes_nothing(people, firm_a):
    everything = found("", firm_a)
    assert everything == {m.id for m in people.values()}
    assert found("   　", firm_a) == everything


def test_search_composes_with_the_lists_own_filters_and_paging(people, firm_a):
    query = (Message.select().where(Message.tenant == firm_a).order_by(Message.taken_at.desc(), Message.id.desc()))
    (first,) = search.narrow(query.limit(1), "田")
    assert first.id == people["yamada"].id  # the newer of the two


def test_the_api_lists_query_for_a_client_narrowed_finds_only_the_clients_firm(people, firm_a, firm_b, alice, operator):
    from app.api import v1 as api

    theirs = save(firm_b, caller_name="田中 一郎")
    assert {m.id for m in search.narrow(api._visible(alice), "田中")} == {people["tanaka"].id}
    assert {m.id for m in search.narrow(api._visible(operator), "田中")} == {people["tanaka"].id, theirs.id}


@pytest.fixture
def sqlite_firm(tmp_path):
    """A firm with the people above in a SQLite database of its own, whichever database the run is on:
    the plan below is SQLite's (PostgreSQL's planner makes this choice itself)."""
    from app import db
    from app.tenants import store

    from .conftest import minimal_config

    db.bind(f"sqlite:///{tmp_path / 'planner.db'}")
    db.migrate()
    with db.db.connection_context():
        firm = store.import_config(minimal_config("firm-a", "03-1111-2222"))
        tanaka = save(firm, caller_name="田中 一郎")
        yield db.db, firm, {"tanaka": tanaka, "yamada": save(firm, caller_name="山田 次郎")}
    db.db.close_all()


def test_a_common_term_in_a_busy_firm_is_paged_newest_first_and_a_rare_one_from_its_few_matches(
        sqlite_firm, monkeypatch):
    database, firm_a, people = sqlite_firm
    # The statistics of a busy firm (ANALYZE on a firm with 40,000 messages): SQLite then fetches
    # and sorts every match of a term unless told otherwise. 「田」 is in more messages than COMMON.
    database.execute_sql("ANALYZE")
    database.execute_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'message'")
    for index, stat in (("message_firm_taken", "1000000 40000 1 1 1 1 1"), ("message_tenant_id", "1000000 40000"),
                        ("message_taken", "1000000 1 1 1 1 1 1"), ("message_call_id", "1000000 1000000"),
                        ("message_taken_by_id", "1000000 125000"), ("message_handled_by_id", "1000000 110000")):
        database.execute_sql("INSERT INTO sqlite_stat1 VALUES ('message', ?, ?)", (index, stat))
    database.execute_sql("ANALYZE sqlite_schema")  # the planner reads the statistics again
    monkeypatch.setattr(search, "COMMON", 2)
    query = Message.select().where(Message.tenant == firm_a).order_by(Message.taken_at.desc(), Message.id.desc())

    def plan(text):
        sql, params = search.narrow(query.limit(1), text).sql()
        return " / ".join(row[3] for row in database.execute_sql("EXPLAIN QUERY PLAN " + sql, params))

    common, rare = plan("田"), plan("山田")
    assert "USING INDEX message_firm_taken" in common and "TEMP B-TREE" not in common, common
    assert "INTEGER PRIMARY KEY" in rare, rare
    (first,) = search.narrow(query.limit(1), "田")
    assert first.id == people["yamada"].id
