"""Privacy export, erasure and retention (:mod:`accord.core.privacy`), with the service
desk enabled and a plugin that keeps personal data outside records: the export holds what
core and plugins hold; after an erasure no column of any table holds any of the person's
personal values, past ones included, while amounts, stages and pipeline totals stay."""

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from accord.core import hookimpl, jobs
from accord.core.db import db, utcnow
from accord.core.models import InstanceSetting
from accord.core.privacy import (
    ANONYMOUS, RETENTION_JOB, erase_contact, export_contact, run_retention, run_retention_job,
)
from accord.core.records import AFTER_COMMIT_JOB, Actor, write_unit
from accord.testing import make_user
from api_helpers import add_field, create, in_app, scalar, set_columns, sql
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

ERASER = Actor(user_id=None, source="test", is_admin=True, name="privacy officer")
PERSON = {"first_name": "Augusta", "last_name": "Byronesque", "email": "augusta.old@example.org",
          "phone": "+44 20 7946 0811", "mobile": "+44 7700 900811", "street": "12 Marylebone Crescent",
          "postal_code": "NW1 6XE", "city": "London", "job_title": "Mathematician"}
NEW_EMAIL = "augusta.byronesque@example.org"
NICKNAME = "Enchantress of Numbers"
OTHER = {"first_name": "Grace", "last_name": "Hopperfield", "email": "grace.hopperfield@example.org"}
PERSONAL_TEXTS = ("Analytical Engine call with Augusta", "Augusta asked about punched cards",
                  "Trashed note on Byronesque", "Signed paper form, Byronesque household",
                  "Augusta cannot sign in", "Byronesque reports a broken bernoulli table",
                  "Augusta prefers the loom room")


def newsletter_key(contact_id):
    return f"newsletter:{contact_id}"


@hookimpl
def accord_privacy_handlers(app):
    """A plugin that keeps newsletter subscriptions in ``instance_setting``."""
    return [{"name": "newsletter.subscriptions", "export": _export_subscription, "erase": _erase_subscription}]


def _export_subscription(app, contact):
    row = db.session.get(InstanceSetting, newsletter_key(contact.id))
    return {"subscription": None if row is None else row.value}


def _erase_subscription(app, contact):
    db.session.execute(InstanceSetting.__table__.delete().where(InstanceSetting.key == newsletter_key(contact.id)))


NEWSLETTER = SimpleNamespace(name="newsletter", accord_privacy_handlers=accord_privacy_handlers)


@pytest.fixture
def app(with_enabled_plugins):
    return with_enabled_plugins("servicedesk", plugins=(NEWSLETTER,))


@pytest.fixture
def api(app):
    from accord.testing import api_client

    return api_client(app, make_user(app, "officer@example.com", "Olive Officer", is_admin=True))


