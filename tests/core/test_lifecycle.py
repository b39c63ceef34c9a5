"""Switching installed plugins on and off, through the service functions of
:mod:`accord.core.lifecycle`: dependencies, migrations in one transaction, ownership,
settings, quarantine, clashes, upgrades and removal, each checked against the database."""

import json
import re
from pathlib import Path

import pytest
from api_helpers import in_app, tables
from accord.core.db import db
from accord.core.dependencies import DependencyError
from accord.core.errors import Conflict, NotFound, RecordInvalid
from accord.core.lifecycle import disable, enable, plugin_report, uninstall, update_settings, upgrade_preview
from accord.core.models import CustomField, Pipeline, PluginObject, PluginState
from accord.core.registry import current_accord
from accord.testing import api_client, make_user
from installed_helpers import installed_plugins  # noqa: F401  (fixture)
from sqlalchemy import select, text


@pytest.fixture
def plugin_app(installed_plugins, app):  # noqa: F811
    return app


@pytest.fixture
def api(plugin_app, admin):
    return api_client(plugin_app, admin)


def status(app, name):
    return in_app(app, plugin_report, name)[0]["status"]


def test_installed_plugins_are_discovered_disabled_and_broken_ones_are_quarantined(plugin_app, api):
    report = {entry["name"]: entry for entry in in_app(plugin_app, plugin_report)}
    assert report["fixture_tickets"]["status"] == "disabled"
    assert report["fixture_tickets"]["version"] == "1.0.0"
    assert report["fixture_tickets"]["distribution"] == "accord-fixture-plugins"
    assert report["fixture_broken"]["status"] == "broken"
    assert "missing licence key" in report["fixture_broken"]["error"]
    assert report["fixture_future"]["status"] == "broken"
    assert "needs accord >=99.0, but this is accord 0.1.0" in report["fixture_future"]["error"]
    # the app serves everything else
    assert api.post("/contacts", json={"last_name": "Still here"}).status_code == 201


def test_a_plugin_needing_a_newer_core_is_never_imported(plugin_app):
    import sys

    assert "fixture_future" not in sys.modules
    with pytest.raises(DependencyError, match="needs accord >=99.0"):
        in_app(plugin_app, enable, "fixture_future")


def test_enabling_runs_migrations_and_records_what_the_plugin_owns(plugin_app, api):
    assert api.get("/tickets").status_code == 404
    assert in_app(plugin_app, enable, "fixture_tickets") == ["fixture_tickets"]
    assert "fixture_ticket" in tables(plugin_app)
    created = api.post("/tickets", json={"subject": "Printer on fire"})
    assert created.status_code == 201, created.json
    assert created.json["respond_within_hours"] == 4
    assert created.json["stage"] == "new"
    with plugin_app.app_context():
        owned = set(db.session.execute(select(PluginObject.kind, PluginObject.name)
                                       .where(PluginObject.plugin == "fixture_tickets")).all())
        state = db.session.get(PluginState, "fixture_tickets")
    assert {("table", "fixture_ticket"), ("record_type", "ticket"), ("pipeline", "support"),
            ("stage", "support.solved"), ("permission", "fixture_tickets.ticket.assign"),
            ("field", "contact.support_tier"), ("file", "plugins/fixture_tickets")} <= owned
    assert state.enabled and state.installed_version == "1.0.0"
    assert "support_tier" in {f["name"] for f in api.get("/types/contact").json["fields"]}
    assert (plugin_app.instance_path + "/plugins/fixture_tickets")
    assert in_app(plugin_app, enable, "fixture_tickets") == []


def test_disabling_hides_everything_and_keeps_the_data(plugin_app, api):
    in_app(plugin_app, enable, "fixture_tickets")
    ticket = api.post("/tickets", json={"subject": "Kept"}).json
    contact = api.post("/contacts", json={"last_name": "Tiered", "support_tier": "gold"}).json
    client = plugin_app.test_client()
    assert client.get("/fixture-tickets/ping").status_code == 200
    assert in_app(plugin_app, disable, "fixture_tickets") == ["fixture_tickets"]
    assert api.get("/tickets").status_code == 404
    assert api.get(f"/tickets/{ticket['id']}").status_code == 404
    assert client.get("/fixture-tickets/ping").status_code == 404
    assert "ticket" not in {t["key"] for t in api.get("/types").json["data"]}
    assert "/tickets" not in json.dumps(api.get("/openapi.json").json["paths"])
    assert "support_tier" not in api.get(f"/contacts/{contact['id']}").json
    assert "support" not in {p["key"] for p in api.get("/pipelines").json["data"]}
    assert "fixture_ticket" in tables(plugin_app)
    in_app(plugin_app, enable, "fixture_tickets")
    assert api.get(f"/tickets/{ticket['id']}").json["subject"] == "Kept"
    assert api.get(f"/contacts/{contact['id']}").json["support_tier"] == "gold"
    assert client.get("/fixture-tickets/ping").status_code == 200


