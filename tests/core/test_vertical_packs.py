"""Vertical packs as files: reading and checking ``vertical.toml`` (every problem reported
at once, with file, key path and reason), discovery of built-in packs and of packs from
installed distributions, the wheel shipping pack files, and the export of an instance's
own layer as a pack that reads back the same."""

import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from accord.core import pack_schema, verticals
from accord.core.pack_export import export_local_layer
from accord.core.verticals import (PackInvalid, Problem, available_packs, load_pack, load_pack_from,
                                   term_target)
from accord.testing import make_user

REPO = Path(__file__).resolve().parents[2]

COMPLETE = """\
[pack]
name = "{name}"
version = "1.2.0"
title = "Real estate"
summary = "Listings and showings"
core = ">=0.1"

[pack.requires]
servicedesk = ">=1.0"

[types.property]
label = "Property"
plural_label = "Properties"
plural = "properties"
title_fields = ["address"]
pipeline = "viewings"

[[fields.property]]
name = "address"
kind = "text"
required = true
searchable = true

[[fields.deal]]
name = "listing_kind"
kind = "choice"
choices = ["sale", {{ key = "rent", label = "For rent" }}]
default = "sale"

[terms]
deal = {{ label = "Listing", plural = "Listings" }}
"deal.amount" = {{ label = "List price" }}
"stage:sales.won" = {{ label = "Sold" }}

[pipelines.sales]
stages = [{{ key = "viewing", label = "Viewing booked", probability = 20 }}]
order = ["lead", "viewing", "qualified", "proposal", "negotiation", "won", "lost"]

[pipelines.viewings]
record_type = "property"
label = "Viewings"
stages = [
  {{ key = "booked", label = "Booked", probability = 10, allowed_next = ["done"] }},
  {{ key = "done", label = "Done", probability = 100, outcome = "won" }},
]

[picklists]
"contact.source" = [{{ key = "open_house", label = "Open house" }}, "sign_board"]

[[views]]
record_type = "deal"
name = "Big listings"
query = "stage__in=lead,viewing&amount__gte=500000&sort=-amount"

[[widgets]]
key = "value_by_stage"
title = "Value by stage"
record_type = "deal"
measure = "sum"
field = "amount"
group_by = "stage"

[[roles]]
key = "listing_agent"
label = "Listing agent"
grants = {{ deal = {{ verbs = ["read", "update"], scope = "own" }}, "*" = {{ verbs = ["read"] }} }}

[[help]]
key = "real_estate.commission"
title = "Commission"
body = "How it is worked out."
pages = ["/deals"]

[[rules]]
key = "call_after_showing"
label = "Call after a showing"
record_type = "deal"
trigger = "stage_entered"
stage = "viewing"
conditions = [{{ field = "amount", op = "gte", value = 100000 }}, {{ field = "source", op = "is_set" }}]
actions = [
  {{ do = "create_task", subject = "Call the buyer", due_in_days = 1, assign_to = "owner" }},
  {{ do = "notify", to = "boss@example.com", subject = "A big showing", body = "Be there." }},
  {{ do = "assign_owner", user = "agent@example.com" }},
  {{ do = "create_activity", kind = "call", subject = "Viewing call" }},
]
"""


def write_pack(folder, text, files=()):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vertical.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    for name, body in dict(files).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
    return folder


def problems_of(folder):
    with pytest.raises(PackInvalid) as caught:
        load_pack_from(folder)
    return caught.value


# reading ------------------------------------------------------------------------------------