@pytest.fixture
def held(app, api):
    """A person with data everywhere Accord keeps some, and another who must stay as she is."""
    assert api.post("/admin/webhooks", json={"url": "http://127.0.0.1:9/hook"}).status_code == 201
    add_field(api, "contact", name="nickname", kind="text", pii=True)
    add_field(api, "organization", name="primary_contact", kind="reference", reference="contact")
    add_field(api, "organization", name="private_note", kind="long_text", pii=True)
    response = api.post("/contacts", json={**PERSON, "nickname": NICKNAME}, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 201, response.get_json()
    person = response.get_json()
    assert api.patch(f"/contacts/{person['id']}", json={"email": NEW_EMAIL}).status_code == 200
    other = create(api, "contacts", **OTHER)
    organization = create(api, "organizations", name="Difference Engines Ltd", primary_contact=person["id"],
                          private_note=PERSONAL_TEXTS[6])
    deals = [create(api, "deals", name="Engine order", amount="1200.50", contact_ids=[person["id"], other["id"]]),
             create(api, "deals", name="Loom spares", amount="300.25", contact_ids=[person["id"]]),
             create(api, "deals", name="Unrelated", amount="99.00", contact_ids=[other["id"]])]
    assert api.patch(f"/deals/{deals[1]['id']}", json={"stage": "qualified"}).status_code == 200
    activity = create(api, "activities", kind="call", subject=PERSONAL_TEXTS[0], body=PERSONAL_TEXTS[1],
                      related_type="contact", related_id=person["id"])
    trashed = create(api, "activities", kind="note", subject=PERSONAL_TEXTS[2], related_type="contact",
                     related_id=person["id"])
    assert api.delete(f"/activities/{trashed['id']}").status_code == 204
    consent = create(api, "consents", contact_id=person["id"], purpose="newsletter", channel="email",
                     status="granted", source="paper form", evidence=PERSONAL_TEXTS[3])
    ticket = create(api, "tickets", subject=PERSONAL_TEXTS[4], description=PERSONAL_TEXTS[5],
                    contact_id=person["id"], priority="high")
    with app.app_context():
        from accord.core import jobs, mail

        with write_unit() as session:
            session.add(InstanceSetting(key=newsletter_key(person["id"]), value={"email": NEW_EMAIL}))
            jobs.enqueue(AFTER_COMMIT_JOB, plugin="newsletter", hook="accord_record_after_commit",
                         record_type="contact", record_id=person["id"], event="update", actor={"user_id": None},
                         changes={"email": [PERSON["email"], NEW_EMAIL]}, stages=None, pipeline=None)
        mail.send(NEW_EMAIL, "Your subscription", "Dear Augusta, welcome.")
        mail.send(OTHER["email"], "Your subscription", "Dear Grace, welcome.")
    values = [*PERSON.values(), NEW_EMAIL, NICKNAME, *PERSONAL_TEXTS]
    return SimpleNamespace(
        person=person, other=other, organization=organization, deals=deals, activity=activity, trashed=trashed,
        consent=consent, ticket=ticket,
        personal=[v for v in values if v not in (PERSON["city"], PERSON["job_title"])],
    )


def found_anywhere(app, values):
    """``[(table, column, value)]`` for each value found, case-insensitively, as a
    substring of any column of any table (JSON, full-text index and blobs included)."""
    hits = []
    with app.app_context():
        inspector = inspect(db.engine)
        postgres = db.engine.dialect.name == "postgresql"
        for table in inspector.get_table_names():
            for column in inspector.get_columns(table):
                as_text = f'CAST("{column["name"]}" AS TEXT)'
                for value in values:
                    found = db.session.execute(text(
                        f'SELECT count(*) FROM "{table}" WHERE lower({as_text}) LIKE :pattern'
                    ), {"pattern": f"%{value.lower()}%"}).scalar()
                    if found:
                        hits.append((table, column["name"], value))
            if postgres:
                db.session.rollback()
        db.session.rollback()
    return hits


def totals(app):
    return sql(app, "SELECT record_type, pipeline, stage, currency, close_month, closed_month, records, "
                    "amount_units, amount_micros FROM pipeline_total ORDER BY 1, 2, 3, 4, 5, 6")


def test_the_export_holds_the_contact_what_refers_to_it_and_what_plugins_keep(app, api, held):
    person = held.person
    with app.test_request_context():
        document = export_contact(person["id"], ERASER)
    assert document["contact"]["email"] == NEW_EMAIL and document["contact"]["nickname"] == NICKNAME
    records = {key: sorted(r["id"] for r in rows) for key, rows in document["records"].items()}
    assert records == {
        "activity": sorted([held.activity["id"], held.trashed["id"]]),
        "consent": [held.consent["id"]],
        "deal": sorted([held.deals[0]["id"], held.deals[1]["id"]]),
        "organization": [held.organization["id"]],
        "ticket": [held.ticket["id"]],
    }
    [ticket] = document["records"]["ticket"]
    assert (ticket["subject"], ticket["priority"]) == (PERSONAL_TEXTS[4], "high")
    [trashed] = [a for a in document["records"]["activity"] if a["id"] == held.trashed["id"]]
    assert trashed["deleted_at"] is not None
    assert document["plugins"] == {"newsletter.subscriptions": {"subscription": {"email": NEW_EMAIL}}}
    contact_history = [(e["action"], e["changes"].get("email") if e["changes"] else None)
                       for e in document["audit"] if e["record_type"] == "contact"]
    assert contact_history == [("created", [None, PERSON["email"]]), ("updated", [PERSON["email"], NEW_EMAIL])]
    assert {(e["record_type"], e["record_id"]) for e in document["audit"]} >= {("ticket", held.ticket["id"]),
                                                                               ("consent", held.consent["id"])}
    assert OTHER["last_name"] not in str(document), "the other contact is someone else's data"
    exported = sql(app, "SELECT actor_name, details FROM audit_entry WHERE action = 'exported'")
    assert len(exported) == 1 and exported[0][0] == "privacy officer"


def test_after_an_erasure_no_table_holds_any_personal_value_and_aggregates_stay(app, api, held):
    person = held.person
    before_totals = totals(app)
    before_sum = scalar(app, "SELECT sum(amount) FROM deal")
    before_counts = {t: scalar(app, f'SELECT count(*) FROM "{t}"') for t in
                     ("contact", "deal", "activity", "consent", "servicedesk_ticket", "organization", "deal_contact")}
    assert set(v for _, _, v in found_anywhere(app, held.personal)) == set(held.personal), \
        "every personal value is stored somewhere before the erasure"
    outbox = Path(app.instance_path) / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 2

    with app.test_request_context():
        erased = erase_contact(person["id"], ERASER)

    assert found_anywhere(app, held.personal) == []
    assert sql(app, "SELECT count(*) FROM audit_redaction")[0][0] == 0
    assert totals(app) == before_totals and scalar(app, "SELECT sum(amount) FROM deal") == before_sum
    assert {t: scalar(app, f'SELECT count(*) FROM "{t}"') for t in before_counts} == before_counts
    contact = api.get(f"/contacts/{person['id']}").get_json()
    assert (contact["last_name"], contact["first_name"], contact["email"], contact["nickname"]) == \
        (ANONYMOUS, None, None, None)
    assert (contact["city"], contact["job_title"], contact["version"]) == ("London", "Mathematician", 3)
    ticket = api.get(f"/tickets/{held.ticket['id']}").get_json()
    assert (ticket["subject"], ticket["description"], ticket["priority"], ticket["stage"]) == \
        (ANONYMOUS, None, "high", held.ticket["stage"])
    consent = api.get(f"/consents/{held.consent['id']}").get_json()
    assert (consent["evidence"], consent["purpose"], consent["status"]) == (None, "newsletter", "granted")
    deal = api.get(f"/deals/{held.deals[1]['id']}").get_json()
    assert (deal["amount"], deal["stage"], deal["contact_ids"]) == ("300.25", "qualified", [person["id"]])
    other = api.get(f"/contacts/{held.other['id']}").get_json()
    assert {name: other[name] for name in OTHER} == OTHER
    assert api.get(f"/search?q={OTHER['last_name']}").get_json()["data"][0]["id"] == held.other["id"]
    assert api.get("/search?q=byronesque").get_json()["data"] == []
    assert [p.read_text() for p in outbox.glob("*.eml") if "Grace" in p.read_text()] and \
        len(list(outbox.glob("*.eml"))) == 1
    assert {(e["record_type"], e["record_id"]): e["fields"] for e in erased} == {
        ("contact", person["id"]): ["email", "first_name", "last_name", "mobile", "nickname", "phone",
                                    "postal_code", "street"],
        ("activity", held.activity["id"]): ["body", "subject"],
        ("activity", held.trashed["id"]): ["subject"],
        ("consent", held.consent["id"]): ["evidence"],
        ("organization", held.organization["id"]): ["private_note"],
        ("ticket", held.ticket["id"]): ["description", "subject"],
    }
    [entry] = api.get("/audit?action=erased").get_json()["data"]
    assert (entry["actor_name"], entry["record_type"], entry["record_id"], entry["changes"]) == \
        ("privacy officer", "contact", person["id"], None)
    assert entry["details"] == {"records": erased}
    history = api.get(f"/contacts/{person['id']}/audit").get_json()["data"]
    assert [e["action"] for e in history] == ["erased", "updated", "created"]
    assert history[1]["changes"] == {"email": ["[erased]", "[erased]"]}


def test_erasing_twice_empties_nothing_more_and_an_unknown_contact_is_not_found(app, api, held):
    from accord.core.errors import NotFound

    with app.test_request_context():
        erase_contact(held.person["id"], ERASER)
        assert erase_contact(held.person["id"], ERASER) == []
        with pytest.raises(NotFound, match="Contact 999999 does not exist"):
            erase_contact(999999, ERASER)
        with pytest.raises(NotFound):
            export_contact(999999, ERASER)


def test_a_failing_plugin_handler_aborts_the_whole_erasure(with_enabled_plugins):
    def refuse(app, contact):
        raise RuntimeError("the newsletter service is down")

    plugin = SimpleNamespace(name="refusing", accord_privacy_handlers=hookimpl(
        lambda app: [{"name": "refusing", "export": lambda app, contact: None, "erase": refuse}]))
    app = with_enabled_plugins("servicedesk", plugins=(plugin,))
    admin = make_user(app, "officer@example.com", "Olive Officer", is_admin=True)
    from accord.testing import api_client

    api = api_client(app, admin)
    person = create(api, "contacts", **PERSON)
    create(api, "tickets", subject=PERSONAL_TEXTS[4], contact_id=person["id"])
    with app.test_request_context(), pytest.raises(RuntimeError, match="newsletter service is down"):
        erase_contact(person["id"], ERASER)
    assert api.get(f"/contacts/{person['id']}").get_json()["last_name"] == PERSON["last_name"]
    assert scalar(app, "SELECT count(*) FROM audit_entry WHERE action = 'erased'") == 0


def test_the_audit_table_refuses_updates_and_deletes_outside_an_erasure(app, api):
    contact = create(api, "contacts", last_name="Doe")
    with app.app_context():
        entry_id = db.session.execute(text("SELECT max(id) FROM audit_entry")).scalar()
        refused = [  # (with a redaction permit, statement)
            (False, "UPDATE audit_entry SET changes = NULL WHERE id = :id"),
            (False, "DELETE FROM audit_entry WHERE id = :id"),
            (True, "UPDATE audit_entry SET action = 'deleted', changes = NULL WHERE id = :id"),
            (True, "DELETE FROM audit_entry WHERE id = :id"),
        ]
        for permit, statement in refused:
            if permit:
                db.session.execute(text("INSERT INTO audit_redaction (entry_id) VALUES (:id)"), {"id": entry_id})
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement), {"id": entry_id})
            db.session.rollback()
        db.session.execute(text("INSERT INTO audit_redaction (entry_id) VALUES (:id)"), {"id": entry_id})
        db.session.execute(text("UPDATE audit_entry SET changes = NULL WHERE id = :id"), {"id": entry_id})
        db.session.rollback()
    assert sql(app, "SELECT action, record_id FROM audit_entry") == [("created", contact["id"])]
    assert scalar(app, "SELECT count(*) FROM audit_entry WHERE changes IS NOT NULL") == 1


