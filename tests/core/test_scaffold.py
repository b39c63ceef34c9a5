"""``accord plugins new``: the names and folders it refuses, the files it writes, and, end
to end, a generated plugin built into a wheel, installed beside an installed accord-crm
and taken through its whole life from the command line and over HTTP, its own tests
passing there.

The end-to-end test works in a fresh virtual environment (see ``venv_helpers``) where
the editable ``accord`` of this checkout is not importable, so it builds the accord-crm
wheel from a copy of the repository first, as the packaging test does. Its budget is 90
seconds.
"""

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from accord import __version__
from accord.core.discovery import compatibility_problem
from accord.core.hookspecs import HOOK_CONTRACT_VERSION
from accord.core.manifest import read_manifest
from accord.core.scaffold import ScaffoldError, scaffold_plugin
from cli_helpers import run_accord
from packaging.version import Version
from process_helpers import (
    clean_environment,
    free_port,
    http_json,
    stop,
    wait_until_serving,
)
from venv_helpers import fresh_venv, pip_install

REPO = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 90
LEFTOVERS = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".ruff_cache",
                                   ".pytest_cache", ".benchmarks", ".venv", "instance")
EXPECTED_FILES = {
    "pyproject.toml",
    "README.md",
    "accord_plugin_help_desk/__init__.py",
    "accord_plugin_help_desk/plugin.toml",
    "accord_plugin_help_desk/models.py",
    "accord_plugin_help_desk/migrations/0001_help_desk_item.py",
    "accord_plugin_help_desk/templates/help_desk/item.html",
    "tests/test_plugin.py",
}


def _files(folder):
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


# Refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "Help_desk", "1desk", "_desk", "help-desk", "help desk", "desk!",
                                  "bürodesk", "d" * 41, None])
def test_a_name_the_manifest_would_refuse_is_refused_and_nothing_is_written(tmp_path, name):
    with pytest.raises(ScaffoldError) as refused:
        scaffold_plugin(name, tmp_path)
    message = str(refused.value)
    assert message.startswith(f"{name!r} is not a plugin name") and "lower-case letters" in message
    assert "at most 40" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_the_longest_name_still_makes_a_usable_plugin(tmp_path):
    name = "d" * 40
    folder = scaffold_plugin(name, tmp_path)
    manifest = read_manifest(folder / f"accord_plugin_{name}", expected_name=name)
    assert manifest.name == name
    migration = _module(folder / f"accord_plugin_{name}" / "migrations" / f"0001_{name}_item.py")
    assert len(migration.revision) <= 32  # Alembic's version column holds 32 characters


def test_a_folder_with_something_in_it_is_refused(tmp_path):
    folder = tmp_path / "accord-plugin-help-desk"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError) as refused:
        scaffold_plugin("help_desk", tmp_path)
    assert str(refused.value) == (f"{folder} already exists and is not empty; remove it or choose another --path")
    assert _files(folder) == {"notes.txt"}


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "accord-plugin-help-desk").write_text("not a folder")
    with pytest.raises(ScaffoldError, match="already exists"):
        scaffold_plugin("help_desk", tmp_path)


def test_an_empty_folder_is_filled_and_a_missing_path_is_made(tmp_path):
    (tmp_path / "accord-plugin-help-desk").mkdir()
    assert _files(scaffold_plugin("help_desk", tmp_path)) == EXPECTED_FILES
    assert _files(scaffold_plugin("help_desk", tmp_path / "new" / "place")) == EXPECTED_FILES


def test_the_command_prints_the_folder_or_one_line_of_error(tmp_path):
    made = run_accord(tmp_path / "instance", "plugins", "new", "help_desk", "--path", str(tmp_path))
    assert made.exit_code == 0, made
    assert made.stdout.startswith(f"Created {tmp_path / 'accord-plugin-help-desk'}.")
    again = run_accord(tmp_path / "instance", "plugins", "new", "help_desk", "--path", str(tmp_path))
    assert again.exit_code == 1 and again.stderr.count("\n") == 1 and "already exists" in again.stderr
    bad = run_accord(tmp_path / "instance", "plugins", "new", "Help-Desk", "--path", str(tmp_path))
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: 'Help-Desk' is not a plugin name")


# What is written -----------------------------------------------------------------------


