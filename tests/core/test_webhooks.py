"""Outgoing webhooks end to end, against a real HTTP receiver on loopback: events are
stored with the write that causes them (nothing on a rollback, nothing without a
subscription), signed, filtered by event and record type, retried until the receiver
is back, failed after the last attempt, replayed with the same event id, and cancelled
when their subscription is switched off or deleted."""

import json
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from accord.core import jobs, webhooks
from accord.core.db import db, utcnow
from accord.core.models import Job
from accord.core.records import Actor, write_unit
from accord.core.registry import current_accord
from accord.testing import close_app
from api_helpers import add_field, count, dialect, in_app, sql
from webhook_receiver import running_receiver, signature_is_valid

DEPLOY_GUIDE = Path(__file__).parents[2] / "docs" / "deploy.md"


@pytest.fixture
def receiver():
    with running_receiver() as receiver:
        yield receiver


def subscribe(api, receiver, name, **spec):
    """Subscribe the receiver's path ``name``; the receiver learns the secret Accord made."""
    response = api.post("/admin/webhooks", json={"url": receiver.endpoint(name), **spec})
    assert response.status_code == 201, response.get_data(as_text=True)
    receiver.secrets[name] = response.json["secret"]
    return response.json


def send(app, rounds=1):
    """Run the due jobs ``rounds`` times, making the retried ones due at once in between
    (their backoff is the production one; only the clock is skipped)."""
    ran = 0
    for _ in range(rounds):
        ran += jobs.run_due(app)
        with app.app_context():
            db.session.execute(update(Job).where(Job.state == "queued").values(run_at=utcnow()))
            db.session.commit()
    return ran


