"""Vertical packs as changesets (:mod:`accord.core.changesets`): the plan, apply, stacking,
conflicts, upgrades and an exact revert, on the packs under ``tests/fixtures/changesets``
copied to a temporary folder (a test changes its copy to make a new version)."""

import json
import shutil
import warnings
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from accord.core import changesets, pack_ledger, pack_plan
from accord.core.db import db
from accord.core.errors import Conflict
from accord.core.records import Actor, write_unit
from accord.core.registry import current_accord
from accord.core.verticals import load_pack_from
from api_helpers import create
from web_helpers import sign_in

PACKS = Path(__file__).resolve().parents[1] / "fixtures" / "changesets"
ACTOR = Actor(user_id=None, source="cli", is_admin=True, name="test")
NOT_COMPARED = {"vertical_changeset", "audit_entry", "schema_generation"}
"""Left out of the data compared before and after: the changeset log (it records the
revert), the audit trail (append-only by design) and the schema generation counter (bumped
on every change so that workers reload)."""


def pack_copy(tmp_path, name, edit=None):
    """A copy of fixture pack ``name`` in a folder of its own under ``tmp_path``; ``edit``
    turns the text of its ``vertical.toml`` into another (a new version)."""
    folder = tmp_path / f"copy{len(list(tmp_path.glob('copy*')))}" / name
    shutil.copytree(PACKS / name, folder)
    if edit:
        file = folder / "vertical.toml"
        file.write_text(edit(file.read_text()))
    return folder


def load(tmp_path, name, edit=None):
    return load_pack_from(pack_copy(tmp_path, name, edit))


INDEXES = {
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index'",
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
}


def dump(app):
    """The database as data: every table's rows (but :data:`NOT_COMPARED`) and the schema
    as SQLAlchemy inspects it (tables, columns, indexes, foreign keys), plus every index's
    definition as the engine keeps it (inspection skips expression indexes)."""
    with app.app_context(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        inspector = inspect(db.engine)
        schema = {"(indexes)": sorted(map(tuple, db.session.execute(text(INDEXES[db.engine.dialect.name]))))}
        rows = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                "indexes": sorted(repr((i["name"], i["column_names"], i["unique"])) for i in inspector.get_indexes(table)),
                "foreign_keys": sorted(repr((f["constrained_columns"], f["referred_table"]))
                                       for f in inspector.get_foreign_keys(table)),
            }
            if table not in NOT_COMPARED:
                rows[table] = sorted(repr(tuple(row)) for row in db.session.execute(text(f'SELECT * FROM "{table}"')))
        db.session.rollback()
    return {"schema": schema, "rows": rows}


def run(app, function, *args, **kwargs):
    with app.test_request_context():
        return function(*args, **kwargs)


def apply(app, pack, **kwargs):
    return run(app, changesets.apply, pack, ACTOR, **kwargs)


def revert(app, name, **kwargs):
    return run(app, changesets.revert, name, ACTOR, **kwargs)


def plan(app, pack):
    return run(app, pack_plan.plan, pack)


def refusal(app, function, *args, **kwargs):
    with pytest.raises(changesets.PackRefused) as caught:
        run(app, function, *args, **kwargs)
    return caught.value


def catalog(app):
    with app.test_request_context():
        return current_accord().catalog()


@pytest.fixture
def seeded(app, api):
    """Records of the types the brokerage pack touches, there before any pack."""
    contact = create(api, "contacts", last_name="Doe")
    create(api, "deals", name="Harbour view", amount="750000", contact_ids=[contact["id"]])
    create(api, "activities", kind="call", subject="First call", related_type="contact", related_id=contact["id"])
    return api


