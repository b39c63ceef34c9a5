"""Record types declared without code (``record_type_definition`` rows): the spec check,
the table they get, and every generic door serving them as it serves contacts: the REST
API (CRUD, lists, ETags, trash), ``/types``, the OpenAPI document, the web pages, global
search, import and export from the command line, audit, roles, privacy, pipelines, and
removal; and another process seeing them without a restart."""

import pytest
from accord.core import customfields
from accord.core.db import db
from accord.core.declared_types import declare_type, remove_type, validate_type_spec
from accord.core.errors import RecordInvalid
from accord.core.models import Pipeline, PipelineStage, SchemaGeneration, Term
from accord.core.records import write_unit
from accord.core.registry import bump_generation, current_accord
from accord.testing import api_client, make_user
from api_helpers import assert_error, count, create
from cli_helpers import run_accord
from sqlalchemy import inspect, select
from web_helpers import sign_in

SPEC = {"label": "Property", "plural_label": "Properties", "plural": "properties", "title_fields": ["address"],
        "description": "A home or lot", "timeline": True}
FIELDS = [
    {"name": "address", "kind": "text", "required": True, "searchable": True},
    {"name": "bedrooms", "kind": "integer", "indexed": True},
    {"name": "kind", "kind": "choice", "choices": ["house", "flat"]},
    {"name": "seller_id", "kind": "reference", "reference": "contact"},
    {"name": "seller_phone", "kind": "phone", "pii": True},
]


def declare(app, key="property", spec=SPEC, fields=FIELDS, origin="pack:real_estate"):
    with app.app_context(), write_unit() as session:
        declare_type(session, key, spec, origin)
        for field in fields:
            customfields.add_field(key, field, None, origin=origin)


@pytest.fixture
def declared(app, api):
    declare(app)
    return api


def test_a_good_spec_passes_and_each_fault_is_named(app):
    declare(app, "lot", {"label": "Lot", "plural_label": "Lots", "plural": "lots"}, [])
    with app.test_request_context():
        catalog = current_accord().catalog()
        assert validate_type_spec(catalog, "property", SPEC) == {}
        assert validate_type_spec(catalog, "property", {**SPEC, "pipeline": "showings"}) == {}
        errors = validate_type_spec(catalog, "Bad Key", {"plural": "contacts", "title_fields": "address",
                                                         "pipeline": "No!", "timeline": "yes", "colour": 1})
        assert set(errors) == {"key", "label", "plural_label", "plural", "title_fields", "pipeline", "timeline",
                               "colour"}
        assert "contact" in errors["plural"][0]
        assert set(validate_type_spec(catalog, "contact", SPEC)) == {"key"}
        assert set(validate_type_spec(catalog, "lot", {**SPEC, "plural": "x"})) == {"key"}
        assert "lot" in validate_type_spec(catalog, "parcel", {**SPEC, "plural": "lots"})["plural"][0]
        for reserved in ("search", "help", "admin", "types", "pipelines"):
            assert "plural" in validate_type_spec(catalog, "parcel", {**SPEC, "plural": reserved}), reserved
        assert validate_type_spec(catalog, "x", []) == {"_schema": ["Expected a table of label, plural_label, plural, ..."]}


def test_declaring_creates_the_table_with_standard_columns_and_live_indexes(app):
    with app.app_context():
        before = db.session.execute(select(SchemaGeneration.value)).scalar_one()
    declare(app, fields=[])
    with app.app_context():
        assert db.session.execute(select(SchemaGeneration.value)).scalar_one() > before
        schema = inspect(db.engine)
        columns = {c["name"] for c in schema.get_columns("rt_property")}
        assert {"id", "created_at", "updated_at", "created_by", "owner_id", "version", "deleted_at", "deleted_by",
                "custom"} <= columns
        indexes = {i["name"] for i in schema.get_indexes("rt_property")}
        assert {"ix_rt_property_live_created", "ix_rt_property_live_owner", "ix_rt_property_trash"} <= indexes
        rt = current_accord().catalog().type("property")
        assert rt.table.name == "rt_property" and rt.table.metadata is not db.metadata
        assert rt.origin == "pack:real_estate" and rt.title_fields == ("address",) and rt.timeline
    with app.app_context(), pytest.raises(RecordInvalid, match="cannot be declared"), write_unit() as session:
        declare_type(session, "property", SPEC, "local")


