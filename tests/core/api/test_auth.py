"""Bearer-token authentication, scopes and the error shape of refusals."""

from datetime import datetime, timedelta, timezone

from accord.testing import ApiClient, api_client, make_user
from api_helpers import assert_error, count, create, set_columns, sql


def test_no_token_is_401_with_the_error_shape(app, admin):
    client = app.test_client()
    response = client.get("/api/v1/contacts")
    error = assert_error(response, 401, "unauthorized")
    assert "Bearer" in error["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_token_is_401(app, admin):
    client = app.test_client()
    for header in ("Bearer acc_not-a-real-token", "Bearer ", "Basic YWRhOmFkYQ==", "acc_token", "Bearer"):
        response = client.post("/api/v1/contacts", json={"last_name": "Doe"}, headers={"Authorization": header})
        assert_error(response, 401, "unauthorized", where=header)
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), header
    assert count(app, "contact") == 0


def test_unauthenticated_request_does_not_leak_whether_a_record_exists(api, app):
    contact = create(api, "contacts", last_name="Secret")
    client = app.test_client()
    assert_error(client.get(f"/api/v1/contacts/{contact['id']}"), 401)
    assert_error(client.get("/api/v1/contacts/999999"), 401)
    assert_error(client.get("/api/v1/nothing-here"), 401)


def test_revoked_token_is_401(app, admin):
    client = api_client(app, admin)
    assert client.get("/contacts").status_code == 200
    set_columns(app, "api_token", None, revoked_at=datetime.now(timezone.utc))
    assert_error(client.get("/contacts"), 401, "unauthorized")


def test_expired_token_is_401(app, admin):
    from accord.core.tokens import create_token

    with app.app_context():
        token = create_token(admin, name="short", days=1)
    client = ApiClient(app, token)
    assert client.get("/contacts").status_code == 200
    set_columns(app, "api_token", None, expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert_error(client.get("/contacts"), 401, "unauthorized")


def test_token_of_a_deactivated_user_is_401(app):
    user = make_user(app, "leaver@example.com", "Leaver")
    client = api_client(app, user)
    assert client.get("/contacts").status_code == 200
    set_columns(app, "user", [user.id], is_active=False)
    assert_error(client.get("/contacts"), 401, "unauthorized")


def test_read_only_token_can_read_but_not_write(app, admin, api):
    contact = create(api, "contacts", last_name="Doe")
    reader = api_client(app, admin, scopes=("read",))
    assert reader.get("/contacts").status_code == 200
    assert reader.get(f"/contacts/{contact['id']}").status_code == 200
    assert reader.get("/types").status_code == 200
    assert reader.get("/search?q=doe").status_code == 200
    assert_error(reader.post("/contacts", json={"last_name": "Roe"}), 403, "forbidden")
    assert_error(reader.patch(f"/contacts/{contact['id']}", json={"last_name": "Roe"}), 403, "forbidden")
    assert_error(reader.delete(f"/contacts/{contact['id']}"), 403, "forbidden")
    assert_error(reader.post(f"/contacts/{contact['id']}/restore"), 403, "forbidden")
    assert_error(reader.post("/types/contact/fields", json={"name": "nickname", "kind": "text"}), 403, "forbidden")
    assert_error(reader.request("DELETE", "/types/contact/fields/nickname"), 403, "forbidden")
    assert count(app, "contact") == 1
    assert count(app, "custom_field") == 0
    assert api.get(f"/contacts/{contact['id']}").json == contact


def test_read_only_token_is_refused_before_the_body_is_looked_at(app, admin):
    reader = api_client(app, admin, scopes=("read",))
    assert_error(reader.post("/contacts", data=b"{not json", content_type="application/json"), 403, "forbidden")


def test_write_only_token_cannot_read(app, admin):
    writer = api_client(app, admin, scopes=("write",))
    assert writer.post("/contacts", json={"last_name": "Doe"}).status_code == 201
    assert_error(writer.get("/contacts"), 403, "forbidden")


def test_openapi_document_needs_no_token(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.")


def test_records_remember_who_created_them(app, api, admin):
    other = make_user(app, "bea@example.com", "Bea")
    contact = create(api_client(app, other), "contacts", last_name="Doe")
    assert contact["created_by"] == other.id and contact["owner_id"] == other.id
    mine = create(api, "contacts", last_name="Roe", owner_id=other.id)
    assert mine["created_by"] == admin.id and mine["owner_id"] == other.id


# Error shape of the other documented statuses -------------------------------------------


def test_unknown_collection_is_404_json(api):
    assert_error(api.get("/spaceships"), 404, "not_found")
    assert_error(api.post("/spaceships", json={"name": "x"}), 404, "not_found")


def test_unknown_record_is_404_json(api):
    assert_error(api.get("/contacts/999999"), 404, "not_found")
    assert_error(api.patch("/contacts/999999", json={"city": "Oslo"}), 404, "not_found")
    assert_error(api.delete("/contacts/999999"), 404, "not_found")
    assert_error(api.post("/contacts/999999/restore"), 404, "not_found")
    assert_error(api.get("/contacts/999999/timeline"), 404, "not_found")


def test_unsupported_method_is_405_json(api):
    contact = create(api, "contacts", last_name="Doe")
    assert_error(api.request("PUT", f"/contacts/{contact['id']}", json={"last_name": "Roe"}), 405,
                 "method_not_allowed")
    assert api.get(f"/contacts/{contact['id']}").json["last_name"] == "Doe"


def test_restore_of_a_live_record_is_404(api):
    contact = create(api, "contacts", last_name="Doe")
    assert_error(api.post(f"/contacts/{contact['id']}/restore"), 404, "not_found")


def test_trashed_record_answers_404_everywhere_until_restored(api, app):
    contact = create(api, "contacts", last_name="Doe")
    assert api.delete(f"/contacts/{contact['id']}").status_code == 204
    assert_error(api.get(f"/contacts/{contact['id']}"), 404)
    assert_error(api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"}), 404)
    assert_error(api.delete(f"/contacts/{contact['id']}"), 404)
    assert scalar_city(app, contact["id"]) is None
    restored = api.post(f"/contacts/{contact['id']}/restore")
    assert restored.status_code == 200
    assert restored.json["version"] == 3
    assert "deleted_at" not in restored.json or restored.json["deleted_at"] is None


def scalar_city(app, record_id):
    return sql(app, "SELECT city FROM contact WHERE id = :id", id=record_id)[0][0]
