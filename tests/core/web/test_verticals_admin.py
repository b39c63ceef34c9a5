"""The vertical packs admin page (``/admin/verticals``), its API twin
(``/api/v1/admin/verticals``) and shared saved views from packs on list pages; the packs
are those of ``tests/fixtures/changesets``, found as if built in."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from accord.core import verticals
from accord.core.db import db
from accord.testing import api_client, make_user
from api_helpers import assert_error, create
from web_helpers import sign_in

PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "changesets"


@pytest.fixture
def packs(tmp_path, monkeypatch):
    """The fixture packs as this instance's built-in packs."""
    folder = tmp_path / "verticals"
    shutil.copytree(PACKS, folder)
    monkeypatch.setattr(verticals, "BUILT_IN", folder)
    return folder


@pytest.fixture
def browser(app, packs):
    return sign_in(app)[1]


def html(answer, status=200):
    assert answer.status_code == status, answer.get_data(as_text=True)[:2000]
    return answer.get_data(as_text=True)


def follow(browser, answer):
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    return html(browser.get(answer.headers["Location"]))


def test_the_list_shows_every_pack_with_its_status(app, browser):
    page = html(browser.get("/admin/verticals"))
    for name in ("brokerage", "lettings", "rival", "unfit"):
        assert f'id="vertical-{name}" data-status="not applied"' in page
    assert 'id="vertical-malformed" data-status="broken"' in page
    assert 'href="/admin/verticals"' in html(browser.get("/admin"))


def test_the_diff_then_apply_with_the_form_token(app, browser):
    page = html(browser.get("/admin/verticals/brokerage"))
    assert "Applying it would change" in page
    assert "<code>+ type property (Property, /properties)</code>" in page
    assert "~ stage sales.lead (Enquiry, 5%): label &#39;Lead&#39; → &#39;Enquiry&#39;" in page
    assert browser.post("/admin/verticals/brokerage/apply", csrf=False).status_code == 400
    page = follow(browser, browser.post("/admin/verticals/brokerage/apply"))
    assert "Applied brokerage 1.0.0: 21 changes." in page
    assert "Applied: nothing to change" in page and "Reverting it would undo" in page
    assert "<code>- type property</code>" in page and "Revert Brokerage" in page
    assert 'data-status="applied"' in html(browser.get("/admin/verticals"))
    assert "Listings" in html(browser.get("/deals"))


def test_problems_and_conflicts_are_listed_and_nothing_is_offered(app, browser):
    follow(browser, browser.post("/admin/verticals/brokerage/apply"))
    page = html(browser.get("/admin/verticals/rival"))
    assert "It cannot be applied here; nothing would change." in page
    assert page.count("packs brokerage and rival define") == 3
    assert "/admin/verticals/rival/apply" not in page
    page = follow(browser, browser.post("/admin/verticals/rival/apply"))
    assert "Pack rival cannot be applied: 3 problems; nothing was changed." in page
    broken = html(browser.get("/admin/verticals/malformed"))
    assert "This pack cannot be used" in broken and "&#39;flavourful&#39; is not a field kind" in broken


def test_revert_order_is_enforced_on_the_page(app, browser):
    follow(browser, browser.post("/admin/verticals/brokerage/apply"))
    follow(browser, browser.post("/admin/verticals/lettings/apply"))
    page = html(browser.get("/admin/verticals/brokerage"))
    assert "Pack lettings was applied after this one and builds on it: revert lettings first." in page
    assert "/admin/verticals/brokerage/revert" not in page
    page = follow(browser, browser.post("/admin/verticals/brokerage/revert"))
    assert "revert lettings first" in page
    follow(browser, browser.post("/admin/verticals/lettings/revert"))
    assert "Reverted brokerage 1.0.0." in follow(browser, browser.post("/admin/verticals/brokerage/revert"))