def test_the_plan_lists_every_change_and_writes_nothing(app, seeded, tmp_path):
    before = dump(app)
    planned = plan(app, load(tmp_path, "brokerage"))
    assert planned.ok and planned.status == "new"
    lines = planned.lines
    assert "+ type property (Property, /properties)" in lines
    assert "+ field deal.commission_rate (decimal, 'Commission rate (%)')" in lines
    assert ("~ stage sales.lead (Enquiry, 5%): label 'Lead' → 'Enquiry', probability 10 → 5, "
            "allowed_next [\"qualified\", \"lost\"] → [\"viewing\", \"qualified\", \"lost\"]") in lines
    assert "+ stage sales.viewing (Viewing booked, 20%)" in lines
    assert "~ stage sales.qualified (Qualified, 25%): position 1 → 2" in lines
    assert "+ term type:deal: 'Listing' / 'Listings'" in lines
    assert "+ choice activity.kind: showing ('Showing')" in lines
    assert "+ rule new_property_check (\"Check a new property's details\")" in lines
    kinds = [change.kind for change in planned.changes]
    assert kinds == sorted(kinds, key=pack_ledger.ORDER.index)
    assert dump(app) == before


def test_apply_then_revert_leaves_schema_and_data_exactly_as_before(app, seeded, tmp_path):
    before = dump(app)
    outcome = apply(app, load(tmp_path, "brokerage"))
    assert outcome.status == "applied"
    applied = dump(app)
    assert "rt_property" in applied["schema"] and applied != before
    with app.app_context():
        stored = db.session.execute(text("SELECT label, probability, position FROM pipeline_stage "
                                         "WHERE key = 'lead'")).one()
    assert tuple(stored) == ("Enquiry", 5, 0)
    undone = revert(app, "brokerage")
    assert undone.status == "reverted" and undone.changesets == outcome.changesets
    assert dump(app) == before
    with app.app_context():
        row = db.session.execute(text("SELECT reverted_at, reverted_by FROM vertical_changeset")).one()
    assert row.reverted_at is not None and row.reverted_by == "cli:test"


