"""QA review: a weekly random sample of each operator's messages, reviewed against the checklist; the
operator reads their own feedback (nobody else's); figures per operator."""

import datetime as dt

from app import qa
from app.db import utcnow
from app.messages import forms, service
from app.messages.models import Message
from app.qa import service as qa_service
from app.qa.models import QAReview, QASetting, week_bounds, week_of

from .conftest import _user, csrf_token, log_in

MONDAY = dt.date(2026, 11, 16)


def _messages(firm, user, n, monday=MONDAY, category="message"):
    made = []
    for i in range(n):
        clean, problems = forms.check(firm, forms.Entry(category=category, fields={
            "caller_name": f"田中{i}", "callback_number": "090-1234-5678", "body": "折り返し希望"}), enforce_readback=False)
        assert not problems, problems
        message = service.record(firm, clean, user)
        at = week_bounds(monday)[0] + dt.timedelta(hours=10, minutes=i)
        Message.update(taken_at=at).where(Message.id == message.id).execute()
        made.append(message.id)
    return made


CHECKLIST = {"check.greeting": "pass", "check.readback": "fail", "check.fields": "pass", "check.category": "pass",
             "check.instructions": "na"}


def test_the_weekly_sample_takes_the_set_number_of_each_operators_messages_once(database, firm_a, operator, supervisor):
    other = _user("op2@dengon.example", "operator")
    _messages(firm_a, operator, 8)
    _messages(firm_a, other, 2)
    _messages(firm_a, operator, 3, monday=MONDAY + dt.timedelta(days=7))  # the next week's are not this week's
    QASetting.set_sample_size(3, supervisor)
    assert QAReview.sample(MONDAY, QASetting.sample_size_for()) == 5
    chosen = {r.message_id for r in QAReview.select()}
    assert QAReview.select().where(QAReview.operator == operator).count() == 3
    assert QAReview.select().where(QAReview.operator == other).count() == 2
    assert QAReview.sample(MONDAY, 3) == 0  # again: nothing more
    QAReview.delete().execute()
    QAReview.sample(MONDAY, 3)
    assert {r.message_id for r in QAReview.select()} == chosen  # the same choice every run


def test_a_sample_taken_mid_week_is_topped_up_to_the_size_later(database, firm_a, operator):
    _messages(firm_a, operator, 2)
    assert QAReview.sample(MONDAY, 4) == 2
    _messages(firm_a, operator, 5)
    assert QAReview.sample(MONDAY, 4) == 2
    assert QAReview.select().count() == 4


def test_the_worker_samples_the_week_just_ended(database, firm_a, operator):
    _messages(firm_a, operator, 7)
    monday_after = week_bounds(MONDAY + dt.timedelta(days=7))[0] + dt.timedelta(hours=3)
    assert week_of(monday_after) == MONDAY + dt.timedelta(days=7)
    assert qa_service.sample_weeks(monday_after) == 5  # the default size
    assert qa_service.sample_weeks(monday_after) == 0


def test_a_supervisor_reviews_a_message_and_its_operator_sees_score_and_comment(client, firm_a, operator, supervisor):
    (message_id,) = _messages(firm_a, operator, 1, monday=week_of(utcnow()))
    log_in(client, supervisor)
    token = csrf_token(client, "/qa")
    assert client.post("/qa/sample", data={"csrf_token": token}, follow_redirects=False).headers["location"] == "/qa?sampled=1"
    assert "1件をレビュー待ちに追加しました" in client.get("/qa?sampled=1").text
    item = QAReview.get()
    page = client.get(f"/qa/reviews/{item.id}").text
    assert "田中0" in page and "設定どおりの名乗り" in page and firm_a.answer_phrase in page
    incomplete = client.post(f"/qa/reviews/{item.id}", data={"csrf_token": token, "check.greeting": "pass",
                                                               "comment": "復唱を忘れずに"})
    assert incomplete.status_code == 422 and "復唱を忘れずに" in incomplete.text
    done = client.post(f"/qa/reviews/{item.id}", data={"csrf_token": token, **CHECKLIST,
                                                         "comment": "電話番号の復唱が抜けていました"}, follow_redirects=False)
    assert done.status_code == 303
    item = QAReview.get_by_id(item.id)
    assert item.score == 75 and item.reviewer_id == supervisor.id  # 3 passed of 4 that apply
    client.post("/logout", data={"csrf_token": token})

    log_in(client, operator)
    feedback = client.get("/console/feedback").text
    assert "電話番号の復唱が抜けていました" in feedback and "75" in feedback and "復唱している: 不合格" in feedback
    assert client.get(f"/console/feedback/{item.id}").status_code == 200
    assert message_id == item.message_id


