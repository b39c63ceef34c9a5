"""``accord plugins ...``: the admin's way to see, switch, configure, upgrade and remove
plugins; every refusal is one line on standard error with exit status 1."""

import sqlite3
import sys
from pathlib import Path

import pytest
from cli_helpers import run_accord
from installed_helpers import installed_plugins  # noqa: F401  (fixture)

UPGRADABLE = Path(__file__).parent / "fixtures" / "upgradable"


@pytest.fixture
def accord(tmp_path):
    instance = tmp_path / "instance"

    def run(*args, **kwargs):
        return run_accord(instance, *args, **kwargs)

    run.database = instance / "accord.db"
    assert run("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return run


def ok(run):
    assert run.exit_code == 0, run
    return run.stdout


def refused(run, message):
    assert run.exit_code == 1, run
    assert run.stderr.startswith("Error: ") and message in run.stderr, run
    assert "Traceback" not in run.output and len(run.stderr.strip().splitlines()) == 1, run


def test_list_and_info_show_state_and_errors(installed_plugins, accord):  # noqa: F811
    listed = ok(accord("plugins", "list"))
    assert "fixture_tickets" in listed and "disabled" in listed
    assert "error: failed to import fixture_broken: RuntimeError: the fixture_broken plugin cannot start" in listed
    info = ok(accord("plugins", "info", "fixture_tickets"))
    assert "status: disabled" in info
    assert "setting: first_response_hours = 4 (integer, default 4)" in info
    assert "permission: fixture_tickets.ticket.assign: Assign tickets to agents" in info
    assert "error: needs accord >=99.0" in ok(accord("plugins", "info", "fixture_future"))
    refused(accord("plugins", "info", "nobody"), "There is no installed plugin 'nobody'.")


def test_enable_disable_cascade_and_settings(installed_plugins, accord):  # noqa: F811
    assert ok(accord("plugins", "enable", "fixture_escalation")) == "Enabled fixture_tickets, fixture_escalation.\n"
    refused(accord("plugins", "disable", "fixture_tickets"), "fixture_escalation requires fixture_tickets")
    assert "status: enabled" in ok(accord("plugins", "info", "fixture_tickets"))
    assert ok(accord("plugins", "disable", "fixture_tickets", "--cascade", "--yes")).splitlines() == [
        "This disables fixture_escalation, fixture_tickets.", "Disabled fixture_escalation, fixture_tickets (data kept)."]
    assert ok(accord("plugins", "settings", "fixture_tickets", "first_response_hours=9", "greeting=Hello there")) == (
        'first_response_hours = 9\ngreeting = "Hello there"\n')
    refused(accord("plugins", "settings", "fixture_tickets", "first_response_hours=0"),
            "first_response_hours: Must be at least 1.")
    refused(accord("plugins", "settings", "fixture_tickets", "nonsense"), "write settings as KEY=VALUE")
    assert "first_response_hours = 9" in ok(accord("plugins", "settings", "fixture_tickets"))


def test_refusals_are_one_line(installed_plugins, accord):  # noqa: F811
    refused(accord("plugins", "enable", "nobody"), "There is no installed plugin 'nobody'.")
    refused(accord("plugins", "enable", "fixture_cycle_a"), "dependency cycle")
    refused(accord("plugins", "enable", "fixture_broken"), "missing licence key")
    refused(accord("plugins", "enable", "fixture_bad_migration"), "no_such_table")
    refused(accord("plugins", "uninstall", "fixture_tickets"), "choose --keep")
    refused(accord("plugins", "upgrade", "fixture_tickets"), "is not enabled")


def test_uninstall_purge_drops_its_table_and_keeps_the_core(installed_plugins, accord, tmp_path):  # noqa: F811
    ok(accord("plugins", "enable", "fixture_tickets"))
    output = ok(accord("plugins", "uninstall", "fixture_tickets", "--purge", "--export", tmp_path / "out"))
    assert f"Exported its data to {tmp_path / 'out'}/fixture_tickets-" in output
    assert "dropped: table fixture_ticket" in output and output.endswith("Uninstalled fixture_tickets (purge).\n")
    with sqlite3.connect(accord.database) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "fixture_ticket" not in names and {"contact", "deal", "plugin_state"} <= names


def test_a_new_release_is_previewed_then_applied_by_db_upgrade(accord, monkeypatch):
    monkeypatch.syspath_prepend(str(UPGRADABLE / "v1"))
    ok(accord("plugins", "enable", "fixture_notes"))
    # what "pip install -U" and a new process would see: release 1.1 installed instead
    monkeypatch.syspath_prepend(str(UPGRADABLE / "v2"))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not p.endswith("v1")])
    for module in [m for m in sys.modules if m.split(".")[0] == "fixture_notes"]:
        monkeypatch.delitem(sys.modules, module)
    preview = ok(accord("plugins", "upgrade", "fixture_notes", "--dry-run"))
    assert "fixture_notes: installed 1.0.0, available 1.1.0; at revision fixture_notes_0001." in preview
    assert "migration fixture_notes_0002: Notes can be pinned." in preview
    assert "ALTER TABLE fixture_note ADD COLUMN pinned" in preview
    with sqlite3.connect(accord.database) as connection:
        assert "pinned" not in {row[1] for row in connection.execute("PRAGMA table_info(fixture_note)")}
    assert ok(accord("db", "upgrade")).startswith("Database at revision ")
    with sqlite3.connect(accord.database) as connection:
        assert "pinned" in {row[1] for row in connection.execute("PRAGMA table_info(fixture_note)")}
        assert connection.execute("SELECT installed_version FROM plugin_state").fetchall() == [("1.1.0",)]
        owned = set(connection.execute("SELECT kind, name FROM plugin_object WHERE plugin = 'fixture_notes'"))
    assert {("table", "fixture_note"), ("column", "fixture_note.pinned")} <= owned
    assert ok(accord("plugins", "upgrade", "fixture_notes")) == "fixture_notes is up to date.\n"


def test_db_upgrade_names_an_enabled_plugin_it_cannot_upgrade(installed_plugins, accord):  # noqa: F811
    with sqlite3.connect(accord.database) as connection:
        connection.execute("INSERT INTO plugin_state (name, enabled, settings, changed_at) "
                           "VALUES ('fixture_broken', 1, '{}', '2026-01-01 00:00:00')")
    run = accord("db", "upgrade")
    assert run.exit_code == 0, run
    assert "Skipped enabled plugin fixture_broken: failed to import fixture_broken" in run.stderr


def test_an_installed_plugins_commands_run_only_where_it_is_enabled(installed_plugins, accord):  # noqa: F811
    assert "tickets-count" in ok(accord("--help"))
    refused(accord("tickets-count"), "plugin fixture_tickets is not enabled here; run 'accord plugins enable "
                                     "fixture_tickets' first")
    ok(accord("plugins", "enable", "fixture_tickets"))
    assert ok(accord("tickets-count")) == "0\n"