def test_everything_a_pack_creates_carries_its_origin(app, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    with app.app_context():
        for table in ("record_type_definition", "term", "picklist_value", "dashboard_widget_definition",
                      "help_topic_definition", "automation_rule", "role", "saved_view"):
            assert set(db.session.execute(text(f"SELECT origin FROM {table}")).scalars()) == {"pack:brokerage"}, table
        assert set(db.session.execute(text("SELECT origin FROM custom_field")).scalars()) == {"pack:brokerage"}
        stages = dict(db.session.execute(text("SELECT key, origin FROM pipeline_stage")).all())
    assert stages["viewing"] == "pack:brokerage" and stages["lead"] == "accord.core"


def test_stacked_packs_revert_in_reverse_order_only(app, seeded, tmp_path):
    before = dump(app)
    apply(app, load(tmp_path, "brokerage"))
    after_first = dump(app)
    lettings = load(tmp_path, "lettings")
    planned = plan(app, lettings)
    assert planned.lines == [
        "+ field property.monthly_rent (decimal, 'Monthly rent')",
        "= field deal.commission_rate (decimal, 'Commission rate (%)'): shared with pack brokerage",
        "= term stage:sales.won: 'Sold': shared with pack brokerage",
    ]
    apply(app, lettings)
    assert "monthly_rent" in catalog(app).type("property").fields

    refused = refusal(app, changesets.revert, "brokerage", ACTOR)
    assert "lettings" in refused.message and "revert lettings first" in refused.message
    assert "monthly_rent" in catalog(app).type("property").fields

    revert(app, "lettings")
    assert dump(app) == after_first
    revert(app, "brokerage")
    assert dump(app) == before


def test_a_conflicting_pair_is_refused_naming_both_packs_and_nothing_changes(app, seeded, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    before = dump(app)
    rival = load(tmp_path, "rival")
    refused = refusal(app, changesets.apply, rival, ACTOR)
    assert "nothing was changed" in refused.message
    reasons = [problem.reason for problem in refused.problems]
    assert len(reasons) == 3
    assert all("brokerage" in reason and "rival" in reason for reason in reasons)
    assert any("field deal.commission_rate" in r and "kind 'decimal' → 'integer'" in r for r in reasons)
    assert any("stage sales.lead" in r and "'Enquiry' → 'Prospect'" in r for r in reasons)
    assert any("term type:deal" in r for r in reasons)
    assert [p.key for p in refused.problems] == ["fields.deal[0]", "pipelines.sales.stages[0]", "terms.deal"]
    assert dump(app) == before


def test_a_pack_that_does_not_fit_the_instance_is_refused_with_every_problem(app, tmp_path):
    before = dump(app)
    unfit = load(tmp_path, "unfit")
    planned = plan(app, unfit)
    assert [(p.key, p.reason) for p in planned.problems] == [
        ("fields.spaceship", "there is no record type 'spaceship'"),
        ("fields.deal[0].name", "Deal already has the built-in field 'name' (text)"),
        ("pipelines.voyages", "there is no pipeline 'voyages'; give record_type to create it"),
        ("rules[0].field", "Deal has no field 'nope'."),
    ]
    assert all(p.file.endswith("unfit/vertical.toml") for p in planned.problems)
    refused = refusal(app, changesets.apply, unfit, ACTOR)
    assert len(refused.problems) == 4
    assert dump(app) == before


def test_reapplying_the_same_version_is_a_no_op(app, tmp_path):
    pack = load(tmp_path, "brokerage")
    apply(app, pack)
    before = dump(app)
    assert plan(app, pack).status == "applied" and plan(app, pack).lines == []
    outcome = apply(app, pack)
    assert outcome.status == "already applied" and outcome.changesets == []
    assert dump(app) == before


def _version_two(source):
    """brokerage 1.1.0: a new field, one dropped, a stage relabelled again, a term dropped."""
    source = source.replace('version = "1.0.0"', 'version = "1.1.0"')
    source = source.replace('{ key = "viewing", label = "Viewing booked"', '{ key = "viewing", label = "Viewing"')
    source = source.replace('"deal.amount" = { label = "List price" }\n', "")
    source = source.replace('[[fields.deal]]\nname = "listing_source"\nkind = "choice"\n'
                            'choices = ["referral", "portal", "walk_in"]\n',
                            '[[fields.deal]]\nname = "exclusive"\nkind = "boolean"\n')
    return source


def test_a_newer_version_applies_only_the_difference_and_reverts_to_before_the_pack(app, seeded, tmp_path):
    before = dump(app)
    apply(app, load(tmp_path, "brokerage"))
    newer = load(tmp_path, "brokerage", _version_two)
    planned = plan(app, newer)
    assert planned.status == "upgrade" and planned.applied_version == "1.0.0"
    assert sorted(planned.lines) == sorted([
        "- field deal.listing_source",
        "+ field deal.exclusive (boolean, 'Exclusive')",
        "~ stage sales.viewing (Viewing, 20%): label 'Viewing booked' → 'Viewing'",
        "- term field:deal.amount",
    ])
    outcome = apply(app, newer)
    assert outcome.status == "upgraded" and outcome.version == "1.1.0"
    deal = catalog(app).type("deal")
    assert "exclusive" in deal.fields and "listing_source" not in deal.fields
    assert deal.fields["amount"].label == "Amount"
    assert catalog(app).pipelines["sales"].stage("viewing").label == "Viewing"
    assert apply(app, newer).status == "already applied"
    with app.app_context():
        versions = db.session.execute(text("SELECT version FROM vertical_changeset ORDER BY id")).scalars().all()
    assert versions == ["1.0.0", "1.1.0"]
    undone = revert(app, "brokerage")
    assert len(undone.changesets) == 2
    assert dump(app) == before


def test_reverting_fields_that_hold_data_needs_force_and_exports_it_first(app, seeded, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    deal = create(seeded, "deals", name="Mill house", commission_rate="2.5", listing_source="referral")
    home = create(seeded, "properties", address="1 Quay Street", bedrooms=3)
    before = dump(app)
    refused = refusal(app, changesets.revert, "brokerage", ACTOR)
    assert "force" in refused.message
    assert sorted((p.key, p.reason) for p in refused.problems) == [
        ("field deal.commission_rate", "holds data in 1 record"),
        ("field deal.listing_source", "holds data in 1 record"),
        ("type property", "holds data in 1 record"),
    ]
    assert dump(app) == before
    assert not (Path(app.instance_path) / "exports").exists()

    outcome = revert(app, "brokerage", force=True)
    folder = Path(outcome.export_path)
    assert folder.parent == Path(app.instance_path) / "exports" / "verticals"
    assert folder.name.startswith("brokerage-")
    fields = [json.loads(line) for line in (folder / "deal.fields.jsonl").read_text().splitlines()]
    assert fields == [{"id": deal["id"], "commission_rate": "2.50", "listing_source": "referral"}]
    homes = [json.loads(line) for line in (folder / "property.jsonl").read_text().splitlines()]
    assert [(h["id"], h["address"], h["bedrooms"]) for h in homes] == [(home["id"], "1 Quay Street", 3)]
    with app.app_context():
        assert db.session.execute(text("SELECT export_path FROM vertical_changeset")).scalar_one() == str(folder)
        custom = db.session.execute(text("SELECT custom FROM deal WHERE id = :id"), {"id": deal["id"]}).scalar_one()
    assert "commission_rate" not in (custom if isinstance(custom, dict) else json.loads(custom))
    assert plan(app, load(tmp_path, "brokerage")).ok


def test_an_upgrade_dropping_a_field_with_data_needs_force(app, seeded, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    create(seeded, "deals", name="Mill house", listing_source="portal")
    newer = load(tmp_path, "brokerage", _version_two)
    assert plan(app, newer).held[0]["what"] == "field deal.listing_source"
    refused = refusal(app, changesets.apply, newer, ACTOR)
    assert [(p.key, p.reason) for p in refused.problems] == [("field deal.listing_source", "holds data in 1 record")]
    outcome = apply(app, newer, force=True)
    assert outcome.status == "upgraded"
    assert (Path(outcome.export_path) / "deal.fields.jsonl").read_text().count("portal") == 1


def test_the_local_layer_is_never_changed_by_a_pack(app, seeded, tmp_path):
    from accord.core.customfields import add_field

    with app.test_request_context():
        add_field("deal", {"name": "commission_rate", "kind": "integer"}, ACTOR)
        add_field("deal", {"name": "local_note", "kind": "text"}, ACTOR)
        with write_unit() as session:
            session.execute(text("INSERT INTO term (target, label, plural_label, origin) "
                                    "VALUES ('type:deal', 'Opportunity', 'Opportunities', 'local')"))
    before = dump(app)
    planned = plan(app, load(tmp_path, "brokerage"))
    reasons = [p.reason for p in planned.conflicts]
    assert any(r.startswith("term type:deal belongs to this instance's own layer (origin local)") for r in reasons)
    assert any(r.startswith("field deal.commission_rate belongs to this instance's own layer") for r in reasons)
    refusal(app, changesets.apply, load(tmp_path, "brokerage"), ACTOR)
    assert dump(app) == before


def test_a_local_field_with_the_same_definition_is_shared_and_kept_on_revert(app, tmp_path):
    from accord.core.customfields import add_field

    with app.test_request_context():
        add_field("deal", {"name": "commission_rate", "kind": "decimal", "label": "Commission rate (%)"}, ACTOR)
    before = dump(app)
    planned = plan(app, load(tmp_path, "brokerage"))
    assert "= field deal.commission_rate (decimal, 'Commission rate (%)'): already in place" in planned.lines
    apply(app, load(tmp_path, "brokerage"))
    revert(app, "brokerage")
    assert dump(app) == before


def test_required_plugins_are_enabled_as_a_step_of_their_own(app, tmp_path):
    def needs_servicedesk(source):
        return source.replace('summary = "Properties, listings and commission"',
                              'summary = "Properties"\n\n[pack.requires]\nservicedesk = ">=0.1"') + (
            '\n[[fields.ticket]]\nname = "property_ref"\nkind = "text"\n')

    pack = load(tmp_path, "brokerage", needs_servicedesk)
    planned = plan(app, pack)
    assert planned.ok, planned.problems
    assert planned.lines[0] == "+ enable plugin servicedesk"
    assert "+ field ticket.property_ref (text, 'Property ref')" in planned.lines
    apply(app, pack)
    assert "servicedesk" in catalog(app).active_plugins
    assert "property_ref" in catalog(app).type("ticket").fields
    revert(app, "brokerage")
    assert "servicedesk" in catalog(app).active_plugins


def test_a_missing_or_mismatched_plugin_is_a_problem(app, tmp_path):
    def needs(source):
        return source.replace('summary = "Properties, listings and commission"',
                              'summary = "x"\n\n[pack.requires]\nservicedesk = ">=99"\nno_such_plugin = ">=1"')

    planned = plan(app, load(tmp_path, "brokerage", needs))
    reasons = {p.key: p.reason for p in planned.problems}
    assert reasons["pack.requires.no_such_plugin"] == "plugin 'no_such_plugin' is not installed"
    assert reasons["pack.requires.servicedesk"].startswith("needs servicedesk >=99, but servicedesk ")


def test_after_apply_the_api_and_openapi_show_the_pack(app, seeded, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    types = {t["key"]: t for t in seeded.get("/types").get_json()["data"]}
    assert types["property"]["plural"] == "properties"
    assert {f["name"] for f in types["property"]["fields"]} >= {"address", "bedrooms"}
    assert types["deal"]["label"] == "Listing"
    deal_fields = {f["name"]: f for f in types["deal"]["fields"]}
    assert deal_fields["commission_rate"]["kind"] == "decimal"
    assert deal_fields["amount"]["label"] == "List price"
    home = create(seeded, "properties", address="1 Quay Street", bedrooms=3)
    assert seeded.get(f"/properties/{home['id']}").get_json()["address"] == "1 Quay Street"
    deal = create(seeded, "deals", name="Mill house", commission_rate="2.5", listing_source="portal")
    assert seeded.get(f"/deals/{deal['id']}").get_json()["commission_rate"] == "2.50"
    document = seeded.get("/openapi.json").get_json()
    assert "/api/v1/properties" in document["paths"]
    assert "commission_rate" in document["components"]["schemas"]["Deal"]["properties"]
    assert "address" in document["components"]["schemas"]["Property"]["properties"]
    with app.test_request_context():
        tasks = db.session.execute(text("SELECT subject FROM activity WHERE kind = 'task'")).scalars().all()
    assert tasks == ["Check the property details"]


def test_after_apply_the_pages_show_the_pack(app, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    _, browser = sign_in(app)
    listing = browser.get("/deals").get_data(as_text=True)
    assert "Listings" in listing and "Big listings" in listing
    form = browser.get("/deals/new").get_data(as_text=True)
    assert "Commission rate (%)" in form and "List price" in form and "Listing source" in form
    assert browser.get("/properties").status_code == 200
    new_home = browser.get("/properties/new").get_data(as_text=True)
    assert "Address" in new_home and "Bedrooms" in new_home
    answer = browser.post("/properties/new", data={"address": "1 Quay Street", "bedrooms": "3"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "1 Quay Street" in page


def test_an_upgrade_never_overwrites_what_was_changed_here_since(app, tmp_path):
    apply(app, load(tmp_path, "brokerage"))
    with app.test_request_context(), write_unit() as session:
        session.execute(text("UPDATE pipeline_stage SET label = 'Viewing arranged' WHERE key = 'viewing'"))
    before = dump(app)
    planned = plan(app, load(tmp_path, "brokerage", _version_two))
    assert [(p.key, p.reason) for p in planned.conflicts] == [(
        "pipelines.sales.stages[1]",
        "stage sales.viewing was changed here since pack brokerage set it (label 'Viewing booked' → 'Viewing arranged'); "
        "a pack never overwrites that")]
    refusal(app, changesets.apply, load(tmp_path, "brokerage", _version_two), ACTOR)
    assert dump(app) == before


def test_a_schema_change_made_while_applying_refuses_the_apply(app, tmp_path, monkeypatch):
    planned_first = changesets.plan

    def plan_then_someone_else_changes_the_schema(pack):
        planned = planned_first(pack)
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE schema_generation SET value = value + 1"))
        return planned

    monkeypatch.setattr(changesets, "plan", plan_then_someone_else_changes_the_schema)
    before = dump(app)
    with pytest.raises(Conflict, match="The schema changed while this was being prepared"):
        apply(app, load(tmp_path, "brokerage"))
    assert dump(app) == before
