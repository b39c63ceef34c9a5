"""The built-in vertical packs (real estate, higher education, B2B SaaS): each one is
valid, applies to a fresh instance, loads its sample data without a refused row, shows its
types, fields, words and widgets in the API and the web UI, runs its rules on the sample
data, and reverts with ``force`` (its data exported first) back to the plain core."""

import csv
from pathlib import Path

import pytest
from web_helpers import sign_in

from accord.core.verticals import available_packs, data_record_type, load_pack

PACKS = {
    "real_estate": {
        "types": {"property": ("Properties", "listing_agent_id"), "showing": ("Showings", "buyer_id")},
        "fields": {"deal": "commission_rate", "contact": "budget_max"},
        "labels": {"deal": "Transactions", "organization": "Companies"},
        "field_label": ("deal", "amount", "Price"),
        "pipelines": {"buyer": "closed", "seller": "sold"},
        "widget": "Commission by side",
        "help": "How commission is recorded",
        "task": "Call the buyer for feedback on the showing",
        "role": "listing_agent",
    },
    "higher_education": {
        "types": {"programme": ("Programmes", "delivery_mode"), "intake_term": ("Intake terms", "application_deadline"),
                  "application": ("Applications", "transcripts_received")},
        "fields": {"contact": "date_of_birth"},
        "labels": {"contact": "Students", "organization": "Schools"},
        "field_label": ("application", "owner_id", "Counsellor"),
        "pipelines": {"admissions": "enrolled"},
        "widget": "Applications by stage",
        "help": "The admissions pipeline",
        "task": "Check the application file and send it to the faculty for review",
        "role": "counsellor",
    },
    "b2b_saas": {
        "types": {"subscription": ("Subscriptions", "mrr")},
        "fields": {"organization": "health_score", "deal": "acv"},
        "labels": {"organization": "Accounts", "deal": "Opportunities"},
        "field_label": ("deal", "expected_close_date", "Close date"),
        "pipelines": {"renewals": "renewed"},
        "widget": "MRR by plan",
        "help": "MRR, ARR and ACV",
        "task": "Start the renewal conversation: usage review and pricing for next term",
        "role": "csm",
    },
}


def _actor(admin):
    from accord.core.records import Actor

    return Actor(user_id=admin.id, source="test", is_admin=True, name=admin.name)


