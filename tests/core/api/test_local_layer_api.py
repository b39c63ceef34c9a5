"""The instance's own layer through the API (``core/api/layer.py``): declared record types,
terms, stages and pipelines, choices and shared views. Administrators only; each write has
origin ``local``, bad input is a 422 naming the field, and nothing is half-written; objects
that belong to a pack are refused, naming it."""

import pytest

from accord.core.records import write_unit
from accord.testing import api_client, make_user
from api_helpers import add_field, assert_error, count, create, scalar

PROPERTY = {"key": "property", "label": "Property", "plural_label": "Properties", "plural": "properties",
            "title_fields": ["address"], "description": "A home or lot"}


@pytest.fixture
def seller_api(app, admin):
    return api_client(app, make_user(app, "seller@example.com", "Sam Seller"))


def put(api, path, json):
    return api.request("PUT", path, json=json)


def generation(app):
    return scalar(app, "SELECT value FROM schema_generation WHERE id = 1")


def as_pack(app, table, where, pack="real_estate", **params):
    """Mark rows as a pack's (as if a pack had made them)."""
    from sqlalchemy import text

    from accord.core.db import db

    with app.test_request_context():
        with write_unit() as session:
            session.execute(text(f'UPDATE "{table}" SET origin = :origin WHERE {where}'), {"origin": f"pack:{pack}", **params})
            from accord.core.registry import bump_generation
            bump_generation(db.session)


# Record types ------------------------------------------------------------------------------


def test_an_admin_declares_a_type_uses_it_and_removes_it(app, api):
    before = generation(app)
    answer = api.post("/types", json=PROPERTY)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.headers["Location"].endswith("/api/v1/types/property")
    assert answer.get_json()["origin"] == "local" and answer.get_json()["plural"] == "properties"
    assert generation(app) > before
    add_field(api, "property", name="address", kind="text")
    record = create(api, "properties", address="1 Main Street")
    assert api.get("/types/property").get_json()["label"] == "Property"

    refused = assert_error(api.delete("/types/property"), 409, "conflict")
    assert "1 record" in refused["message"]
    assert api.get(f"/properties/{record['id']}").status_code == 200
    assert api.delete("/types/property?purge=true").status_code == 204
    assert api.get("/types/property").status_code == 404
    assert count(app, "record_type_definition") == 0 and count(app, "custom_field", "record_type = 'property'") == 0


def test_bad_type_declarations_name_the_field_and_write_nothing(app, api):
    cases = [
        ({**PROPERTY, "key": "Bad Key"}, "key"),
        ({**PROPERTY, "key": "contact"}, "key"),
        ({**PROPERTY, "plural": "contacts"}, "plural"),
        ({**PROPERTY, "plural": "search"}, "plural"),
        ({**PROPERTY, "label": ""}, "label"),
        ({**PROPERTY, "timeline": "yes"}, "timeline"),
        ({**PROPERTY, "colour": "red"}, "colour"),
        ({**PROPERTY, "pipeline": "sales"}, "pipeline"),
        ({k: v for k, v in PROPERTY.items() if k != "plural_label"}, "plural_label"),
    ]
    for body, field in cases:
        assert_error(api.post("/types", json=body), 422, "validation_failed", [field], where=field)
    assert_error(api.post("/types", data="[]", content_type="application/json"), 400)
    assert count(app, "record_type_definition") == 0


def test_core_and_pack_types_are_not_removed_here(app, api):
    error = assert_error(api.delete("/types/contact"), 409)
    assert "core" in error["message"]
    assert_error(api.delete("/types/nothing"), 404)
    api.post("/types", json=PROPERTY)
    as_pack(app, "record_type_definition", "key = 'property'")
    error = assert_error(api.delete("/types/property"), 409)
    assert "real_estate" in error["message"] and error["fields"]["pack"] == ["real_estate"]
    assert api.get("/types/property").status_code == 200


def test_a_type_a_rule_acts_on_is_kept(app, api):
    api.post("/types", json=PROPERTY)
    add_field(api, "property", name="address", kind="text")
    rule = {"key": "hello", "label": "Hello", "record_type": "property", "trigger": "created",
            "actions": [{"do": "create_task", "subject": "Visit", "due_in_days": 1}]}
    assert api.post("/automation/rules", json=rule).status_code == 201
    assert "hello" in assert_error(api.delete("/types/property"), 409)["message"]


# Terms ---------------------------------------------------------------------------------------


