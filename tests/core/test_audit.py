"""The audit trail as the service layer writes it: one entry per write, with who acted,
through which door and the fields before and after; none for a write that rolls back;
imports, exports and bulk writes covered in one statement per write unit; and no way,
even in raw SQL, to change or remove an entry."""

import io
import json

import pytest
from sqlalchemy.exc import DBAPIError

from accord.core.db import db
from accord.core.errors import RecordInvalid
from accord.core.records import Actor, write_unit
from accord.core.registry import current_accord
from accord.core.transfer import export_records, import_file
from accord.testing import make_user
from api_helpers import add_field, count, create, dialect, in_app, sql

COLUMNS = "actor_id, actor_name, source, action, record_type, record_id, changes, details, request_id"


def entries(app, where="1=1", **params):
    """Every audit entry matching ``where``, oldest first, as dicts with ``changes`` and
    ``details`` decoded."""
    rows = sql(app, f"SELECT {COLUMNS} FROM audit_entry WHERE {where} ORDER BY id", **params)
    found = []
    for row in rows:
        entry = dict(zip([c.strip() for c in COLUMNS.split(",")], row))
        for name in ("changes", "details"):
            if isinstance(entry[name], str):
                entry[name] = json.loads(entry[name])
        found.append(entry)
    return found


def test_create_update_trash_and_restore_each_leave_one_entry_with_actor_and_values(app, api, admin):
    org = create(api, "organizations", name="Acme")
    sent = {"X-Request-ID": "req-audit-1"}
    contact = create(api, "contacts", headers=sent, last_name="Doe", email="doe@example.com",
                     organization_id=org["id"])
    [created] = entries(app, "record_type = 'contact'")
    assert created == {
        "actor_id": admin.id, "actor_name": "Ada Admin", "source": "api", "action": "created",
        "record_type": "contact", "record_id": contact["id"], "details": None, "request_id": "req-audit-1",
        "changes": {"last_name": [None, "Doe"], "email": [None, "doe@example.com"],
                    "organization_id": [None, org["id"]], "owner_id": [None, admin.id]},
    }

    changed = api.patch(f"/contacts/{contact['id']}", json={"email": "jane@example.com", "first_name": "Jane",
                                                              "last_name": "Doe"})
    assert changed.status_code == 200
    deleted = api.delete(f"/contacts/{contact['id']}")
    assert deleted.status_code == 204
    assert api.post(f"/contacts/{contact['id']}/restore").status_code == 200
    trail = entries(app, "record_type = 'contact'")
    assert [e["action"] for e in trail] == ["created", "updated", "deleted", "restored"]
    assert trail[1]["changes"] == {"email": ["doe@example.com", "jane@example.com"], "first_name": [None, "Jane"]}
    assert trail[2]["changes"] is None and trail[3]["changes"] is None
    assert {(e["actor_id"], e["source"], e["record_id"]) for e in trail} == {(admin.id, "api", contact["id"])}
    assert all(e["request_id"] for e in trail) and trail[1]["request_id"] != "req-audit-1"


def test_values_are_kept_in_the_api_json_form(app, api):
    add_field(api, "deal", name="budget", kind="money")
    contact = create(api, "contacts", last_name="Doe")
    deal = create(api, "deals", name="Big", amount="10.5", expected_close_date="2025-03-01",
                  budget={"amount": "5", "currency": "USD"})
    api.patch(f"/deals/{deal['id']}", json={"amount": "1200", "contact_ids": [contact["id"]], "stage": "qualified",
                                             "budget": {"amount": "7.25", "currency": "USD"}})
    created, updated = entries(app, "record_type = 'deal'")
    assert created["changes"]["amount"] == [None, "10.50"]
    assert created["changes"]["expected_close_date"] == [None, "2025-03-01"]
    assert created["changes"]["expected_close_month"] == [None, "2025-03"]
    assert created["changes"]["stage"] == [None, "lead"] and created["changes"]["pipeline"] == [None, "sales"]
    assert created["changes"]["budget"] == [None, {"amount": "5.00", "currency": "USD"}]
    assert "contact_ids" not in created["changes"] and "description" not in created["changes"]
    assert updated["changes"] == {
        "amount": ["10.50", "1200.00"], "stage": ["lead", "qualified"], "contact_ids": [[], [contact["id"]]],
        "budget": [{"amount": "5.00", "currency": "USD"}, {"amount": "7.25", "currency": "USD"}],
    }


def test_an_update_that_changes_nothing_leaves_no_entry(app, api):
    contact = create(api, "contacts", last_name="Doe")
    assert api.patch(f"/contacts/{contact['id']}", json={"last_name": "Doe"}).status_code == 200
    assert [e["action"] for e in entries(app)] == ["created"]


def test_writes_that_roll_back_leave_no_entry(with_plugins):
    app = with_plugins("vetoing_plugin")
    admin = make_user(app, "admin@example.com", "Ada Admin", is_admin=True)
    from accord.testing import api_client

    api = api_client(app, admin)
    assert api.post("/contacts", json={"last_name": "Doe", "email": "x@blocked.example"}).status_code == 422
    assert api.post("/contacts", json={"last_name": "Explode"}).status_code == 500
    kept = create(api, "contacts", last_name="Kept")
    assert api.patch(f"/contacts/{kept['id']}", json={"last_name": "Explode"}).status_code == 500
    deal = create(api, "deals", name="Tiny", amount="10")
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "proposal"}).status_code == 422
    actor = Actor(user_id=admin.id, source="test", is_admin=True, name="test")

    def create_then_fail():
        with pytest.raises(RuntimeError):
            with write_unit():
                current_accord().records.create("contact", {"last_name": "Never"}, actor)
                raise RuntimeError("the request failed after the write")

    with app.test_request_context():
        create_then_fail()
    trail = entries(app)
    assert [(e["action"], e["record_type"], e["record_id"]) for e in trail] == [
        ("created", "contact", kept["id"]), ("created", "deal", deal["id"])]
    assert count(app, "contact") == 1