def test_a_disabled_plugins_hooks_stop_firing(plugin_app, api):
    import fixture_escalation

    in_app(plugin_app, enable, "fixture_escalation")
    fixture_escalation.seen.clear()
    first = api.post("/tickets", json={"subject": "Seen"}).json
    in_app(plugin_app, disable, "fixture_escalation")
    api.post("/tickets", json={"subject": "Not seen"})
    assert fixture_escalation.seen == [("create", first["id"])]


def test_enabling_switches_on_what_it_requires_first(plugin_app, api):
    assert in_app(plugin_app, enable, "fixture_escalation") == ["fixture_tickets", "fixture_escalation"]
    assert api.get("/tickets").status_code == 200
    assert in_app(plugin_app, plugin_report, "fixture_tickets")[0]["required_by"] == ["fixture_escalation"]


@pytest.mark.parametrize("name, message", [
    ("fixture_needs_missing", "plugin 'fixture_absent' (required by fixture_needs_missing) is not installed"),
    ("fixture_cycle_a", "dependency cycle: fixture_cycle_a -> fixture_cycle_b -> fixture_cycle_a"),
    ("fixture_needs_new_tickets", "plugin 'fixture_needs_new_tickets' requires fixture_tickets >=2.0, "
                                  "but fixture_tickets 1.0.0 is installed"),
    ("fixture_broken", "failed to import fixture_broken"),
    ("fixture_nobody", "There is no installed plugin 'fixture_nobody'"),
])
def test_dependency_errors_name_the_plugin_and_change_nothing(plugin_app, name, message):
    with pytest.raises((DependencyError, NotFound), match=re.escape(message)):
        in_app(plugin_app, enable, name)
    with plugin_app.app_context():
        assert db.session.execute(select(PluginState)).all() == []
    assert "fixture_ticket" not in tables(plugin_app)


def test_disabling_a_required_plugin_refuses_unless_cascading(plugin_app):
    in_app(plugin_app, enable, "fixture_escalation")
    with pytest.raises(DependencyError, match="fixture_escalation requires fixture_tickets"):
        in_app(plugin_app, disable, "fixture_tickets")
    assert status(plugin_app, "fixture_tickets") == "enabled"
    assert in_app(plugin_app, disable, "fixture_tickets", cascade=True) == ["fixture_escalation", "fixture_tickets"]
    assert status(plugin_app, "fixture_escalation") == "disabled"


def test_a_failing_migration_rolls_back_the_whole_enable(plugin_app):
    before = tables(plugin_app)
    with pytest.raises(Exception, match="no_such_table|does not exist"):
        in_app(plugin_app, enable, "fixture_bad_migration")
    assert tables(plugin_app) == before
    with plugin_app.app_context():
        assert db.session.get(PluginState, "fixture_bad_migration") is None
        assert db.session.execute(select(PluginObject)).all() == []
        assert db.session.execute(select(CustomField)).all() == []
    assert status(plugin_app, "fixture_bad_migration") == "disabled"


def test_a_plugin_whose_start_up_raises_is_refused_and_quarantined(plugin_app, api):
    with pytest.raises(Conflict, match="fixture_failing_start.*cannot reach the licence server"):
        in_app(plugin_app, enable, "fixture_failing_start")
    entry = in_app(plugin_app, plugin_report, "fixture_failing_start")[0]
    assert entry["status"] == "broken" and "licence server" in entry["error"]
    assert api.get("/contacts").status_code == 200


def test_a_plugin_failing_at_start_up_in_a_running_app_is_quarantined_not_fatal(installed_plugins, accord_app_factory):  # noqa: F811
    first = accord_app_factory()
    admin = make_user(first, "admin@example.com", "Ada Admin", is_admin=True)
    with first.app_context():
        db.session.add(PluginState(name="fixture_failing_start", enabled=True, settings={}))
        db.session.execute(text("UPDATE schema_generation SET value = value + 1"))
        db.session.commit()
    api = api_client(first, admin)
    assert api.get("/contacts").status_code == 200
    assert in_app(first, plugin_report, "fixture_failing_start")[0]["status"] == "broken"


