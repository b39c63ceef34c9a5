"""The ``accord`` command: its public surface as DESIGN.md promises it.

Each test runs the command in-process (click's ``CliRunner``) on its own instance folder
with a SQLite database, whatever ``ACCORD_TEST_DATABASE_URL`` says: the command reads
``ACCORD_DATABASE_URL``, which the runner clears. Errors must be one line on standard
error with exit status 1, never a traceback.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest
from accord.core.db import db
from cli_helpers import run_accord
from recording_plugin import events

ADMIN = "admin@example.com"
PASSWORD = "correct-horse"
TOKEN = re.compile(r"^acc_[A-Za-z0-9_-]{20,}$")


@pytest.fixture
def initialised(accord):
    run = accord("init", "--admin-email", ADMIN, "--admin-password", PASSWORD)
    assert run.exit_code == 0, run
    return run


@pytest.fixture
def api_for(open_app):
    """``api_for(token)`` → a bearer-token client on the instance (paths relative to /api/v1)."""
    from accord.testing import ApiClient

    def make(token):
        return ApiClient(open_app(), token)

    return make


@pytest.fixture
def api(accord, initialised, api_for):
    """An API client with a token made by ``accord tokens create``."""
    run = accord("tokens", "create", "--user", ADMIN)
    assert run.exit_code == 0, run
    return api_for(run.stdout.strip().splitlines()[-1])


def assert_one_line_error(run, *fragments):
    """Exit status 1, one line on standard error, no traceback anywhere."""
    assert run.exit_code == 1, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run
    assert lines[0].startswith("Error: "), run
    assert "Traceback" not in run.output and "Traceback" not in run.stderr, run
    for fragment in fragments:
        assert fragment in lines[0], (fragment, run)
    return lines[0]


# Help ----------------------------------------------------------------------------------------


def test_help_lists_the_commands(accord):
    run = accord("--help")
    assert run.exit_code == 0, run
    for command in ("init", "db", "serve", "demo", "tokens", "fields", "import", "export"):
        assert re.search(rf"^\s+{command}\s", run.stdout, re.MULTILINE), (command, run.stdout)
    assert "--instance" in run.stdout


def test_help_does_not_create_an_app_or_touch_the_instance(tmp_path):
    """``accord --help`` lists the commands (installed plugins' too, so their code is imported)
    without building an app: no instance folder, no database."""
    code = "from accord.cli import main\nmain(['--help'])"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["ACCORD_INSTANCE_PATH"] = str(tmp_path / "instance")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Commands:" in done.stdout and "plugins" in done.stdout
    assert not (tmp_path / "instance").exists()


def test_version_option(accord):
    import accord as package

    run = accord("--version")
    assert run.exit_code == 0, run
    assert package.__version__ in run.stdout


# init and db ---------------------------------------------------------------------------------


def test_init_creates_the_database_and_the_admin(accord, instance, open_app):
    run = accord("init", "--admin-email", ADMIN, "--admin-password", PASSWORD)
    assert run.exit_code == 0, run
    assert f"administrator {ADMIN} created" in run.stdout
    assert (instance / "accord.db").is_file()
    from accord.core.accounts import find_user

    app = open_app()
    with app.app_context():
        user = find_user(ADMIN)
        assert user.is_admin and user.is_active
        from accord.core.passwords import check_password

        assert user.password_hash.startswith("$argon2id$") and check_password(user.password_hash, PASSWORD) == (True, None)

    again = accord("init", "--admin-email", ADMIN, "--admin-password", PASSWORD)
    assert again.exit_code == 0, again
    assert "already exists" in again.stdout


def test_init_prompts_when_options_are_omitted(accord):
    run = accord("init", input=f"{ADMIN}\n{PASSWORD}\n{PASSWORD}\n")
    assert run.exit_code == 0, run
    assert f"administrator {ADMIN} created" in run.stdout
    assert PASSWORD not in run.output


def test_init_refuses_a_short_password(accord):
    assert_one_line_error(accord("init", "--admin-email", ADMIN, "--admin-password", "short"), "8 characters")


def test_init_refuses_an_invalid_email(accord):
    assert_one_line_error(accord("init", "--admin-email", "not-an-email", "--admin-password", PASSWORD),
                          "not-an-email")


def test_db_upgrade_prints_the_revision(accord, instance):
    from accord.core.migrate import alembic_config
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    run = accord("db", "upgrade")
    assert run.exit_code == 0, run
    assert run.stdout.strip() == f"Database at revision {head}."
    assert (instance / "accord.db").is_file()
    again = accord("db", "upgrade")
    assert again.exit_code == 0 and again.stdout.strip() == f"Database at revision {head}."


# tokens --------------------------------------------------------------------------------------


def test_tokens_create_prints_a_working_token_alone_on_the_last_line(accord, initialised, api_for):
    run = accord("tokens", "create", "--user", ADMIN, "--name", "laptop")
    assert run.exit_code == 0, run
    lines = run.stdout.strip().splitlines()
    token = lines[-1]
    assert TOKEN.match(token), run
    assert token not in run.stderr
    api = api_for(token)
    assert api.get("/contacts").status_code == 200
    created = api.post("/contacts", json={"last_name": "Lovelace"})
    assert created.status_code == 201, created.json
    assert api_for("acc_not-a-real-token-at-all-000000").get("/contacts").status_code == 401


def test_tokens_create_with_read_scope_cannot_write(accord, initialised, api_for):
    run = accord("tokens", "create", "--user", ADMIN, "--scope", "read")
    assert run.exit_code == 0, run
    api = api_for(run.stdout.strip().splitlines()[-1])
    assert api.get("/contacts").status_code == 200
    assert api.post("/contacts", json={"last_name": "Lovelace"}).status_code == 403


def test_tokens_create_for_an_unknown_user_fails_in_one_line(accord, initialised):
    run = accord("tokens", "create", "--user", "nobody@example.com")
    assert_one_line_error(run, "nobody@example.com")
    assert run.stdout == ""


def test_command_on_an_uninitialised_instance_fails_in_one_line(accord):
    assert_one_line_error(accord("tokens", "create", "--user", ADMIN), "accord init")


def test_an_unreachable_database_is_one_line(accord):
    run = accord("db", "upgrade", database_url="postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert_one_line_error(run, "cannot use the database")


# fields --------------------------------------------------------------------------------------


def test_fields_add_list_and_remove(accord, api, open_app):
    added = accord("fields", "add", "contact", "tier", "--kind", "choice", "--choice", "gold",
                   "--choice", "silver", "--indexed")
    assert added.exit_code == 0, added
    assert added.stdout.strip() == "Added contact.tier (choice)."

    listed = accord("fields", "list", "contact")
    assert listed.exit_code == 0, listed
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines() if line.strip()}
    assert rows["tier"][:2] == ["choice", "custom"] and "indexed" in rows["tier"]
    assert rows["last_name"][:2] == ["text", "built-in"] and "required" in rows["last_name"]

    field = {f["name"]: f for f in api.get("/types/contact").json["fields"]}["tier"]
    assert [c["key"] for c in field["choices"]] == ["gold", "silver"] and field["indexed"] and field["custom"]
    assert api.post("/contacts", json={"last_name": "A", "tier": "bronze"}).status_code == 422
    assert api.post("/contacts", json={"last_name": "B", "tier": "gold"}).status_code == 201
    app = open_app()
    with app.app_context():
        index = db.session.execute(db.text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'ix_cf_contact_tier'"
        )).scalar()
    assert index == "ix_cf_contact_tier"

    removed = accord("fields", "remove", "contact", "tier")
    assert removed.exit_code == 0, removed
    assert removed.stdout.startswith("Removed contact.tier")
    listed = accord("fields", "list", "contact")
    assert "tier" not in [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
    assert "tier" not in {f["name"] for f in api.get("/types/contact").json["fields"]}


def test_fields_add_with_a_bad_kind_fails_in_one_line(accord, initialised):
    line = assert_one_line_error(accord("fields", "add", "contact", "tier", "--kind", "colour"), "kind")
    assert "choice" in line, "the error lists the kinds"
    listed = accord("fields", "list", "contact")
    assert "tier" not in listed.stdout


def test_fields_on_an_unknown_type_fail_in_one_line(accord, initialised):
    assert_one_line_error(accord("fields", "list", "spaceship"), "spaceship")
    assert_one_line_error(accord("fields", "add", "spaceship", "tier", "--kind", "text"), "spaceship")


def test_fields_remove_of_a_built_in_field_fails_in_one_line(accord, initialised):
    assert_one_line_error(accord("fields", "remove", "contact", "last_name"), "last_name")
    assert_one_line_error(accord("fields", "remove", "contact", "nosuchfield"), "nosuchfield")


# import and export ---------------------------------------------------------------------------


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_import_csv_creates_records_and_fires_hooks(accord, api, tmp_path):
    source = write(tmp_path / "contacts.csv",
                   "first_name,last_name,email\nAda,Lovelace,ada@example.com\nCharles,Babbage,\nAlan,Turing,alan@example.com\n")
    run = accord("import", "contact", source, plugins=["recording_plugin"])
    assert run.exit_code == 0, run
    assert run.stdout.strip() == "Imported 3 contact record(s)."
    assert events(run.app, "after_commit", "contact") == [("create", "import")] * 3
    contacts = api.get("/contacts?sort=last_name").json["data"]
    assert [(c["first_name"], c["last_name"], c["email"]) for c in contacts] == [
        ("Charles", "Babbage", None), ("Ada", "Lovelace", "ada@example.com"), ("Alan", "Turing", "alan@example.com"),
    ]
    assert {c["description"] for c in contacts} == {"created via import"}, "the recording plugin's before-save ran"


def test_import_as_user_sets_the_creator(accord, api, tmp_path):
    source = write(tmp_path / "contacts.jsonl", '{"last_name": "Lovelace", "first_name": "Ada"}\n\n{"last_name": "Hopper"}\n')
    run = accord("import", "contact", source, "--as-user", ADMIN)
    assert run.exit_code == 0, run
    contacts = api.get("/contacts").json["data"]
    assert len(contacts) == 2
    assert len({c["created_by"] for c in contacts}) == 1 and contacts[0]["created_by"] is not None


def test_import_with_one_bad_row_imports_nothing_and_names_the_line(accord, api, tmp_path):
    source = write(tmp_path / "contacts.csv",
                   "first_name,last_name,email\nAda,Lovelace,ada@example.com\nGrace,,grace@example.com\nAlan,Turing,\n")
    run = accord("import", "contact", source)
    line = assert_one_line_error(run, "line 3", "nothing was imported")
    assert "last_name" in line
    assert api.get("/contacts").json["data"] == []


def test_import_bad_json_line_imports_nothing(accord, api, tmp_path):
    source = write(tmp_path / "contacts.jsonl", '{"last_name": "Lovelace"}\n{"last_name": \n')
    assert_one_line_error(accord("import", "contact", source), "line 2")
    assert api.get("/contacts").json["data"] == []


def test_import_refuses_other_kinds_of_file_and_text_that_is_not_utf8(accord, api, tmp_path):
    spreadsheet = tmp_path / "contacts.xlsx"
    spreadsheet.write_bytes(b"PK\x03\x04binary")
    assert_one_line_error(accord("import", "contact", str(spreadsheet)), "contacts.xlsx", ".csv")
    latin = tmp_path / "contacts.csv"
    latin.write_bytes("last_name\nM\xfcller\n".encode("latin-1"))
    assert_one_line_error(accord("import", "contact", str(latin)), "not UTF-8")
    assert api.get("/contacts").json["data"] == []


def test_import_of_an_unknown_type_fails_in_one_line(accord, initialised, tmp_path):
    source = write(tmp_path / "things.csv", "name\nx\n")
    assert_one_line_error(accord("import", "spaceship", source), "spaceship")


def test_import_with_a_bad_stage_imports_nothing(accord, api, tmp_path):
    """Pipeline checks are part of "every row is checked before any is written"."""
    source = write(tmp_path / "deals.csv", "name,amount,stage\nGood,100,qualified\nBad,100,nowhere\n")
    run = accord("import", "deal", source)
    assert_one_line_error(run, "line 3", "nowhere")
    assert api.get("/deals").json["data"] == []


@pytest.fixture
def exported_contacts(accord, api, tmp_path):
    source = write(tmp_path / "contacts.csv",
                   "first_name,last_name,email,job_title\nAda,Lovelace,ada@example.com,=SUM(A1)\nCharles,Babbage,,\n")
    assert accord("import", "contact", source).exit_code == 0
    return api.get("/contacts?sort=id").json["data"]


def test_export_csv(accord, exported_contacts):
    run = accord("export", "contact", "--format", "csv")
    assert run.exit_code == 0, run
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [int(r["id"]) for r in rows] == [c["id"] for c in exported_contacts]
    assert [r["last_name"] for r in rows] == ["Lovelace", "Babbage"]
    assert rows[0]["email"] == "ada@example.com" and rows[1]["email"] == ""
    assert rows[0]["job_title"] == "'=SUM(A1)", "cells that spreadsheets would run as formulas are quoted"
    assert {"id", "created_at", "updated_at", "version", "first_name"} <= set(rows[0])


def test_export_jsonl(accord, exported_contacts):
    run = accord("export", "contact", "--format", "jsonl")
    assert run.exit_code == 0, run
    documents = [json.loads(line) for line in run.stdout.splitlines()]
    assert documents == exported_contacts


def test_export_of_an_empty_type_writes_nothing(accord, initialised):
    run = accord("export", "organization")
    assert run.exit_code == 0, run
    assert run.stdout == ""


def test_export_of_an_unknown_type_fails_in_one_line(accord, initialised):
    assert_one_line_error(accord("export", "spaceship"), "spaceship")


def test_an_export_imports_again_on_another_instance(tmp_path):
    """Standard columns in an exported file are left out on import: records get new ones."""
    source, target = tmp_path / "source", tmp_path / "target"
    for folder in (source, target):
        assert run_accord(folder, "init", "--admin-email", ADMIN, "--admin-password", PASSWORD).exit_code == 0
    people = tmp_path / "people.csv"
    people.write_text("first_name,last_name,email\nAda,Lovelace,ada@example.com\nGrace,Hopper,\n")
    assert run_accord(source, "import", "contact", str(people)).exit_code == 0
    for fmt in ("csv", "jsonl"):
        exported = tmp_path / f"export.{fmt}"
        exported.write_text(run_accord(source, "export", "contact", "--format", fmt).stdout)
        run = run_accord(target, "import", "contact", str(exported))
        assert run.exit_code == 0, run
        assert "Imported 2 contact record(s)." in run.stdout