def test_terms_rename_types_fields_and_stages(app, api):
    assert put(api, "/terms/type:deal", json={"label": "Listing", "plural_label": "Listings"}).status_code == 200
    assert put(api, "/terms/field:deal.amount", json={"label": "List price"}).status_code == 200
    answer = put(api, "/terms/stage:sales.won", json={"label": "Sold"})
    assert answer.get_json() == {"target": "stage:sales.won", "label": "Sold", "plural_label": None, "origin": "local"}
    deal = api.get("/types/deal").get_json()
    assert (deal["label"], deal["plural_label"]) == ("Listing", "Listings")
    assert next(f for f in deal["fields"] if f["name"] == "amount")["label"] == "List price"
    assert next(s for s in api.get("/pipelines/sales").get_json()["stages"] if s["key"] == "won")["label"] == "Sold"
    assert {t["target"] for t in api.get("/terms").get_json()["data"]} == {
        "type:deal", "field:deal.amount", "stage:sales.won"}

    assert put(api, "/terms/stage:sales.won", json={"label": "Closed"}).get_json()["label"] == "Closed"
    assert api.delete("/terms/stage:sales.won").status_code == 204
    assert next(s for s in api.get("/pipelines/sales").get_json()["stages"] if s["key"] == "won")["label"] == "Won"
    assert_error(api.delete("/terms/stage:sales.won"), 404)


def test_bad_terms_are_refused(app, api):
    assert_error(put(api, "/terms/type:nothing", json={"label": "X"}), 422, fields=["target"])
    assert_error(put(api, "/terms/field:deal.nothing", json={"label": "X"}), 422, fields=["target"])
    assert_error(put(api, "/terms/stage:sales.nothing", json={"label": "X"}), 422, fields=["target"])
    assert_error(put(api, "/terms/deal", json={"label": "X"}), 422, fields=["target"])
    assert_error(put(api, "/terms/type:deal", json={"label": ""}), 422, fields=["label"])
    assert_error(put(api, "/terms/type:deal", json={"label": "x" * 121}), 422, fields=["label"])
    assert_error(put(api, "/terms/field:deal.amount", json={"label": "P", "plural_label": "Ps"}), 422,
                 fields=["plural_label"])
    assert_error(put(api, "/terms/type:deal", json={"label": "L", "colour": "red"}), 422, fields=["colour"])
    assert count(app, "term") == 0


def test_a_packs_term_is_not_changed_here(app, api):
    put(api, "/terms/type:deal", json={"label": "Listing"})
    as_pack(app, "term", "target = 'type:deal'")
    error = assert_error(put(api, "/terms/type:deal", json={"label": "Offer"}), 409)
    assert "real_estate" in error["message"]
    assert_error(api.delete("/terms/type:deal"), 409)
    assert api.get("/types/deal").get_json()["label"] == "Listing"


# Stages and pipelines ------------------------------------------------------------------------


def stage_keys(api, pipeline="sales"):
    return [s["key"] for s in api.get(f"/pipelines/{pipeline}").get_json()["stages"]]


def test_an_admin_adds_moves_and_removes_a_stage(app, api):
    answer = api.post("/pipelines/sales/stages", json={"key": "viewing", "label": "Viewing", "probability": 20,
                                                        "after": "lead", "allowed_next": ["qualified", "lost"]})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["probability"] == 20
    assert stage_keys(api)[:3] == ["lead", "viewing", "qualified"]
    assert api.post("/pipelines/sales/stages", json={"key": "first", "label": "First", "position": 0}).status_code == 201
    assert stage_keys(api)[:2] == ["first", "lead"]
    assert api.post("/pipelines/sales/stages", json={"key": "last", "label": "Last"}).status_code == 201
    assert stage_keys(api)[-1] == "last"

    changed = api.patch("/pipelines/sales/stages/viewing", json={"label": "Viewing booked", "probability": 30, "position": 4})
    assert changed.status_code == 200 and changed.get_json()["label"] == "Viewing booked"
    assert stage_keys(api).index("viewing") == 4

    deal = create(api, "deals", name="House", stage="viewing")
    error = assert_error(api.delete("/pipelines/sales/stages/viewing"), 409)
    assert "1 deal" in error["message"]
    api.delete(f"/deals/{deal['id']}")
    assert_error(api.delete("/pipelines/sales/stages/viewing"), 409)  # trashed records count too
    assert api.delete("/pipelines/sales/stages/last").status_code == 204
    assert "last" not in stage_keys(api)


