"""``Idempotency-Key`` on POST: a retry answers the first response again and stores nothing
new; the same key with another request is refused."""

import threading
from datetime import datetime, timedelta, timezone

from accord.testing import ApiClient, api_client, make_user
from api_helpers import assert_error, count, set_columns


def test_same_key_same_body_replays_the_first_response(api, app):
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    first = api.post("/contacts", json=body, headers={"Idempotency-Key": "create-ada-1"})
    assert first.status_code == 201
    second = api.post("/contacts", json=body, headers={"Idempotency-Key": "create-ada-1"})
    assert second.status_code == 201
    assert second.json == first.json
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, "contact") == 1
    assert count(app, "search_entry") == 1


def test_replay_answers_the_first_response_even_after_the_record_changed(api, app):
    body = {"last_name": "Lovelace"}
    first = api.post("/contacts", json=body, headers={"Idempotency-Key": "k-change"})
    api.patch(f"/contacts/{first.json['id']}", json={"city": "London"})
    again = api.post("/contacts", json=body, headers={"Idempotency-Key": "k-change"})
    assert again.status_code == 201
    assert again.json == first.json
    assert count(app, "contact") == 1


def test_key_order_of_the_body_does_not_matter(api, app):
    first = api.post("/contacts", data='{"first_name": "Ada", "last_name": "Lovelace"}',
                     content_type="application/json", headers={"Idempotency-Key": "k-order"})
    second = api.post("/contacts", data='{"last_name": "Lovelace", "first_name": "Ada"}',
                      content_type="application/json", headers={"Idempotency-Key": "k-order"})
    assert first.status_code == second.status_code == 201
    assert second.json["id"] == first.json["id"]
    assert count(app, "contact") == 1


def test_same_key_different_body_is_422_and_nothing_written(api, app):
    first = api.post("/contacts", json={"last_name": "Lovelace"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    response = api.post("/contacts", json={"last_name": "Hopper"}, headers={"Idempotency-Key": "k-1"})
    assert_error(response, 422, "validation_failed", fields=["Idempotency-Key"])
    assert count(app, "contact") == 1
    assert count(app, "contact", "last_name = 'Hopper'") == 0


def test_same_key_on_another_collection_is_422(api, app):
    assert api.post("/contacts", json={"last_name": "Acme"}, headers={"Idempotency-Key": "k-2"}).status_code == 201
    response = api.post("/organizations", json={"name": "Acme"}, headers={"Idempotency-Key": "k-2"})
    assert_error(response, 422, fields=["Idempotency-Key"])
    assert count(app, "organization") == 0


def test_keys_belong_to_their_user(api, app):
    other = api_client(app, make_user(app, "bea@example.com", "Bea"))
    a = api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "shared"})
    b = other.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.json["id"] != b.json["id"]
    assert count(app, "contact") == 2


def test_failed_request_does_not_consume_the_key(api, app):
    bad = api.post("/contacts", json={"first_name": "Ada"}, headers={"Idempotency-Key": "k-fix"})
    assert_error(bad, 422, fields=["last_name"])
    good = api.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace"}, headers={"Idempotency-Key": "k-fix"})
    assert good.status_code == 201
    again = api.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace"}, headers={"Idempotency-Key": "k-fix"})
    assert again.json["id"] == good.json["id"]
    assert count(app, "contact") == 1


def test_without_a_key_each_post_creates(api, app):
    for _ in range(2):
        assert api.post("/contacts", json={"last_name": "Doe"}).status_code == 201
    assert count(app, "contact") == 2


def test_key_must_be_1_to_255_characters(api, app):
    assert_error(api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "k" * 256}), 400,
                 "bad_request", fields=["Idempotency-Key"])
    assert_error(api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": ""}), 400,
                 "bad_request", fields=["Idempotency-Key"])
    assert count(app, "contact") == 0
    ok = api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "k" * 255})
    assert ok.status_code == 201


def test_expired_key_can_be_used_again(api, app):
    first = api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "old"})
    long_ago = datetime.now(timezone.utc) - timedelta(hours=25)
    set_columns(app, "idempotency_record", None, created_at=long_ago)
    second = api.post("/contacts", json={"last_name": "Doe"}, headers={"Idempotency-Key": "old"})
    assert second.status_code == 201
    assert second.json["id"] != first.json["id"]
    assert count(app, "contact") == 2


def test_concurrent_retries_with_one_key_create_one_record(api, app):
    threads_count = 4
    barrier = threading.Barrier(threads_count)
    results = [None] * threads_count
    body = {"first_name": "Grace", "last_name": "Hopper"}

    def send(i):
        client = ApiClient(app, api.token)
        barrier.wait()
        response = client.post("/contacts", json=body, headers={"Idempotency-Key": "race"})
        results[i] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(threads_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [status for status, _ in results] == [201] * threads_count, results
    assert len({body["id"] for _, body in results}) == 1
    assert count(app, "contact") == 1
    assert count(app, "idempotency_record") == 1