def test_the_distribution_has_the_expected_files_and_a_valid_manifest(tmp_path):
    folder = scaffold_plugin("help_desk", tmp_path)
    assert folder == tmp_path / "accord-plugin-help-desk"
    assert _files(folder) == EXPECTED_FILES

    manifest = read_manifest(folder / "accord_plugin_help_desk", expected_name="help_desk")
    assert manifest.version == Version("0.1.0") and manifest.hook_contract == HOOK_CONTRACT_VERSION
    assert compatibility_problem(manifest) is None and manifest.accord.contains(__version__)
    assert set(manifest.settings) == {"follow_up_days"} and manifest.settings["follow_up_days"].default == 7
    assert manifest.migrations == folder / "accord_plugin_help_desk" / "migrations"
    assert manifest.templates == folder / "accord_plugin_help_desk" / "templates"

    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == "accord-plugin-help-desk"
    assert project["project"]["version"] == str(manifest.version)
    assert project["project"]["dependencies"] == [f"accord-crm{manifest.accord}"]
    assert project["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    assert project["project"]["entry-points"]["accord.plugins"] == {"help_desk": "accord_plugin_help_desk"}
    assert project["tool"]["setuptools"]["package-data"]["accord_plugin_help_desk"] == [
        "plugin.toml", "migrations/*.py", "templates/**/*"]

    for path in folder.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    migration = _module(folder / "accord_plugin_help_desk" / "migrations" / "0001_help_desk_item.py")
    assert migration.down_revision is None and migration.branch_labels == ("help_desk",)
    assert all("$" not in (folder / name).read_text() for name in EXPECTED_FILES)


def _module(path):
    spec = importlib.util.spec_from_file_location(f"scaffolded_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCHEMA_CHECK = """
import importlib, importlib.util, json, sys
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import inspect
from accord.core import create_app, db

instance, url, migration_path = sys.argv[1:]
models = importlib.import_module("accord_plugin_help_desk.models")
spec = importlib.util.spec_from_file_location("migration", migration_path)
migration = importlib.util.module_from_spec(spec)
spec.loader.exec_module(migration)
app = create_app({"INSTANCE_PATH": instance, "DATABASE_URL": url, "DISCOVER_PLUGINS": False})
with app.app_context(), db.engine.connect() as connection:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with Operations.context(context):
        migration.upgrade()
    created = inspect(connection).get_table_names()
    diffs = [repr(d) for d in compare_metadata(context, db.metadata) if "help_desk_item" in repr(d)]
    with Operations.context(context):
        migration.downgrade()
    left = inspect(connection).get_table_names()
    connection.commit()
print(json.dumps({"created": "help_desk_item" in created, "diffs": diffs, "left": "help_desk_item" in left}))
"""


def test_the_migration_creates_exactly_what_the_model_declares_and_drops_it(app, tmp_path):
    """Compared by Alembic's autogenerate on the test database (SQLite, or PostgreSQL when
    ACCORD_TEST_DATABASE_URL is set); in a child process, so the model never joins this
    process's metadata."""
    folder = scaffold_plugin("help_desk", tmp_path / "src")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    environment = {**clean_environment(), "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", SCHEMA_CHECK, str(tmp_path / "instance"), url,
         str(folder / "accord_plugin_help_desk" / "migrations" / "0001_help_desk_item.py")],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"created": True, "diffs": [], "left": False}


# End to end ----------------------------------------------------------------------------


def run(*command, timeout, cwd):
    done = subprocess.run([str(c) for c in command], env=clean_environment(), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(source, wheels, timeout):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
        "-w", wheels, source, timeout=timeout, cwd=source.parent)
    return wheels


@pytest.fixture(scope="module")
def accord_wheel(tmp_path_factory):
    """``(wheel of accord-crm built from a copy of this checkout, seconds it took)``."""
    started = time.monotonic()
    work = tmp_path_factory.mktemp("accord-wheel")
    shutil.copytree(REPO, work / "source", ignore=LEFTOVERS)
    wheels = build_wheel(work / "source", work / "wheels", BUDGET_SECONDS)
    (wheel,) = wheels.glob("accord_crm-*.whl")
    return wheel, time.monotonic() - started


