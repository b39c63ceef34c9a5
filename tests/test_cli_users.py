"""``accord users create|list|roles|set-role|deactivate|activate`` on an instance (SQLite,
in-process). Refused input, an unknown user or a refused change is one line on stderr
with exit status 1; never a traceback."""

import re

import pytest
from accord.testing import ApiClient
from cli_helpers import refused, run_accord

ADMIN = "admin@example.com"
PASSWORD = "correct-horse"


@pytest.fixture
def accord(accord):
    """The command on an instance made by ``accord init``."""
    run = accord
    assert run("init", "--admin-email", ADMIN, "--admin-password", PASSWORD).exit_code == 0
    return run


def table(run):
    """The rows of a table the command printed, as lists of cells (header first)."""
    assert run.exit_code == 0, run
    return [re.split(r"\s{2,}", line.strip()) for line in run.stdout.splitlines()]


def users(accord):
    return [row[:5] for row in table(accord("users", "list"))]


def stored_user(open_app, email):
    from accord.core.accounts import find_user

    with open_app().app_context():
        return find_user(email)


# create and list -------------------------------------------------------------------------------


def test_create_then_list(accord, open_app):
    run = accord("users", "create", "--email", "bea@example.com", "--name", "Bea Smith", "--password", "bea-secret-1")
    assert run.exit_code == 0, run
    assert run.stdout == "Created user 2: bea@example.com (user).\n"
    run = accord("users", "create", "--email", "cy@example.com", "--name", "Cy", "--role", "admin",
                 "--password", "cy-secret-12")
    assert run.stdout == "Created user 3: cy@example.com (admin).\n"
    rows = table(accord("users", "list"))
    assert rows[0] == ["id", "email", "name", "role", "active", "created"]
    assert [row[:5] for row in rows[1:]] == [
        ["1", ADMIN, "Administrator", "admin", "yes"],
        ["2", "bea@example.com", "Bea Smith", "user", "yes"],
        ["3", "cy@example.com", "Cy", "admin", "yes"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\dZ", row[5]) for row in rows[1:]), rows
    from accord.core.passwords import check_password

    assert check_password(stored_user(open_app, "bea@example.com").password_hash, "bea-secret-1")[0]


def test_create_asks_for_the_password_twice_without_showing_it(accord, open_app):
    from accord.core.passwords import check_password

    run = accord("users", "create", "--email", "dee@example.com", "--name", "Dee",
                 input="typed-secret-9\ntyped-secret-9\n")
    assert run.exit_code == 0, run
    assert run.stdout == "Created user 2: dee@example.com (user).\n"
    assert "typed-secret-9" not in run.output
    assert "Password" in run.stderr and "Repeat for confirmation" in run.stderr
    assert check_password(stored_user(open_app, "dee@example.com").password_hash, "typed-secret-9")[0]


def test_a_taken_email_is_refused_whatever_its_case(accord):
    accord("users", "create", "--email", "bea@example.com", "--name", "Bea", "--password", "bea-secret-1")
    line = refused(accord("users", "create", "--email", "  BEA@example.com ", "--name", "Other",
                          "--password", "other-secret"), 1)
    assert line == "Error: The user cannot be created. email: BEA@example.com already belongs to user 2"
    refused(accord("users", "create", "--email", ADMIN, "--name", "Again", "--password", "again-secret"), 1,
            "already belongs to user 1")
    assert [row[1] for row in users(accord)[1:]] == [ADMIN, "bea@example.com"]


def test_bad_email_short_password_and_unknown_role_are_refused_together(accord):
    line = refused(accord("users", "create", "--email", "not-an-email", "--name", "X", "--role", "boss",
                          "--password", "short"), 1)
    assert line == ("Error: The user cannot be created. role: 'boss' is not a role; the roles are admin, manager, sales, agent, read_only, user; "
                    "email: 'not-an-email' is not a valid email address; password: needs at least 8 characters")
    assert len(users(accord)) == 2


def test_a_refused_email_is_reported_before_the_password_is_asked_for(accord):
    run = accord("users", "create", "--email", "nope", "--name", "X", input="whatever-123\nwhatever-123\n")
    refused(run, 1, "'nope' is not a valid email address")
    assert "Password" not in run.stderr


def test_a_name_the_user_type_refuses_is_one_line(accord):
    refused(accord("users", "create", "--email", "long@example.com", "--name", "x" * 121,
                   "--password", "long-secret-1"), 1, "name:")


def test_roles_lists_every_role(accord):
    run = accord("users", "roles")
    assert run.exit_code == 0, run
    assert [line.split()[0] for line in run.stdout.splitlines()] == ["admin", "manager", "sales", "agent", "read_only",
                                                                     "user"]
    assert "contact read,create,update,delete (own)" not in run.stdout
    assert "* read,create,update,delete (own)" in run.stdout


def test_a_custom_role_is_defined_listed_given_and_removed(accord):
    assert accord("users", "create", "--email", "rep@example.com", "--name", "Rep", "--password", "rep-secret-1"
                  ).exit_code == 0
    assert accord("users", "define-role", "field_rep", "--label", "Field rep", "--grant", "contact=read,update:team",
                  "--grant", "deal=read").exit_code == 0
    assert "field_rep" in accord("users", "roles").stdout
    refused(accord("users", "define-role", "rep2", "--label", "R", "--grant", "contact=read,fly"), 1, "'fly'")
    refused(accord("users", "define-role", "rep3", "--label", "R", "--grant", "contact=read:galaxy"), 1, "'galaxy'")
    refused(accord("users", "define-role", "sales", "--label", "R", "--grant", "*=read"), 1, "built-in")
    refused(accord("users", "define-role", "rep4", "--label", "R", "--grant", "spaceship=read"), 1, "spaceship")
    assert accord("users", "set-role", "rep@example.com", "field_rep").exit_code == 0
    refused(accord("users", "remove-role", "field_rep"), 1, "rep@example.com")
    assert accord("users", "set-role", "rep@example.com", "user").exit_code == 0
    assert accord("users", "remove-role", "field_rep").exit_code == 0
    assert "field_rep" not in accord("users", "roles").stdout


# set-role --------------------------------------------------------------------------------------


def test_set_role_both_ways(accord):
    accord("users", "create", "--email", "bea@example.com", "--name", "Bea", "--password", "bea-secret-1")
    run = accord("users", "set-role", "BEA@example.com", "admin")
    assert run.stdout == "bea@example.com now has the role admin.\n", run
    assert accord("users", "set-role", "bea@example.com", "admin").stdout == \
        "bea@example.com already has the role admin.\n"
    assert accord("users", "set-role", ADMIN, "user").stdout == f"{ADMIN} now has the role user.\n"
    assert [row[3] for row in users(accord)[1:]] == ["user", "admin"]


def test_set_role_refusals(accord):
    refused(accord("users", "set-role", ADMIN, "boss"), 1, "'boss' is not a role; the roles are admin, manager, sales, agent, read_only, user")
    refused(accord("users", "set-role", "nobody@example.com", "admin"), 1, "nobody@example.com")
    line = refused(accord("users", "set-role", ADMIN, "user"), 1)
    assert line == f"Error: {ADMIN} is the last active administrator; make another user an admin first."
    assert users(accord)[1][3] == "admin"


# deactivate and activate -------------------------------------------------------------------------


def test_deactivate_revokes_the_tokens_and_activate_does_not_bring_them_back(accord, open_app):
    accord("users", "create", "--email", "bea@example.com", "--name", "Bea", "--password", "bea-secret-1")
    token = accord("tokens", "create", "--user", "bea@example.com").stdout.strip().splitlines()[-1]
    accord("tokens", "create", "--user", "bea@example.com", "--name", "second")
    api = ApiClient(open_app(), token)
    assert api.get("/contacts").status_code == 200

    run = accord("users", "deactivate", "bea@example.com")
    assert run.stdout == "bea@example.com is deactivated; 2 API token(s) revoked.\n", run
    assert api.get("/contacts").status_code == 401
    assert users(accord)[2] == ["2", "bea@example.com", "Bea", "user", "no"]
    assert [row[-1] for row in table(accord("tokens", "list", "--all"))[1:]] == ["revoked", "revoked"]
    assert accord("users", "deactivate", "bea@example.com").stdout == \
        "bea@example.com is deactivated; 0 API token(s) revoked.\n"

    assert accord("users", "activate", "bea@example.com").stdout == "bea@example.com is active again.\n"
    assert accord("users", "activate", "bea@example.com").stdout == "bea@example.com is already active.\n"
    assert users(accord)[2][4] == "yes"
    assert api.get("/contacts").status_code == 401


def test_the_last_active_administrator_cannot_be_deactivated(accord):
    accord("users", "create", "--email", "cy@example.com", "--name", "Cy", "--role", "admin",
           "--password", "cy-secret-12")
    assert accord("users", "deactivate", "cy@example.com").exit_code == 0
    refused(accord("users", "deactivate", ADMIN), 1, "last active administrator")
    accord("users", "activate", "cy@example.com")
    assert accord("users", "deactivate", ADMIN).exit_code == 0
    assert [row[4] for row in users(accord)[1:]] == ["no", "yes"]


def test_unknown_users_are_one_line_errors(accord):
    for command in ("deactivate", "activate"):
        refused(accord("users", command, "nobody@example.com"), 1, "There is no user with email 'nobody@example.com'")


def test_users_on_an_uninitialised_instance_is_one_line(tmp_path):
    refused(run_accord(tmp_path / "empty", "users", "list"), 1, "accord init")


def test_role_changes_are_in_the_audit_trail(accord, open_app):
    import json

    from api_helpers import sql

    accord("users", "create", "--email", "cy@example.com", "--name", "Cy", "--role", "admin", "--password", "cy-secret-12")
    accord("users", "set-role", "cy@example.com", "user")
    rows = sql(open_app(), "SELECT source, action, changes FROM audit_entry WHERE record_type = 'user' "
                           "AND record_id = 2 AND changes LIKE '%is_admin%' ORDER BY id")
    assert [(source, action, json.loads(changes)["is_admin"]) for source, action, changes in rows] == [
        ("cli", "updated", [False, True]), ("cli", "updated", [True, False]),
    ]
