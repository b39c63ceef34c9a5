"""``/admin/layer``: this instance's customizations, listed by kind, with CSRF-checked forms to
add a record type, rename a term, add a stage or a choice and remove what was added here;
the layer downloads as a zipped pack; admins share a list view with everyone from the list
page. Everyone else gets 403."""

import io
import tomllib
import zipfile

import pytest
from api_helpers import add_field, count, create, scalar
from web_helpers import sign_in


@pytest.fixture
def browser(app, admin):
    """An administrator signed in to the web UI (beside ``admin``, whom ``api`` acts as)."""
    return sign_in(app, "web@example.com", "Wes Web")[1]


def page(answer, status=200):
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:2000])
    return answer.get_data(as_text=True)


def test_the_page_lists_the_layer_by_kind_and_is_linked(app, api, browser):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold"])
    api.request("PUT", "/terms/type:deal", json={"label": "Listing", "plural_label": "Listings"})
    api.post("/pipelines/sales/stages", json={"key": "viewing", "label": "Viewing", "after": "lead"})
    api.post("/types/contact/fields/tier/choices", json={"key": "bronze", "label": "Bronze"})
    api.post("/views", json={"record_type": "deal", "name": "Big ones", "query": "sort=-amount"})
    html = page(browser.get("/admin/layer"))
    for marker in ('id="layer-field-contact-tier"', 'id="layer-term-type-deal"', 'id="layer-stage-sales-viewing"',
                   'id="layer-choice-contact-tier-bronze"', "Big ones", 'id="export-form"'):
        assert marker in html, marker
    assert 'href="/admin/layer"' in page(browser.get("/admin"))
    assert 'href="/admin/layer"' in page(browser.get("/admin/verticals"))


def test_adding_a_type_then_removing_it(app, browser):
    answer = browser.post("/admin/layer/types", {"label": "Property", "plural_label": "Properties"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/fields?type=property")
    assert scalar(app, "SELECT plural FROM record_type_definition WHERE key = 'property'") == "properties"
    assert 'id="layer-type-property"' in page(browser.get("/admin/layer"))
    assert browser.post("/admin/layer/types/property/remove").status_code == 302
    assert count(app, "record_type_definition") == 0


def test_a_bad_type_is_shown_again_with_the_reason(app, browser):
    html = page(browser.post("/admin/layer/types", {"label": "Contact", "plural_label": "Contacts"}), 422)
    assert 'id="type-errors"' in html and "There is already a record type" in html
    assert 'aria-invalid="true"' in html and count(app, "record_type_definition") == 0


def test_renaming_a_term_adding_a_stage_and_a_choice(app, api, browser):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold"])
    assert browser.post("/admin/layer/terms", {"target": "stage:sales.won", "label": "Sold"}).status_code == 302
    assert scalar(app, "SELECT label FROM term WHERE target = 'stage:sales.won'") == "Sold"
    assert browser.post("/admin/layer/stages", {"pipeline": "sales", "label": "Viewing booked", "probability": "20",
                                                "after": "lead"}).status_code == 302
    assert scalar(app, "SELECT origin FROM pipeline_stage WHERE key = 'viewing_booked'") == "local"
    assert browser.post("/admin/layer/choices", {"field": "contact.tier", "label": "Bronze"}).status_code == 302
    assert scalar(app, "SELECT label FROM picklist_value WHERE key = 'bronze'") == "Bronze"

    html = page(browser.post("/admin/layer/stages", {"pipeline": "sales", "label": "X", "probability": "lots"}), 422)
    assert 'id="stage-errors"' in html and "A whole number from 0 to 100." in html
    html = page(browser.post("/admin/layer/terms", {"target": "type:nothing", "label": "X"}), 422)
    assert 'id="term-errors"' in html

    assert browser.post("/admin/layer/terms/remove", {"target": "stage:sales.won"}).status_code == 302
    assert browser.post("/admin/layer/stages/sales/viewing_booked/remove").status_code == 302
    assert browser.post("/admin/layer/choices/contact/tier/bronze/remove").status_code == 302
    assert count(app, "term") == 0 and count(app, "picklist_value") == 0
    assert count(app, "pipeline_stage", "key = 'viewing_booked'") == 0


def test_a_refused_removal_says_why(app, api, browser):
    api.post("/pipelines/sales/stages", json={"key": "viewing", "label": "Viewing"})
    create(api, "deals", name="House", stage="viewing")
    browser.post("/admin/layer/stages/sales/viewing/remove")
    assert "1 deal" in page(browser.get("/admin/layer"))
    assert count(app, "pipeline_stage", "key = 'viewing'") == 1


def test_exporting_downloads_the_pack(app, api, browser):
    api.request("PUT", "/terms/type:deal", json={"label": "Listing", "plural_label": "Listings"})
    answer = browser.post("/admin/layer/export", {"name": "acme", "version": "2.0.0"})
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert "acme-2.0.0.zip" in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.data)) as zipped:
        document = tomllib.loads(zipped.read("acme/vertical.toml").decode())
    assert document["pack"]["version"] == "2.0.0" and document["terms"]["deal"]["label"] == "Listing"
    html = page(browser.post("/admin/layer/export", {"name": "Not A Name"}), 422)
    assert 'id="export-errors"' in html


def test_an_admin_shares_a_view_from_the_list_page(app, browser, seller):
    answer = browser.post("/deals/views", {"name": "Big ones", "query": "sort=-amount", "shared": "1"})
    assert answer.status_code == 302
    assert scalar(app, "SELECT origin FROM saved_view WHERE name = 'Big ones' AND user_id IS NULL") == "local"
    _, seller_browser = seller
    html = page(seller_browser.get("/deals"))
    assert "Big ones" in html and 'name="shared"' not in html
    seller_browser.post("/deals/views", {"name": "Mine", "query": "sort=name", "shared": "1"})
    assert scalar(app, "SELECT user_id FROM saved_view WHERE name = 'Mine'") is not None
    assert 'name="shared"' in page(browser.get("/deals?sort=name"))


def test_only_administrators_and_only_with_the_form_token(app, browser, seller):
    _, seller_browser = seller
    assert seller_browser.get("/admin/layer").status_code == 403
    for path, data in (("/admin/layer/types", {"label": "P", "plural_label": "Ps"}),
                       ("/admin/layer/terms", {"target": "type:deal", "label": "L"}),
                       ("/admin/layer/export", {"name": "acme"})):
        assert seller_browser.post(path, data).status_code == 403
    assert browser.post("/admin/layer/terms", {"target": "type:deal", "label": "L"}, csrf=False).status_code in (400, 403)
    assert count(app, "term") == 0 and count(app, "record_type_definition") == 0