def test_an_operator_never_sees_another_operators_feedback(client, firm_a, operator, supervisor):
    other = _user("op2@dengon.example", "operator")
    _messages(firm_a, other, 1)
    QAReview.sample(MONDAY, 1)
    item = QAReview.get()
    item.record({"greeting": "fail"}, "名乗りが違います（二郎さんへ）", supervisor)
    log_in(client, operator)
    assert client.get(f"/console/feedback/{item.id}").status_code == 404
    assert "二郎さんへ" not in client.get("/console/feedback").text
    assert client.get(f"/qa/reviews/{item.id}").status_code == 403
    assert client.get("/qa").status_code == 403


def test_a_review_not_yet_done_is_not_shown_to_its_operator(client, firm_a, operator):
    _messages(firm_a, operator, 1)
    QAReview.sample(MONDAY, 1)
    log_in(client, operator)
    assert client.get(f"/console/feedback/{QAReview.get().id}").status_code == 404


def test_qa_pages_are_404_for_client_users(client, alice, firm_a, operator):
    _messages(firm_a, operator, 1)
    QAReview.sample(MONDAY, 1)
    log_in(client, alice)
    token = csrf_token(client, "/portal")
    for path in ("/qa", f"/qa/reviews/{QAReview.get().id}", "/console/feedback", f"/console/feedback/{QAReview.get().id}"):
        assert client.get(path).status_code == 404, path
    assert client.post("/qa/sample", data={"csrf_token": token}).status_code == 404
    assert client.post("/qa/settings", data={"csrf_token": token, "sample_size": "9"}).status_code == 404


def test_the_supervisor_sets_the_sample_size(client, supervisor):
    log_in(client, supervisor)
    token = csrf_token(client, "/qa")
    for bad in ("-1", "abc", "101", "５"):
        response = client.post("/qa/settings", data={"csrf_token": token, "sample_size": bad})
        assert response.status_code == 422 and "0〜100の整数" in response.text, bad
    assert client.post("/qa/settings", data={"csrf_token": token, "sample_size": "8"}, follow_redirects=False).status_code == 303
    assert QASetting.sample_size_for() == 8
    assert 'value="8"' in client.get("/qa").text


def test_figures_per_operator_count_reviews_and_average_their_scores(database, firm_a, operator, supervisor):
    other = _user("op2@dengon.example", "operator")
    _messages(firm_a, operator, 3)
    _messages(firm_a, other, 1)
    QAReview.sample(MONDAY, 3)
    mine = list(QAReview.select().where(QAReview.operator == operator).order_by(QAReview.id))
    mine[0].record({"greeting": "pass", "readback": "pass"}, "", supervisor)             # 100
    mine[1].record({"greeting": "pass", "readback": "fail"}, "", supervisor)             # 50
    mine[2].record({"greeting": "na", "readback": "na"}, "", supervisor)                 # no score
    since, until = week_bounds(MONDAY)
    assert qa.figures(since, until) == {operator.id: {"reviewed": 3, "score": 75.0}}
    assert qa.figures(until, until + dt.timedelta(days=7)) == {}


def test_the_figures_pages_per_operator_table_and_csv_carry_each_operators_qa(client, firm_a, operator, supervisor):
    _messages(firm_a, operator, 2)
    QAReview.sample(MONDAY, 2)
    first, second = QAReview.select().order_by(QAReview.id)
    first.record({"greeting": "pass", "readback": "fail"}, "", supervisor)  # 50
    second.record({"greeting": "pass"}, "", supervisor)                     # 100
    log_in(client, supervisor)
    day = {"period": "custom", "from": MONDAY.isoformat(), "to": MONDAY.isoformat(), "interval": "1d"}
    page = client.get("/supervisor/stats", params=day).text
    row = page[page.index(f'data-operator="{operator.id}"'):].split("</tr>", 1)[0]
    assert 'data-key="qa_reviewed">2<' in row and 'data-key="qa_score">75.0<' in row
    csv_text = client.get("/supervisor/stats.csv", params={**day, "table": "operators"}).content.decode("utf-8-sig")
    head, line = csv_text.splitlines()[:2]
    assert head.endswith("QAレビュー数,QA点数") and line.endswith(",2,75.0")


def test_the_workers_hourly_task_queues_last_weeks_sample_once(database, environ, monkeypatch, firm_a, operator):
    from app import worker

    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    last_week = week_of(utcnow()) - dt.timedelta(days=7)
    _messages(firm_a, operator, 6, monday=last_week)
    _messages(firm_a, operator, 2, monday=week_of(utcnow()))  # this week's wait for next week's run
    worker.qa_sample.call_local()
    assert QAReview.select().count() == 5 and {r.week for r in QAReview.select()} == {last_week}
    worker.qa_sample.call_local()
    assert QAReview.select().count() == 5