def test_a_complete_pack_is_read_and_normalised(tmp_path):
    folder = write_pack(tmp_path / "real_estate", COMPLETE.format(name="real_estate"), {
        "data/02_deal.csv": "name,amount\nVilla,900000\n", "data/01_property.csv": "address\n1 Main St\n",
        "templates/real_estate/note.html": "<p>note</p>",
    })
    pack = load_pack_from(folder)
    assert (pack.name, pack.version, pack.title, pack.core, pack.requires) == (
        "real_estate", "1.2.0", "Real estate", ">=0.1", {"servicedesk": ">=1.0"})
    assert pack.path == folder and pack.source == f"folder {folder}" and pack.templates == folder / "templates"
    assert pack.data_files == [folder / "data/01_property.csv", folder / "data/02_deal.csv"]
    assert [verticals.data_record_type(p) for p in pack.data_files] == ["property", "deal"]
    content = pack.content
    assert set(content) == set(pack_schema.SECTIONS)
    assert content["types"]["property"] == {
        "label": "Property", "plural_label": "Properties", "plural": "properties", "title_fields": ["address"],
        "description": "", "timeline": False, "pipeline": "viewings"}
    assert [spec["name"] for spec in content["fields"]["deal"]] == ["listing_kind"]
    assert content["terms"] == {"deal": {"label": "Listing", "plural": "Listings"},
                                "deal.amount": {"label": "List price"}, "stage:sales.won": {"label": "Sold"}}
    assert content["pipelines"]["sales"]["record_type"] is None
    assert content["pipelines"]["viewings"]["stages"][1] == {"key": "done", "label": "Done", "probability": 100,
                                                             "outcome": "won"}
    assert content["picklists"] == {"contact.source": [{"key": "open_house", "label": "Open house"},
                                                       {"key": "sign_board", "label": "Sign board"}]}
    assert content["widgets"][0]["measure"] == "sum" and content["roles"][0]["grants"]["*"] == {
        "verbs": ["read"], "scope": "all"}
    assert content["rules"][0]["enabled"] is True and content["help"][0]["group"] is None


def test_a_pack_without_optional_sections_has_them_empty(tmp_path):
    folder = write_pack(tmp_path / "tiny", """\
        [pack]
        name = "tiny"
        version = "0.1"
        title = "Tiny"
    """)
    pack = load_pack_from(folder / "vertical.toml")
    assert pack.content == {"types": {}, "fields": {}, "terms": {}, "pipelines": {}, "picklists": {}, "views": [],
                            "widgets": [], "roles": [], "help": [], "rules": []}
    assert (pack.summary, pack.core, pack.requires, pack.data_files, pack.templates) == ("", None, {}, [], None)


def test_term_targets():
    types = {"deal", "property"}
    assert [term_target(key, types) for key in ("deal", "deal.amount", "sales.won", "stage:deal.x", "field:a.b")] == [
        "type:deal", "field:deal.amount", "stage:sales.won", "stage:deal.x", "field:a.b"]


