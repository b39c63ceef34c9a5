"""``accord verticals diff|apply|revert``: the plan printed line by line, apply and revert
in one transaction each; a malformed or unfitting pack is one line per problem on
standard error, exit status 1, no traceback."""

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_accord

PACKS = Path(__file__).parent / "fixtures" / "changesets"


@pytest.fixture
def accord(tmp_path):
    instance = tmp_path / "instance"

    def run(*args, **kwargs):
        return run_accord(instance, *args, **kwargs)

    run.instance = instance
    assert run("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return run


@pytest.fixture
def packs(tmp_path):
    """The fixture packs copied under ``tmp_path``: ``packs["brokerage"]`` is a folder path."""
    target = tmp_path / "packs"
    shutil.copytree(PACKS, target)
    return {folder.name: str(folder) for folder in target.iterdir()}


def ok(run):
    assert run.exit_code == 0, run
    assert "Traceback" not in run.output, run
    return run.stdout


def problems(run, count):
    """Exit 1, ``count`` lines on stderr and no traceback; returns the lines."""
    assert run.exit_code == 1, run
    assert "Traceback" not in run.output, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == count, run
    return lines


def test_diff_prints_the_plan_and_changes_nothing(accord, packs):
    lines = ok(accord("verticals", "diff", packs["brokerage"])).splitlines()
    assert lines[0] == "+ type property (Property, /properties)"
    assert "+ field deal.commission_rate (decimal, 'Commission rate (%)')" in lines
    assert "+ term type:deal: 'Listing' / 'Listings'" in lines
    plan = json.loads(ok(accord("verticals", "diff", packs["brokerage"], "--json")))
    assert plan["lines"] == lines and plan["status"] == "new" and plan["ok"] is True
    change = next(c for c in plan["changes"] if c["target"] == "stage:sales.lead")
    assert (change["before"]["label"], change["after"]["label"]) == ("Lead", "Enquiry")
    assert ok(accord("verticals", "diff", packs["brokerage"])).splitlines() == lines


def test_apply_then_already_applied_then_revert(accord, packs):
    diff = ok(accord("verticals", "diff", packs["brokerage"])).splitlines()
    applied = ok(accord("verticals", "apply", packs["brokerage"])).splitlines()
    assert applied[:-1] == diff and applied[-1] == "Applied brokerage 1.0.0 (changeset 1)."
    assert ok(accord("verticals", "apply", packs["brokerage"])) == "brokerage 1.0.0 is already applied; nothing changed.\n"
    run = accord("verticals", "diff", packs["brokerage"])
    assert ok(run) == "" and "is applied; nothing to change" in run.stderr
    dry = ok(accord("verticals", "revert", "brokerage", "--dry-run")).splitlines()
    assert "- type property" in dry and "~ stage sales.lead: label 'Enquiry' → 'Lead', probability 5 → 10, " \
        "allowed_next [\"viewing\", \"qualified\", \"lost\"] → [\"qualified\", \"lost\"]" in dry
    reverted = ok(accord("verticals", "revert", "brokerage")).splitlines()
    assert reverted[:-1] == dry and reverted[-1] == "Reverted brokerage 1.0.0 (changeset 1)."
    assert ok(accord("verticals", "diff", packs["brokerage"])).splitlines() == diff


@pytest.mark.parametrize("command", ["diff", "apply"])
def test_a_malformed_pack_is_one_line_per_problem(accord, packs, command):
    lines = problems(accord("verticals", command, packs["malformed"]), 3)
    file = str(Path(packs["malformed"]) / "vertical.toml")
    assert lines == [
        f"{file}: gadgets: unknown section (known: pack, types, fields, terms, pipelines, picklists, views, widgets, "
        f"roles, help, rules)",
        f"{file}: fields.deal[0].kind: 'flavourful' is not a field kind (kinds: text, long_text, integer, decimal, "
        f"money, date, datetime, boolean, choice, multi_choice, email, phone, url, reference)",
        f"{file}: pipelines.sales.stages[0].probability: must be a whole number from 0 to 100",
    ]


@pytest.mark.parametrize("command", ["diff", "apply"])
def test_a_pack_that_does_not_fit_is_one_line_per_problem(accord, packs, command):
    lines = problems(accord("verticals", command, packs["unfit"]), 4)
    assert lines[0].endswith("unfit/vertical.toml: fields.spaceship: there is no record type 'spaceship'")
    assert lines[3].endswith("rules[0].field: Deal has no field 'nope'.")


def test_conflicts_name_both_packs_and_stacks_revert_newest_first(accord, packs):
    ok(accord("verticals", "apply", packs["brokerage"]))
    lines = problems(accord("verticals", "apply", packs["rival"]), 3)
    assert all("packs brokerage and rival define" in line for line in lines)
    ok(accord("verticals", "apply", packs["lettings"]))
    refused = problems(accord("verticals", "revert", "brokerage"), 1)
    assert refused == ["brokerage: pack: pack lettings builds on it; revert lettings first"]
    assert ok(accord("verticals", "revert", "lettings")).splitlines()[0] == "- field property.monthly_rent"
    ok(accord("verticals", "revert", "brokerage"))
    assert accord("verticals", "revert", "brokerage").stderr == "Error: Pack 'brokerage' is not applied here.\n"


def test_revert_of_data_needs_force_and_exports(accord, packs, tmp_path):
    ok(accord("verticals", "apply", packs["brokerage"]))
    data = tmp_path / "homes.csv"
    data.write_text("address,bedrooms\n1 Quay Street,3\n2 Quay Street,4\n")
    ok(accord("import", "property", str(data)))
    lines = problems(accord("verticals", "revert", "brokerage"), 2)
    assert lines == ["brokerage: type property: holds data in 2 records",
                     "Nothing was changed. Run 'accord verticals revert' again with --force to export that data "
                     "and revert."]
    assert "holds data: type property holds data in 2 records (needs --force)" in accord(
        "verticals", "revert", "brokerage", "--dry-run").stderr
    out = ok(accord("verticals", "revert", "brokerage", "--force", "--export-to", str(tmp_path / "saved")))
    exported = next(line for line in out.splitlines() if line.startswith("Exported the data it held to "))
    folder = Path(exported.removeprefix("Exported the data it held to "))
    assert folder.parent == tmp_path / "saved"
    rows = [json.loads(line) for line in (folder / "property.jsonl").read_text().splitlines()]
    assert [(row["address"], row["bedrooms"]) for row in rows] == [("1 Quay Street", 3), ("2 Quay Street", 4)]


def test_an_unknown_pack_name_is_one_error_line(accord):
    run = accord("verticals", "apply", "no_such_pack")
    assert run.exit_code == 1 and run.stderr.startswith("Error: no vertical pack named no_such_pack")
    assert len(run.stderr.strip().splitlines()) == 1