def test_a_second_plugin_claiming_a_taken_record_type_is_refused_naming_both(plugin_app, api):
    in_app(plugin_app, enable, "fixture_tickets")
    with pytest.raises(Conflict, match="record type 'ticket'.*from fixture_rival clashes with 'ticket' from fixture_tickets"):
        in_app(plugin_app, enable, "fixture_rival")
    assert status(plugin_app, "fixture_rival") == "disabled"
    assert api.get("/tickets").status_code == 200


@pytest.mark.parametrize("rival, message", [
    ("fixture_rival_route", "cannot enable fixture_rival_route: its route GET /fixture-tickets/ping is already "
                            "served by plugin fixture_tickets"),
    ("fixture_rival_template", "cannot enable fixture_rival_template: its template fixture_tickets/ticket.html is "
                               "also shipped by plugin fixture_tickets"),
])
def test_a_second_plugin_claiming_a_taken_route_or_template_is_refused_naming_both(plugin_app, rival, message):
    in_app(plugin_app, enable, "fixture_tickets")
    with pytest.raises(Conflict, match=re.escape(message)):
        in_app(plugin_app, enable, rival)
    assert status(plugin_app, rival) == "disabled"
    assert plugin_app.test_client().get("/fixture-tickets/ping").json["plugin"] == "fixture_tickets"


def test_settings_are_validated_stored_and_read_by_hooks(plugin_app, api):
    in_app(plugin_app, enable, "fixture_tickets")
    assert in_app(plugin_app, update_settings, "fixture_tickets", {"first_response_hours": 9}) == {
        "first_response_hours": 9, "greeting": "Thanks for writing"}
    assert api.post("/tickets", json={"subject": "Slow"}).json["respond_within_hours"] == 9
    for bad, reason in (({"first_response_hours": 0}, "at least 1"), ({"first_response_hours": "soon"}, "integer"),
                        ({"colour": "red"}, "no setting 'colour'")):
        with pytest.raises(RecordInvalid) as caught:
            in_app(plugin_app, update_settings, "fixture_tickets", bad)
        assert reason in json.dumps(caught.value.fields), caught.value.fields
    assert api.post("/tickets", json={"subject": "Still 9"}).json["respond_within_hours"] == 9


def test_upgrade_dry_run_shows_pending_migrations_and_their_sql(plugin_app):
    preview = in_app(plugin_app, upgrade_preview, "fixture_bad_migration")
    assert [m["revision"] for m in preview["migrations"]] == ["fixture_bad_migration_0001", "fixture_bad_migration_0002"]
    assert "CREATE TABLE fixture_half_done" in preview["sql"]
    assert "fixture_half_done" not in tables(plugin_app)
    in_app(plugin_app, enable, "fixture_tickets")
    assert in_app(plugin_app, upgrade_preview, "fixture_tickets")["migrations"] == []


def test_uninstall_purge_exports_then_drops_only_what_the_plugin_owns(plugin_app, api, tmp_path):
    in_app(plugin_app, enable, "fixture_tickets")
    ticket = api.post("/tickets", json={"subject": "Exported"}).json
    assert api.patch(f"/tickets/{ticket['id']}", json={"stage": "open"}).status_code == 200
    contact = api.post("/contacts", json={"last_name": "Core", "support_tier": "gold"}).json
    report = in_app(plugin_app, uninstall, "fixture_tickets", "purge", str(tmp_path / "exports"))
    assert "fixture_ticket" not in tables(plugin_app)
    assert "alembic_version_fixture_tickets" not in tables(plugin_app)
    exported = [json.loads(line) for line in
                open(f"{report['export']}/fixture_ticket.jsonl", encoding="utf-8")]
    assert [row["subject"] for row in exported] == ["Exported"]
    assert "gold" in open(f"{report['export']}/field.contact.support_tier.jsonl", encoding="utf-8").read()
    moves = [json.loads(line) for line in open(f"{report['export']}/stage_history.jsonl", encoding="utf-8")]
    assert [(m["from_stage"], m["to_stage"]) for m in moves] == [(None, "new"), ("new", "open")]
    stored = api.get(f"/contacts/{contact['id']}").json
    assert stored["last_name"] == "Core" and "support_tier" not in stored
    with plugin_app.app_context():
        assert db.session.execute(select(PluginObject)).all() == []
        assert db.session.execute(select(Pipeline).where(Pipeline.key == "support")).first() is None
        assert db.session.execute(select(CustomField)).all() == []
    assert status(plugin_app, "fixture_tickets") == "disabled"
    assert in_app(plugin_app, enable, "fixture_tickets") == ["fixture_tickets"]
    assert api.get("/tickets").json["data"] == []


