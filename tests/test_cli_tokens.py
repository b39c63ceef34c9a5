"""``accord tokens create|list|revoke`` on an instance (SQLite, in-process): tokens limited
to record types, listed without their secret, revoked for the API's very next request."""

import re

import pytest
from accord.testing import ApiClient
from api_helpers import sql
from cli_helpers import refused

ADMIN = "admin@example.com"
PASSWORD = "correct-horse"
HEADER = ["id", "user", "name", "scopes", "types", "created", "expires", "revoked", "state"]


@pytest.fixture
def accord(accord):
    """The command on an instance made by ``accord init``."""
    run = accord
    assert run("init", "--admin-email", ADMIN, "--admin-password", PASSWORD).exit_code == 0
    assert run("users", "create", "--email", "bea@example.com", "--name", "Bea", "--password", "bea-secret-1").exit_code == 0
    return run


@pytest.fixture
def instance_app(open_app):
    """An app on the instance the commands write (API requests, SQL checks)."""
    return open_app()


def created(accord, *args):
    run = accord("tokens", "create", *args)
    assert run.exit_code == 0, run
    return run.stdout.strip().splitlines()[-1]


def listed(accord, *args):
    """``accord tokens list ARGS`` as rows of cells without the header (dates left out)."""
    run = accord("tokens", "list", *args)
    assert run.exit_code == 0, run
    rows = [re.split(r"\s{2,}", line.strip()) for line in run.stdout.splitlines()]
    assert rows[0] == HEADER, run
    return [[row[0], row[1], row[2], row[3], row[4], row[-1]] for row in rows[1:]]


def test_a_token_limited_to_types_reaches_only_them(accord, instance_app):
    token = created(accord, "--user", ADMIN, "--type", "contact", "--type", "deal", "--name", "sync")
    api = ApiClient(instance_app, token)
    assert api.post("/contacts", json={"last_name": "Doe"}).status_code == 201
    assert api.get("/deals").status_code == 200
    refusal = api.get("/organizations")
    assert refusal.status_code == 403
    assert refusal.json["error"]["message"] == ("This token is limited to the record types contact, deal; "
                                                "it cannot reach 'organization'.")
    assert listed(accord) == [["1", ADMIN, "sync", "read,write", "contact,deal", "active"]]


def test_list_shows_everything_but_the_secret(accord, instance_app):
    from accord.core.tokens import hash_token

    first = created(accord, "--user", ADMIN, "--name", "laptop", "--scope", "read", "--days", "30")
    second = created(accord, "--user", "bea@example.com", "--name", "ci")
    run = accord("tokens", "list")
    for secret in (first, second, hash_token(first), hash_token(second)):
        assert secret not in run.output
    rows = [re.split(r"\s{2,}", line.strip()) for line in run.stdout.splitlines()]
    assert rows[0] == HEADER
    assert rows[1][:5] == ["1", ADMIN, "laptop", "read", "all"] and rows[1][7:] == ["-", "active"]
    assert rows[2][:5] == ["2", "bea@example.com", "ci", "read,write", "all"] and rows[2][6:] == ["never", "-", "active"]
    expires = sql(instance_app, "SELECT expires_at FROM api_token WHERE id = 1")[0][0]
    assert rows[1][6] == str(expires)[:16] + "Z"
    assert listed(accord, "--user", "BEA@example.com") == [["2", "bea@example.com", "ci", "read,write", "all", "active"]]


def test_revoke_refuses_the_token_at_the_next_request(accord, instance_app):
    kept = ApiClient(instance_app, created(accord, "--user", ADMIN, "--name", "kept"))
    gone = ApiClient(instance_app, created(accord, "--user", ADMIN, "--name", "gone"))
    assert gone.get("/contacts").status_code == 200
    run = accord("tokens", "revoke", "2")
    assert run.stdout == "Revoked token 2.\n", run
    assert gone.get("/contacts").status_code == 401
    assert kept.get("/contacts").status_code == 200
    assert accord("tokens", "revoke", "2").stdout == "Token 2 was already revoked.\n"
    assert listed(accord) == [["1", ADMIN, "kept", "read,write", "all", "active"]]
    assert [row[-1] for row in listed(accord, "--all")] == ["active", "revoked"]


def test_list_hides_expired_tokens_unless_asked(accord, instance_app):
    created(accord, "--user", ADMIN, "--name", "short", "--days", "1")
    sql(instance_app, "UPDATE api_token SET expires_at = '2000-01-01 00:00:00.000000' WHERE id = 1")
    assert listed(accord) == []
    assert listed(accord, "--all") == [["1", ADMIN, "short", "read,write", "all", "expired"]]


def test_revoke_is_all_or_nothing(accord):
    created(accord, "--user", ADMIN)
    line = refused(accord("tokens", "revoke", "1", "99", "98"), 1)
    assert line == "Error: There is no API token with id 98, 99."
    assert [row[-1] for row in listed(accord, "--all")] == ["active"]


def test_mistakes_are_one_line_errors(accord):
    line = refused(accord("tokens", "create", "--user", ADMIN, "--type", "spaceship"), 1)
    assert line.startswith("Error: The token cannot be created. record_types: there is no record type 'spaceship'; "
                           "the types are activity, consent, contact, deal")
    refused(accord("tokens", "create", "--user", ADMIN, "--name", "x" * 121), 1, "name: needs 1 to 120 characters")
    refused(accord("tokens", "list", "--user", "nobody@example.com"), 1, "nobody@example.com")
    refused(accord("tokens", "create", "--user", "nobody@example.com"), 1, "nobody@example.com")
    assert accord("tokens", "revoke", "abc").exit_code == 2
    assert accord("tokens", "revoke").exit_code == 2
    assert listed(accord, "--all") == []


def test_a_deactivated_user_gets_no_token(accord):
    accord("users", "deactivate", "bea@example.com")
    refused(accord("tokens", "create", "--user", "bea@example.com"), 1, "bea@example.com is deactivated")