def test_a_bulk_write_costs_no_statement_per_entry_and_leaves_none_when_refused(app, admin, count_statements):
    """SQLite: the unit's entries go in one statement at commit. PostgreSQL: each entry
    is inserted by its record's own INSERT, so the trail adds no statement at all."""
    actor = Actor(user_id=admin.id, source="test", is_admin=True, name="Ada Admin")
    rows = [{"last_name": f"Row {i}"} for i in range(25)]
    with app.test_request_context(), count_statements() as seen:
        created = current_accord(app).records.create_many("contact", rows, actor)
    inserts = [s for s in seen if "audit_entry" in s]
    if dialect(app) == "postgresql":
        assert len(inserts) == 25
        assert all("INSERT INTO contact" in s and "INSERT INTO audit_entry" in s for s in inserts)
    else:
        assert len(inserts) == 1 and inserts[0].lstrip().upper().startswith("INSERT")
    trail = entries(app)
    assert [e["record_id"] for e in trail] == [record.id for record in created]
    assert {(e["action"], e["source"], e["actor_id"]) for e in trail} == {("created", "test", admin.id)}

    with app.test_request_context(), pytest.raises(RecordInvalid):
        current_accord(app).records.create_many("contact", [{"last_name": "Fine"}, {"email": "no-name"}], actor)
    assert len(entries(app)) == 25


def test_an_import_leaves_an_entry_per_record_by_the_importer(app, admin, tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("first_name,last_name,email\nAda,Lovelace,ada@example.com\nAlan,Turing,\n")
    assert in_app(app, import_file, "contact", str(source), "admin@example.com") == 2
    trail = entries(app)
    assert [(e["action"], e["source"], e["actor_id"], e["changes"]["last_name"][1]) for e in trail] == [
        ("created", "import", admin.id, "Lovelace"), ("created", "import", admin.id, "Turing")]
    assert trail[0]["changes"]["email"] == [None, "ada@example.com"] and "email" not in trail[1]["changes"]


def test_an_export_leaves_one_entry_with_its_format_and_count(app, api):
    for name in ("Doe", "Roe", "Poe"):
        create(api, "contacts", last_name=name)
    api.delete(f"/contacts/{api.get('/contacts?last_name=Poe').json['data'][0]['id']}")
    before = len(entries(app))
    with app.app_context():
        export_records("contact", "jsonl", io.StringIO())
        export_records("contact", "csv", io.StringIO(), trashed=True,
                       actor=Actor(user_id=None, source="job", is_admin=True, name="nightly backup"))
    exported = entries(app)[before:]
    assert exported == [
        {"actor_id": None, "actor_name": "cli", "source": "cli", "action": "exported", "record_type": "contact",
         "record_id": None, "changes": None, "details": {"format": "jsonl", "count": 2, "trashed": False},
         "request_id": None},
        {"actor_id": None, "actor_name": "nightly backup", "source": "job", "action": "exported",
         "record_type": "contact", "record_id": None, "changes": None,
         "details": {"format": "csv", "count": 1, "trashed": True}, "request_id": None},
    ]


def test_entries_cannot_be_changed_or_removed_even_in_sql(app, api):
    create(api, "contacts", last_name="Doe")
    for statement in ("UPDATE audit_entry SET action = 'deleted'", "DELETE FROM audit_entry"):
        with app.app_context():
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(db.text(statement))
            db.session.rollback()
    assert [e["action"] for e in entries(app)] == ["created"]


def test_removing_a_record_for_good_keeps_its_entries(app, api):
    contact = create(api, "contacts", last_name="Doe")
    api.delete(f"/contacts/{contact['id']}")
    sql(app, "DELETE FROM search_entry WHERE record_type = 'contact'")
    sql(app, "DELETE FROM contact WHERE id = :id", id=contact["id"])
    assert [e["action"] for e in entries(app, "record_id = :id", id=contact["id"])] == ["created", "deleted"]


def test_the_entry_outlives_its_actor_by_name(app, api):
    other = make_user(app, "sam@example.com", "Sam Seller", is_admin=True)
    from accord.testing import api_client

    create(api_client(app, other), "contacts", last_name="Doe")
    [entry] = entries(app)
    assert (entry["actor_id"], entry["actor_name"]) == (other.id, "Sam Seller")


def test_listing_reads_a_record_by_its_index(app, api):
    """Filters on a record, an actor and a time window are served by the table's indexes."""
    create(api, "contacts", last_name="Doe")
    if dialect(app) != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    plans = {
        "record": "record_type = 'contact' AND record_id = 1 ORDER BY id DESC",
        "actor": "actor_id = 1 ORDER BY id DESC",
        "at": "at >= '2000-01-01' AND at <= '2000-02-01' ORDER BY id DESC",
    }
    for index, where in plans.items():
        rows = sql(app, f"EXPLAIN QUERY PLAN SELECT id FROM audit_entry WHERE {where}")
        plan = " ".join(str(row[-1]) for row in rows)
        assert f"ix_audit_entry_{index}" in plan, (index, plan)


def test_the_migration_creates_what_the_model_declares(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata) if "audit_entry" in repr(d)]
    assert differences == [], (dialect(app), differences)