def _rows_in(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_the_three_packs_are_built_in_and_valid():
    packs = available_packs()
    for name in PACKS:
        pack = packs[name]
        assert not isinstance(pack, Exception), pack
        assert pack.source == "built-in" and pack.data_files, name
        assert all(data_record_type(path) for path in pack.data_files)


@pytest.mark.parametrize("name", sorted(PACKS))
def test_a_pack_applies_loads_its_sample_data_shows_everywhere_and_reverts(app, admin, api, tmp_path, name):
    from accord.core import changesets, pack_plan
    from accord.core.demo import load_sample_data

    expected = PACKS[name]
    pack = load_pack(name)
    with app.app_context():
        planned = pack_plan.plan(pack)
        assert planned.ok, [pack_plan.problem_line(p) for p in planned.problems + planned.conflicts]
        assert changesets.apply(pack, _actor(admin)).status == "applied"
        loaded = load_sample_data(pack, _actor(admin))
    files = {data_record_type(path): _rows_in(path) for path in pack.data_files}
    assert {rt.key: count for rt, count in loaded} == files, "every row of every file became a record"
    assert all(count >= 2 for count in files.values())

    types = {t["key"]: t for t in api.get("/types").json["data"]}
    for key, (plural_label, field) in expected["types"].items():
        assert types[key]["plural_label"] == plural_label
        assert field in {f["name"] for f in types[key]["fields"]}
        listed = api.get(f"/{types[key]['plural']}?limit=500").json["data"]
        assert len(listed) == files[key]
    for key, field in expected["fields"].items():
        assert field in {f["name"] for f in types[key]["fields"]}
    for key, plural_label in expected["labels"].items():
        assert types[key]["plural_label"] == plural_label
    type_key, field, label = expected["field_label"]
    assert {f["name"]: f["label"] for f in types[type_key]["fields"]}[field] == label
    pipelines = {p["key"]: p for p in api.get("/pipelines").json["data"]}
    for key, won in expected["pipelines"].items():
        assert {s["key"]: s["outcome"] for s in pipelines[key]["stages"]}[won] == "won"

    tasks = api.get("/activities?kind=task&limit=500").json["data"]
    assert expected["task"] in {task["subject"] for task in tasks}, "the pack's rules ran on its sample data"

    _, browser = sign_in(app, "agent@example.com", "Alex Agent")
    first_type = next(iter(expected["types"]))
    page = browser.get(f"/{types[first_type]['plural']}")
    assert page.status_code == 200 and expected["types"][first_type][0] in page.get_data(as_text=True)
    record = api.get(f"/{types[first_type]['plural']}?limit=1").json["data"][0]
    shown = browser.get(f"/{types[first_type]['plural']}/{record['id']}")
    assert shown.status_code == 200
    assert types[first_type]["fields"][-1]["label"] in shown.get_data(as_text=True)
    dashboard = browser.get("/").get_data(as_text=True)
    assert expected["widget"] in dashboard
    renamed = next(iter(expected["labels"].values()))
    assert renamed in dashboard, "the navigation uses the pack's words"

    with app.app_context():
        from accord.core.accounts import roles

        assert expected["role"] in roles()
        with pytest.raises(changesets.PackRefused):
            changesets.revert(name, _actor(admin))
        outcome = changesets.revert(name, _actor(admin), force=True, export_dir=tmp_path / "exports")
    assert outcome.status == "reverted" and Path(outcome.export_path).is_dir()
    types = {t["key"]: t for t in api.get("/types").json["data"]}
    assert not set(expected["types"]) & set(types)
    assert types["organization"]["plural_label"] == "Organizations" and types["deal"]["plural_label"] == "Deals"
    for key, field in expected["fields"].items():
        assert field not in {f["name"] for f in types[key]["fields"]}
    remaining = {p["key"]: {s["key"] for s in p["stages"]} for p in api.get("/pipelines").json["data"]}
    assert not set(expected["pipelines"]) & set(remaining)
    for deal in api.get("/deals?limit=500").json["data"]:
        assert deal["stage"] in remaining[deal["pipeline"]], "no record is left in a stage that went"
    assert expected["widget"] not in browser.get("/").get_data(as_text=True)


def test_the_pack_of_the_authoring_guide_applies_and_reverts(app, admin, api, tmp_path):
    """docs/verticals.md walks through a pack; it must apply as written."""
    import re

    from accord.core import changesets, pack_plan
    from accord.core.verticals import load_pack_from

    guide = (Path(__file__).parents[2] / "docs" / "verticals.md").read_text()
    folder = tmp_path / "wedding_venue"
    folder.mkdir()
    (folder / "vertical.toml").write_text(re.findall(r"```toml\n(.*?)```", guide, flags=re.S)[0])
    pack = load_pack_from(folder)
    with app.app_context():
        planned = pack_plan.plan(pack)
        assert planned.ok, [pack_plan.problem_line(p) for p in planned.problems + planned.conflicts]
        changesets.apply(pack, _actor(admin))
    deal = api.post("/deals", json={"name": "Okafor–Lund wedding"}).json
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).status_code == 200
    moved = api.patch(f"/deals/{deal['id']}", json={"stage": "site_visit"})
    assert moved.status_code == 200, moved.json
    tasks = api.get("/activities?kind=task").json["data"]
    assert [task["subject"] for task in tasks] == ["Send the brochure and the menus"]
    types = {t["key"]: t for t in api.get("/types").json["data"]}
    assert types["deal"]["plural_label"] == "Bookings" and "event" in types
    with app.app_context():
        with pytest.raises(changesets.PackRefused) as refused:
            changesets.revert("wedding_venue", _actor(admin))
        assert [(p.key, p.reason) for p in refused.value.problems] == [
            ("stage sales.site_visit", "holds data: 1 booking in stage Site visit (force moves it to Qualified)")]
        outcome = changesets.revert("wedding_venue", _actor(admin), force=True, export_dir=tmp_path / "exports")
        assert outcome.status == "reverted"
    assert "event" not in {t["key"] for t in api.get("/types").json["data"]}
    assert api.get(f"/deals/{deal['id']}").json["stage"] == "qualified"


def test_a_falling_health_score_gives_the_csm_owner_a_task_and_an_email(app, admin, api):
    from accord.core import changesets
    from accord.core.db import db
    from accord.core.models import AutomationRun
    from accord.testing import make_user

    csm = make_user(app, "leila.farouk@flowdesk.example", "Leila Farouk")
    with app.app_context():
        changesets.apply(load_pack("b2b_saas"), _actor(admin))
    account = api.post("/organizations", json={"name": "Northwind Logistics", "health_score": 81,
                                               "owner_id": csm.id}).json
    assert api.patch(f"/organizations/{account['id']}", json={"health_score": 64}).status_code == 200
    assert api.patch(f"/organizations/{account['id']}", json={"health_score": 42}).status_code == 200
    tasks = api.get(f"/activities?kind=task&related_id={account['id']}").json["data"]
    assert [(t["subject"], t["owner_id"]) for t in tasks] == [("Plan a recovery call with the at-risk account", csm.id)]
    with app.app_context():
        runs = db.session.query(AutomationRun.detail).filter_by(rule_key="health_score_alert").all()
    assert len(runs) == 1 and "leila.farouk@flowdesk.example" in runs[0].detail