def test_every_malformed_part_is_reported_at_once(tmp_path):
    folder = write_pack(tmp_path / "broken", """\
        colours = "blue"

        [pack]
        name = "not_broken"
        version = "one"
        title = "Broken"
        core = ">>1"
        requires = { servicedesk = 1 }

        [types.Property]
        label = "Property"

        [types.unit]
        label = "Unit"
        plural_label = "Units"
        plural = "units"
        title_fields = ["number"]
        colour = "red"

        [types.flat]
        label = "Flat"
        plural_label = "Flats"
        plural = "units"

        [[fields.deal]]
        name = "commission"
        kind = "percent"

        [[fields.deal]]
        name = "kind"
        kind = "choice"

        [[fields.deal]]
        name = "commission"
        kind = "integer"
        default = "lots"

        [[fields.deal]]
        name = "buyer"
        kind = "reference"
        colour = "red"

        [terms]
        "deal.amount" = { label = "Price", plural = "Prices" }
        "a.b.c" = { label = "Deep" }
        contact.first = { label = "Given name" }

        [pipelines.sales]
        stages = [
          { key = "viewing", label = "Viewing", probability = 101 },
          { key = "viewing", outcome = "maybe" },
        ]
        order = ["lead", "lead"]

        [pipelines.lettings]
        record_type = "unit"
        stages = [{ key = "listed", label = "Listed", allowed_next = ["let"] }]

        [picklists]
        "source" = ["a"]
        "contact.source" = [{ key = "tv", label = "TV" }, { key = "tv" }]

        [[views]]
        record_type = "deal"
        name = "Mine"
        query = "amount__about=5&sort=-"

        [[views]]
        record_type = "deal"
        name = "Mine"
        query = "limit=9999"

        [[widgets]]
        key = "total"
        title = "Total"
        record_type = "deal"
        measure = "sum"

        [[widgets]]
        key = "average"
        title = "Average"
        record_type = "deal"
        measure = "mean"

        [[roles]]
        key = "admin"
        label = "Admin"
        grants = { deal = { verbs = ["read", "fly"], scope = "planet" } }

        [[help]]
        key = "Not.A.Key"
        title = "Help"

        [[rules]]
        key = "r1"
        label = "Rule"
        record_type = "deal"
        trigger = "stage_entered"
        conditions = [{ field = "amount", op = "about", value = 1 }, { field = "stage", op = "in", value = "won" },
                      { field = "stage", op = "is_set", value = 1 }]
        actions = [{ do = "dance" }, { do = "create_task", due_in_days = 1, due_in_hours = 2 },
                   { do = "notify", to = "the boss", subject = "Hi" }, { do = "create_activity", kind = "fax" }]

        [[rules]]
        key = "r1"
        label = "Again"
        record_type = "deal"
        trigger = "whenever"
        actions = []
    """)
    invalid = problems_of(folder)
    file = str(folder / "vertical.toml")
    assert all(problem.file == file for problem in invalid.problems)
    assert str(invalid).splitlines() == [f"{file}: {p.key}: {p.reason}" for p in invalid.problems]
    found = {}
    for problem in invalid.problems:
        found.setdefault(problem.key, []).append(problem.reason)
    expected = {
        "colours": "unknown section",
        "pack.name": "is 'not_broken' but the pack is found as 'broken'",
        "pack.version": "'one' is not a version number",
        "pack.core": "'>>1' is not a version specifier",
        "pack.requires.servicedesk": "must be a version specifier",
        "types.Property": "'Property' is not a name",
        "types.unit.colour": "unknown key",
        "types.unit.title_fields[0]": "'number' is not a field in [[fields.unit]]",
        "types.flat.plural": "the plural 'units' is declared twice (also at types.unit.plural)",
        "fields.deal[0].kind": "'percent' is not a field kind",
        "fields.deal[1].choices": "a choice field needs its choices",
        "fields.deal[2].name": "the field 'commission' is declared twice (also at fields.deal[0].name)",
        "fields.deal[2].default": "Not a valid integer.",
        "fields.deal[3].colour": "unknown key",
        "fields.deal[3].reference": "a reference field names the record type it points at",
        "terms.deal.amount.plural": "unknown key",
        "terms.a.b.c": "name a type (deal), a field (deal.amount) or a stage (sales.won)",
        "terms.contact.first": "unknown key (known: label, plural) (quote a dotted key",
        "terms.contact.label": "required",
        "pipelines.sales.stages[0].probability": "must be a whole number from 0 to 100",
        "pipelines.sales.stages[1].key": "the stage 'viewing' is declared twice",
        "pipelines.sales.stages[1].outcome": "'maybe' is not an outcome; use one of open, won, lost",
        "pipelines.sales.order[1]": "'lead' is listed twice",
        "pipelines.sales.order": "must list every stage the pack gives; missing viewing",
        "pipelines.lettings.label": "required for a new pipeline",
        "pipelines.lettings.stages[0].allowed_next": "names stages this pipeline lacks: let",
        "picklists.source": "name the field as \"<type>.<field>\"",
        "picklists.contact.source[1].key": "the choice 'tv' is declared twice",
        "views[0].query": "amount__about: unknown operator 'about'",
        "views[0].query ": "sort=-: give field names",
        "views[1].query": "limit=9999: a whole number from 1 to 500",
        "views[1]": "the view ('deal', 'Mine') is declared twice",
        "widgets[0].field": "a sum names the field it adds up",
        "widgets[1].measure": "'mean': use count or sum",
        "roles[0].key": "'admin' is a built-in role",
        "roles[0].grants.deal.verbs": "must be an array of verbs from read, create, update, delete, export",
        "roles[0].grants.deal.scope": "'planet': use one of own, team, all",
        "help[0].key": "'Not.A.Key' is not a key",
        "help[0].body": "required",
        "rules[0].stage": "required for trigger stage_entered",
        "rules[0].conditions[0].op": "'about': use one of eq, ne",
        "rules[0].conditions[1].value": "in needs a non-empty array of values",
        "rules[0].conditions[2].value": "is_set takes no value",
        "rules[0].actions[0].do": "'dance': use one of create_task, create_activity, set_field, assign_owner, notify",
        "rules[0].actions[1].subject": "required",
        "rules[0].actions[1]": "give due_in_days or due_in_hours, not both",
        "rules[0].actions[2].to": "must be 'owner' or a user's email",
        "rules[0].actions[2].body": "required",
        "rules[0].actions[3].subject": "required",
        "rules[0].actions[3].kind": "'fax': use one of call, email, meeting, task, note",
        "rules[1].key": "the rule 'r1' is declared twice",
        "rules[1].trigger": "'whenever': use one of created, stage_entered, field_changed",
        "rules[1].actions": "give at least one action",
    }
    for key, reason in expected.items():
        assert key.strip() in found, (key, sorted(found))
        assert any(reason in given for given in found[key.strip()]), (key, found[key.strip()])
    assert len(invalid.problems) == len(expected)


