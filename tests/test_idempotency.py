"""POST /api/v1/messages with an Idempotency-Key: a retried request gets the first answer instead of
making a second message, even when the two race."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from app.accounts.service import create_token
from app.api.models import IdempotencyKey
from app.db import utcnow
from app.messages.models import Message

from .test_api import law, new_message  # noqa: F401  (the firm with its consultation call type)


@pytest.fixture
def headers(operator):
    return {"Authorization": f"Bearer {create_token(operator.email)[1]}", "Accept-Language": "en"}


def post(client, headers, body, key="order-7f3c"):
    return client.post("/api/v1/messages", json=body, headers=headers | {"Idempotency-Key": key})


def test_the_same_key_and_body_twice_make_one_message_and_the_same_answer(client, law, headers):
    first = post(client, headers, new_message(urgent=True))
    again = post(client, headers, new_message(urgent=True))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert Message.select().count() == 1


def test_the_same_body_spaced_or_ordered_differently_is_the_same_request(client, law, headers):
    first = post(client, headers, new_message())
    body = dict(reversed(list(new_message().items())))
    again = client.post("/api/v1/messages", content=json.dumps(body, indent=2, ensure_ascii=True),
                        headers=headers | {"Idempotency-Key": "order-7f3c", "Content-Type": "application/json"})
    assert again.status_code == 201 and again.json() == first.json()
    assert Message.select().count() == 1


def test_the_same_key_with_a_different_body_is_422(client, law, headers):
    assert post(client, headers, new_message()).status_code == 201
    response = post(client, headers, new_message(urgent=True))
    assert response.status_code == 422
    assert response.json() == {"errors": {"idempotency_key": (
        "This Idempotency-Key was used with a different request body in the last 24 hours; "
        "use a new key for a new message.")}}
    assert Message.select().count() == 1


def test_without_the_key_or_with_another_key_a_request_is_a_new_message(client, law, headers):
    first = post(client, headers, new_message())
    assert post(client, headers, new_message()).json()["id"] == first.json()["id"]
    assert client.post("/api/v1/messages", json=new_message(), headers=headers).status_code == 201
    assert post(client, headers, new_message(), key="another").status_code == 201
    assert Message.select().count() == 3


def test_keys_belong_to_their_user(client, law, headers, supervisor):
    other = {"Authorization": f"Bearer {create_token(supervisor.email)[1]}"}
    mine = post(client, headers, new_message())
    theirs = post(client, other, new_message(urgent=True))  # another body is no conflict: another user's key
    assert mine.status_code == theirs.status_code == 201 and mine.json()["id"] != theirs.json()["id"]
    assert post(client, other, new_message(urgent=True)).json()["id"] == theirs.json()["id"]
    assert Message.select().count() == 2


def test_a_refused_request_is_not_remembered_and_may_be_corrected_under_the_same_key(client, law, headers):
    body = new_message()
    del body["fields"]["body"]
    assert post(client, headers, body).status_code == 422
    created = post(client, headers, new_message())
    assert created.status_code == 201
    assert post(client, headers, new_message()).json() == created.json()
    assert Message.select().count() == 1


def test_a_key_older_than_24_hours_is_treated_as_new_and_purged(client, law, headers):
    first = post(client, headers, new_message())
    IdempotencyKey.update(created_at=utcnow() - dt.timedelta(hours=24, seconds=1)).execute()
    again = post(client, headers, new_message(urgent=True))  # another body: no conflict once expired
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in again.headers
    assert Message.select().count() == 2
    # Within the new 24 hours, the key answers with the second message.
    assert post(client, headers, new_message(urgent=True)).json()["id"] == again.json()["id"]

    IdempotencyKey.update(created_at=utcnow() - dt.timedelta(hours=25)).execute()
    assert IdempotencyKey.purge() == 1 and IdempotencyKey.select().count() == 0


@pytest.mark.parametrize("key", ["", "k" * 256, "ключ", "tab\there"])
def test_a_key_that_is_empty_too_long_or_not_printable_ascii_is_422_naming_it(client, law, headers, key):
    response = client.post("/api/v1/messages", json=new_message(),
                           headers=headers | {"Idempotency-Key": key.encode("utf-8")})
    assert response.status_code == 422
    assert response.json() == {"errors": {"idempotency_key": (
        "The Idempotency-Key header must be 1 to 255 printable ASCII characters.")}}
    assert Message.select().count() == 0


def test_a_key_of_255_characters_is_remembered(client, law, headers):
    first = post(client, headers, new_message(), key="k" * 255)
    assert post(client, headers, new_message(), key="k" * 255).json() == first.json()
    assert Message.select().count() == 1


def test_concurrent_requests_with_the_same_key_make_one_message(client, law, headers):
    n = 8
    start, answers = threading.Barrier(n), [None] * n

    def send(i):
        start.wait()
        answers[i] = post(client, headers, new_message())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [a.status_code for a in answers] == [201] * n
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert Message.select().count() == 1


def test_a_twin_that_missed_the_stored_result_rolls_back_its_message_and_answers_with_the_first(
        client, law, headers, monkeypatch):
    """The race made certain: the second request looks before the first has committed (its look-up
    misses), so it is the unique index that stops it."""
    first = post(client, headers, new_message())
    recall, looked = IdempotencyKey.recall, []

    def missing_once(user, key):
        if not looked:
            looked.append(key)
            return None
        return recall(user, key)

    monkeypatch.setattr(IdempotencyKey, "recall", missing_once)
    again = post(client, headers, new_message())
    assert looked == ["order-7f3c"]
    assert again.status_code == 201 and again.json() == first.json()
    assert Message.select().count() == 1

    looked.clear()  # a twin with another body: its message is rolled back too, and it hears 422
    assert post(client, headers, new_message(urgent=True)).status_code == 422
    assert Message.select().count() == 1
