"""The audit trail through the API: ``/audit`` for administrators with its filters and
keyset paging, ``/<plural>/<id>/audit`` for whoever can read the record, parameter errors
naming the parameter, answers conforming to the OpenAPI document, and no method that
changes an entry."""

import jsonschema

from accord.core.db import utcnow
from accord.core.fields import format_datetime
from accord.testing import api_client, make_user
from api_helpers import assert_error, create


def trail(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]


def summary(entries):
    return [(e["action"], e["record_type"], e["record_id"]) for e in entries]


def test_the_trail_lists_every_write_newest_first_with_its_fields(api, admin):
    contact = create(api, "contacts", last_name="Doe")
    saved = api.patch(f"/contacts/{contact['id']}", json={"last_name": "Roe"}).json
    api.delete(f"/contacts/{contact['id']}")
    body = api.get("/audit").json
    assert body["next_cursor"] is None
    assert summary(body["data"]) == [("deleted", "contact", contact["id"]), ("updated", "contact", contact["id"]),
                                     ("created", "contact", contact["id"])]
    changed = body["data"][1]
    assert changed["changes"] == {"last_name": ["Doe", "Roe"]}
    assert (changed["actor_id"], changed["actor_name"], changed["source"]) == (admin.id, "Ada Admin", "api")
    assert changed["details"] is None and changed["request_id"]
    assert changed["at"] == saved["updated_at"]


def test_filters_narrow_the_trail(app, api, admin):
    other = make_user(app, "sam@example.com", "Sam Seller", is_admin=False)
    sam = api_client(app, other)
    first = create(api, "contacts", last_name="Doe")
    org = create(api, "organizations", name="Acme")
    middle = format_datetime(utcnow())
    second = create(sam, "contacts", last_name="Roe")
    sam.patch(f"/contacts/{first['id']}", json={"first_name": "Jane"})
    api.delete(f"/organizations/{org['id']}")

    assert summary(trail(api.get(f"/audit?record_type=contact&record_id={first['id']}"))) == [
        ("updated", "contact", first["id"]), ("created", "contact", first["id"])]
    assert summary(trail(api.get("/audit?record_type=organization"))) == [
        ("deleted", "organization", org["id"]), ("created", "organization", org["id"])]
    assert summary(trail(api.get(f"/audit?actor={other.id}"))) == [
        ("updated", "contact", first["id"]), ("created", "contact", second["id"])]
    assert summary(trail(api.get("/audit?action=updated,deleted"))) == [
        ("deleted", "organization", org["id"]), ("updated", "contact", first["id"])]
    assert summary(trail(api.get(f"/audit?since={middle}"))) == [
        ("deleted", "organization", org["id"]), ("updated", "contact", first["id"]),
        ("created", "contact", second["id"])]
    assert summary(trail(api.get(f"/audit?until={middle}"))) == [
        ("created", "organization", org["id"]), ("created", "contact", first["id"])]
    assert summary(trail(api.get(f"/audit?since={middle}&actor={admin.id}&record_type=organization"))) == [
        ("deleted", "organization", org["id"])]
    assert trail(api.get("/audit?source=import")) == []
    assert len(trail(api.get("/audit?source=api"))) == 5


