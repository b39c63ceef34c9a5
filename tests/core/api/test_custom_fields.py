"""Custom fields added at run time through ``POST /api/v1/types/<type>/fields``: every kind
appears at once, validates, round-trips, can be indexed, hidden, brought back and purged."""

from api_helpers import KIND_CASES, add_field, assert_error, count, create, dialect, scalar, sql
from accord.testing import api_client, make_user


def _type_fields(api, type_key):
    response = api.get("/types")
    assert response.status_code == 200
    found = next(t for t in response.json["data"] if t["key"] == type_key)
    return {f["name"]: f for f in found["fields"]}


def test_every_kind_can_be_added_and_shows_at_once(api):
    for kind, (extra, *_rest) in KIND_CASES.items():
        field = add_field(api, "contact", name=f"cf_{kind}", kind=kind, label=f"My {kind}", **extra)
        assert field["name"] == f"cf_{kind}" and field["kind"] == kind and field["custom"] is True
        assert field["label"] == f"My {kind}"
        listed = _type_fields(api, "contact")
        assert listed[f"cf_{kind}"]["kind"] == kind
        one = api.get("/types/contact").json
        assert f"cf_{kind}" in {f["name"] for f in one["fields"]}
        schema = api.get("/openapi.json").json["components"]["schemas"]
        assert f"cf_{kind}" in schema["Contact"]["properties"]
        assert f"cf_{kind}" in schema["ContactCreate"]["properties"]
        assert f"cf_{kind}" in schema["ContactUpdate"]["properties"]
    listed = _type_fields(api, "contact")
    assert listed["cf_choice"]["choices"] == [{"key": "low", "label": "Low"}, {"key": "high", "label": "High"}]
    assert listed["cf_reference"]["reference"] == "organization"


def test_values_of_each_kind_validate_and_round_trip(api, app):
    target = create(api, "organizations", name="Target")["id"]
    for kind, (extra, good, as_json, bad) in KIND_CASES.items():
        name = f"x_{kind}"
        if kind == "reference":
            good = as_json = target
        add_field(api, "contact", name=name, kind=kind, **extra)
        created = create(api, "contacts", last_name=f"Doe {kind}", **{name: good})
        assert created[name] == as_json, kind
        assert api.get(f"/contacts/{created['id']}").json[name] == as_json, kind
        listed = api.get(f"/contacts?id={created['id']}").json["data"]
        assert listed[0][name] == as_json, kind
        assert_error(api.post("/contacts", json={"last_name": "Roe", name: bad}), 422, "validation_failed",
                     fields=[name], where=kind)
        assert_error(api.patch(f"/contacts/{created['id']}", json={name: bad}), 422, fields=[name], where=kind)
        assert api.get(f"/contacts/{created['id']}").json[name] == as_json, kind
        cleared = api.patch(f"/contacts/{created['id']}", json={name: None})
        assert cleared.status_code == 200 and cleared.json[name] is None, kind
        assert cleared.json["version"] == 2, kind
    assert count(app, "contact") == len(KIND_CASES)


def test_custom_fields_sit_beside_core_fields_in_one_flat_object(api):
    add_field(api, "deal", name="segment", kind="choice", choices=["smb", "enterprise"])
    deal = create(api, "deals", name="Big", segment="enterprise")
    assert deal["segment"] == "enterprise" and deal["name"] == "Big"
    assert "custom" not in deal
    changed = api.patch(f"/deals/{deal['id']}", json={"name": "Bigger"}).json
    assert changed["segment"] == "enterprise" and changed["version"] == 2


def test_required_custom_field_and_default(api):
    add_field(api, "organization", name="region", kind="choice", choices=["north", "south"], required=True)
    add_field(api, "organization", name="tier", kind="integer", default=3)
    add_field(api, "organization", name="since", kind="date", default="2020-01-01")
    assert_error(api.post("/organizations", json={"name": "Acme"}), 422, fields=["region"])
    org = create(api, "organizations", name="Acme", region="north")
    assert org["tier"] == 3 and org["since"] == "2020-01-01"
    explicit = create(api, "organizations", name="Beta", region="south", tier=1)
    assert explicit["tier"] == 1
    assert _type_fields(api, "organization")["tier"]["default"] == 3


