"""An integrator configures instance A through the API (a record type, fields, a term, a
stage, a choice, a shared view, a rule), exports A's own layer as a pack, and applies it
on a fresh instance B on a database of its own: B then shows the same. On A, a pack that
would change A's own objects is refused with the conflicts, changing nothing."""

import os

import pytest
from sqlalchemy import create_engine, make_url, text

from accord.core import changesets, pack_plan
from accord.core.errors import Conflict
from accord.core.pack_export import export_local_layer
from accord.core.verticals import load_pack_from
from accord.testing import api_client, close_app, make_user
from api_helpers import add_field, count, create

RIVAL = '''[pack]
name = "rival"
version = "1.0.0"
title = "Rival"

[terms]
deal = { label = "Offer", plural = "Offers" }

[pipelines.sales]
stages = [ { key = "viewing", label = "Tour", probability = 20 } ]
'''


@pytest.fixture
def second_app(accord_app_factory, tmp_path):
    """Instance B: on SQLite a database file of its own; on PostgreSQL a database of its own
    beside the session's, migrated from scratch."""
    url = os.environ.get("ACCORD_TEST_DATABASE_URL")
    if not url:
        yield accord_app_factory()
        return
    from accord.core import create_app
    from accord.core.config import _normalise_database_url
    from accord.core.migrate import upgrade

    base = make_url(_normalise_database_url(url))
    name = f"accord_test_{os.getpid()}_layer_b"
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = tmp_path / "instance_b"
    folder.mkdir()
    app = create_app({"INSTANCE_PATH": str(folder),
                      "DATABASE_URL": base.set(database=name).render_as_string(hide_password=False)})
    upgrade(app)
    yield app
    close_app(app)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def ok(answer, status=201):
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()


def configure(api):
    """What an integrator does on instance A, all through the API."""
    ok(api.post("/types", json={"key": "property", "label": "Property", "plural_label": "Properties",
                                "plural": "properties", "title_fields": ["address"], "timeline": True}))
    add_field(api, "property", name="address", kind="text", required=True, searchable=True)
    add_field(api, "property", name="bedrooms", kind="integer")
    add_field(api, "deal", name="commission_rate", kind="decimal", label="Commission rate (%)")
    add_field(api, "contact", name="tier", kind="choice", choices=["gold", "silver"])
    ok(api.post("/types/contact/fields/tier/choices", json={"key": "bronze", "label": "Bronze"}))
    ok(api.post("/types/activity/fields/kind/choices", json={"key": "visit", "label": "Visit"}))
    ok(api.request("PUT", "/terms/type:deal", json={"label": "Listing", "plural_label": "Listings"}), 200)
    ok(api.request("PUT", "/terms/stage:sales.won", json={"label": "Sold"}), 200)
    ok(api.post("/pipelines/sales/stages", json={"key": "viewing", "label": "Viewing", "probability": 20,
                                                  "after": "lead"}))
    ok(api.post("/views", json={"record_type": "deal", "name": "Open listings",
                                "query": "stage__in=lead,viewing&sort=-amount"}))
    ok(api.post("/automation/rules", json={
        "key": "first_visit", "label": "Book a first visit", "record_type": "property", "trigger": "created",
        "actions": [{"do": "create_task", "subject": "Book a visit", "due_in_days": 2}]}))


def shows_the_layer(api, origin):
    """What B (or A) answers about the configured layer."""
    prop = ok(api.get("/types/property"), 200)
    assert (prop["label"], prop["plural"], prop["title_fields"], prop["timeline"]) == (
        "Property", "properties", ["address"], True)
    assert {"address", "bedrooms"} <= {f["name"] for f in prop["fields"]}
    deal = ok(api.get("/types/deal"), 200)
    assert (deal["label"], deal["plural_label"]) == ("Listing", "Listings")
    assert "commission_rate" in {f["name"] for f in deal["fields"]}
    stages = ok(api.get("/pipelines/sales"), 200)["stages"]
    assert [s["key"] for s in stages][:3] == ["lead", "viewing", "qualified"]
    assert next(s for s in stages if s["key"] == "won")["label"] == "Sold"
    tier = next(f for f in ok(api.get("/types/contact"), 200)["fields"] if f["name"] == "tier")
    assert [c["key"] for c in tier["choices"]] == ["gold", "silver", "bronze"]
    kind = next(f for f in ok(api.get("/types/activity"), 200)["fields"] if f["name"] == "kind")
    assert "visit" in [c["key"] for c in kind["choices"]]
    views = ok(api.get("/views?record_type=deal"), 200)["data"]
    assert [(v["name"], v["query"], v["origin"]) for v in views] == [
        ("Open listings", "stage__in=lead,viewing&sort=-amount", origin)]
    rules = ok(api.get("/automation/rules"), 200)["data"]
    assert [(r["key"], r["origin"]) for r in rules] == [("first_visit", origin)]


def test_a_configured_instance_ships_to_the_next_customer(app, api, second_app, tmp_path):
    configure(api)
    shows_the_layer(api, "local")
    with app.test_request_context():
        folder = export_local_layer("acme", tmp_path / "packs", title="Acme brokerage")
    assert (folder / "vertical.toml").is_file()

    admin_b = make_user(second_app, "admin@b.example.com", "Bea Admin", is_admin=True)
    api_b = api_client(second_app, admin_b)
    assert api_b.get("/types/property").status_code == 404
    with second_app.test_request_context():
        outcome = changesets.apply(load_pack_from(folder), "test")
    assert outcome.status == "applied"
    shows_the_layer(api_b, "pack:acme")
    record = create(api_b, "properties", address="1 Main Street", bedrooms=3)
    assert record["address"] == "1 Main Street"
    assert count(second_app, "activity", "subject = 'Book a visit'") == 1


def test_a_pack_never_overwrites_the_local_layer(app, api, tmp_path):
    configure(api)
    (tmp_path / "rival").mkdir()
    (tmp_path / "rival" / "vertical.toml").write_text(RIVAL)
    pack = load_pack_from(tmp_path / "rival")
    with app.test_request_context():
        planned = pack_plan.plan(pack)
        reasons = [c.reason for c in planned.conflicts]
        assert len(reasons) == 2 and all("own layer" in reason for reason in reasons), reasons
        with pytest.raises(Conflict):
            changesets.apply(pack, "test")
    shows_the_layer(api, "local")
    assert count(app, "vertical_changeset") == 0
