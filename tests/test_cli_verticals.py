"""``accord verticals list|show|export`` on an instance (SQLite, in-process): packs with
their state, everything a pack declares, and the instance's own layer written out as a
pack. Refusals are one line on stderr with exit status 1."""

import re
import textwrap

import pytest
from accord.core import verticals
from accord.core.verticals import load_pack_from
from cli_helpers import refused

PACK = """\
[pack]
name = "{name}"
version = "{version}"
title = "{title}"
summary = "Listings and showings"
core = ">=0.1"

[types.property]
label = "Property"
plural_label = "Properties"
plural = "properties"
title_fields = ["address"]

[[fields.property]]
name = "address"
kind = "text"
required = true

[[fields.deal]]
name = "commission_rate"
kind = "decimal"
label = "Commission rate (%)"

[terms]
deal = {{ label = "Listing", plural = "Listings" }}

[pipelines.sales]
stages = [{{ key = "viewing", label = "Viewing booked", probability = 20 }}]

[picklists]
"contact.source" = [{{ key = "open_house", label = "Open house" }}]

[[views]]
record_type = "deal"
name = "Big listings"
query = "amount__gte=500000&sort=-amount"

[[widgets]]
key = "listings_by_stage"
title = "Listings by stage"
record_type = "deal"
group_by = "stage"

[[roles]]
key = "listing_agent"
label = "Listing agent"
grants = {{ deal = {{ verbs = ["read", "update"], scope = "own" }} }}

[[help]]
key = "{name}.commission"
title = "Commission"
body = "How it is worked out."
pages = ["/deals"]

[[rules]]
key = "call_after_viewing"
label = "Call after a viewing"
record_type = "deal"
trigger = "stage_entered"
stage = "viewing"
actions = [{{ do = "create_task", subject = "Call the buyer", due_in_days = 1 }}]
"""