def test_types_and_openapi_describe_it(declared):
    types = {t["key"]: t for t in declared.get("/types").json["data"]}
    prop = types["property"]
    assert prop["plural"] == "properties" and prop["label"] == "Property"
    assert {f["name"] for f in prop["fields"]} >= {"owner_id", "address", "bedrooms", "kind", "seller_id"}
    assert declared.get("/types/property").status_code == 200
    document = declared.get("/openapi.json").json
    assert "/api/v1/properties" in document["paths"] and "/api/v1/properties/{record_id}" in document["paths"]
    assert "address" in document["components"]["schemas"]["Property"]["properties"]


def test_api_crud_lists_etags_and_trash(declared, app):
    assert_error(declared.post("/properties", json={"bedrooms": 2}), 422, fields=["address"])
    assert_error(declared.post("/properties", json={"address": "x", "kind": "castle"}), 422, fields=["kind"])
    made = [create(declared, "properties", address=f"{n} Main St", bedrooms=n, kind="house") for n in (1, 2, 3)]
    one = declared.get(f"/properties/{made[0]['id']}")
    assert one.status_code == 200 and one.json["address"] == "1 Main St" and one.headers["ETag"]
    listed = declared.get("/properties?bedrooms__gte=2&sort=-bedrooms").json["data"]
    assert [r["bedrooms"] for r in listed] == [3, 2]
    first = declared.get("/properties?limit=2&sort=bedrooms").json
    rest = declared.get(f"/properties?limit=2&sort=bedrooms&cursor={first['next_cursor']}").json
    assert [r["bedrooms"] for r in first["data"] + rest["data"]] == [1, 2, 3] and rest["next_cursor"] is None
    target = f"/properties/{made[0]['id']}"
    assert declared.patch(target, json={"bedrooms": 5}, headers={"If-Match": one.headers["ETag"]}).status_code == 200
    assert_error(declared.patch(target, json={"bedrooms": 6}, headers={"If-Match": one.headers["ETag"]}), 412)
    assert declared.delete(target).status_code == 204
    assert declared.get(target).status_code == 404
    assert [r["id"] for r in declared.get("/properties?trashed=true").json["data"]] == [made[0]["id"]]
    assert declared.post(f"{target}/restore").status_code == 200
    assert declared.get(target).json["bedrooms"] == 5
    actions = [e["action"] for e in declared.get(f"{target}/audit").json["data"]]
    assert {"created", "updated", "deleted", "restored"} <= set(actions)


def test_web_list_new_detail_and_edit_pages(declared, app):
    _user, web = sign_in(app, "eve@example.com", "Eve", is_admin=True)
    page = web.get("/properties")
    assert page.status_code == 200 and "Properties" in page.get_data(as_text=True)
    form = web.get("/properties/new")
    assert form.status_code == 200 and 'name="address"' in form.get_data(as_text=True)
    posted = web.post("/properties/new", data={"address": "9 Elm Road", "bedrooms": "4", "kind": "flat"})
    assert posted.status_code == 302, posted.get_data(as_text=True)[:2000]
    detail = web.get(posted.headers["Location"])
    assert detail.status_code == 200 and "9 Elm Road" in detail.get_data(as_text=True)
    edit = web.get(posted.headers["Location"] + "/edit")
    assert edit.status_code == 200 and "9 Elm Road" in edit.get_data(as_text=True)
    assert "9 Elm Road" in web.get("/properties").get_data(as_text=True)
    assert "/properties" in web.get("/").get_data(as_text=True)


def test_global_search_finds_it(declared, app):
    made = create(declared, "properties", address="Lighthouse Lane 7")
    hits = declared.get("/search?q=lighthouse").json["data"]
    assert [(h["type"], h["label"]) for h in hits] == [("property", "Property")]
    _user, web = sign_in(app, "eve@example.com", "Eve", is_admin=True)
    found = web.get("/search?q=lighthouse").get_data(as_text=True)
    assert "Lane 7" in found and f'href="/properties/{made["id"]}"' in found