def test_keyset_paging_walks_every_entry_once(api):
    for i in range(7):
        create(api, "contacts", last_name=f"P{i}")
    seen, cursor, pages = [], None, 0
    while True:
        body = api.get("/audit?limit=3" + (f"&cursor={cursor}" if cursor else "")).json
        seen += [e["id"] for e in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 7 and seen == sorted(seen, reverse=True)
    filtered = api.get("/audit?action=created&limit=5").json
    rest = api.get(f"/audit?action=created&limit=5&cursor={filtered['next_cursor']}").json
    assert [e["id"] for e in filtered["data"] + rest["data"]] == seen and rest["next_cursor"] is None


def test_malformed_parameters_answer_400_naming_them(api):
    cases = {
        "limit=0": "limit", "limit=many": "limit", "limit=501": "limit", "cursor=not-a-cursor": "cursor",
        "action=eaten": "action", "since=yesterday": "since", "until=2025-13-01": "until",
        "record_id=5": "record_id", "record_type=contact&record_id=abc": "record_id", "actor=-1": "actor",
        "colour=blue": "colour", f"record_type={'x' * 65}": "record_type",
    }
    for query, name in cases.items():
        error = assert_error(api.get(f"/audit?{query}"), 400, "bad_request", fields=[name], where=query)
        assert list(error["fields"]) == [name], query


def test_only_administrators_read_the_whole_trail(app, api):
    contact = create(api, "contacts", last_name="Doe")
    seller = api_client(app, make_user(app, "sam@example.com", "Sam Seller", is_admin=False))
    assert_error(seller.get("/audit"), 403, "forbidden")
    assert_error(seller.get(f"/audit?record_type=contact&record_id={contact['id']}"), 403, "forbidden")
    assert summary(trail(seller.get(f"/contacts/{contact['id']}/audit"))) == [("created", "contact", contact["id"])]


def test_a_record_trail_is_for_whoever_reads_the_record_in_the_trash_too(app, api):
    contact = create(api, "contacts", last_name="Doe")
    other = create(api, "contacts", last_name="Roe")
    api.patch(f"/contacts/{contact['id']}", json={"email": "doe@example.com"})
    api.delete(f"/contacts/{contact['id']}")
    reader = api_client(app, make_user(app, "rita@example.com", "Rita Reader"), scopes=("read",))
    body = reader.get(f"/contacts/{contact['id']}/audit").json
    assert summary(body["data"]) == [("deleted", "contact", contact["id"]), ("updated", "contact", contact["id"]),
                                     ("created", "contact", contact["id"])]
    assert body["data"][1]["changes"] == {"email": [None, "doe@example.com"]}
    page = reader.get(f"/contacts/{contact['id']}/audit?limit=2").json
    assert len(page["data"]) == 2 and page["next_cursor"]
    assert summary(trail(reader.get(f"/contacts/{contact['id']}/audit?action=created"))) == [
        ("created", "contact", contact["id"])]
    assert summary(trail(reader.get(f"/contacts/{other['id']}/audit"))) == [("created", "contact", other["id"])]
    assert_error(reader.get(f"/contacts/{contact['id']}/audit?record_type=deal"), 400, fields=["record_type"])
    assert_error(reader.get("/contacts/999999/audit"), 404, "not_found")
    assert_error(reader.get("/spaceships/1/audit"), 404, "not_found")


def test_no_method_changes_the_trail(api):
    contact = create(api, "contacts", last_name="Doe")
    for path in ("/audit", f"/contacts/{contact['id']}/audit"):
        for method in ("PUT", "PATCH", "DELETE"):
            assert_error(api.request(method, path, json={"action": "deleted"}), 405, "method_not_allowed",
                         where=(method, path))
    assert_error(api.post(f"/contacts/{contact['id']}/audit", json={}), 405, "method_not_allowed")
    assert summary(trail(api.get("/audit"))) == [("created", "contact", contact["id"])]


def test_answers_conform_to_the_published_schema(app, api):
    contact = create(api, "contacts", last_name="Doe")
    api.patch(f"/contacts/{contact['id']}", json={"last_name": "Roe"})
    api.delete(f"/contacts/{contact['id']}")
    document = app.test_client().get("/api/v1/openapi.json").json
    assert "get" in document["paths"]["/api/v1/audit"]
    assert "get" in document["paths"]["/api/v1/contacts/{record_id}/audit"]
    schema = {**document["components"]["schemas"]["AuditEntry"], "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for entry in trail(api.get("/audit")) + trail(api.get(f"/contacts/{contact['id']}/audit")):
        validator.validate(entry)
