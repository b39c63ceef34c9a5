"""``GET /api/v1/contacts/<id>/privacy-export`` and ``POST /api/v1/contacts/<id>/erase``:
administrators only, 404 for an unknown contact, answers as the OpenAPI document says."""

import jsonschema
import pytest
from accord.testing import api_client, make_user
from api_helpers import assert_error, create, scalar
from openapi_spec_validator import validate

PERSON = {"first_name": "Augusta", "last_name": "Byronesque", "email": "augusta@example.org", "city": "London"}


@pytest.fixture
def person(api):
    contact = create(api, "contacts", **PERSON)
    deal = create(api, "deals", name="Engine order", amount="1200.50", contact_ids=[contact["id"]])
    create(api, "consents", contact_id=contact["id"], purpose="newsletter", channel="email", status="granted",
           evidence="Signed by Augusta Byronesque")
    return {"contact": contact, "deal": deal}


@pytest.fixture
def user_api(app):
    return api_client(app, make_user(app, "sam@example.com", "Sam Seller"))


def conforms(app, path, method, status, body):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    validate(document)
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def test_an_administrator_exports_everything_held_about_a_contact(app, api, person):
    contact_id = person["contact"]["id"]
    response = api.get(f"/contacts/{contact_id}/privacy-export")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["contact"]["email"] == PERSON["email"]
    assert [deal["id"] for deal in body["records"]["deal"]] == [person["deal"]["id"]]
    assert [consent["evidence"] for consent in body["records"]["consent"]] == ["Signed by Augusta Byronesque"]
    assert {(e["record_type"], e["action"]) for e in body["audit"]} == {
        ("contact", "created"), ("deal", "created"), ("consent", "created")}
    assert body["plugins"] == {}
    conforms(app, "/api/v1/contacts/{contact_id}/privacy-export", "get", "200", body)


def test_an_administrator_erases_a_contact(app, api, person):
    contact_id = person["contact"]["id"]
    response = api.post(f"/contacts/{contact_id}/erase")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {"contact_id": contact_id, "erased": [
        {"record_type": "contact", "record_id": contact_id, "fields": ["email", "first_name", "last_name"]},
        {"record_type": "consent", "record_id": body["erased"][1]["record_id"], "fields": ["evidence"]},
    ]}
    conforms(app, "/api/v1/contacts/{contact_id}/erase", "post", "200", body)
    contact = api.get(f"/contacts/{contact_id}").get_json()
    assert (contact["last_name"], contact["email"], contact["city"]) == ("Erased", None, "London")
    assert api.get(f"/deals/{person['deal']['id']}").get_json()["amount"] == "1200.50"
    assert scalar(app, "SELECT count(*) FROM audit_entry WHERE action = 'erased'") == 1


def test_others_are_refused_and_nothing_changes(app, user_api, person):
    contact_id = person["contact"]["id"]
    assert_error(user_api.get(f"/contacts/{contact_id}/privacy-export"), 403, "forbidden")
    assert_error(user_api.post(f"/contacts/{contact_id}/erase"), 403, "forbidden")
    assert scalar(app, "SELECT last_name FROM contact WHERE id = :id", id=contact_id) == PERSON["last_name"]
    assert scalar(app, "SELECT count(*) FROM audit_entry WHERE action IN ('erased', 'exported')") == 0


def test_an_unknown_contact_is_not_found(api):
    assert_error(api.get("/contacts/424242/privacy-export"), 404, "not_found")
    assert_error(api.post("/contacts/424242/erase"), 404, "not_found")
    assert api.get("/contacts/nope/privacy-export").status_code == 404


def test_a_trashed_contact_is_exported_and_erased_too(api, person):
    contact_id = person["contact"]["id"]
    assert api.delete(f"/contacts/{contact_id}").status_code == 204
    exported = api.get(f"/contacts/{contact_id}/privacy-export").get_json()
    assert exported["contact"]["deleted_at"] is not None and exported["contact"]["email"] == PERSON["email"]
    assert api.post(f"/contacts/{contact_id}/erase").status_code == 200
    assert api.get(f"/contacts/{contact_id}/privacy-export").get_json()["contact"]["email"] is None