def write_pack(folder, text):
    folder.mkdir(parents=True)
    (folder / "vertical.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def packs(tmp_path, monkeypatch):
    """A built-in packs folder of our own: two good packs and a broken one."""
    folder = tmp_path / "built_in"
    write_pack(folder / "real_estate", PACK.format(name="real_estate", version="1.2.0", title="Real estate"))
    write_pack(folder / "clinic", PACK.format(name="clinic", version="2.0", title="Clinic"))
    write_pack(folder / "broken", PACK.format(name="broken", version="soon", title="Broken")
               .replace('kind = "decimal"', 'kind = "percent"'))
    (folder / "real_estate" / "data").mkdir()
    (folder / "real_estate" / "data" / "01_property.csv").write_text("address\n1 Main St\n")
    monkeypatch.setattr(verticals, "BUILT_IN", folder)
    return folder


@pytest.fixture
def accord(accord):
    """The command on an instance made by ``accord init``."""
    assert accord("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return accord


def rows(run):
    assert run.exit_code == 0, run
    return [re.split(r"\s{2,}", line.strip()) for line in run.stdout.splitlines()]


def record_changesets(open_app, *changesets):
    """Rows of ``vertical_changeset``: ``(pack, version, reverted)``."""
    from accord.core.db import db, utcnow
    from accord.core.models import VerticalChangeset

    with open_app().app_context():
        db.session.add_all([VerticalChangeset(pack=pack, version=version, operations=[],
                                              reverted_at=utcnow() if reverted else None)
                            for pack, version, reverted in changesets])
        db.session.commit()


def test_list_shows_each_pack_with_its_state(accord, open_app, packs):
    record_changesets(open_app, ("real_estate", "1.0.0", False), ("real_estate", "1.2.0", False),
                      ("clinic", "2.0", True), ("bakery", "0.9", False))
    assert rows(accord("verticals", "list")) == [
        ["NAME", "VERSION", "TITLE", "STATUS"],
        ["bakery", "0.9", "-", "applied v0.9 (the pack is no longer installed)"],
        ["broken", "-", "-", "invalid: vertical.toml: pack.version: 'soon' is not a version number (PEP 440, "
                             "e.g. '1.0.0') (+1 more)"],
        ["clinic", "2.0", "Clinic", "available"],
        ["real_estate", "1.2.0", "Real estate", "applied v1.2.0"],
    ]


def test_list_without_packs_says_where_they_come_from(accord, tmp_path, monkeypatch):
    monkeypatch.setattr(verticals, "BUILT_IN", tmp_path / "nowhere")
    run = accord("verticals", "list")
    assert run.exit_code == 0 and run.stdout.startswith("No vertical packs found"), run


def test_show_prints_everything_the_pack_declares(accord, open_app, packs):
    record_changesets(open_app, ("real_estate", "1.2.0", False))
    run = accord("verticals", "show", "real_estate")
    assert run.exit_code == 0, run
    assert run.stdout.splitlines() == [
        "real_estate 1.2.0: Real estate",
        "  Listings and showings",
        "status: applied v1.2.0",
        "source: built-in",
        f"folder: {packs / 'real_estate'}",
        "needs accord: >=0.1",
        "types:",
        "  property: Property / Properties (/properties); title: address",
        "fields:",
        "  property.address: text (required)",
        "  deal.commission_rate: decimal 'Commission rate (%)'",
        "terms:",
        "  deal: Listing / Listings",
        "pipelines:",
        "  sales: changes",
        "    stage viewing 'Viewing booked' 20%",
        "picklists:",
        "  contact.source: open_house (Open house)",
        "views:",
        "  deal: 'Big listings': amount__gte=500000&sort=-amount",
        "widgets:",
        "  listings_by_stage: 'Listings by stage': count over deal by stage",
        "roles:",
        "  listing_agent: Listing agent; deal: read, update (own)",
        "help:",
        "  real_estate.commission: 'Commission' on /deals",
        "rules:",
        "  call_after_viewing: 'Call after a viewing': when a deal enters stage viewing: "
        "create_task subject='Call the buyer' due_in_days=1",
        "data:",
        "  data/01_property.csv",
    ]
    assert "status: available" in accord("verticals", "show", "clinic").stdout


def test_show_refuses_an_unknown_or_invalid_pack_in_one_line(accord, packs):
    refused(accord("verticals", "show", "bakery"), 1, "no vertical pack named bakery; available: broken, clinic, real_estate")
    line = refused(accord("verticals", "show", "broken"), 1, "vertical pack broken is not valid: ",
                   "pack.version: 'soon' is not a version number", "fields.deal[0].kind: 'percent' is not a field kind")
    assert str(packs / "broken" / "vertical.toml") in line


def test_export_writes_the_local_layer_as_a_pack(accord, tmp_path, packs):
    assert accord("fields", "add", "deal", "commission_rate", "--kind", "decimal", "--indexed").exit_code == 0
    assert accord("fields", "add", "contact", "gone", "--kind", "text").exit_code == 0
    assert accord("fields", "remove", "contact", "gone").exit_code == 0
    assert accord("users", "define-role", "listing_agent", "--label", "Listing agent",
                  "--grant", "deal=read,update:own").exit_code == 0
    out = tmp_path / "out"
    run = accord("verticals", "export", "our_layer", "--to", out, "--version", "1.1", "--title", "Our layer")
    assert run.exit_code == 0, run
    assert run.stdout == f"Exported the local layer as vertical pack our_layer: {out / 'our_layer' / 'vertical.toml'}\n"
    pack = load_pack_from(out / "our_layer")
    assert (pack.version, pack.title) == ("1.1", "Our layer")
    assert [spec["name"] for specs in pack.content["fields"].values() for spec in specs] == ["commission_rate"]
    assert [role["key"] for role in pack.content["roles"]] == ["listing_agent"]
    refused(accord("verticals", "export", "our_layer", "--to", out), 1, "already exists")
    refused(accord("verticals", "export", "Our Layer", "--to", out), 1, "is not a pack name")


def test_on_an_instance_not_set_up_list_is_one_line(tmp_path, packs):
    from cli_helpers import run_accord

    refused(run_accord(tmp_path / "nothing", "verticals", "list"), 1, "run 'accord init'")