def test_uninstall_keep_keeps_data_for_a_return(plugin_app, api):
    in_app(plugin_app, enable, "fixture_tickets")
    ticket = api.post("/tickets", json={"subject": "Back later"}).json
    in_app(plugin_app, update_settings, "fixture_tickets", {"first_response_hours": 9})
    in_app(plugin_app, uninstall, "fixture_tickets", "keep")
    assert status(plugin_app, "fixture_tickets") == "uninstalled (data kept)"
    assert api.get("/tickets").status_code == 404
    in_app(plugin_app, enable, "fixture_tickets")
    assert api.get(f"/tickets/{ticket['id']}").json["subject"] == "Back later"
    assert in_app(plugin_app, plugin_report, "fixture_tickets")[0]["settings"]["first_response_hours"]["value"] == 4


def test_uninstall_refuses_while_required_and_a_shared_field_survives_a_purge(plugin_app, api):
    in_app(plugin_app, enable, "fixture_escalation")
    with pytest.raises(DependencyError, match="fixture_escalation require it"):
        in_app(plugin_app, uninstall, "fixture_tickets", "purge")
    assert "fixture_ticket" in tables(plugin_app)
    in_app(plugin_app, disable, "fixture_escalation")
    with plugin_app.app_context():
        db.session.add(PluginObject(plugin="fixture_escalation", kind="field", name="contact.support_tier"))
        db.session.commit()
    contact = api.post("/contacts", json={"last_name": "Shared", "support_tier": "gold"}).json
    report = in_app(plugin_app, uninstall, "fixture_tickets", "purge")
    assert "field contact.support_tier (also used by fixture_escalation)" in report["kept"]
    assert "fixture_ticket" not in tables(plugin_app)
    with plugin_app.app_context():
        assert db.session.execute(select(CustomField.name)).scalars().all() == ["support_tier"]
    in_app(plugin_app, enable, "fixture_escalation")
    assert api.get(f"/contacts/{contact['id']}").json["support_tier"] == "gold"


def test_purge_refuses_while_another_plugins_table_points_at_its_tables(plugin_app):
    in_app(plugin_app, enable, "fixture_tickets")
    with plugin_app.app_context():
        db.session.execute(text("CREATE TABLE other_note (id INTEGER PRIMARY KEY, "
                                "ticket_id INTEGER REFERENCES fixture_ticket (id))"))
        db.session.add(PluginObject(plugin="fixture_escalation", kind="table", name="other_note"))
        db.session.commit()
    with pytest.raises(Conflict, match="table other_note of plugin fixture_escalation refers to its table fixture_ticket"):
        in_app(plugin_app, uninstall, "fixture_tickets", "purge")
    assert "fixture_ticket" in tables(plugin_app)


def test_registrations_of_each_active_set_are_built_once(plugin_app, api):
    in_app(plugin_app, enable, "fixture_tickets")
    api.get("/tickets")
    accord = current_accord(plugin_app)
    first = accord.registrations(("fixture_tickets",))
    in_app(plugin_app, disable, "fixture_tickets")
    api.get("/contacts")
    in_app(plugin_app, enable, "fixture_tickets")
    api.get("/tickets")
    assert accord.registrations(("fixture_tickets",)) is first


def test_a_careless_release_is_warned_about_and_its_overlong_revision_refused(accord_app_factory, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "fixtures" / "mismatched"))
    mismatched = accord_app_factory()
    entry = in_app(mismatched, plugin_report, "fixture_mismatch")[0]
    assert entry["warnings"] == ["plugin.toml says version 1.0.0 but the accord-fixture-mismatch distribution is 2.0; "
                                 "keep them equal"]
    with pytest.raises(Conflict, match="revision id 'fixture_mismatch_a_revision_id_far_too_long' is longer than 32"):
        in_app(mismatched, enable, "fixture_mismatch")
    assert "fixture_mismatch_row" not in tables(mismatched)


def test_a_failing_upgrade_rolls_back_and_leaves_the_plugin_as_it_was(plugin_app):
    from accord.core.lifecycle import upgrade

    with plugin_app.app_context():
        db.session.add(PluginState(name="fixture_bad_migration", enabled=True, installed_version="0.9.0", settings={}))
        db.session.commit()
    before = tables(plugin_app)
    with pytest.raises(Exception, match="no_such_table|does not exist"):
        in_app(plugin_app, upgrade, "fixture_bad_migration")
    assert tables(plugin_app) == before
    with plugin_app.app_context():
        assert db.session.get(PluginState, "fixture_bad_migration").installed_version == "0.9.0"
        assert db.session.execute(select(PluginObject)).all() == []
