"""The hook contract (``core/hookspecs.py``) and how the core keeps it.

Meta-tests check the contract itself: every hook is prefixed, documented and tested.
Event hooks are checked on every write path (REST API, ``accord import``, service calls):
what fires, with which ``event`` and ``actor.source``, what a refusing or crashing hook
leaves in the database (nothing) and what a failing after-commit hook leaves (the
committed record). Registration hooks are checked through a plugin that uses each once.
The plugins are real modules under ``tests/fixtures/``.
"""

import inspect
import logging
import re
from pathlib import Path

import clashing_plugins
import failing_after_commit_plugin
import misspelt_plugin
import pluggy
import pytest
import recording_plugin
import registering_plugin
import vetoing_plugin
from accord.core import db, hookspecs
from accord.core.migrate import upgrade
from accord.core.records import Actor
from accord.core.registry import RegistrationError, current_accord
from accord.testing import api_client, make_user
from api_helpers import assert_error, count, scalar
from cli_helpers import run_accord
from recording_plugin import calls, events
from registering_plugin import Project

TESTS = Path(__file__).resolve().parents[1]
FIXTURE_PLUGINS = (recording_plugin, vetoing_plugin, failing_after_commit_plugin, registering_plugin)


def hookspecs_by_name():
    return {
        name: function for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT}_spec")
    }


HOOKS = sorted(hookspecs_by_name())


@pytest.fixture
def plugin_app(with_plugins):
    """``plugin_app(*plugins)`` → ``(app, api)``: an app with those plugins and an admin's API client."""

    def make(*plugins):
        app = with_plugins(*plugins)
        admin = make_user(app, "admin@example.com", "Ada Admin", is_admin=True)
        return app, api_client(app, admin)

    return make


@pytest.fixture
def project_app(plugin_app):
    """An app with the registering plugin (and the recording one), its project table created
    and its pipeline stored; the table is dropped afterwards so no other test sees it."""
    app, api = plugin_app(registering_plugin, recording_plugin)
    with app.app_context():
        Project.metadata.create_all(bind=db.engine, tables=[Project.__table__])
    upgrade(app)
    yield app, api
    with app.app_context():
        db.session.remove()
        Project.__table__.drop(bind=db.engine, checkfirst=True)


def service_actor(app):
    return Actor(user_id=None, source="test", is_admin=True, name="test")


# The contract ------------------------------------------------------------------------------