def test_the_header_is_required_and_checked(tmp_path):
    folder = write_pack(tmp_path / "headless", """\
        [[views]]
        record_type = "deal"
        name = "All"
        query = "sort=name"
    """)
    assert [(p.key, p.reason) for p in problems_of(folder).problems] == [
        ("pack", "required: a [pack] table with name, version and title")]
    folder = write_pack(tmp_path / "bare", """\
        [pack]
        name = "Bare pack"
        summary = 3
    """)
    found = {p.key: p.reason for p in problems_of(folder).problems}
    assert set(found) == {"pack.name", "pack.version", "pack.title", "pack.summary"}
    assert found["pack.version"] == "required" and "not a pack name" in found["pack.name"]


def test_a_syntax_error_names_the_file_and_the_line(tmp_path):
    folder = write_pack(tmp_path / "typo", """\
        [pack]
        name = "typo"
        version = "1.0"
        title "Typo"
    """)
    invalid = problems_of(folder)
    assert len(invalid.problems) == 1
    problem = invalid.problems[0]
    assert problem.file == str(folder / "vertical.toml") and problem.key == "line 4"
    assert problem.reason.startswith("not valid TOML: ") and "(column" in problem.reason
    assert str(invalid) == f"{folder / 'vertical.toml'}: line 4: {problem.reason}"


def test_missing_file_and_bad_data_files(tmp_path):
    (tmp_path / "empty").mkdir()
    assert problems_of(tmp_path / "empty").problems == [
        Problem(str(tmp_path / "empty" / "vertical.toml"), "(file)", "missing; every pack needs a vertical.toml")]
    folder = write_pack(tmp_path / "data_pack", """\
        [pack]
        name = "data_pack"
        version = "1.0"
        title = "Data"
    """, {"data/Big Deals.csv": "name\nx\n", "data/deal.csv": "", "data/contact.csv": "first_name\nAda\n"})
    found = {(Path(p.file).name, p.key) for p in problems_of(folder).problems}
    assert found == {("Big Deals.csv", "(file name)"), ("deal.csv", "line 1")}


# discovery ----------------------------------------------------------------------------------