def test_core_stages_change_probability_but_not_label_and_stay(app, api):
    answer = api.patch("/pipelines/sales/stages/lead", json={"probability": 5})
    assert answer.status_code == 200 and answer.get_json()["probability"] == 5
    assert scalar(app, "SELECT origin FROM pipeline_stage WHERE key = 'lead'") == "local"
    error = assert_error(api.patch("/pipelines/sales/stages/lead", json={"label": "Enquiry"}), 422, fields=["label"])
    assert "term" in error["fields"]["label"][0]
    assert "core" in assert_error(api.delete("/pipelines/sales/stages/lead"), 409)["message"]
    assert "lead" in stage_keys(api)


def test_bad_stages_name_the_field(app, api):
    cases = [({"key": "Bad", "label": "B"}, "key"), ({"key": "lead", "label": "Lead"}, "key"),
             ({"key": "x", "label": ""}, "label"), ({"key": "x", "label": "X", "probability": 101}, "probability"),
             ({"key": "x", "label": "X", "probability": True}, "probability"),
             ({"key": "x", "label": "X", "outcome": "maybe"}, "outcome"),
             ({"key": "x", "label": "X", "after": "nowhere"}, "after"),
             ({"key": "x", "label": "X", "after": "lead", "position": 1}, "after"),
             ({"key": "x", "label": "X", "position": -1}, "position"),
             ({"key": "x", "label": "X", "allowed_next": ["nowhere"]}, "allowed_next"),
             ({"key": "x", "label": "X", "colour": "red"}, "colour")]
    before = stage_keys(api)
    for body, field in cases:
        assert_error(api.post("/pipelines/sales/stages", json=body), 422, fields=[field], where=body)
    assert_error(api.post("/pipelines/nothing/stages", json={"key": "x", "label": "X"}), 404)
    assert_error(api.patch("/pipelines/sales/stages/lead", json={"probability": -1}), 422, fields=["probability"])
    assert_error(api.patch("/pipelines/sales/stages/nothing", json={"probability": 1}), 404)
    assert stage_keys(api) == before


def test_a_packs_stage_is_refused(app, api):
    api.post("/pipelines/sales/stages", json={"key": "viewing", "label": "Viewing"})
    as_pack(app, "pipeline_stage", "key = 'viewing'")
    assert "real_estate" in assert_error(api.patch("/pipelines/sales/stages/viewing", json={"probability": 9}), 409)["message"]
    assert "real_estate" in assert_error(api.delete("/pipelines/sales/stages/viewing"), 409)["message"]