def test_import_and_export_from_the_command_line(declared, app, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    source = tmp_path / "properties.csv"
    source.write_text("address,bedrooms,kind\n1 Oak Row,2,house\n2 Oak Row,3,flat\n")
    run = run_accord(tmp_path / "cli", "import", "property", source, database_url=url)
    assert run.exit_code == 0, run
    assert count(app, "rt_property") == 2
    run = run_accord(tmp_path / "cli", "export", "property", database_url=url)
    assert run.exit_code == 0, run
    assert "1 Oak Row" in run.stdout and "2 Oak Row" in run.stdout and run.stdout.startswith("id,")
    bad = tmp_path / "bad.csv"
    bad.write_text("address,kind\n3 Oak Row,castle\n")
    run = run_accord(tmp_path / "cli", "import", "property", bad, database_url=url)
    assert run.exit_code == 1 and "line 2" in run.stderr and count(app, "rt_property") == 2


def test_roles_scope_it_like_any_type(declared, app):
    seller = make_user(app, "sam@example.com", "Sam", role="sales")
    reader = make_user(app, "rita@example.com", "Rita", role="read_only")
    create(declared, "properties", address="Admin's")
    sales = api_client(app, seller)
    create(sales, "properties", address="Sam's")
    assert [r["address"] for r in sales.get("/properties").json["data"]] == ["Sam's"]
    assert [h["title"] for h in sales.get("/search?q=s").json["data"]] == ["Sam's"]
    readers = api_client(app, reader)
    assert len(readers.get("/properties").json["data"]) == 2
    assert_error(readers.post("/properties", json={"address": "No"}), 403)


def test_privacy_export_and_erase_follow_its_pii_fields(declared, app):
    contact = create(declared, "contacts", last_name="Doe", email="doe@example.com")
    prop = create(declared, "properties", address="Doe's house", seller_id=contact["id"], seller_phone="+1 555 0100")
    exported = declared.get(f"/contacts/{contact['id']}/privacy-export").json
    assert [r["id"] for r in exported["records"]["property"]] == [prop["id"]]
    assert declared.post(f"/contacts/{contact['id']}/erase").status_code == 200
    assert declared.get(f"/properties/{prop['id']}").json["seller_phone"] is None


def test_a_pipelined_declared_type_moves_through_its_stages(app, api):
    with app.app_context(), write_unit() as session:
        pipeline = Pipeline(key="showings", record_type="showing", label="Showings", is_default=True,
                            origin="local")
        session.add(pipeline)
        session.flush()
        for position, key in enumerate(("booked", "done")):
            session.add(PipelineStage(pipeline_id=pipeline.id, key=key, label=key.title(), position=position,
                                      probability=50, outcome="open", origin="local"))
        declare_type(session, "showing", {"label": "Showing", "plural_label": "Showings", "plural": "showings",
                                          "pipeline": "showings"}, "local")
        session.add(Term(target="stage:showings.done", label="Visited", origin="local"))
        bump_generation(session)
    made = create(api, "showings")
    assert (made["pipeline"], made["stage"]) == ("showings", "booked")
    assert api.patch(f"/showings/{made['id']}", json={"stage": "done"}).json["stage"] == "done"
    assert_error(api.patch(f"/showings/{made['id']}", json={"stage": "nowhere"}), 422, fields=["stage"])
    history = api.get(f"/showings/{made['id']}/stage-history").json["data"]
    assert [h["to"] for h in history] == ["booked", "done"]
    _user, web = sign_in(app, "eve@example.com", "Eve", is_admin=True)
    board = web.get("/showings/board")
    assert board.status_code == 200 and "Visited" in board.get_data(as_text=True)


def test_removing_a_type_drops_its_table_and_what_belongs_to_it(declared, app):
    create(declared, "properties", address="Gone soon")
    with app.app_context(), write_unit() as session:
        session.add(Term(target="type:property", label="Listing", plural_label="Listings", origin="local"))
        bump_generation(session)
    with app.app_context(), write_unit() as session:
        remove_type(session, "property")
    assert declared.get("/properties").status_code == 404
    assert "property" not in {t["key"] for t in declared.get("/types").json["data"]}
    with app.app_context():
        assert not inspect(db.engine).has_table("rt_property")
    assert count(app, "record_type_definition", "key = 'property'") == 0
    assert count(app, "custom_field", "record_type = 'property'") == 0
    assert count(app, "search_entry", "record_type = 'property'") == 0
    assert count(app, "term", "target = 'type:property'") == 0
    declare(app, fields=[{"name": "address", "kind": "text"}])
    assert declared.get("/properties").json["data"] == []


def test_another_process_sees_a_declared_type_without_a_restart(app, api):
    from accord.core import create_app
    from accord.testing import close_app

    other = create_app({"INSTANCE_PATH": app.instance_path, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        elsewhere = api_client(other, api_user(app))
        assert elsewhere.get("/properties").status_code == 404
        declare(app)
        assert elsewhere.get("/properties").status_code == 200
        assert create(elsewhere, "properties", address="Seen there")["address"] == "Seen there"
    finally:
        close_app(other)


def api_user(app):
    from accord.core.models import User

    with app.app_context():
        return db.session.execute(select(User).where(User.email == "admin@example.com")).scalar_one()
