"""A list page builds each record's JSON straight from its row; it must answer exactly what
the record's own URL answers, for every kind of field, relations, trashed records and
fields hidden from a role."""

from api_helpers import KIND_CASES, add_field, create
from accord.testing import api_client, make_user


def _by_id(page):
    return {item["id"]: item for item in page["data"]}


def test_each_listed_record_is_what_its_own_url_answers(api):
    target = create(api, "organizations", name="Target")["id"]
    values = {}
    for kind, (extra, good, _as_json, _bad) in KIND_CASES.items():
        add_field(api, "deal", name=f"x_{kind}", kind=kind, **extra)
        values[f"x_{kind}"] = target if kind == "reference" else good
    contacts = [create(api, "contacts", last_name=name)["id"] for name in ("Ames", "Bell")]
    full = create(api, "deals", name="Full", amount="1234.5", expected_close_date="2026-03-01",
                  contact_ids=list(reversed(contacts)), **values)
    bare = create(api, "deals", name="Bare")
    page = _by_id(api.get("/deals?limit=50").json)
    for made in (full, bare):
        one = api.get(f"/deals/{made['id']}").json
        assert page[made["id"]] == one
        assert list(page[made["id"]]) == list(one)
    assert page[full["id"]]["contact_ids"] == sorted(contacts)
    assert page[full["id"]]["amount"] == "1234.50"
    assert page[bare["id"]]["x_multi_choice"] is None and page[bare["id"]]["contact_ids"] == []

    assert api.delete(f"/deals/{bare['id']}").status_code == 204
    trashed = _by_id(api.get("/deals?trashed=true").json)[bare["id"]]
    assert trashed["deleted_at"].endswith("Z")
    assert trashed == {**bare, "deleted_at": trashed["deleted_at"], "updated_at": trashed["updated_at"],
                       "version": trashed["version"]}


def test_a_listed_record_hides_what_the_role_may_not_see(app, api, admin):
    add_field(api, "contact", name="salary_note", kind="text", sensitive=True)
    add_field(api, "contact", name="salary", kind="decimal", sensitive=True)
    seller = make_user(app, "seller@example.com", "Seller", role="sales")
    made = create(api, "contacts", last_name="Quill", salary_note="ask first", salary="90000", owner_id=seller.id)
    as_seller = api_client(app, seller)
    listed = _by_id(as_seller.get("/contacts").json)[made["id"]]
    assert listed["salary_note"] is None and listed["salary"] is None
    assert listed == as_seller.get(f"/contacts/{made['id']}").json
    shown = _by_id(api.get("/contacts").json)[made["id"]]
    assert shown["salary_note"] == "ask first" and shown["salary"] == "90000.00"
