"""``/api/v1/admin/webhooks``: administrators subscribe URLs, change and delete them,
follow their deliveries and replay them; bad input is refused naming the field."""

import pytest

from accord.core import jobs
from accord.testing import api_client, make_user
from api_helpers import assert_error, count, scalar


@pytest.fixture
def hook(api):
    response = api.post("/admin/webhooks", json={
        "url": "https://hooks.example.com/accord", "events": ["updated", "created"], "record_types": ["deal"],
        "description": "Billing sync",
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def test_admins_create_read_change_and_delete_webhooks(app, api, hook):
    created = hook.json
    assert hook.headers["Location"] == f"/api/v1/admin/webhooks/{created['id']}"
    assert created["events"] == ["created", "updated"] and created["record_types"] == ["deal"]
    assert created["active"] is True and created["description"] == "Billing sync"
    assert len(created["secret"]) >= 32, "a generated secret, shown on creation"
    assert scalar(app, "SELECT secret FROM webhook_subscription") == created["secret"]
    shown = {key: value for key, value in created.items() if key != "secret"}
    assert api.get(f"/admin/webhooks/{created['id']}").json == shown, "the secret is never shown again"
    assert api.get("/admin/webhooks").json == {"data": [shown]}

    own = api.post("/admin/webhooks", json={"url": "http://10.0.0.5:8080/in", "secret": "s" * 16})
    assert own.status_code == 201 and own.json["secret"] == "s" * 16
    assert own.json["events"] == ["created", "updated", "deleted", "restored", "stage_changed", "erased"]
    assert own.json["record_types"] is None

    changed = api.patch(f"/admin/webhooks/{created['id']}", json={
        "url": "https://hooks.example.com/v2", "events": ["stage_changed"], "record_types": None,
        "active": False, "secret": "rotated-secret-1234",
    })
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.json["url"], changed.json["events"], changed.json["record_types"], changed.json["active"]) == (
        "https://hooks.example.com/v2", ["stage_changed"], None, False)
    assert "secret" not in changed.json
    assert scalar(app, "SELECT secret FROM webhook_subscription WHERE id = :id", id=created["id"]) == "rotated-secret-1234"

    assert api.delete(f"/admin/webhooks/{created['id']}").status_code == 204
    assert_error(api.get(f"/admin/webhooks/{created['id']}"), 404, "not_found")
    assert_error(api.delete(f"/admin/webhooks/{created['id']}"), 404, "not_found")
    assert [h["id"] for h in api.get("/admin/webhooks").json["data"]] == [own.json["id"]]


@pytest.mark.parametrize("body, field", [
    ({}, "url"),
    ({"url": "ftp://example.com/in"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "https://example.com:99999/in"}, "url"),
    ({"url": "https://user:pass@example.com/in"}, "url"),
    ({"url": 42}, "url"),
    ({"url": "https://example.com/in", "events": ["archived"]}, "events"),
    ({"url": "https://example.com/in", "events": []}, "events"),
    ({"url": "https://example.com/in", "events": "created"}, "events"),
    ({"url": "https://example.com/in", "record_types": ["spaceship"]}, "record_types"),
    ({"url": "https://example.com/in", "record_types": []}, "record_types"),
    ({"url": "https://example.com/in", "secret": "short"}, "secret"),
    ({"url": "https://example.com/in", "secret": "has spaces in it, sadly"}, "secret"),
    ({"url": "https://example.com/in", "active": "yes"}, "active"),
    ({"url": "https://example.com/in", "description": "x" * 501}, "description"),
    ({"url": "https://example.com/in", "colour": "blue"}, "colour"),
])
def test_bad_webhooks_are_refused_naming_the_field(app, api, body, field):
    error = assert_error(api.post("/admin/webhooks", json=body), 422, "validation_failed", fields=[field])
    assert list(error["fields"]) == [field]
    assert count(app, "webhook_subscription") == 0


def test_bad_requests_name_what_is_wrong(api, hook):
    hook_id = hook.json["id"]
    assert_error(api.post("/admin/webhooks", data="{", content_type="application/json"), 400, "bad_request")
    assert_error(api.patch(f"/admin/webhooks/{hook_id}", json={"events": ["archived"]}), 422, fields=["events"])
    assert_error(api.patch("/admin/webhooks/999", json={"active": False}), 404, "not_found")
    assert_error(api.get(f"/admin/webhooks/{hook_id}/deliveries?status=lost"), 400, fields=["status"])
    assert_error(api.get(f"/admin/webhooks/{hook_id}/deliveries?limit=0"), 400, fields=["limit"])
    assert_error(api.get(f"/admin/webhooks/{hook_id}/deliveries?cursor=x"), 400, fields=["cursor"])
    assert_error(api.get("/admin/webhooks/999/deliveries"), 404, "not_found")
    assert_error(api.get("/admin/webhooks/deliveries/999"), 404, "not_found")
    assert_error(api.post("/admin/webhooks/deliveries/999/replay"), 404, "not_found")


def test_deliveries_are_listed_newest_first_filtered_and_paged(app, api, hook):
    deal = api.post("/deals", json={"name": "Pilot"}).json
    for amount in ("100", "200", "300"):
        api.patch(f"/deals/{deal['id']}", json={"amount": amount})
    path = f"/admin/webhooks/{hook.json['id']}/deliveries"
    listed = api.get(path).json
    assert [d["event"] for d in listed["data"]] == ["updated"] * 3 + ["created"] and listed["next_cursor"] is None
    assert {d["status"] for d in listed["data"]} == {"pending"} and {d["attempt_count"] for d in listed["data"]} == {0}
    first = api.get(f"{path}?limit=3").json
    rest = api.get(f"{path}?limit=3&cursor={first['next_cursor']}").json
    assert [d["id"] for d in first["data"] + rest["data"]] == [d["id"] for d in listed["data"]]
    assert rest["next_cursor"] is None
    created = listed["data"][-1]
    assert [d["id"] for d in api.get(f"{path}?event_id={created['event_id']}").json["data"]] == [created["id"]]
    assert api.get(f"{path}?status=delivered").json["data"] == []
    detail = api.get(f"/admin/webhooks/deliveries/{created['id']}").json
    assert detail["payload"]["record"]["id"] == deal["id"] and detail["payload"]["event_id"] == created["event_id"]
    assert detail["attempts"] == []


def test_a_replay_queues_the_delivery_again(app, api, hook):
    api.post("/deals", json={"name": "Pilot"})
    [pending] = api.get(f"/admin/webhooks/{hook.json['id']}/deliveries").json["data"]
    replayed = api.post(f"/admin/webhooks/deliveries/{pending['id']}/replay")
    assert replayed.status_code == 202 and replayed.json["replays"] == 1 and replayed.json["status"] == "pending"
    assert replayed.json["event_id"] == pending["event_id"]
    with app.app_context():
        keys = sorted(job.key for job in jobs.listing("queued", "accord.webhook_delivery"))
    assert keys == [str(pending["id"]), f"{pending['id']}/replay-1"]


def test_only_administrators_manage_webhooks(app, hook):
    seller = api_client(app, make_user(app, "sam@example.com", "Sam"))
    hook_id = hook.json["id"]
    for method, path in (("GET", "/admin/webhooks"), ("POST", "/admin/webhooks"), ("GET", f"/admin/webhooks/{hook_id}"),
                         ("PATCH", f"/admin/webhooks/{hook_id}"), ("DELETE", f"/admin/webhooks/{hook_id}"),
                         ("GET", f"/admin/webhooks/{hook_id}/deliveries"), ("GET", "/admin/webhooks/deliveries/1"),
                         ("POST", "/admin/webhooks/deliveries/1/replay")):
        assert_error(seller.request(method, path, json={"url": "https://example.com"}), 403, "forbidden", where=path)
    assert count(app, "webhook_subscription") == 1
