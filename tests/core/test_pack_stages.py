"""Records in a pipeline stage that reverting (or upgrading) a vertical pack drops
(:mod:`accord.core.pack_stages`): the revert is refused naming them, on the CLI, in the API
and on the admin page; with force they are exported, then moved to the stage that takes
their place with stage history, a new version, audit entries, webhooks and exact totals."""

import json
import shutil
from pathlib import Path

import pytest

from accord.core import changesets, verticals
from accord.core.db import db
from accord.core.records import Actor
from accord.core.webhooks import subscribe
from api_helpers import assert_error, create, sql
from cli_helpers import run_accord
from web_helpers import sign_in

PACKS = Path(__file__).resolve().parents[1] / "fixtures" / "changesets"
ACTOR = Actor(user_id=None, source="cli", is_admin=True, name="test")
REFUSAL = ("stage sales.viewing", "holds data: 3 listings in stage Viewing booked (force moves them to Lead)")
RENTALS = """
[pipelines.rentals]
record_type = "deal"
label = "Rentals"
stages = [
  { key = "enquiry", label = "Rental enquiry", probability = 10 },
  { key = "let", label = "Let", probability = 100, outcome = "won" },
]
"""


@pytest.fixture
def packs(tmp_path, monkeypatch):
    """The fixture packs as this instance's built-in packs."""
    folder = tmp_path / "verticals"
    shutil.copytree(PACKS, folder)
    monkeypatch.setattr(verticals, "BUILT_IN", folder)
    return folder


def run(app, function, *args, **kwargs):
    with app.test_request_context():
        return function(*args, **kwargs)


def refusal(app, function, *args, **kwargs):
    with pytest.raises(changesets.PackRefused) as caught:
        run(app, function, *args, **kwargs)
    return caught.value


def totals(app):
    """The pipeline totals of deals as kept, then as counted afresh from the records."""
    from accord.core.pipeline_totals import totals as read
    from accord.core.registry import current_accord
    from sqlalchemy import true

    with app.test_request_context():
        rt = current_accord().catalog().type("deal")
        return [sorted(read(db.session, rt, pipeline, ("stage",), only=only))
                for only in (None, true()) for pipeline in ("sales", "rentals")]


def deal_rows(app):
    return {row[0]: tuple(row[1:]) for row in sql(app, "SELECT id, pipeline, stage, version FROM deal")}


@pytest.fixture
def in_viewing(app, api, packs):
    """Brokerage applied; two live deals and a trashed one in its stage ``viewing``, one
    deal in ``lead``, all with amounts."""
    run(app, changesets.apply, verticals.load_pack("brokerage"), ACTOR)
    lead = create(api, "deals", name="Harbour view", amount="750000")
    moved = create(api, "deals", name="Mill house", amount="420000.5")
    answer = api.patch(f"/deals/{moved['id']}", json={"stage": "viewing"})
    assert answer.status_code == 200, answer.json
    placed = create(api, "deals", name="Quay loft", amount="310000", stage="viewing")
    trashed = create(api, "deals", name="Old barn", amount="99000", stage="viewing")
    assert api.delete(f"/deals/{trashed['id']}").status_code == 204
    return {"lead": lead["id"], "moved": moved["id"], "placed": placed["id"], "trashed": trashed["id"]}


def test_without_force_the_revert_is_refused_naming_the_records_in_the_stage(app, api, in_viewing):
    before = deal_rows(app)
    refused = refusal(app, changesets.revert, "brokerage", ACTOR)
    assert [(p.key, p.reason) for p in refused.problems] == [REFUSAL]
    assert "3 listings in stage Viewing booked" in refused.message and "force" in refused.message
    assert run(app, changesets.revert_plan, "brokerage").held[0]["records"] == 3

    answer = api.post("/admin/verticals/brokerage/revert")
    error = assert_error(answer, 409, "conflict", fields=["stage sales.viewing"])
    assert error["fields"]["stage sales.viewing"] == [REFUSAL[1]]

    _, browser = sign_in(app, "page@example.com", "Page Admin")
    page = browser.get("/admin/verticals/brokerage").get_data(as_text=True)
    assert "<li>3 listings in stage Viewing booked (force moves them to Lead)</li>" in page
    assert '<input type="hidden" name="force" value="1">' in page and "moving the records out of the stages" in page

    assert deal_rows(app) == before
    assert not (Path(app.instance_path) / "exports").exists()


