"""``accord privacy export|erase|retention`` on an instance (SQLite, in-process): JSON on
standard output or in a file, erasure only when confirmed, retention only when switched on;
errors as one line on stderr."""

import json
from datetime import timedelta

import pytest
from accord.core.db import utcnow
from accord.testing import ApiClient
from api_helpers import set_columns
from cli_helpers import refused, run_accord

ADMIN = "admin@example.com"
PERSON = {"first_name": "Augusta", "last_name": "Byronesque", "email": "augusta@example.org"}


@pytest.fixture
def accord(accord):
    run = accord
    assert run("init", "--admin-email", ADMIN, "--admin-password", "correct-horse").exit_code == 0
    return run


@pytest.fixture
def api(accord, open_app):
    token = accord("tokens", "create", "--user", ADMIN).stdout.strip().splitlines()[-1]
    return ApiClient(open_app(), token)


@pytest.fixture
def contact(api):
    response = api.post("/contacts", json=PERSON)
    assert response.status_code == 201
    return response.get_json()


def test_export_prints_json_or_writes_a_file(accord, api, contact, tmp_path):
    printed = accord("privacy", "export", contact["id"])
    assert printed.exit_code == 0, printed
    document = json.loads(printed.stdout)
    assert document["contact"]["email"] == PERSON["email"] and document["records"] == {}
    target = tmp_path / "augusta.json"
    written = accord("privacy", "export", contact["id"], "--output", target)
    assert written.exit_code == 0 and written.stdout == "", written
    assert json.loads(target.read_text())["contact"]["last_name"] == PERSON["last_name"]


def test_erase_asks_first_unless_told_yes(accord, api, contact):
    declined = accord("privacy", "erase", contact["id"], input="n\n")
    assert declined.exit_code == 1, declined
    assert api.get(f"/contacts/{contact['id']}").get_json()["last_name"] == PERSON["last_name"]
    confirmed = accord("privacy", "erase", contact["id"], input="y\n")
    assert confirmed.exit_code == 0, confirmed
    assert confirmed.stdout.strip() == f"Erased contact {contact['id']}: 3 field(s) emptied in 1 record(s)."
    assert api.get(f"/contacts/{contact['id']}").get_json()["last_name"] == "Erased"
    again = accord("privacy", "erase", contact["id"], "--yes")
    assert again.stdout.strip() == f"Erased contact {contact['id']}: 0 field(s) emptied in 0 record(s)."


@pytest.mark.parametrize("args, fragment", [
    (("export", "424242"), "Contact 424242 does not exist"),
    (("erase", "424242", "--yes"), "Contact 424242 does not exist"),
    (("erase", "424242"), "Contact 424242 does not exist"),
    (("export", "ada"), "'ada' is not a contact id"),
    (("erase", "0", "--yes"), "'0' is not a contact id"),
    (("retention",), "retention is off"),
])
def test_errors_are_one_line(accord, args, fragment):
    refused(accord("privacy", *args), 1, fragment)


def test_retention_erases_inactive_contacts_or_lists_them(instance, accord, api, contact, monkeypatch):
    recent = api.post("/contacts", json={"last_name": "Hopperfield"}).get_json()
    set_columns(api.app, "contact", [contact["id"]], updated_at=utcnow() - timedelta(days=40))
    monkeypatch.setenv("ACCORD_RETENTION_INACTIVE_DAYS", "30")
    listed = run_accord(instance, "privacy", "retention", "--dry-run")
    assert listed.exit_code == 0, listed
    assert listed.stdout.strip() == f"Would erase 1 contact(s) inactive for 30 days: {contact['id']}."
    assert api.get(f"/contacts/{contact['id']}").get_json()["last_name"] == PERSON["last_name"]
    erased = run_accord(instance, "privacy", "retention")
    assert erased.stdout.strip() == f"Erased 1 contact(s) inactive for 30 days: {contact['id']}."
    assert api.get(f"/contacts/{contact['id']}").get_json()["last_name"] == "Erased"
    assert api.get(f"/contacts/{recent['id']}").get_json()["last_name"] == "Hopperfield"