def install_distribution(site, distribution, packs):
    """A site-packages folder holding ``distribution`` whose ``accord.verticals`` entry
    points are ``packs`` (name -> (module, vertical.toml text or None, __init__ text))."""
    info = site / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    lines = ["[accord.verticals]"] + [f"{name} = {module}" for name, (module, _, _) in packs.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, toml, init in packs.values():
        (site / module).mkdir()
        (site / module / "__init__.py").write_text(init)
        if toml is not None:
            (site / module / "vertical.toml").write_text(toml)


@pytest.fixture
def built_in(tmp_path, monkeypatch):
    """An empty built-in packs folder, so discovery tests do not see the real packs."""
    folder = tmp_path / "built_in"
    folder.mkdir()
    monkeypatch.setattr(verticals, "BUILT_IN", folder)
    return folder


def test_built_in_and_installed_packs_are_found_and_broken_ones_listed(tmp_path, monkeypatch, built_in):
    write_pack(built_in / "real_estate", COMPLETE.format(name="real_estate"))
    write_pack(built_in / "clinic", COMPLETE.format(name="clinic").replace('version = "1.2.0"', 'version = "x"'))
    (built_in / "__pycache__").mkdir()
    site = tmp_path / "site"
    install_distribution(site, "acme-dental-pack", {
        "dental": ("acme_dental_pack", COMPLETE.format(name="dental"), ""),
        "orthodontics": ("acme_ortho_pack", None, "raise RuntimeError('no licence')\n"),
        "real_estate": ("acme_real_estate", COMPLETE.format(name="real_estate"), ""),
    })
    monkeypatch.syspath_prepend(str(site))
    packs = available_packs()
    assert sorted(packs) == ["clinic", "dental", "orthodontics", "real_estate"]
    dental = packs["dental"]
    assert dental.source == "distribution acme-dental-pack" and dental.path == site / "acme_dental_pack"
    assert dental.content["types"]["property"]["plural"] == "properties"
    assert load_pack("dental") == dental
    clinic = packs["clinic"]
    assert isinstance(clinic, PackInvalid) and clinic.problems[0].key == "pack.version"
    orthodontics = packs["orthodontics"].problems
    assert orthodontics[0].key == "entry point" and "RuntimeError: no licence" in orthodontics[0].reason
    clash = packs["real_estate"].problems[0]
    assert clash.key == "pack.name" and "claimed by both the built-in pack and distribution acme-dental-pack" in clash.reason
    with pytest.raises(PackInvalid) as caught:
        load_pack("clinic")
    assert "pack.version" in str(caught.value)
    with pytest.raises(LookupError) as missing:
        load_pack("bakery")
    assert str(missing.value) == "no vertical pack named bakery; available: clinic, dental, orthodontics, real_estate"


def test_an_entry_point_pack_must_carry_its_entry_point_name(tmp_path, monkeypatch, built_in):
    site = tmp_path / "site"
    install_distribution(site, "acme-vet", {"vet": ("acme_vet_pack", COMPLETE.format(name="veterinary"), "")})
    monkeypatch.syspath_prepend(str(site))
    problem = available_packs()["vet"].problems[0]
    assert problem == Problem(str(site / "acme_vet_pack" / "vertical.toml"), "pack.name",
                              "is 'veterinary' but the pack is found as 'vet'; make them equal")


def test_the_wheel_ships_pack_files(tmp_path):
    """A copy of the repository with a pack in ``verticals/`` builds a wheel holding its
    ``vertical.toml``, sample data and templates under ``accord/verticals``."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".ruff_cache", ".venv", "tests", "bench",
        "instance", "docs"))
    write_pack(source / "verticals" / "sample_pack", COMPLETE.format(name="sample_pack"), {
        "data/01_property.csv": "address\n1 Main St\n", "templates/sample_pack/note.html": "<p>note</p>"})
    wheels = tmp_path / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-w", str(wheels), str(source)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(next(wheels.glob("accord_crm-*.whl"))) as wheel:
        names = set(wheel.namelist())
    assert {"accord/verticals/sample_pack/vertical.toml", "accord/verticals/sample_pack/data/01_property.csv",
            "accord/verticals/sample_pack/templates/sample_pack/note.html", "accord/core/verticals.py"} <= names


# export of the local layer ----------------------------------------------------------------


def add_local_layer(app):
    """One of each kind of object an administrator adds, and some that are not local."""
    from accord.core.accounts import define_role
    from accord.core.customfields import add_field, remove_field
    from accord.core.db import db
    from accord.core.models import (AutomationRule, CustomField, DashboardWidgetDefinition, HelpTopicDefinition,
                                    PicklistValue, Pipeline, PipelineStage, RecordTypeDefinition, SavedView, Term)
    from accord.core.records import Actor

    admin = make_user(app, "admin@example.com", "Ada Admin", is_admin=True)
    actor = Actor(user_id=admin.id, source="test", is_admin=True, name=admin.name)
    with app.app_context():
        add_field("deal", {"name": "commission_rate", "kind": "decimal", "label": "Commission rate (%)",
                           "default": "2.5", "indexed": True}, actor)
        add_field("deal", {"name": "listing_kind", "kind": "choice", "choices": ["sale", "rent"]}, actor)
        add_field("contact", {"name": "nickname", "kind": "text", "pii": True, "help": "What friends say"}, actor)
        add_field("contact", {"name": "gone", "kind": "text"}, actor)
        remove_field("contact", "gone")
        add_field("contact", {"name": "from_pack", "kind": "text"}, actor, origin="pack:real_estate")
        define_role("listing_agent", "Listing agent", {"deal": {"verbs": ["read", "update"], "scope": "own"}},
                    description="Sells homes")
        session = db.session
        session.add_all([
            RecordTypeDefinition(key="property", label="Property", plural_label="Properties", plural="properties",
                                 table_name="vt_property", title_fields=["address"], description="A home",
                                 pipeline="viewings", timeline=True, origin="local"),
            CustomField(record_type="property", name="address", label="Address", kind="text", required=True,
                        searchable=True, position=0, origin="local"),
            Term(target="type:deal", label="Listing", plural_label="Listings", origin="local"),
            Term(target="field:deal.amount", label="List price", origin="local"),
            Term(target="stage:sales.won", label="Sold", origin="local"),
            Term(target="type:contact", label="Client", plural_label="Clients", origin="pack:real_estate"),
            PicklistValue(record_type="deal", field="listing_kind", key="auction", label="Auction", position=1,
                          origin="local"),
            PicklistValue(record_type="deal", field="listing_kind", key="swap", label="Swap", position=0,
                          origin="local"),
            SavedView(user_id=None, record_type="deal", name="Big listings", query="amount__gte=500000&sort=-amount",
                      origin="local"),
            SavedView(user_id=admin.id, record_type="deal", name="Mine", query="sort=name"),
            DashboardWidgetDefinition(key="value_by_stage", title="Value by stage", record_type="deal", measure="sum",
                                      field="amount", group_by="stage", position=0, origin="local"),
            HelpTopicDefinition(key="ours.commission", title="Commission", body="**Bold** text\nover lines.",
                                pages=["/deals"], origin="local"),
            AutomationRule(key="call_after_showing", label="Call after a showing", record_type="deal",
                           trigger="stage_entered", trigger_value="viewing",
                           conditions=[{"field": "amount", "op": "is_set", "value": None}],
                           actions=[{"do": "create_task", "subject": "Call", "due_in_days": 1, "assign_to": None}],
                           enabled=False, origin="local"),
        ])
        viewings = Pipeline(key="viewings", record_type="property", label="Viewings", origin="local")
        session.add(viewings)
        session.flush()
        sales = session.query(Pipeline).filter_by(key="sales").one()
        for stage in session.query(PipelineStage).filter(PipelineStage.pipeline_id == sales.id,
                                                         PipelineStage.position >= 1):
            stage.position += 1
        session.add_all([
            PipelineStage(pipeline_id=viewings.id, key="booked", label="Booked", position=0, probability=10,
                          allowed_next=["done"], origin="local"),
            PipelineStage(pipeline_id=viewings.id, key="done", label="Done", position=1, probability=100,
                          outcome="won", origin="local"),
            PipelineStage(pipeline_id=sales.id, key="viewing", label="Viewing booked", position=1, probability=20,
                          origin="local"),
        ])
        session.commit()


def test_the_local_layer_exports_as_a_pack_that_reads_back(app, tmp_path):
    add_local_layer(app)
    with app.app_context():
        folder = export_local_layer("our_layer", tmp_path / "out", version="2.0.0", title="Our layer")
    assert folder == tmp_path / "out" / "our_layer"
    pack = load_pack_from(folder)
    assert (pack.name, pack.version, pack.title, pack.requires) == ("our_layer", "2.0.0", "Our layer", {})
    content = pack.content
    assert content["types"] == {"property": {
        "label": "Property", "plural_label": "Properties", "plural": "properties", "title_fields": ["address"],
        "description": "A home", "timeline": True, "pipeline": "viewings"}}
    assert content["fields"]["deal"][0] == {
        "name": "commission_rate", "label": "Commission rate (%)", "kind": "decimal", "required": False,
        "default": "2.50", "pii": False, "sensitive": False, "indexed": True, "searchable": False}
    assert content["fields"]["deal"][1]["choices"] == [{"key": "sale", "label": "Sale"}, {"key": "rent", "label": "Rent"}]
    assert [spec["name"] for spec in content["fields"]["contact"]] == ["nickname"]
    assert content["fields"]["contact"][0]["help"] == "What friends say"
    assert content["fields"]["property"][0]["required"] is True
    assert content["terms"] == {"deal": {"label": "Listing", "plural": "Listings"},
                                "field:deal.amount": {"label": "List price"}, "stage:sales.won": {"label": "Sold"}}
    assert content["picklists"] == {"deal.listing_kind": [{"key": "swap", "label": "Swap"},
                                                          {"key": "auction", "label": "Auction"}]}
    assert content["views"] == [{"record_type": "deal", "name": "Big listings", "query": "amount__gte=500000&sort=-amount"}]
    assert content["widgets"] == [{"key": "value_by_stage", "title": "Value by stage", "record_type": "deal",
                                   "measure": "sum", "field": "amount", "group_by": "stage"}]
    assert content["roles"] == [{"key": "listing_agent", "label": "Listing agent", "description": "Sells homes",
                                 "grants": {"deal": {"verbs": ["read", "update"], "scope": "own"}}, "sensitive": False}]
    assert content["help"] == [{"key": "ours.commission", "title": "Commission", "body": "**Bold** text\nover lines.",
                                "pages": ["/deals"], "group": None}]
    assert content["rules"] == [{"key": "call_after_showing", "label": "Call after a showing", "record_type": "deal",
                                 "trigger": "stage_entered", "stage": "viewing", "field": None,
                                 "conditions": [{"field": "amount", "op": "is_set"}],
                                 "actions": [{"do": "create_task", "subject": "Call", "due_in_days": 1}],
                                 "enabled": False}]
    assert content["pipelines"]["viewings"] == {
        "record_type": "property", "label": "Viewings", "order": None,
        "stages": [{"key": "booked", "label": "Booked", "probability": 10, "allowed_next": ["done"]},
                   {"key": "done", "label": "Done", "probability": 100, "outcome": "won"}]}
    sales = content["pipelines"]["sales"]
    assert sales["stages"] == [{"key": "viewing", "label": "Viewing booked", "probability": 20}]
    assert sales["order"] == ["lead", "viewing", "qualified", "proposal", "negotiation", "won", "lost"]


def test_export_refuses_a_bad_name_a_bad_version_and_an_existing_folder(app, tmp_path):
    with app.app_context():
        with pytest.raises(ValueError, match="is not a pack name"):
            export_local_layer("Our Layer", tmp_path)
        with pytest.raises(ValueError, match="is not a version number"):
            export_local_layer("ours", tmp_path, version="first")
        (tmp_path / "ours").mkdir()
        with pytest.raises(ValueError, match="already exists"):
            export_local_layer("ours", tmp_path)
        empty = export_local_layer("empty", tmp_path)
    assert load_pack_from(empty).content["fields"] == {}


def test_an_exported_layer_requires_the_plugins_whose_types_it_uses(with_enabled_plugins, tmp_path):
    from accord.core.customfields import add_field
    from accord.core.records import Actor
    from accord.core.registry import current_accord

    app = with_enabled_plugins("servicedesk")
    with app.app_context():
        add_field("ticket", {"name": "floor", "kind": "integer"}, Actor(user_id=None, source="test", is_admin=True, name="test"))
        version = current_accord().installed["servicedesk"].manifest.version
        folder = export_local_layer("tickets_too", tmp_path)
    assert load_pack_from(folder).requires == {"servicedesk": f">={version}"}
