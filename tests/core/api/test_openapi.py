"""The OpenAPI document: valid OpenAPI 3.1, a path set for every record type, and custom
fields the moment they exist; real answers conform to the schemas it publishes."""

import jsonschema
from openapi_spec_validator import validate

from api_helpers import add_field, create


def _document(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.json


def _schema(document, name):
    """A component schema with its ``$ref``s resolvable by jsonschema."""
    return {**document["components"]["schemas"][name], "components": document["components"]}


def _conforms(document, name, instance):
    schema = _schema(document, name)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(instance)


def test_document_is_valid_openapi(app, api):
    document = _document(app)
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_paths_for_every_record_type(app, api):
    document = _document(app)
    types = api.get("/types").json["data"]
    assert {"contact", "organization", "deal", "activity", "user", "team", "territory"} <= {t["key"] for t in types}
    for rt in types:
        collection = document["paths"][f"/api/v1/{rt['plural']}"]
        assert {"get", "post"} <= set(collection), rt["key"]
        item = document["paths"][f"/api/v1/{rt['plural']}/{{record_id}}"]
        assert {"get", "patch", "delete"} <= set(item), rt["key"]
        assert "post" in document["paths"][f"/api/v1/{rt['plural']}/{{record_id}}/restore"]
        schema_name = "".join(part.capitalize() for part in rt["key"].split("_"))
        properties = document["components"]["schemas"][schema_name]["properties"]
        for field in rt["fields"]:
            assert field["name"] in properties, (rt["key"], field["name"])
        if rt["pipeline"]:
            assert f"/api/v1/{rt['plural']}/{{record_id}}/stage-history" in document["paths"]
    for path in ("/api/v1/types", "/api/v1/types/{type_key}/fields", "/api/v1/pipelines", "/api/v1/search",
                 "/api/v1/forecast", "/api/v1/openapi.json"):
        assert path in document["paths"], path


def test_documented_operations_exist(app, api):
    """Every documented GET without path parameters answers (not 404/405/500)."""
    document = _document(app)
    for path, item in document["paths"].items():
        if "{" in path or "get" not in item:
            continue
        response = api.get(path + ("?q=x" if path.endswith("/search") else ""))
        assert response.status_code == 200, (path, response.status_code)


def test_custom_fields_appear_at_once_and_stay_valid(app, api):
    before = _document(app)
    assert "loyalty" not in before["components"]["schemas"]["Contact"]["properties"]
    specs = [
        {"name": "loyalty", "kind": "integer", "required": True},
        {"name": "budget", "kind": "money"},
        {"name": "ratio", "kind": "decimal", "help": "Share of wallet"},
        {"name": "tier", "kind": "choice", "choices": ["gold", "silver"]},
        {"name": "tags", "kind": "multi_choice", "choices": ["a", "b"]},
        {"name": "since", "kind": "date"},
        {"name": "seen", "kind": "datetime"},
        {"name": "vip", "kind": "boolean"},
        {"name": "site", "kind": "url"},
        {"name": "backup_email", "kind": "email"},
        {"name": "fax", "kind": "phone"},
        {"name": "notes2", "kind": "long_text"},
        {"name": "buddy", "kind": "reference", "reference": "contact"},
    ]
    for spec in specs:
        add_field(api, "contact", **spec)
    add_field(api, "deal", name="segment", kind="text")
    document = _document(app)
    validate(document)
    schemas = document["components"]["schemas"]
    for spec in specs:
        assert spec["name"] in schemas["Contact"]["properties"], spec
        assert spec["name"] in schemas["ContactCreate"]["properties"], spec
        assert spec["name"] in schemas["ContactUpdate"]["properties"], spec
    assert "loyalty" in schemas["ContactCreate"]["required"]
    assert "loyalty" not in schemas["ContactUpdate"].get("required", [])
    assert "segment" in schemas["Deal"]["properties"]
    list_params = {p.get("name") for p in document["paths"]["/api/v1/contacts"]["get"]["parameters"]}
    assert {"loyalty", "tier", "tags"} <= list_params
    assert schemas["Contact"]["properties"]["tier"]["anyOf"][0]["enum"] == ["gold", "silver"]
    api.delete("/types/contact/fields/tier")
    after = _document(app)
    assert "tier" not in after["components"]["schemas"]["Contact"]["properties"]
    validate(after)


def test_answers_conform_to_the_published_schemas(app, api):
    add_field(api, "contact", name="budget", kind="money")
    add_field(api, "contact", name="ratio", kind="decimal")
    add_field(api, "contact", name="tags", kind="multi_choice", choices=["a", "b"])
    add_field(api, "contact", name="seen", kind="datetime")
    add_field(api, "contact", name="since", kind="date")
    add_field(api, "contact", name="vip", kind="boolean")
    org = create(api, "organizations", name="Acme", website="https://acme.example", employees=5)
    contact = create(api, "contacts", last_name="Doe", email="d@example.com", organization_id=org["id"],
                     budget={"amount": "10", "currency": "EUR"}, ratio="0.125", tags=["a"],
                     seen="2025-01-01T00:00:00Z", since="2020-02-02", vip=False)
    empty = create(api, "contacts", last_name="Roe")
    deal = create(api, "deals", name="Big", amount="1234.5", contact_ids=[contact["id"]],
                  expected_close_date="2025-03-01")
    activity = create(api, "activities", kind="call", subject="Hi", related_type="contact",
                      related_id=contact["id"])
    document = _document(app)
    _conforms(document, "Organization", org)
    _conforms(document, "Contact", contact)
    _conforms(document, "Contact", empty)
    _conforms(document, "Deal", deal)
    _conforms(document, "Activity", activity)
    listed = api.get("/contacts").json
    for row in listed["data"]:
        _conforms(document, "Contact", row)
    trashed_id = empty["id"]
    api.delete(f"/contacts/{trashed_id}")
    for row in api.get("/contacts?trashed=true").json["data"]:
        _conforms(document, "Contact", row)
    error = api.post("/contacts", json={"nickname": 1}).json
    _conforms(document, "Error", error)
    for hit in api.get("/search?q=doe").json["data"]:
        _conforms(document, "SearchResult", hit)


def test_write_schemas_accept_what_the_api_accepts(app, api):
    add_field(api, "deal", name="budget", kind="money")
    body = {"name": "Big", "amount": "10.50", "budget": {"amount": "5", "currency": "USD"}, "contact_ids": [],
            "expected_close_date": "2025-01-31", "currency": "USD"}
    document = _document(app)
    _conforms(document, "DealCreate", body)
    assert api.post("/deals", json=body).status_code == 201