@pytest.fixture
def retention_app(with_enabled_plugins):
    return with_enabled_plugins("servicedesk", RETENTION_INACTIVE_DAYS=30)


def test_retention_erases_an_inactive_contact_and_keeps_recent_ones(retention_app):
    app = retention_app
    from accord.testing import api_client

    api = api_client(app, make_user(app, "officer@example.com", "Olive Officer", is_admin=True))
    old = create(api, "contacts", **PERSON)
    recent = create(api, "contacts", **OTHER)
    busy = create(api, "contacts", first_name="Ida", last_name="Busybody")
    ticket = create(api, "tickets", subject="Ida still writes", contact_id=busy["id"])
    old_ticket = create(api, "tickets", subject=PERSONAL_TEXTS[4], contact_id=old["id"])
    long_ago = utcnow() - timedelta(days=31)
    set_columns(app, "contact", [old["id"], busy["id"]], updated_at=long_ago)
    set_columns(app, "servicedesk_ticket", [old_ticket["id"]], updated_at=long_ago)
    with app.app_context():
        assert run_retention(dry_run=True) == [old["id"]]
        assert api.get(f"/contacts/{old['id']}").get_json()["last_name"] == PERSON["last_name"]
        assert RETENTION_JOB in jobs.schedules()
    run_retention_job(app)
    assert api.get(f"/contacts/{old['id']}").get_json()["last_name"] == ANONYMOUS
    assert api.get(f"/tickets/{old_ticket['id']}").get_json()["subject"] == ANONYMOUS
    assert api.get(f"/contacts/{recent['id']}").get_json()["last_name"] == OTHER["last_name"]
    assert api.get(f"/contacts/{busy['id']}").get_json()["last_name"] == "Busybody", "a recent ticket keeps it"
    assert api.get(f"/tickets/{ticket['id']}").get_json()["subject"] == "Ida still writes"
    assert sql(app, "SELECT actor_name, record_id FROM audit_entry WHERE action = 'erased'") == \
        [("retention", old["id"])]
    with app.app_context():
        assert run_retention() == [], "an erased contact is not erased again"
        assert run_retention(days=0) == []


def test_retention_is_off_by_default(app, api):
    contact = create(api, "contacts", **PERSON)
    set_columns(app, "contact", [contact["id"]], updated_at=utcnow() - timedelta(days=3650))
    assert in_app(app, run_retention) == []
    assert RETENTION_JOB not in in_app(app, jobs.schedules)
    assert api.get(f"/contacts/{contact['id']}").get_json()["last_name"] == PERSON["last_name"]


def test_the_migration_creates_the_consent_and_permit_tables_the_models_declare(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata)
                       if "consent" in repr(d) or "audit_redaction" in repr(d)]
    assert differences == []
