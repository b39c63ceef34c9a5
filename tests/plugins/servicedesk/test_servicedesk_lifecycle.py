"""The service desk switched on, off, back on and purged: what it owns, that its data
outlives a switch-off, and that a purge takes its table and nothing of the core's."""

import pytest
from api_helpers import in_app, tables
from accord.core.db import db
from accord.core.lifecycle import disable, enable, plugin_report, uninstall
from accord.core.models import Pipeline, PluginObject, PluginState, SearchEntry, StageHistory
from sqlalchemy import func, select

PLUGIN = "servicedesk"
TABLE = "servicedesk_ticket"


@pytest.fixture
def app(with_enabled_plugins):
    return with_enabled_plugins(PLUGIN)


def scalar(app, statement):
    with app.app_context():
        return db.session.execute(statement).scalar()


def test_the_built_in_plugin_is_discovered_from_accord_crm_and_off_until_enabled(accord_app_factory):
    fresh = accord_app_factory()
    entry = in_app(fresh, plugin_report, PLUGIN)[0]
    assert entry["status"] == "disabled" and entry["error"] is None
    assert entry["distribution"] == "accord-crm"
    assert entry["title"] == "Service desk" and entry["version"] == "1.0.0"
    assert set(entry["permissions"]) == {"servicedesk.ticket.assign", "servicedesk.ticket.close"}
    assert {k: (s["default"], s["min"], s["max"]) for k, s in entry["settings"].items()} == {
        "first_response_hours": (8, 1, 720), "urgent_first_response_hours": (1, 1, 72)}
    assert TABLE not in tables(fresh)


def test_enabling_records_what_the_service_desk_owns(app):
    with app.app_context():
        owned = set(db.session.execute(select(PluginObject.kind, PluginObject.name)
                                       .where(PluginObject.plugin == PLUGIN)).all())
        state = db.session.get(PluginState, PLUGIN)
    assert {("table", TABLE), ("table", "alembic_version_servicedesk"), ("record_type", "ticket"),
            ("pipeline", "support"), ("stage", "support.closed"),
            ("permission", "servicedesk.ticket.assign"), ("permission", "servicedesk.ticket.close")} <= owned
    assert state.enabled and state.installed_version == "1.0.0"


def test_disabling_hides_tickets_and_keeps_them_and_enabling_brings_them_back(app, api):
    ticket = api.post("/tickets", json={"subject": "Kept while switched off"}).json
    assert api.patch(f"/tickets/{ticket['id']}", json={"stage": "open"}).status_code == 200

    assert in_app(app, disable, PLUGIN) == [PLUGIN]
    assert api.get("/tickets").status_code == 404
    assert api.get(f"/tickets/{ticket['id']}").status_code == 404
    assert "ticket" not in {t["key"] for t in api.get("/types").json["data"]}
    assert api.get("/search?q=switched").status_code == 200
    assert TABLE in tables(app)
    assert scalar(app, select(func.count()).select_from(db.table(TABLE))) == 1

    assert in_app(app, enable, PLUGIN) == [PLUGIN]
    back = api.get(f"/tickets/{ticket['id']}")
    assert back.status_code == 200
    assert back.json["subject"] == "Kept while switched off" and back.json["stage"] == "open"
    assert back.json["first_responded_at"] is not None


def test_purging_drops_the_ticket_table_and_leaves_the_core(accord_app_factory, tmp_path):
    fresh = accord_app_factory()
    core_tables = tables(fresh)
    in_app(fresh, enable, PLUGIN)
    with fresh.test_request_context():
        from accord.core import SYSTEM, current_accord

        current_accord(fresh).records.create("ticket", {"subject": "Gone with the plugin"}, SYSTEM)
        current_accord(fresh).records.create("contact", {"last_name": "Stays"}, SYSTEM)
    assert {TABLE, "alembic_version_servicedesk"} <= tables(fresh)

    report = in_app(fresh, uninstall, PLUGIN, "purge", export_to=tmp_path / "exports")
    assert f"table {TABLE}" in report["dropped"]
    assert tables(fresh) == core_tables
    assert (next((tmp_path / "exports").iterdir()) / f"{TABLE}.jsonl").read_text().count("Gone with the plugin") == 1
    with fresh.app_context():
        assert db.session.execute(select(Pipeline).where(Pipeline.key == "support")).first() is None
        assert db.session.execute(select(PluginObject).where(PluginObject.plugin == PLUGIN)).first() is None
        assert db.session.execute(select(StageHistory).where(StageHistory.record_type == "ticket")).first() is None
        assert db.session.execute(select(SearchEntry).where(SearchEntry.record_type == "ticket")).first() is None
        assert db.session.execute(select(func.count()).select_from(db.table("contact"))).scalar() == 1
    assert in_app(fresh, plugin_report, PLUGIN)[0]["status"] == "disabled"


def test_a_purged_service_desk_can_be_enabled_again_from_scratch(app, api):
    api.post("/tickets", json={"subject": "Before the purge"})
    in_app(app, uninstall, PLUGIN, "purge")
    assert api.get("/tickets").status_code == 404

    assert in_app(app, enable, PLUGIN) == [PLUGIN]
    assert api.get("/tickets").json["data"] == []
    assert api.post("/tickets", json={"subject": "After the purge"}).status_code == 201


def test_global_search_finds_no_tickets_while_the_service_desk_is_off(app, api):
    api.post("/tickets", json={"subject": "Hidden while switched off"})
    in_app(app, disable, PLUGIN)
    assert api.get("/search?q=hidden").json["data"] == []