def test_the_cli_refuses_then_force_exports_and_moves(app, in_viewing):
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    refused = run_accord(app.instance_path, "verticals", "revert", "brokerage", database_url=url)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "brokerage: stage sales.viewing: holds data: 3 listings in stage Viewing booked" in refused.stderr
    assert "--force" in refused.stderr
    dry = run_accord(app.instance_path, "verticals", "revert", "brokerage", "--dry-run", database_url=url)
    assert "holds data: 3 listings in stage Viewing booked (force moves them to Lead) (needs --force)" in dry.stderr
    done = run_accord(app.instance_path, "verticals", "revert", "brokerage", "--force", database_url=url)
    assert done.exit_code == 0, done
    assert "Exported the data it held to " in done.stdout
    assert {stage for _, stage, _ in deal_rows(app).values()} == {"lead"}


def test_with_force_the_records_are_exported_then_moved_and_the_board_stays_right(app, api, admin, in_viewing):
    row, _ = run(app, subscribe, {"url": "https://hooks.example.com/in", "events": ["stage_changed"]})
    before = deal_rows(app)
    kept, counted = totals(app)[0], totals(app)[2]
    assert kept == counted and dict((s, n) for s, n, _ in kept) == {"lead": 1, "viewing": 2}

    outcome = run(app, changesets.revert, "brokerage", Actor(user_id=admin.id, source="api", is_admin=True,
                                                               name="Ada Admin"), force=True)
    lines = (Path(outcome.export_path) / "deal.stages.jsonl").read_text().splitlines()
    exported = [json.loads(line) for line in lines]
    assert exported == [{"id": in_viewing[key], "pipeline": "sales", "stage": "viewing", "trashed": key == "trashed",
                         "moved_to": {"pipeline": "sales", "stage": "lead"}}
                        for key in ("moved", "placed", "trashed")]
    pack = json.loads((Path(outcome.export_path) / "pack.json").read_text())
    assert [item["what"] for item in pack["held"]] == ["stage sales.viewing"]

    after = deal_rows(app)
    for key in ("moved", "placed", "trashed"):
        assert after[in_viewing[key]] == ("sales", "lead", before[in_viewing[key]][2] + 1)
    assert after[in_viewing["lead"]] == before[in_viewing["lead"]]
    deal = api.get(f"/deals/{in_viewing['moved']}")
    assert deal.json["stage"] == "lead" and deal.json["updated_at"] > api.get(
        f"/deals/{in_viewing['lead']}").json["updated_at"]
    assert api.patch(f"/deals/{in_viewing['moved']}", json={"name": "Stale"},
                     headers={"If-Match": f'"deal-{in_viewing["moved"]}-{before[in_viewing["moved"]][2]}"'}
                     ).status_code == 412

    history = sql(app, "SELECT record_id, from_stage, to_stage, changed_by, seconds_in_previous FROM stage_history "
                       "WHERE to_stage = 'lead' AND from_stage = 'viewing' ORDER BY record_id")
    assert [(r[0], r[3]) for r in history] == [(in_viewing[k], admin.id) for k in ("moved", "placed", "trashed")]
    assert all(r[4] is not None and r[4] >= 0 for r in history)

    audit = api.get(f"/deals/{in_viewing['moved']}/audit").json["data"][0]
    assert audit["action"] == "updated" and audit["changes"] == {"stage": ["viewing", "lead"]}
    assert audit["details"]["vertical"] == {"pack": "brokerage", "version": "1.0.0", "action": "revert",
                                            "changesets": outcome.changesets}
    assert audit["actor_name"] == "Ada Admin"

    deliveries = sql(app, "SELECT record_id FROM webhook_delivery WHERE subscription_id = :id AND "
                          "event = 'stage_changed' ORDER BY record_id", id=row.id)
    assert [r[0] for r in deliveries] == [in_viewing["moved"], in_viewing["placed"]]

    kept, _, counted, _ = totals(app)
    assert kept == counted
    assert [(stage, n, str(amount)) for stage, n, amount in kept] == [("lead", 3, "1480000.500000")]
    _, browser = sign_in(app, "board@example.com", "Board Viewer")
    board = browser.get("/deals/board")
    assert board.status_code == 200 and "Viewing booked" not in board.get_data(as_text=True)