def test_reference_custom_field_refuses_missing_and_trashed_targets(api, app):
    add_field(api, "contact", name="referrer", kind="reference", reference="contact")
    friend = create(api, "contacts", last_name="Friend")
    gone = create(api, "contacts", last_name="Gone")
    api.delete(f"/contacts/{gone['id']}")
    assert_error(api.post("/contacts", json={"last_name": "Doe", "referrer": 999999}), 422, fields=["referrer"])
    assert_error(api.post("/contacts", json={"last_name": "Doe", "referrer": gone["id"]}), 422, fields=["referrer"])
    assert count(app, "contact") == 2
    assert create(api, "contacts", last_name="Doe", referrer=friend["id"])["referrer"] == friend["id"]


def _index_names(app, table):
    if dialect(app) == "postgresql":
        rows = sql(app, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t",
                   t=table)
    else:
        rows = sql(app, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t", t=table)
    return {r[0] for r in rows}


def test_indexed_field_creates_an_expression_index(api, app):
    add_field(api, "contact", name="loyalty", kind="integer", indexed=True)
    add_field(api, "contact", name="plain", kind="integer")
    names = _index_names(app, "contact")
    assert "ix_cf_contact_loyalty" in names
    assert "ix_cf_contact_plain" not in names
    assert _type_fields(api, "contact")["loyalty"]["indexed"] is True
    for i in range(3):
        create(api, "contacts", last_name=f"L{i}", loyalty=i)
    assert [r["loyalty"] for r in api.get("/contacts?loyalty__gte=1&sort=loyalty").json["data"]] == [1, 2]


def test_each_sortable_kind_can_be_indexed(api, app):
    for kind, (extra, *_values) in KIND_CASES.items():
        if kind == "multi_choice":
            continue
        add_field(api, "deal", name=f"ix_{kind}", kind=kind, indexed=True, **extra)
        assert f"ix_cf_deal_ix_{kind}" in _index_names(app, "deal"), kind
    assert create(api, "deals", name="Still writable", ix_integer=3, ix_money={"amount": "1"})["ix_integer"] == 3


def test_index_serves_a_filter_on_the_field(api, app):
    from sqlalchemy import text

    from accord.core.db import db
    from accord.core.fields import KINDS

    add_field(api, "contact", name="loyalty", kind="integer", indexed=True)
    engine = dialect(app)
    expr = KINDS["integer"].custom_expr("contact", "loyalty", engine)
    query = f"SELECT id FROM contact WHERE {expr} = 3 AND deleted_at IS NULL"
    with app.app_context():
        if engine == "postgresql":
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = db.session.execute(text(f"EXPLAIN {query}")).scalars().all()
        else:
            plan = [row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {query}"))]
        db.session.rollback()
    assert any("ix_cf_contact_loyalty" in str(line) for line in plan), plan


def test_removed_field_is_hidden_but_its_data_kept(api, app):
    add_field(api, "contact", name="shoe_size", kind="integer", indexed=True)
    contact = create(api, "contacts", last_name="Doe", shoe_size=44)
    response = api.delete("/types/contact/fields/shoe_size")
    assert response.status_code == 204
    assert "shoe_size" not in _type_fields(api, "contact")
    assert "shoe_size" not in api.get("/openapi.json").json["components"]["schemas"]["Contact"]["properties"]
    fetched = api.get(f"/contacts/{contact['id']}").json
    assert "shoe_size" not in fetched
    assert_error(api.post("/contacts", json={"last_name": "Roe", "shoe_size": 40}), 422, fields=["shoe_size"])
    assert_error(api.get("/contacts?shoe_size=44"), 400, fields=["shoe_size"])
    assert "ix_cf_contact_shoe_size" not in _index_names(app, "contact")
    stored = scalar(app, "SELECT custom FROM contact WHERE id = :id", id=contact["id"])
    assert "44" in str(stored)
    again = add_field(api, "contact", name="shoe_size", kind="integer")
    assert again["kind"] == "integer"
    assert api.get(f"/contacts/{contact['id']}").json["shoe_size"] == 44
    assert [r["id"] for r in api.get("/contacts?shoe_size=44").json["data"]] == [contact["id"]]


def test_changing_a_field_after_removal_does_not_lose_other_values(api):
    add_field(api, "contact", name="hobby", kind="text")
    contact = create(api, "contacts", last_name="Doe", hobby="chess")
    api.delete("/types/contact/fields/hobby")
    changed = api.patch(f"/contacts/{contact['id']}", json={"city": "Oslo"})
    assert changed.status_code == 200
    add_field(api, "contact", name="hobby", kind="text")
    assert api.get(f"/contacts/{contact['id']}").json["hobby"] == "chess"


def test_readding_with_another_kind_while_data_kept_is_422(api, app):
    add_field(api, "contact", name="shoe_size", kind="integer")
    create(api, "contacts", last_name="Doe", shoe_size=44)
    api.delete("/types/contact/fields/shoe_size")
    response = api.post("/types/contact/fields", json={"name": "shoe_size", "kind": "text"})
    assert_error(response, 422, "validation_failed", fields=["kind"])
    assert "shoe_size" not in _type_fields(api, "contact")


def test_purge_erases_the_data(api, app):
    add_field(api, "contact", name="shoe_size", kind="integer")
    contact = create(api, "contacts", last_name="Doe", shoe_size=44)
    assert api.delete("/types/contact/fields/shoe_size?purge=true").status_code == 204
    assert "44" not in str(scalar(app, "SELECT custom FROM contact WHERE id = :id", id=contact["id"]))
    assert count(app, "custom_field", "name = 'shoe_size'") == 0
    add_field(api, "contact", name="shoe_size", kind="text")
    assert api.get(f"/contacts/{contact['id']}").json["shoe_size"] is None


def test_purge_after_a_plain_remove_erases_too(api, app):
    add_field(api, "contact", name="shoe_size", kind="integer")
    contact = create(api, "contacts", last_name="Doe", shoe_size=44)
    assert api.delete("/types/contact/fields/shoe_size").status_code == 204
    response = api.delete("/types/contact/fields/shoe_size?purge=true")
    assert response.status_code == 204, response.get_json()
    assert "44" not in str(scalar(app, "SELECT custom FROM contact WHERE id = :id", id=contact["id"]))
    add_field(api, "contact", name="shoe_size", kind="text")
    assert api.get(f"/contacts/{contact['id']}").json["shoe_size"] is None


def test_removing_a_core_or_unknown_field(api):
    assert_error(api.delete("/types/contact/fields/last_name"), 422, fields=["name"])
    assert_error(api.delete("/types/contact/fields/nothing_here"), 404, "not_found")
    assert_error(api.delete("/types/spaceship/fields/x"), 404, "not_found")


def test_adding_to_an_unknown_type_is_404(api):
    assert_error(api.post("/types/spaceship/fields", json={"name": "x", "kind": "text"}), 404, "not_found")
    assert_error(api.get("/types/spaceship"), 404, "not_found")


INVALID_SPECS = [
    ({"name": "Bad Name", "kind": "text"}, "name"),
    ({"name": "1st", "kind": "text"}, "name"),
    ({"kind": "text"}, "name"),
    ({"name": "x" * 64, "kind": "text"}, "name"),
    ({"name": "email", "kind": "text"}, "name"),
    ({"name": "version", "kind": "integer"}, "name"),
    ({"name": "custom", "kind": "text"}, "name"),
    ({"name": "nick", "kind": "colour"}, "kind"),
    ({"name": "nick"}, "kind"),
    ({"name": "tier", "kind": "choice"}, "choices"),
    ({"name": "tier", "kind": "choice", "choices": []}, "choices"),
    ({"name": "tier", "kind": "choice", "choices": ["a", "a"]}, "choices"),
    ({"name": "tier", "kind": "choice", "choices": [5]}, "choices"),
    ({"name": "tier", "kind": "text", "choices": ["a"]}, "choices"),
    ({"name": "boss", "kind": "reference"}, "reference"),
    ({"name": "boss", "kind": "reference", "reference": "spaceship"}, "reference"),
    ({"name": "boss", "kind": "integer", "reference": "contact"}, "reference"),
    ({"name": "nick", "kind": "text", "required": "yes"}, "required"),
    ({"name": "nick", "kind": "text", "indexed": 1}, "indexed"),
    ({"name": "nick", "kind": "text", "searchable": "true"}, "searchable"),
    ({"name": "nick", "kind": "text", "pii": None}, "pii"),
    ({"name": "nick", "kind": "text", "label": "x" * 121}, "label"),
    ({"name": "nick", "kind": "text", "help": 5}, "help"),
    ({"name": "nick", "kind": "text", "colour": "red"}, "colour"),
    ({"name": "tags", "kind": "multi_choice", "choices": ["a"], "indexed": True}, "indexed"),
    ({"name": "size", "kind": "integer", "default": "big"}, "default"),
    ({"name": "tier", "kind": "choice", "choices": ["a"], "default": "b"}, "default"),
]


def test_invalid_specs_are_422_naming_the_key(api, app):
    for spec, key in INVALID_SPECS:
        assert_error(api.post("/types/contact/fields", json=spec), 422, "validation_failed", fields=[key], where=spec)
    assert count(app, "custom_field") == 0
    assert_error(api.post("/types/contact/fields", json=["name", "kind"]), 400)


def test_duplicate_field_is_422(api):
    add_field(api, "contact", name="nick", kind="text")
    assert_error(api.post("/types/contact/fields", json={"name": "nick", "kind": "text"}), 422, fields=["name"])


def test_field_name_taken_by_a_relation_is_422(api):
    assert_error(api.post("/types/deal/fields", json={"name": "contact_ids", "kind": "text"}), 422, fields=["name"])


def test_same_name_on_two_types_is_fine(api):
    add_field(api, "contact", name="nick", kind="text")
    add_field(api, "organization", name="nick", kind="integer")
    assert create(api, "organizations", name="Acme", nick=3)["nick"] == 3
    assert create(api, "contacts", last_name="Doe", nick="jd")["nick"] == "jd"


def test_malformed_spec_body_is_400(api):
    assert_error(api.post("/types/contact/fields", data=b"{oops", content_type="application/json"), 400)


def test_searchable_custom_field_is_found_by_search(api):
    add_field(api, "contact", name="codename", kind="text", searchable=True)
    contact = create(api, "contacts", last_name="Doe", codename="Zanzibar")
    hits = api.get("/search?q=zanzi").json["data"]
    assert [(h["type"], h["id"]) for h in hits] == [("contact", contact["id"])]
    api.patch(f"/contacts/{contact['id']}", json={"codename": "Timbuktu"})
    assert api.get("/search?q=zanzi").json["data"] == []
    assert [h["id"] for h in api.get("/search?q=timbuk").json["data"]] == [contact["id"]]


def test_a_field_added_through_one_worker_is_seen_by_another(api, app, admin, tmp_path):
    from accord.core import create_app
    from accord.core.db import db
    from accord.testing import api_client

    other = create_app({"INSTANCE_PATH": str(tmp_path / "worker2"),
                        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        worker2 = api_client(other, admin)
        assert "loyalty" not in _type_fields(worker2, "contact")
        assert "loyalty" not in worker2.get("/openapi.json").json["components"]["schemas"]["Contact"]["properties"]
        add_field(api, "contact", name="loyalty", kind="integer")
        assert _type_fields(worker2, "contact")["loyalty"]["kind"] == "integer"
        assert "loyalty" in worker2.get("/openapi.json").json["components"]["schemas"]["Contact"]["properties"]
        contact = create(worker2, "contacts", last_name="Doe", loyalty=7)
        assert api.get(f"/contacts/{contact['id']}").json["loyalty"] == 7
        assert api.delete("/types/contact/fields/loyalty").status_code == 204
        assert_error(worker2.post("/contacts", json={"last_name": "Roe", "loyalty": 1}), 422, fields=["loyalty"])
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_adding_one_field_twice_at_once_creates_it_once(api, app):
    import threading

    from accord.testing import ApiClient

    barrier = threading.Barrier(3)
    codes = []

    def add():
        client = ApiClient(app, api.token)
        barrier.wait()
        codes.append(client.post("/types/contact/fields", json={"name": "rush", "kind": "text", "indexed": True})
                     .status_code)

    threads = [threading.Thread(target=add) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes)[0] == 201 and codes.count(201) == 1, codes
    assert all(code in (201, 409, 422) for code in codes), codes
    assert count(app, "custom_field", "name = 'rush'") == 1
    assert create(api, "contacts", last_name="Doe", rush="yes")["rush"] == "yes"


def test_only_administrators_change_fields(app, api):
    clerk = api_client(app, make_user(app, "clerk@example.com", "Clerk"))
    refused = clerk.post("/types/contact/fields", json={"name": "tier", "kind": "text"})
    assert_error(refused, 403, "forbidden")
    assert "tier" not in [f["name"] for f in api.get("/types/contact").json["fields"]]
    add_field(api, "contact", name="tier", kind="text")
    assert_error(clerk.delete("/types/contact/fields/tier"), 403, "forbidden")
    assert "tier" in [f["name"] for f in api.get("/types/contact").json["fields"]]