def test_a_revert_that_needs_force_shows_what_holds_data_and_offers_export_and_revert(app, browser):
    follow(browser, browser.post("/admin/verticals/brokerage/apply"))
    api = api_client(app, make_user(app, "api@example.com", "Api Admin", is_admin=True))
    create(api, "deals", name="Mill house", commission_rate="2.5")
    create(api, "properties", address="1 Quay Street")
    create(api, "properties", address="2 Quay Street")
    page = html(browser.get("/admin/verticals/brokerage"))
    assert "<li>type property: 2 records</li>" in page and "<li>field deal.commission_rate: 1 record</li>" in page
    assert "Export and revert" in page and '<input type="hidden" name="force" value="1">' in page
    refused = follow(browser, browser.post("/admin/verticals/brokerage/revert"))
    assert "was not reverted" in refused and "brokerage: type property: holds data in 2 records" in refused
    done = follow(browser, browser.post("/admin/verticals/brokerage/revert", {"force": "1"}))
    assert "Reverted brokerage 1.0.0. The data it held was exported to " in done
    folder = Path(app.instance_path) / "exports" / "verticals"
    (export,) = folder.iterdir()
    assert sorted(p.name for p in export.iterdir()) == ["deal.fields.jsonl", "pack.json", "property.jsonl"]
    assert f"data exported to <code>{export}</code>" in done


def test_shared_views_show_on_list_pages_and_cannot_be_deleted(app, browser):
    follow(browser, browser.post("/admin/verticals/brokerage/apply"))
    make_user(app, "seller@example.com", "Sam Seller")
    _, seller = sign_in(app, "agent@example.com", "Alex Agent", is_admin=False)
    page = html(seller.get("/deals"))
    assert "Big listings" in page and 'title="Shared with everyone"' in page
    assert "Delete the saved view Big listings" not in page
    with app.app_context():
        view_id = db.session.execute(text("SELECT id FROM saved_view WHERE user_id IS NULL")).scalar_one()
    assert seller.post(f"/deals/views/{view_id}/delete", {"query": ""}).status_code == 404
    assert browser.post(f"/deals/views/{view_id}/delete", {"query": ""}).status_code == 404
    with app.app_context():
        assert db.session.execute(text("SELECT COUNT(*) FROM saved_view")).scalar_one() == 1


def test_the_admin_api(app, packs, admin, api):
    listed = api.get("/admin/verticals").get_json()["data"]
    assert {entry["name"]: entry["status"] for entry in listed}["brokerage"] == "not applied"
    diff = api.get("/admin/verticals/brokerage/diff").get_json()
    assert diff["status"] == "new" and diff["ok"] and "+ type property (Property, /properties)" in diff["lines"]
    applied = api.post("/admin/verticals/brokerage/apply")
    assert applied.status_code == 200, applied.get_json()
    assert applied.get_json()["status"] == "applied" and applied.get_json()["changesets"] == [1]
    assert api.post("/admin/verticals/brokerage/apply").get_json()["status"] == "already applied"
    conflict = api.post("/admin/verticals/rival/apply")
    assert_error(conflict, 409, "conflict", fields=("fields.deal[0]", "pipelines.sales.stages[0]", "terms.deal"))
    assert_error(api.get("/admin/verticals/malformed/diff"), 422, fields=("gadgets", "fields.deal[0].kind"))
    assert_error(api.get("/admin/verticals/nothing_here/diff"), 404)
    assert_error(api.post("/admin/verticals/rival/revert"), 404)
    assert_error(api.post("/admin/verticals/brokerage/revert?force=maybe"), 400)
    create(api, "properties", address="1 Quay Street")
    refused = api.post("/admin/verticals/brokerage/revert")
    assert_error(refused, 409, "conflict", fields=("type property",))
    reverted = api.post("/admin/verticals/brokerage/revert?force=true").get_json()
    assert reverted["status"] == "reverted" and Path(reverted["export_path"]).is_dir()
    assert json.loads((Path(reverted["export_path"]) / "property.jsonl").read_text())["address"] == "1 Quay Street"


def test_the_admin_api_is_for_administrators_only(app, packs, admin):
    user = api_client(app, make_user(app, "sam@example.com", "Sam Seller"))
    for method, path in (("GET", "/admin/verticals"), ("GET", "/admin/verticals/brokerage/diff"),
                         ("POST", "/admin/verticals/brokerage/apply"), ("POST", "/admin/verticals/brokerage/revert")):
        assert_error(user.request(method, path), 403)