def delivery(api, delivery_id):
    response = api.get(f"/admin/webhooks/deliveries/{delivery_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_events_are_signed_and_a_receiver_with_another_secret_refuses_them(app, api, receiver):
    subscribe(api, receiver, "right")
    wrong = subscribe(api, receiver, "wrong")
    receiver.secrets["wrong"] = "not-the-secret-accord-signs-with"
    deal = api.post("/deals", json={"name": "Pilot"}).json
    send(app)

    [arrived] = [r for r in receiver.seen("right") if r["body"]["event"] == "created"]
    headers, raw = arrived["headers"], arrived["raw"]
    assert arrived["status"] == 200 and headers["Content-Type"] == "application/json"
    assert signature_is_valid(receiver.secrets["right"], headers["Accord-Signature"], raw)
    assert not signature_is_valid(receiver.secrets["right"], headers["Accord-Signature"], raw + b" ")
    assert not signature_is_valid("another-secret-entirely", headers["Accord-Signature"], raw)
    timestamp = int(headers["Accord-Signature"].split(",")[0][2:])
    assert not signature_is_valid(receiver.secrets["right"], headers["Accord-Signature"], raw, now=timestamp + 301)
    assert headers["Accord-Event"] == "created" and arrived["body"]["record"]["id"] == deal["id"]
    assert headers["Accord-Event-Id"] == arrived["body"]["event_id"] and uuid.UUID(headers["Accord-Event-Id"])

    refused = api.get(f"/admin/webhooks/{wrong['id']}/deliveries").json["data"]
    assert {d["status"] for d in refused} == {"pending"} and {d["attempt_count"] for d in refused} == {1}
    assert delivery(api, refused[0]["id"])["attempts"][0]["status_code"] == 401
    assert delivery(api, refused[0]["id"])["attempts"][0]["error"] == "HTTP 401: ok"


def test_each_change_of_a_deal_arrives_as_its_event_with_the_record_as_the_api_answers_it(app, api, admin, receiver):
    subscription = subscribe(api, receiver, "deals", record_types=["deal"])
    created = api.post("/deals", json={"name": "Pilot", "amount": "1000"}).json
    priced = api.patch(f"/deals/{created['id']}", json={"amount": "1500"}).json
    qualified = api.patch(f"/deals/{created['id']}", json={"stage": "qualified"}).json
    assert api.delete(f"/deals/{created['id']}").status_code == 204
    restored = api.post(f"/deals/{created['id']}/restore").json
    assert count(app, "webhook_delivery") == 7, "every event is stored with its write"
    send(app)

    arrived = sorted(receiver.seen("deals"), key=lambda r: int(r["headers"]["Accord-Delivery"]))
    assert [r["status"] for r in arrived] == [200] * 7
    bodies = [r["body"] for r in arrived]
    assert [b["event"] for b in bodies] == ["created", "stage_changed", "updated", "updated", "stage_changed",
                                            "deleted", "restored"]
    assert [r["headers"]["Accord-Event"] for r in arrived] == [b["event"] for b in bodies]
    for body in bodies:
        assert body["record_type"] == "deal" and body["record_id"] == created["id"]
        assert body["actor_id"] == admin.id and body["occurred_at"] == body["record"]["updated_at"]
    assert bodies[0]["record"] == created and "changes" not in bodies[0]
    assert bodies[0]["event_id"] != bodies[1]["event_id"], "each event has its own id"
    assert bodies[1]["stage"] == {"pipeline": "sales", "from": None, "to": "lead"}
    assert bodies[2]["record"] == priced
    assert bodies[2]["changes"]["amount"] == {"from": created["amount"], "to": priced["amount"]}
    assert "stage" not in bodies[2]["changes"]
    assert bodies[3]["changes"]["stage"] == {"from": "lead", "to": "qualified"}
    assert bodies[4]["stage"] == {"pipeline": "sales", "from": "lead", "to": "qualified"}
    assert bodies[3]["record"] == bodies[4]["record"] == qualified
    assert bodies[5]["record"]["deleted_at"] is not None and bodies[5]["record"]["version"] == qualified["version"] + 1
    assert bodies[6]["record"] == restored and "deleted_at" not in restored
    listed = api.get(f"/admin/webhooks/{subscription['id']}/deliveries").json["data"]
    assert {d["status"] for d in listed} == {"delivered"}


def test_an_erasure_tells_each_subscriber_which_fields_of_which_records_it_emptied(app, api, admin, receiver):
    subscribe(api, receiver, "erasures", events=["erased"])
    subscribe(api, receiver, "deals-only", events=["erased"], record_types=["deal"])
    person = api.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                         "phone": "+44 20 7946 0000", "city": "London"}).json
    note = api.post("/activities", json={"kind": "note", "subject": "Met Ada at the exhibition",
                                         "related_type": "contact", "related_id": person["id"]}).json
    add_field(api, "deal", name="buyer_note", kind="text", pii=True)
    deal = api.post("/deals", json={"name": "Engine", "contact_ids": [person["id"]], "buyer_note": "Ada pays"}).json
    answer = api.post(f"/contacts/{person['id']}/erase")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    erased = {(e["record_type"], e["record_id"]): e["fields"] for e in answer.json["erased"]}
    assert erased[("deal", deal["id"])] == ["buyer_note"]
    assert ("contact", person["id"]) in erased and ("activity", note["id"]) in erased
    send(app)

    bodies = receiver.accepted("erasures")
    assert {(b["record_type"], b["record_id"]): b["fields"] for b in bodies} == erased
    assert {b["event"] for b in bodies} == {"erased"} and all(b["actor_id"] == admin.id for b in bodies)
    contact_event = next(b for b in bodies if b["record_type"] == "contact")
    assert contact_event["record"] == api.get(f"/contacts/{person['id']}").json
    assert contact_event["record"]["city"] == "London", "what is not personal stays and is sent as it is"
    for text in ("Ada", "Lovelace", "ada@example.com", "7946", "exhibition"):
        assert not any(text in str(b) for b in bodies), text
    assert [(b["record_type"], b["record_id"], b["fields"]) for b in receiver.accepted("deals-only")] == [
        ("deal", deal["id"], ["buyer_note"])]


def test_subscriptions_get_only_the_events_and_types_they_ask_for(app, api, receiver):
    subscribe(api, receiver, "new-deals", events=["created"], record_types=["deal"])
    subscribe(api, receiver, "people-out", events=["deleted", "restored"], record_types=["contact", "organization"])
    subscribe(api, receiver, "moves", events=["stage_changed"])
    silent = subscribe(api, receiver, "silent")
    assert api.patch(f"/admin/webhooks/{silent['id']}", json={"active": False}).status_code == 200
    contact = api.post("/contacts", json={"last_name": "Doe"}).json
    deal = api.post("/deals", json={"name": "Pilot"}).json
    api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"})
    api.post("/organizations", json={"name": "Acme"})
    api.delete(f"/contacts/{contact['id']}")
    api.delete(f"/deals/{deal['id']}")
    send(app)

    assert [(b["event"], b["record_type"]) for b in receiver.accepted("new-deals")] == [("created", "deal")]
    assert [(b["event"], b["record_type"]) for b in receiver.accepted("people-out")] == [("deleted", "contact")]
    assert [(b["stage"]["from"], b["stage"]["to"]) for b in receiver.accepted("moves")] == [(None, "lead"),
                                                                                          ("lead", "qualified")]
    assert receiver.seen("silent") == []
    assert count(app, "webhook_delivery", "subscription_id = :id", id=silent["id"]) == 0


