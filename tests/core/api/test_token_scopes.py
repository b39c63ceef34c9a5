"""Tokens limited to record types (403 naming the type elsewhere), and revoked, expired or
deactivated users' tokens refused from the very next request."""

from datetime import timedelta
from unittest.mock import patch

import pytest
from accord.core import tokens
from accord.core.accounts import activate_user, deactivate_user, find_user
from accord.core.db import utcnow
from accord.core.errors import Conflict, RecordInvalid
from accord.testing import ApiClient, api_client, make_user
from api_helpers import assert_error, count, create


def limited(app, user, *record_types, scopes=("read", "write")):
    with app.app_context():
        return ApiClient(app, tokens.create_token(user, name="limited", scopes=scopes, record_types=record_types))


def test_a_type_limited_token_reaches_its_types(app, admin, api):
    deal = create(api, "deals", name="Pilot")
    client = limited(app, admin, "contact", "deal")
    contact = create(client, "contacts", last_name="Doe")
    assert client.get(f"/contacts/{contact['id']}").json["last_name"] == "Doe"
    assert client.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"}).json["city"] == "Oslo"
    assert [d["name"] for d in client.get("/deals").json["data"]] == ["Pilot"]
    assert client.get(f"/deals/{deal['id']}/stage-history").status_code == 200
    assert client.delete(f"/contacts/{contact['id']}").status_code == 204
    assert client.post(f"/contacts/{contact['id']}/restore").status_code == 200


def test_other_types_answer_403_naming_the_type(app, admin, api):
    organization = create(api, "organizations", name="Acme")
    client = limited(app, admin, "contact", "deal")
    for method, path, body in (("GET", "/organizations", None), ("POST", "/organizations", {"name": "Evil"}),
                               ("GET", f"/organizations/{organization['id']}", None),
                               ("PATCH", f"/organizations/{organization['id']}", {"name": "Evil"}),
                               ("DELETE", f"/organizations/{organization['id']}", None),
                               ("GET", f"/organizations/{organization['id']}/timeline", None)):
        error = assert_error(client.request(method, path, json=body), 403, "forbidden", where=(method, path))
        assert error["message"] == ("This token is limited to the record types contact, deal; "
                                    "it cannot reach 'organization'."), error
    assert count(app, "organization") == 1
    assert api.get(f"/organizations/{organization['id']}").json["name"] == "Acme"


def test_an_unknown_collection_is_still_404(app, admin):
    assert_error(limited(app, admin, "contact").get("/spaceships"), 404, "not_found")


def test_a_timeline_needs_the_activity_type_too(app, admin, api):
    contact = create(api, "contacts", last_name="Doe")
    create(api, "activities", subject="Call", kind="call", related_type="contact", related_id=contact["id"])
    error = assert_error(limited(app, admin, "contact").get(f"/contacts/{contact['id']}/timeline"), 403)
    assert "'activity'" in error["message"]
    timeline = limited(app, admin, "contact", "activity").get(f"/contacts/{contact['id']}/timeline")
    assert [a["subject"] for a in timeline.json["data"]] == ["Call"]


def test_type_keyed_endpoints_follow_the_limit_and_metadata_stays_open(app, admin):
    client = limited(app, admin, "contact")
    assert {t["key"] for t in client.get("/types").json["data"]} >= {"contact", "deal", "organization"}
    assert client.get("/pipelines").status_code == 200
    assert client.get("/types/contact").json["key"] == "contact"
    assert_error(client.get("/types/deal"), 403, "forbidden")
    assert client.post("/types/contact/fields", json={"name": "nickname", "kind": "text"}).status_code == 201
    assert_error(client.post("/types/deal/fields", json={"name": "nickname", "kind": "text"}), 403, "forbidden")
    assert count(app, "custom_field") == 1


@pytest.mark.parametrize("path", ["/search?q=doe", "/forecast", "/admin/plugins", "/admin/jobs", "/admin/webhooks"])
def test_endpoints_across_types_are_closed_to_a_type_limited_token(app, admin, path):
    error = assert_error(limited(app, admin, "contact").get(path), 403, "forbidden")
    assert error["message"] == (f"This token is limited to the record types contact; "
                                f"/api/v1{path.split('?')[0]} is not open to it.")


def test_scopes_still_apply_to_a_type_limited_token(app, admin):
    reader = limited(app, admin, "contact", scopes=("read",))
    assert reader.get("/contacts").status_code == 200
    assert_error(reader.post("/contacts", json={"last_name": "Doe"}), 403, "forbidden")
    assert count(app, "contact") == 0


def test_a_token_for_every_type_is_unchanged(app, admin, api):
    assert api.get("/search?q=doe").status_code == 200
    assert api.get("/organizations").status_code == 200


def test_the_token_lookup_stays_one_statement(app, admin, count_statements):
    client = limited(app, admin, "contact")
    client.get("/contacts")
    with count_statements() as seen:
        assert client.get("/contacts").status_code == 200
        assert_error(client.get("/deals"), 403)
    assert len([s for s in seen if "api_token" in s]) == 2, seen


def test_create_token_refuses_unknown_types_and_deactivated_users(app, admin):
    make_user(app, "leaver@example.com", "Leaver")
    with app.test_request_context():
        with pytest.raises(RecordInvalid) as refused:
            tokens.create_token(admin, record_types=("contact", "spaceship"))
        assert "there is no record type 'spaceship'" in refused.value.fields["record_types"][0]
        with pytest.raises(RecordInvalid) as refused:
            tokens.create_token(admin, scopes=("read", "admin"))
        assert set(refused.value.fields) == {"scopes"}
        deactivate_user("leaver@example.com")
        with pytest.raises(Conflict, match="leaver@example.com is deactivated"):
            tokens.create_token(find_user("leaver@example.com"))
    assert count(app, "api_token") == 0


# Revoked, expired, deactivated: refused at the very next request ------------------------------


def test_a_revoked_token_is_refused_at_the_next_request(app, admin):
    client = api_client(app, admin)
    other = api_client(app, admin)
    assert client.get("/contacts").status_code == 200
    with app.app_context():
        token_id = tokens.list_tokens()[0][0].id
        assert tokens.revoke_tokens([token_id]) == {token_id: True}
        assert tokens.revoke_tokens([token_id]) == {token_id: False}
    error = assert_error(client.get("/contacts"), 401, "unauthorized")
    assert error["message"] == "The token is unknown, revoked or expired."
    assert other.get("/contacts").status_code == 200


def test_an_expired_token_is_refused_at_the_next_request(app, admin):
    with app.app_context():
        client = ApiClient(app, tokens.create_token(admin, name="short", days=1))
    assert client.get("/contacts").status_code == 200
    with patch.object(tokens, "utcnow", lambda: utcnow() + timedelta(days=1, seconds=1)):
        assert_error(client.get("/contacts"), 401, "unauthorized")


def test_deactivation_revokes_the_tokens_for_good(app, admin):
    user = make_user(app, "bea@example.com", "Bea")
    client = api_client(app, user)
    assert client.get("/contacts").status_code == 200
    with app.test_request_context():
        assert deactivate_user("bea@example.com")[1] == 1
    assert_error(client.get("/contacts"), 401, "unauthorized")
    with app.test_request_context():
        assert activate_user("bea@example.com")[1] is True
    assert_error(client.get("/contacts"), 401, "unauthorized")
    assert api_client(app, user).get("/contacts").status_code == 200


def test_the_migration_adds_what_the_model_declares(app):
    from accord.core.db import db
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata) if "api_token" in repr(d)]
    assert differences == []