def test_every_hook_is_prefixed_and_listed_in_its_family():
    assert HOOKS, "no hookspecs found"
    for name in HOOKS:
        assert name.startswith("accord_"), name
    assert sorted(hookspecs.REGISTRATION_HOOKS + hookspecs.EVENT_HOOKS) == HOOKS
    assert not set(hookspecs.REGISTRATION_HOOKS) & set(hookspecs.EVENT_HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_docstring_with_params(name):
    spec = hookspecs_by_name()[name]
    doc = inspect.getdoc(spec)
    assert doc and len(doc.split()) >= 8, f"{name} needs a docstring saying when it fires and what it returns"
    if inspect.signature(spec).parameters:
        assert ":param" in doc, f"{name} takes parameters but documents none with :param"


def test_every_hook_documents_each_of_its_parameters():
    """STYLE.md: hookspec docstrings give each parameter (reST ``:param name:``)."""
    missing = {}
    for name, spec in hookspecs_by_name().items():
        doc = inspect.getdoc(spec) or ""
        undocumented = [p for p in inspect.signature(spec).parameters if f":param {p}:" not in doc]
        if undocumented:
            missing[name] = undocumented
    assert not missing, f"parameters without a :param line: {missing}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name):
    """Like Datasette's: each hook ``accord_X`` has a test function named ``test_hook_X...``."""
    short = name[len("accord_"):]
    pattern = re.compile(rf"^def test_hook_{short}(_\w*)?\(", re.MULTILINE)
    found = [p for p in TESTS.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert found, f"no test named test_hook_{short}... under {TESTS}"


def test_fixture_plugins_implement_every_hook_between_them():
    implemented = {name for plugin in FIXTURE_PLUGINS for name in dir(plugin) if name.startswith("accord_")}
    assert set(HOOKS) <= implemented, set(HOOKS) - implemented


def test_check_pending_refuses_a_misspelt_hook_implementation(with_plugins):
    with pytest.raises(pluggy.PluginValidationError, match="accord_record_aftercommit"):
        with_plugins(misspelt_plugin)


# Event hooks on every write path -------------------------------------------------------------


def test_hook_record_before_save_and_after_commit_fire_on_every_api_write(plugin_app):
    app, api = plugin_app(recording_plugin)
    created = api.post("/contacts", json={"last_name": "Lovelace"})
    assert created.status_code == 201, created.json
    contact_id = created.json["id"]
    assert api.patch(f"/contacts/{contact_id}", json={"job_title": "Analyst"}).status_code == 200
    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    assert api.post(f"/contacts/{contact_id}/restore").status_code == 200

    expected = [("create", "api"), ("update", "api"), ("delete", "api"), ("restore", "api")]
    assert events(app, "before_save", "contact") == expected
    assert events(app, "after_commit", "contact") == expected
    assert events(app, "validate", "contact") == [("create", "api"), ("update", "api")]
    after = [c for c in calls(app) if c["hook"] == "after_commit"]
    assert [c["id"] for c in after] == [contact_id] * 4
    assert [c["committed_version"] for c in after] == [1, 2, 3, 4], "after-commit hooks must see the committed row"
    assert after[1]["changes"] == ["job_title"]


def test_hook_record_validate_fires_on_service_calls_with_their_actor(plugin_app):
    app, _api = plugin_app(recording_plugin)
    records = current_accord(app).records
    with app.test_request_context():
        record = records.create("organization", {"name": "Analytical Engines"}, service_actor(app))
        records.update("organization", record.id, {"city": "London"}, service_actor(app))
    assert events(app, "validate", "organization") == [("create", "test"), ("update", "test")]
    assert events(app, "after_commit", "organization") == [("create", "test"), ("update", "test")]
    validate = [c for c in calls(app) if c["hook"] == "validate"]
    assert validate[0]["values"]["name"] == "Analytical Engines"
    assert validate[1]["values"] == {"city": "London"}


class TestServicePath:
    """The testing fixtures (``api``, ``make_record``) on an app with the recording plugin."""

    @pytest.fixture
    def app(self, with_plugins):
        return with_plugins(recording_plugin)

    def test_event_hooks_fire_through_make_record(self, app, make_record):
        record = make_record("contact", last_name="Byron")
        assert events(app, "validate", "contact") == [("create", "test")]
        assert events(app, "before_save", "contact") == [("create", "test")]
        assert events(app, "after_commit", "contact") == [("create", "test")]
        assert record["description"] == "created via test"

    def test_service_trash_and_restore_fire_their_events(self, app, make_record):
        record = make_record("contact", last_name="Byron")
        records = current_accord(app).records
        with app.test_request_context():
            records.delete("contact", record.id, service_actor(app))
            records.restore("contact", record.id, service_actor(app))
        assert events(app, "before_save", "contact")[1:] == [("delete", "test"), ("restore", "test")]
        assert events(app, "after_commit", "contact")[1:] == [("delete", "test"), ("restore", "test")]
        deleted = [c for c in calls(app) if c["hook"] == "after_commit" and c["event"] == "delete"]
        assert deleted[0]["changes"] == ["deleted_at"]


def test_before_save_value_is_stored(plugin_app):
    app, api = plugin_app(recording_plugin)
    created = api.post("/contacts", json={"last_name": "Lovelace"})
    assert created.status_code == 201
    assert created.json["description"] == "created via api"
    assert api.get(f"/contacts/{created.json['id']}").json["description"] == "created via api"
    stored = scalar(app, "SELECT description FROM contact WHERE id = :id", id=created.json["id"])
    assert stored == "created via api"


def test_event_hooks_fire_on_cli_import(plugin_app, tmp_path):
    app, api = plugin_app(recording_plugin)
    source = tmp_path / "contacts.csv"
    source.write_text("first_name,last_name,email\nAda,Lovelace,ada@example.com\nCharles,Babbage,\n", encoding="utf-8")
    run = run_accord(app.instance_path, "import", "contact", source, plugins=["recording_plugin"],
                     database_url=app.config["SQLALCHEMY_DATABASE_URI"])
    assert run.exit_code == 0, run
    assert "Imported 2 contact record(s)." in run.stdout

    cli_app = run.app
    assert events(cli_app, "before_save", "contact") == [("create", "import")] * 2
    assert events(cli_app, "after_commit", "contact") == [("create", "import")] * 2
    assert {source for _, source in events(cli_app, "validate", "contact")} == {"import"}
    assert [c["committed_version"] for c in calls(cli_app) if c["hook"] == "after_commit"] == [1, 1]
    listed = api.get("/contacts?sort=last_name").json["data"]
    assert [(c["last_name"], c["description"]) for c in listed] == [
        ("Babbage", "created via import"), ("Lovelace", "created via import"),
    ]


# Refusing and crashing in-transaction hooks -------------------------------------------------------


def test_hook_record_validate_refusal_answers_422_on_its_field_and_writes_nothing(plugin_app):
    app, api = plugin_app(vetoing_plugin, recording_plugin)
    response = api.post("/contacts", json={"last_name": "Mallory", "email": "mallory@blocked.example"})
    error = assert_error(response, 422, "validation_failed", fields=["email"])
    assert "blocked" in error["fields"]["email"][0]
    assert count(app, "contact") == 0
    assert count(app, "search_entry") == 0
    assert events(app, "before_save") == [] and events(app, "after_commit") == []


def test_validate_refusal_on_update_keeps_the_stored_record(plugin_app):
    _app, api = plugin_app(vetoing_plugin)
    contact = api.post("/contacts", json={"last_name": "Mallory", "email": "m@example.com"}).json
    response = api.patch(f"/contacts/{contact['id']}", json={"email": "m@blocked.example"})
    assert_error(response, 422, "validation_failed", fields=["email"])
    stored = api.get(f"/contacts/{contact['id']}").json
    assert stored["email"] == "m@example.com" and stored["version"] == 1


def test_hook_record_before_save_crash_answers_hook_failed_naming_the_plugin(plugin_app, caplog):
    app, api = plugin_app(vetoing_plugin, recording_plugin)
    with caplog.at_level(logging.ERROR):
        response = api.post("/contacts", json={"last_name": "Explode"})
    error = assert_error(response, 500, "hook_failed")
    assert "vetoing" in error["message"] and "accord_record_before_save" in error["message"]
    assert "exploded on purpose" in error["message"]
    assert count(app, "contact") == 0
    assert count(app, "search_entry") == 0
    assert events(app, "after_commit") == []
    assert any("vetoing" in r.getMessage() for r in caplog.records), "the failure must be logged"


def test_before_save_crash_on_update_leaves_the_record_as_it_was(plugin_app):
    _app, api = plugin_app(vetoing_plugin)
    contact = api.post("/contacts", json={"last_name": "Calm"}).json
    error = assert_error(api.patch(f"/contacts/{contact['id']}", json={"last_name": "Explode"}), 500, "hook_failed")
    assert "vetoing" in error["message"]
    stored = api.get(f"/contacts/{contact['id']}").json
    assert stored["last_name"] == "Calm" and stored["version"] == 1


def test_before_save_crash_through_the_service_names_the_plugin(plugin_app):
    from accord.core.errors import HookFailed

    app, _api = plugin_app(vetoing_plugin)
    with app.test_request_context(), pytest.raises(HookFailed, match="vetoing"):
        current_accord(app).records.create("contact", {"last_name": "Explode"}, service_actor(app))
    assert count(app, "contact") == 0


@pytest.mark.parametrize("order", ["failing first", "failing last"])
def test_hook_record_after_commit_failure_keeps_the_record_and_others_run(plugin_app, caplog, order):
    plugins = [failing_after_commit_plugin, recording_plugin]
    if order == "failing last":
        plugins.reverse()
    app, api = plugin_app(*plugins)
    with caplog.at_level(logging.ERROR, logger="accord"):
        response = api.post("/contacts", json={"last_name": "Survivor"})
    assert response.status_code == 201, response.json
    contact_id = response.json["id"]
    assert api.get(f"/contacts/{contact_id}").status_code == 200
    assert count(app, "contact") == 1
    assert events(app, "after_commit", "contact") == [("create", "api")], "other after-commit hooks still run"
    failures = [r for r in caplog.records if "failing_after_commit" in r.getMessage()]
    assert failures, [r.getMessage() for r in caplog.records]
    assert failures[0].levelno >= logging.ERROR
    assert "accord_record_after_commit" in failures[0].getMessage()
    assert failures[0].exc_info is not None, "the traceback of the plugin's failure is logged"


def test_after_commit_failure_on_update_and_delete_keeps_the_write(plugin_app):
    _app, api = plugin_app(failing_after_commit_plugin)
    contact = api.post("/contacts", json={"last_name": "Survivor"}).json
    changed = api.patch(f"/contacts/{contact['id']}", json={"job_title": "Still here"})
    assert changed.status_code == 200 and changed.json["version"] == 2
    assert api.delete(f"/contacts/{contact['id']}").status_code == 204
    assert api.get(f"/contacts/{contact['id']}").status_code == 404


def test_before_save_crash_during_import_imports_nothing(plugin_app, tmp_path):
    """``accord import``: one bad row means nothing is imported, a crashing hook included."""
    app, _api = plugin_app(vetoing_plugin)
    source = tmp_path / "contacts.csv"
    source.write_text("last_name\nLovelace\nExplode\nBabbage\n", encoding="utf-8")
    run = run_accord(app.instance_path, "import", "contact", source, plugins=["vetoing_plugin"],
                     database_url=app.config["SQLALCHEMY_DATABASE_URI"])
    assert run.exit_code == 1, run
    assert len(run.stderr.strip().splitlines()) == 1 and "vetoing" in run.stderr, run
    assert "Traceback" not in run.output
    assert count(app, "contact") == 0, "rows before the failing one were committed"


# Pipelines: guards and stage changes ----------------------------------------------------------


def stage_history(app, record_id):
    from api_helpers import sql

    return [tuple(row) for row in sql(
        app, "SELECT from_stage, to_stage FROM stage_history WHERE record_type = 'deal' AND record_id = :id ORDER BY id",
        id=record_id,
    )]


def test_hook_stage_transition_guard_reason_answers_422_on_stage(plugin_app):
    app, api = plugin_app(vetoing_plugin, recording_plugin)
    deal = api.post("/deals", json={"name": "Small", "amount": "10"}).json
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).status_code == 200
    assert stage_history(app, deal["id"]) == [(None, "lead"), ("lead", "qualified")]

    refused = api.patch(f"/deals/{deal['id']}", json={"stage": "proposal"})
    error = assert_error(refused, 422, "validation_failed", fields=["stage"])
    assert error["fields"]["stage"] == [vetoing_plugin.GUARD_REASON]
    assert stage_history(app, deal["id"]) == [(None, "lead"), ("lead", "qualified")], "no history row for a veto"
    stored = api.get(f"/deals/{deal['id']}").json
    assert stored["stage"] == "qualified" and stored["version"] == 2
    assert [c["to"] for c in calls(app) if c["hook"] == "stage_changed"] == ["lead", "qualified"]


def test_stage_transition_guard_on_create_writes_nothing(plugin_app):
    app, api = plugin_app(vetoing_plugin)
    refused = api.post("/deals", json={"name": "Small", "amount": "10", "stage": "proposal"})
    error = assert_error(refused, 422, "validation_failed", fields=["stage"])
    assert vetoing_plugin.GUARD_REASON in error["fields"]["stage"]
    assert count(app, "deal") == 0
    assert count(app, "stage_history") == 0


def test_stage_transition_guard_allows_what_it_does_not_refuse(plugin_app):
    app, api = plugin_app(vetoing_plugin)
    deal = api.post("/deals", json={"name": "Big", "amount": "5000", "stage": "qualified"}).json
    moved = api.patch(f"/deals/{deal['id']}", json={"stage": "proposal"})
    assert moved.status_code == 200, moved.json
    assert stage_history(app, deal["id"]) == [(None, "qualified"), ("qualified", "proposal")]


def test_stage_guard_veto_during_import_imports_nothing(plugin_app, tmp_path):
    app, _api = plugin_app(vetoing_plugin)
    source = tmp_path / "deals.csv"
    source.write_text("name,amount,stage\nBig,5000,proposal\nSmall,10,proposal\n", encoding="utf-8")
    run = run_accord(app.instance_path, "import", "deal", source, plugins=["vetoing_plugin"],
                     database_url=app.config["SQLALCHEMY_DATABASE_URI"])
    assert run.exit_code == 1, run
    assert "line 3" in run.stderr and vetoing_plugin.GUARD_REASON in run.stderr, run
    assert count(app, "deal") == 0, "rows before the vetoed one were committed"
    assert count(app, "stage_history") == 0


def test_hook_stage_changed_fires_after_commit_with_from_and_to(plugin_app):
    app, api = plugin_app(vetoing_plugin, recording_plugin)
    deal = api.post("/deals", json={"name": "Big", "amount": "5000"}).json
    api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"})
    api.patch(f"/deals/{deal['id']}", json={"description": "no stage change"})
    api.patch(f"/deals/{deal['id']}", json={"stage": "proposal"})
    changed = [c for c in calls(app) if c["hook"] == "stage_changed"]
    assert [(c["from"], c["to"]) for c in changed] == [(None, "lead"), ("lead", "qualified"), ("qualified", "proposal")]
    assert {c["pipeline"] for c in changed} == {"sales"}
    assert {c["source"] for c in changed} == {"api"}
    assert [c["committed_version"] for c in changed] == [1, 2, 4], "stage_changed runs after the commit"
    order = [c["hook"] for c in calls(app) if c["hook"] in ("after_commit", "stage_changed")]
    assert order[:2] == ["after_commit", "stage_changed"]


def test_stage_changed_failure_is_isolated(plugin_app, caplog):
    app, api = plugin_app(failing_after_commit_plugin, recording_plugin)
    with caplog.at_level(logging.ERROR, logger="accord"):
        response = api.post("/deals", json={"name": "Resilient", "amount": "100"})
    assert response.status_code == 201
    assert [(c["from"], c["to"]) for c in calls(app) if c["hook"] == "stage_changed"] == [(None, "lead")]
    assert any("failing_after_commit" in r.getMessage() and "accord_stage_changed" in r.getMessage()
               for r in caplog.records)
    assert stage_history(app, response.json["id"]) == [(None, "lead")]


# Registration hooks --------------------------------------------------------------------------


def test_hook_record_types_plugin_type_gets_the_generic_api(project_app):
    app, api = project_app
    types = {t["key"]: t for t in api.get("/types").json["data"]}
    project_type = types["project"]
    assert project_type["origin"] == "registering"
    assert project_type["plural"] == "projects"
    assert {f["name"] for f in project_type["fields"]} >= {"name", "budget", "pipeline", "stage", "owner_id"}
    assert project_type["pipeline"] == "delivery"

    created = api.post("/projects", json={"name": "Apollo", "budget": 1200})
    assert created.status_code == 201, created.json
    project = created.json
    assert project["stage"] == "planned" and project["pipeline"] == "delivery"
    assert api.get(f"/projects/{project['id']}").json == project
    assert [p["id"] for p in api.get("/projects").json["data"]] == [project["id"]]
    assert count(app, "registering_project") == 1
    assert events(app, "after_commit", "project") == [("create", "api")]

    invalid = api.post("/projects", json={"budget": "lots"})
    assert_error(invalid, 422, "validation_failed", fields=["name", "budget"])
    assert "projects" in api.get("/openapi.json").get_data(as_text=True)


def test_hook_pipelines_plugin_pipeline_is_stored_and_moves(project_app):
    app, api = project_app
    pipelines = {p["key"]: p for p in api.get("/pipelines").json["data"]}
    delivery = pipelines["delivery"]
    assert delivery["record_type"] == "project"
    assert [s["key"] for s in delivery["stages"]] == ["planned", "active", "delivered", "cancelled"]
    assert scalar(app, "SELECT origin FROM pipeline WHERE key = 'delivery'") == "registering"

    project = api.post("/projects", json={"name": "Apollo"}).json
    refused = api.patch(f"/projects/{project['id']}", json={"stage": "delivered"})
    assert_error(refused, 422, "validation_failed", fields=["stage"])
    assert api.patch(f"/projects/{project['id']}", json={"stage": "active"}).status_code == 200
    assert [(c["from"], c["to"]) for c in calls(app) if c["hook"] == "stage_changed"] == [
        (None, "planned"), ("planned", "active"),
    ]
    assert count(app, "stage_history", "record_type = 'project'") == 2


def test_plugin_pipeline_reaches_its_won_and_lost_stages(project_app):
    """Closing stages of a plugin's pipeline on a type without ``close_reason`` must be
    reachable: the core's close-reason guard is documented for deals."""
    _app, api = project_app
    project = api.post("/projects", json={"name": "Apollo", "stage": "active"}).json
    delivered = api.patch(f"/projects/{project['id']}", json={"stage": "delivered"})
    assert delivered.status_code == 200, delivered.json
    other = api.post("/projects", json={"name": "Gemini"}).json
    cancelled = api.patch(f"/projects/{other['id']}", json={"stage": "cancelled"})
    assert cancelled.status_code == 200, cancelled.json


def test_plugin_type_in_import_and_export(project_app, tmp_path):
    app, api = project_app
    source = tmp_path / "projects.jsonl"
    source.write_text('{"name": "Mercury", "budget": 10}\n{"name": "Vostok", "budget": 20}\n', encoding="utf-8")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    imported = run_accord(app.instance_path, "import", "project", source, plugins=["registering_plugin"],
                          database_url=url)
    assert imported.exit_code == 0, imported
    assert sorted(p["name"] for p in api.get("/projects").json["data"]) == ["Mercury", "Vostok"]
    exported = run_accord(app.instance_path, "export", "project", "--format", "jsonl",
                          plugins=["registering_plugin"], database_url=url)
    assert exported.exit_code == 0, exported
    assert [line for line in exported.stdout.splitlines() if '"Mercury"' in line]


def test_hook_search_providers_results_appear_in_global_search(project_app):
    _app, api = project_app
    project = api.post("/projects", json={"name": "Apollo"}).json
    found = api.get("/search?q=handbook")
    assert found.status_code == 200, found.json
    results = found.json["data"]
    assert {"type": "registering.page", "id": "handbook", "title": "Project handbook"}.items() <= results[0].items()
    records = api.get("/search?q=apollo").json["data"]
    assert [(r["type"], r["id"], r["url"]) for r in records] == [("project", project["id"], f"/api/v1/projects/{project['id']}")]


def test_hook_permissions_are_registered_with_their_plugin(project_app):
    app, _api = project_app
    permissions = current_accord(app).registrations().permissions
    assert permissions[registering_plugin.PERMISSION[0]] == ("registering", registering_plugin.PERMISSION[1])
    assert permissions["core.fields.manage"][0] == "accord.core"


def test_hook_blueprints_are_served(project_app):
    app, _api = project_app
    response = app.test_client().get("/registering/ping")
    assert response.status_code == 200
    assert response.json == {"plugin": "registering", "projects": 0}


def test_hook_navigation_items_are_collected(project_app):
    app, _api = project_app
    assert ("registering", {"label": "Projects", "url": "/projects", "order": 40}) in current_accord(app).registrations().navigation


def test_hook_dashboard_widgets_are_collected_and_answer(project_app):
    app, _api = project_app
    widgets = [(plugin, w) for plugin, w in current_accord(app).registrations().dashboard_widgets if w["key"] == "registering.projects"]
    assert len(widgets) == 1 and widgets[0][0] == "registering"
    admin = make_user(app, "viewer@example.com", "Vi Viewer")
    with app.app_context():
        assert widgets[0][1]["data"](app, admin) == {"projects": 0, "user": "viewer@example.com"}


def test_hook_help_topics_are_collected(project_app):
    app, _api = project_app
    topics = {t["key"]: (plugin, t) for plugin, t in current_accord(app).registrations().help_topics}
    plugin, topic = topics["registering.projects"]
    assert plugin == "registering" and topic["pages"] == ["/projects"] and topic["body"]


def test_hook_jobs_are_registered_by_name_and_run(project_app):
    app, api = project_app
    api.post("/projects", json={"name": "Apollo"})
    job = current_accord(app).registrations().jobs["registering.count_projects"]
    assert job["plugin"] == "registering" and job["schedule"] == "0 6 * * *"
    assert job["run"](app, note="manual") == {"projects": 1, "note": "manual"}


def test_hook_privacy_handlers_are_collected_and_export(project_app):
    app, api = project_app
    handlers = [(plugin, h) for plugin, h in current_accord(app).registrations().privacy_handlers]
    assert [plugin for plugin, _ in handlers] == ["registering"]
    contact_id = api.post("/contacts", json={"last_name": "Lovelace"}).json["id"]
    with app.test_request_context():
        contact = current_accord(app).records.get("contact", contact_id)
        assert handlers[0][1]["export"](app, contact) == {"contact": contact_id, "projects": []}
        assert handlers[0][1]["erase"](app, contact) is None


def test_hook_cli_commands_are_added_to_accord(tmp_path):
    listed = run_accord(tmp_path / "instance", "--help", plugins=["registering_plugin"])
    assert listed.exit_code == 0, listed
    assert "registering-hello" in listed.stdout
    greeted = run_accord(tmp_path / "instance", "registering-hello", "Ada", plugins=["registering_plugin"])
    assert greeted.exit_code == 0, greeted
    assert greeted.stdout.strip() == "hello Ada from registering"
    assert "registering-hello" not in run_accord(tmp_path / "instance", "--help").stdout


# Clashing registrations ----------------------------------------------------------------------


@pytest.mark.parametrize("clash, key, plugins", [
    (clashing_plugins.ProjectTypeAgain, "'project'", ("registering", "clashing_type")),
    (clashing_plugins.ContactPluralAgain, "contacts", ("accord.core", "clashing_plural")),
    (clashing_plugins.PermissionAgain, "'registering.project.approve'", ("registering", "clashing_permission")),
    (clashing_plugins.CorePermissionAgain, "'core.fields.manage'", ("accord.core", "clashing_core_permission")),
    (clashing_plugins.JobAgain, "'registering.count_projects'", ("registering", "clashing_job")),
])
def test_duplicate_registration_names_both_plugins(with_plugins, clash, key, plugins):
    with pytest.raises(RegistrationError) as refused:
        with_plugins(registering_plugin, clash())
    message = str(refused.value)
    assert key in message, message
    rest = message.replace(key, "")
    for plugin in plugins:
        assert re.search(rf"(?<![\w.]){re.escape(plugin)}(?![\w.])", rest), (plugin, message)


def test_duplicate_blueprint_name_is_refused(with_plugins):
    with pytest.raises(RegistrationError, match="clashing_blueprint") as refused:
        with_plugins(clashing_plugins.ApiBlueprintAgain())
    assert "'api'" in str(refused.value)