def test_a_receiver_that_answers_500_three_times_gets_the_event_once_it_is_back(app, api, receiver):
    subscription = subscribe(api, receiver, "flaky", events=["created"])
    receiver.scripts["flaky"] = [500, 500, 500]
    deal = api.post("/deals", json={"name": "Pilot"}).json
    before = utcnow()
    assert jobs.run_due(app) == 1
    with app.app_context():
        [waiting] = jobs.listing("queued", webhooks.DELIVERY_JOB)
        assert timedelta(seconds=9) < waiting.run_at - before < timedelta(seconds=11), "production backoff"
        assert waiting.max_attempts == webhooks.MAX_ATTEMPTS
    assert send(app, rounds=4) == 3

    [sent] = api.get(f"/admin/webhooks/{subscription['id']}/deliveries").json["data"]
    detail = delivery(api, sent["id"])
    assert detail["status"] == "delivered" and detail["attempt_count"] == 4 and detail["delivered_at"]
    assert [a["status_code"] for a in detail["attempts"]] == [500, 500, 500, 200]
    assert [a["error"] for a in detail["attempts"]] == ["HTTP 500: ok"] * 3 + [None]
    assert all(isinstance(a["duration_ms"], int) and a["attempted_at"] for a in detail["attempts"])
    tries = receiver.seen("flaky")
    assert len(tries) == 4 and len({t["raw"] for t in tries}) == 1, "every try sends the same body"
    assert len({t["headers"]["Accord-Event-Id"] for t in tries}) == 1
    [accepted] = receiver.accepted("flaky")
    assert accepted["record"]["id"] == deal["id"] and accepted["event_id"] == detail["payload"]["event_id"]
    assert in_app(app, jobs.counts)["queued"] == 0


def test_a_delivery_whose_attempts_run_out_is_failed_until_replayed_with_the_same_event_id(app, api, receiver):
    subscription = subscribe(api, receiver, "down", events=["created"])
    receiver.scripts["down"] = [503] * 100
    api.post("/contacts", json={"last_name": "Doe"})
    send(app)
    sql(app, "UPDATE job SET attempts = max_attempts - 1")
    send(app)
    [failed] = api.get(f"/admin/webhooks/{subscription['id']}/deliveries?status=failed").json["data"]
    assert failed["attempt_count"] == 2 and failed["last_error"] == "HTTP 503: ok"
    with app.app_context():
        assert jobs.listing("failed", webhooks.DELIVERY_JOB)[0].last_error.strip().endswith("HTTP 503: ok")

    receiver.scripts["down"] = []
    replayed = api.post(f"/admin/webhooks/deliveries/{failed['id']}/replay")
    assert replayed.status_code == 202 and replayed.json["status"] == "pending" and replayed.json["replays"] == 1
    send(app)
    detail = delivery(api, failed["id"])
    assert detail["status"] == "delivered" and detail["last_error"] is None
    assert [(a["replay"], a["status_code"]) for a in detail["attempts"]] == [(0, 503), (0, 503), (1, 200)]
    assert api.post(f"/admin/webhooks/deliveries/{failed['id']}/replay").status_code == 202
    send(app)
    event_ids = [r["headers"]["Accord-Event-Id"] for r in receiver.seen("down")]
    assert len(event_ids) == 4 and len(set(event_ids)) == 1
    assert [b["event_id"] for b in receiver.accepted("down")] == [failed["event_id"]] * 2


def test_the_verification_snippet_of_the_deploy_guide_accepts_accord_and_nothing_else(app, api, receiver):
    blocks = re.findall(r"```python\n(.*?)```", DEPLOY_GUIDE.read_text(), flags=re.S)
    namespace = {}
    exec(next(block for block in blocks if "def verify(" in block), namespace)
    verify = namespace["verify"]
    subscribe(api, receiver, "docs", events=["created"])
    api.post("/contacts", json={"last_name": "Doe"})
    send(app)
    [arrived] = receiver.seen("docs")
    secret, header, raw = receiver.secrets["docs"], arrived["headers"]["Accord-Signature"], arrived["raw"]
    assert verify(secret, header, raw)
    assert not verify("a-secret-that-is-not-it", header, raw)
    assert not verify(secret, header, raw.replace(b"Doe", b"Dough"))
    assert not verify(secret, header, raw, now=time.time() + 301)
    assert not verify(secret, "v1=deadbeef", raw)


def test_a_write_that_rolls_back_sends_nothing(app, api, admin, receiver):
    subscribe(api, receiver, "all")
    actor = Actor(user_id=admin.id, source="test", is_admin=True)

    def create_then_fail():
        with pytest.raises(RuntimeError):
            with write_unit():
                current_accord().records.create("deal", {"name": "Never"}, actor)
                raise RuntimeError("the request failed after the write")

    with app.test_request_context():
        create_then_fail()
    assert count(app, "webhook_delivery") == 0 and count(app, "job") == 0
    assert send(app) == 0 and receiver.requests == []