def _table_rows(database, table):
    with closing(sqlite3.connect(database)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if table not in tables:
            return None
        return connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def test_a_generated_plugin_builds_installs_and_lives_its_whole_life(accord_wheel, tmp_path):
    wheel, build_seconds = accord_wheel
    started = time.monotonic()

    def left():
        """Seconds of the budget still unspent: the timeout of the next step."""
        return max(BUDGET_SECONDS - build_seconds - (time.monotonic() - started), 1)

    python = fresh_venv(tmp_path / "venv")
    pip_install(python, wheel, timeout=left())
    bin_folder = python.parent
    instance = tmp_path / "instance"
    database = instance / "accord.db"

    def accord(*args):
        return run(bin_folder / "accord", "--instance", instance, *args, timeout=left(), cwd=tmp_path)

    # Generated by the installed accord-crm, so its wheel must carry the templates.
    created = accord("plugins", "new", "help_desk", "--path", tmp_path / "src")
    folder = tmp_path / "src" / "accord-plugin-help-desk"
    assert f"Created {folder}." in created.stdout
    (plugin_wheel,) = build_wheel(folder, tmp_path / "wheels", left()).glob("accord_plugin_help_desk-0.1.0-*.whl")
    pip_install(python, plugin_wheel, timeout=left())

    accord("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse")
    listed = accord("plugins", "list").stdout.splitlines()
    assert [line.split()[:3] for line in listed if line.startswith("help_desk ")] == [
        ["help_desk", "0.1.0", "disabled"]]
    assert accord("plugins", "enable", "help_desk").stdout.strip() == "Enabled help_desk."
    token = accord("tokens", "create", "--user", "admin@example.com").stdout.strip().splitlines()[-1]

    port = free_port()
    server = subprocess.Popen(
        [str(bin_folder / "accord"), "--instance", str(instance), "serve", "--port", str(port), "--workers", "2"],
        env=clean_environment(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    site = f"http://127.0.0.1:{port}"
    api = f"{site}/api/v1"
    try:
        wait_until_serving(server, f"{api}/openapi.json", timeout=left())
        status, contact = http_json("POST", f"{api}/contacts", token, {"last_name": "Doe"})
        assert status == 201, contact
        status, item = http_json("POST", f"{api}/help_desk_items", token,
                                 {"title": "Call back", "contact_id": contact["id"]})
        assert status == 201, item
        assert item["follow_up_days"] == 7 and item["contact_id"] == contact["id"]
        assert http_json("GET", f"{site}/help-desk/")[0] == 200

        accord("plugins", "settings", "help_desk", "follow_up_days=3")
        status, second = http_json("POST", f"{api}/help_desk_items", token, {"title": "Send the quote"})
        assert (status, second["follow_up_days"]) == (201, 3)

        assert accord("plugins", "disable", "help_desk").stdout.strip() == "Disabled help_desk (data kept)."
        for _ in range(4):  # whichever worker answers
            assert http_json("GET", f"{api}/help_desk_items", token)[0] == 404
            assert http_json("GET", f"{api}/help_desk_items/{item['id']}", token)[0] == 404
            assert http_json("GET", f"{site}/help-desk/")[0] == 404
        assert _table_rows(database, "help_desk_item") == 2

        accord("plugins", "enable", "help_desk")
        for _ in range(4):
            status, back = http_json("GET", f"{api}/help_desk_items/{item['id']}", token)
            assert (status, back["title"], back["follow_up_days"]) == (200, "Call back", 7)
    finally:
        stop(server)

    purged = accord("plugins", "uninstall", "help_desk", "--purge").stdout
    assert "dropped: table help_desk_item" in purged and "Uninstalled help_desk (purge)." in purged
    (export,) = (instance / "exports").glob("help_desk-*")
    assert len((export / "help_desk_item.jsonl").read_text().splitlines()) == 2
    assert _table_rows(database, "help_desk_item") is None
    assert _table_rows(database, "alembic_version_help_desk") is None
    assert _table_rows(database, "contact") == 1 and _table_rows(database, "user") == 1
    assert [line.split()[2] for line in accord("plugins", "list").stdout.splitlines()
            if line.startswith("help_desk ")] == ["disabled"]

    # The plugin's own tests, with the accord.testing fixtures of the installed accord-crm.
    tested = run(python, "-m", "pytest", "-q", folder / "tests", "-p", "no:cacheprovider",
                 timeout=left(), cwd=tmp_path)
    assert "4 passed" in tested.stdout, tested.stdout
    assert build_seconds + time.monotonic() - started < BUDGET_SECONDS