def test_records_keep_their_outcome_and_leave_a_pipeline_that_goes(app, api, tmp_path, packs):
    folder = packs / "brokerage"
    toml = folder / "vertical.toml"
    toml.write_text(toml.read_text() + RENTALS)
    run(app, changesets.apply, verticals.load_pack("brokerage"), ACTOR)
    open_one = create(api, "deals", name="Flat 2", pipeline="rentals", amount="1200")
    let = create(api, "deals", name="Flat 3", pipeline="rentals", amount="900")
    assert api.patch(f"/deals/{let['id']}", json={"stage": "let"}).status_code == 200
    closed_at = api.get(f"/deals/{let['id']}").json["closed_at"]
    refused = refusal(app, changesets.revert, "brokerage", ACTOR)
    assert sorted(p.reason for p in refused.problems) == [
        "holds data: 1 listing in stage Let of pipeline Rentals (force moves it to Won of pipeline Sales)",
        "holds data: 1 listing in stage Rental enquiry of pipeline Rentals (force moves it to Lead of pipeline Sales)",
    ]
    run(app, changesets.revert, "brokerage", ACTOR, force=True, export_dir=tmp_path / "exports")
    moved = {d["id"]: d for d in (api.get(f"/deals/{i}").json for i in (open_one["id"], let["id"]))}
    assert (moved[open_one["id"]]["pipeline"], moved[open_one["id"]]["stage"]) == ("sales", "lead")
    assert (moved[let["id"]]["pipeline"], moved[let["id"]]["stage"], moved[let["id"]]["closed_at"]) == (
        "sales", "won", closed_at)
    history = sql(app, "SELECT pipeline, from_stage, to_stage FROM stage_history WHERE record_id = :id "
                       "ORDER BY id DESC", id=let["id"])
    assert tuple(history[0]) == ("sales", None, "won")
    kept, rentals, counted, _ = totals(app)
    assert kept == counted and rentals == []
    assert {stage: n for stage, n, _ in kept} == {"lead": 1, "won": 1}


def test_an_upgrade_dropping_a_stage_with_records_needs_force_and_moves_them(app, api, in_viewing, packs):
    toml = packs / "brokerage" / "vertical.toml"
    text = toml.read_text().replace('version = "1.0.0"', 'version = "1.1.0"')
    text = text.replace('allowed_next = ["viewing", "qualified", "lost"]', 'allowed_next = ["qualified", "lost"]')
    text = text.replace('  { key = "viewing", label = "Viewing booked", probability = 20, allowed_next = '
                        '["qualified", "lost"] },\n', "")
    text = text.replace('order = ["lead", "viewing", "qualified", "proposal", "negotiation", "won", "lost"]\n', "")
    toml.write_text(text)
    newer = verticals.load_pack("brokerage")
    refused = refusal(app, changesets.apply, newer, ACTOR)
    assert [(p.key, p.reason) for p in refused.problems] == [
        ("stage sales.viewing", "holds data: 3 listings in stage Viewing booked (force moves them to Enquiry)")]
    outcome = run(app, changesets.apply, newer, ACTOR, force=True)
    assert outcome.status == "upgraded"
    assert (Path(outcome.export_path) / "deal.stages.jsonl").read_text().count('"stage": "viewing"') == 3
    assert {stage for _, stage, _ in deal_rows(app).values()} == {"lead"}
    kept, _, counted, _ = totals(app)
    assert kept == counted and {stage: n for stage, n, _ in kept} == {"lead": 3}