def test_a_write_with_no_subscription_stores_nothing_and_asks_nothing(app, api, count_statements):
    api.post("/contacts", json={"last_name": "Warm"})
    with count_statements() as seen:
        assert api.post("/contacts", json={"last_name": "Doe"}).status_code == 201
    assert [s for s in seen if "webhook" in s.lower()] == [], "the subscriptions are cached per generation"
    assert count(app, "webhook_delivery") == 0 and count(app, "job") == 0


def test_a_new_subscription_reaches_another_worker_on_its_next_request(app, api, admin, receiver, tmp_path):
    from accord.core import create_app

    other = create_app({"INSTANCE_PATH": str(tmp_path / "other"), "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        actor = Actor(user_id=admin.id, source="test", is_admin=True)
        with other.test_request_context():
            current_accord(other).records.create("contact", {"last_name": "Before"}, actor)
        subscribe(api, receiver, "later", events=["created"])
        with other.test_request_context():
            current_accord(other).records.create("contact", {"last_name": "After"}, actor)
    finally:
        close_app(other)
    send(app)
    assert [b["record"]["last_name"] for b in receiver.accepted("later")] == ["After"]


def test_a_switched_off_or_deleted_subscription_sends_nothing_more(app, api, receiver):
    paused = subscribe(api, receiver, "paused", events=["created"])
    gone = subscribe(api, receiver, "gone", events=["created"])
    api.post("/contacts", json={"last_name": "Doe"})
    assert api.patch(f"/admin/webhooks/{paused['id']}", json={"active": False}).json["active"] is False
    [cancelled] = api.get(f"/admin/webhooks/{paused['id']}/deliveries?status=cancelled").json["data"]
    assert api.delete(f"/admin/webhooks/{gone['id']}").status_code == 204
    orphan = sql(app, "SELECT id, status, subscription_id FROM webhook_delivery WHERE id != :id", id=cancelled["id"])
    assert [(status, subscription) for _, status, subscription in orphan] == [("cancelled", None)]
    send(app)
    assert receiver.requests == []
    assert delivery(api, orphan[0][0])["status"] == "cancelled"
    assert api.post(f"/admin/webhooks/deliveries/{cancelled['id']}/replay").status_code == 409
    assert api.patch(f"/admin/webhooks/{paused['id']}", json={"active": True}).status_code == 200
    assert api.post(f"/admin/webhooks/deliveries/{cancelled['id']}/replay").status_code == 202
    send(app)
    assert len(receiver.accepted("paused")) == 1


def test_a_receiver_that_cannot_be_reached_is_logged_and_retried(app, api, receiver):
    subscription = subscribe(api, receiver, "unused", events=["created"])
    receiver.close()
    api.post("/contacts", json={"last_name": "Doe"})
    send(app)
    [pending] = api.get(f"/admin/webhooks/{subscription['id']}/deliveries").json["data"]
    [attempt] = delivery(api, pending["id"])["attempts"]
    assert pending["status"] == "pending" and attempt["status_code"] is None
    assert "Connection refused" in attempt["error"] or "ConnectionRefusedError" in attempt["error"]


def test_the_migration_creates_what_the_models_declare(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata) if "webhook" in repr(d)]
    assert differences == [], (dialect(app), differences)


def test_subscriptions_to_every_earlier_event_get_erased_events_after_the_upgrade(app, api, receiver):
    from alembic import command
    from accord.core.migrate import alembic_config

    everything = subscribe(api, receiver, "everything")
    some = subscribe(api, receiver, "some", events=["created", "deleted"])
    only_erased = subscribe(api, receiver, "only-erased", events=["erased"])
    assert everything["events"][-1] == "erased"

    def events():
        rows = sql(app, "SELECT id, events, active FROM webhook_subscription ORDER BY id")
        return {row[0]: (row[1] if isinstance(row[1], list) else json.loads(row[1]), bool(row[2])) for row in rows}

    with app.app_context(), db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0014_verticals")
    earlier = ["created", "updated", "deleted", "restored", "stage_changed"]
    assert events() == {everything["id"]: (earlier, True), some["id"]: (["created", "deleted"], True),
                        only_erased["id"]: ([], False)}
    with app.app_context(), db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "heads")
    assert events() == {everything["id"]: ([*earlier, "erased"], True), some["id"]: (["created", "deleted"], True),
                        only_erased["id"]: ([], False)}
