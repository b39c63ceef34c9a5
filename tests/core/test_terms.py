"""Terms and picklist values stored as rows: a renamed type, field or stage shows its new
words in the API, the OpenAPI document, the web pages, the board, the dashboard and error
messages while keys, URLs and JSON names stay; added picklist values become choices that
validation accepts, after the field's own."""

import pytest
from accord.core import customfields
from accord.core.models import PicklistValue, Term
from accord.core.records import write_unit
from accord.core.registry import bump_generation
from accord.core.terms import apply_terms
from api_helpers import add_field, assert_error, create
from web_helpers import sign_in


def store(app, *rows):
    with app.app_context(), write_unit() as session:
        session.add_all(rows)
        bump_generation(session)


@pytest.fixture
def renamed(app, api):
    store(app,
          Term(target="type:deal", label="Listing", plural_label="Listings", origin="pack:real_estate"),
          Term(target="field:deal.amount", label="List price", origin="pack:real_estate"),
          Term(target="stage:sales.lead", label="Enquiry", origin="pack:real_estate"),
          Term(target="stage:sales.won", label="Sold", origin="pack:real_estate"),
          Term(target="type:nothing", label="Ignored", origin="local"),
          Term(target="field:deal.nothing", label="Ignored", origin="local"))
    return api


def test_the_api_answers_the_new_words_under_the_same_keys(renamed):
    deal = next(t for t in renamed.get("/types").json["data"] if t["key"] == "deal")
    assert (deal["label"], deal["plural_label"], deal["plural"]) == ("Listing", "Listings", "deals")
    fields = {f["name"]: f for f in deal["fields"]}
    assert fields["amount"]["label"] == "List price" and fields["name"]["label"] == "Name"
    stages = {s["key"]: s["label"] for s in renamed.get("/pipelines/sales").json["stages"]}
    assert stages["lead"] == "Enquiry" and stages["won"] == "Sold" and stages["qualified"] == "Qualified"
    made = create(renamed, "deals", name="12 Harbour View", amount="500000")
    assert made["stage"] == "lead" and "amount" in made
    assert "Listing 999999 does not exist" in assert_error(renamed.get("/deals/999999"), 404)["message"]


def test_the_openapi_document_uses_the_new_words(renamed):
    document = renamed.get("/openapi.json").json
    assert document["components"]["schemas"]["Deal"]["properties"]["amount"]["title"] == "List price"
    assert document["paths"]["/api/v1/deals"]["get"]["summary"] == "List listings"


def test_pages_the_board_and_the_dashboard_use_the_new_words(renamed, app):
    create(renamed, "deals", name="12 Harbour View", amount="500000")
    _user, web = sign_in(app, "eve@example.com", "Eve", is_admin=True)
    listing = web.get("/deals").get_data(as_text=True)
    assert "<h1>Listings</h1>" in listing and "New Listing" in listing
    assert "List price" in web.get("/deals/new").get_data(as_text=True)
    board = web.get("/deals/board").get_data(as_text=True)
    assert "Enquiry" in board and "Sold" in board
    assert "Enquiry" in web.get("/").get_data(as_text=True)


def test_terms_apply_without_touching_what_they_do_not_name(app):
    with app.test_request_context():
        from accord.core.registry import current_accord

        catalog = current_accord().catalog()
        rows = [Term(target="type:contact", label="Client", plural_label=None)]
        types, pipelines = apply_terms(catalog.types, catalog.pipelines, rows)
        assert (types["contact"].label, types["contact"].plural_label) == ("Client", "Contacts")
        assert types["deal"] is catalog.types["deal"] and pipelines == catalog.pipelines


def test_picklist_values_extend_built_in_and_custom_choices(app, api):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold", "silver"])
    add_field(api, "contact", name="tags", kind="multi_choice", choices=["vip"])
    store(app,
          PicklistValue(record_type="activity", field="kind", key="viewing", label="Viewing", position=1),
          PicklistValue(record_type="activity", field="kind", key="open_house", label="Open house", position=0),
          PicklistValue(record_type="activity", field="kind", key="call", label="Duplicate", position=2),
          PicklistValue(record_type="contact", field="tier", key="bronze", label="Bronze", position=0),
          PicklistValue(record_type="contact", field="tags", key="buyer", label="Buyer", position=0),
          PicklistValue(record_type="contact", field="last_name", key="x", label="Not a choice field", position=0),
          PicklistValue(record_type="nothing", field="kind", key="x", label="Unknown type", position=0))
    types = {t["key"]: {f["name"]: f for f in t["fields"]} for t in api.get("/types").json["data"]}
    kinds = [c["key"] for c in types["activity"]["kind"]["choices"]]
    assert kinds == ["call", "email", "meeting", "task", "note", "open_house", "viewing"]
    assert [c["label"] for c in types["contact"]["tier"]["choices"]] == ["Gold", "Silver", "Bronze"]
    assert types["contact"]["last_name"]["choices"] is None
    assert create(api, "activities", kind="viewing", subject="Saturday viewing")["kind"] == "viewing"
    assert_error(api.post("/activities", json={"kind": "party", "subject": "No"}), 422, fields=["kind"])
    contact = create(api, "contacts", last_name="Doe", tier="bronze", tags=["vip", "buyer"])
    assert (contact["tier"], contact["tags"]) == ("bronze", ["vip", "buyer"])
    assert api.get("/contacts?tier=bronze").json["data"][0]["id"] == contact["id"]


def test_editing_a_custom_field_keeps_picklist_values_out_of_its_own_choices(app, api):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold"])
    store(app, PicklistValue(record_type="contact", field="tier", key="bronze", label="Bronze", position=0))
    with app.test_request_context():
        customfields.update_field("contact", "tier", {"label": "Level"}, None)
    with app.app_context(), write_unit() as session:
        session.query(PicklistValue).delete()
        bump_generation(session)
    tier = next(f for t in api.get("/types").json["data"] if t["key"] == "contact" for f in t["fields"]
                if f["name"] == "tier")
    assert tier["label"] == "Level" and [c["key"] for c in tier["choices"]] == ["gold"]