def test_a_local_pipeline_on_a_declared_type(app, api):
    api.post("/types", json={**PROPERTY, "title_fields": []})
    body = {"key": "listing", "record_type": "property", "label": "Listing",
            "stages": [{"key": "draft", "label": "Draft"}, {"key": "live", "label": "Live", "probability": 50},
                       {"key": "sold", "label": "Sold", "probability": 100, "outcome": "won"}]}
    answer = api.post("/pipelines", json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["default"] is True
    assert api.get("/types/property").get_json()["pipeline"] == "listing"
    assert create(api, "properties")["stage"] == "draft"
    assert_error(api.post("/pipelines", json=body), 422, fields=["key"])
    assert_error(api.post("/pipelines", json={**body, "key": "other", "record_type": "contact"}), 422,
                 fields=["record_type"])
    assert_error(api.post("/pipelines", json={**body, "key": "other", "stages": [{"key": "a"}]}), 422,
                 fields=["stages.0.label"])
    as_pack(app, "pipeline", "key = 'listing'")
    error = assert_error(api.post("/pipelines/listing/stages", json={"key": "let", "label": "Let"}), 409)
    assert "real_estate" in error["message"] and "let" not in stage_keys(api, "listing")


# Choices -------------------------------------------------------------------------------------


def test_an_admin_adds_and_removes_choices(app, api):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold", "silver"])
    answer = api.post("/types/contact/fields/tier/choices", json={"key": "bronze", "label": "Bronze"})
    assert answer.status_code == 201 and answer.get_json()["origin"] == "local"
    tier = next(f for f in api.get("/types/contact").get_json()["fields"] if f["name"] == "tier")
    assert [c["key"] for c in tier["choices"]] == ["gold", "silver", "bronze"]
    holder = create(api, "contacts", last_name="Doe", tier="bronze")
    error = assert_error(api.delete("/types/contact/fields/tier/choices/bronze"), 409)
    assert "1 record" in error["message"]
    assert api.patch(f"/contacts/{holder['id']}", json={"tier": "gold"}).status_code == 200
    assert api.delete("/types/contact/fields/tier/choices/bronze").status_code == 204
    assert_error(api.delete("/types/contact/fields/tier/choices/gold"), 409)  # the field's own
    assert_error(api.delete("/types/contact/fields/tier/choices/nothing"), 404)


def test_a_choice_on_a_built_in_field(app, api):
    assert api.post("/types/activity/fields/kind/choices", json={"key": "visit"}).status_code == 201
    kind = next(f for f in api.get("/types/activity").get_json()["fields"] if f["name"] == "kind")
    assert {"key": "visit", "label": "Visit"} in kind["choices"]
    contact = create(api, "contacts", last_name="Doe")
    create(api, "activities", kind="visit", subject="Visit", related_type="contact", related_id=contact["id"])
    assert "1 record" in assert_error(api.delete("/types/activity/fields/kind/choices/visit"), 409)["message"]


def test_bad_choices_are_refused(app, api):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold"])
    assert_error(api.post("/types/contact/fields/tier/choices", json={"key": "gold"}), 422, fields=["key"])
    assert_error(api.post("/types/contact/fields/tier/choices", json={"key": "a b"}), 422, fields=["key"])
    assert_error(api.post("/types/contact/fields/tier/choices", json={"key": "x", "label": ""}), 422, fields=["label"])
    assert_error(api.post("/types/contact/fields/last_name/choices", json={"key": "x"}), 422, fields=["field"])
    assert_error(api.post("/types/contact/fields/nothing/choices", json={"key": "x"}), 404)
    assert count(app, "picklist_value") == 0


# Shared views --------------------------------------------------------------------------------


def test_an_admin_shares_a_view_with_everyone(app, api, seller_api):
    answer = api.post("/views", json={"record_type": "deal", "name": "Big ones", "query": "amount__gte=1000&sort=-amount"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    view = answer.get_json()
    assert view["origin"] == "local" and scalar(app, "SELECT user_id FROM saved_view") is None
    assert [v["name"] for v in api.get("/views?record_type=deal").get_json()["data"]] == ["Big ones"]
    assert_error(api.post("/views", json={"record_type": "deal", "name": "Big ones", "query": "sort=name"}), 422,
                 fields=["name"])
    assert api.delete(f"/views/{view['id']}").status_code == 204
    assert_error(api.delete(f"/views/{view['id']}"), 404)


def test_bad_views_name_the_field(app, api):
    cases = [({"record_type": "nothing", "name": "N", "query": "sort=name"}, "record_type"),
             ({"record_type": "deal", "name": "", "query": "sort=name"}, "name"),
             ({"record_type": "deal", "name": "N", "query": ""}, "query"),
             ({"record_type": "deal", "name": "N", "query": "colour=red"}, "query"),
             ({"record_type": "deal", "name": "N", "query": "sort=colour"}, "query"),
             ({"record_type": "deal", "name": "N", "query": "amount__gte=lots"}, "query"),
             ({"record_type": "deal", "name": "N", "query": "cursor=abc"}, "query")]
    for body, field in cases:
        assert_error(api.post("/views", json=body), 422, fields=[field], where=body)
    assert count(app, "saved_view") == 0


# Who may ------------------------------------------------------------------------------------


def test_only_administrators_change_the_layer(app, api, seller_api):
    attempts = [("post", "/types", PROPERTY), ("delete", "/types/contact", None), ("get", "/terms", None),
                ("put", "/terms/type:deal", {"label": "L"}), ("delete", "/terms/type:deal", None),
                ("post", "/pipelines", {"key": "p"}), ("post", "/pipelines/sales/stages", {"key": "x", "label": "X"}),
                ("patch", "/pipelines/sales/stages/lead", {"probability": 1}),
                ("delete", "/pipelines/sales/stages/lead", None),
                ("post", "/types/activity/fields/kind/choices", {"key": "visit"}),
                ("delete", "/types/activity/fields/kind/choices/visit", None), ("get", "/views", None),
                ("post", "/views", {"record_type": "deal", "name": "N", "query": "sort=name"}),
                ("delete", "/views/1", None)]
    for method, path, body in attempts:
        answer = seller_api.request(method.upper(), path, json=body)
        assert_error(answer, 403, "forbidden", where=(method, path))
    assert count(app, "term") == 0 and count(app, "picklist_value") == 0 and count(app, "saved_view") == 0
