"""``/api/v1/automation``: administrators list, add, change, switch and remove rules and
read their runs; refusals answer 422 naming the fields; a pack's rule can be switched on
and off but its definition is changed in its pack."""

import pytest

from accord.core.automation import add_rule
from accord.core.records import write_unit
from accord.core.registry import current_accord
from accord.testing import api_client, make_user
from api_helpers import assert_error, count, create

RULE = {"key": "big_deal_call", "label": "Call about big deals", "record_type": "deal", "trigger": "created",
        "conditions": [{"field": "amount", "op": "gte", "value": 1000}],
        "actions": [{"do": "create_task", "subject": "Call the buyer", "due_in_days": 2}]}


def pack_rule(app):
    with app.test_request_context():
        with write_unit() as session:
            add_rule(session, {**RULE, "key": "pack_rule", "label": "From the pack"}, "pack:real_estate")


def test_an_admin_adds_a_local_rule_that_fires_at_once(app, api):
    added = api.post("/automation/rules", json=RULE)
    assert added.status_code == 201, added.json
    assert added.headers["Location"] == "/api/v1/automation/rules/big_deal_call"
    body = added.json
    assert body["origin"] == "local" and body["enabled"] is True and body["stage"] is None
    assert {name: body[name] for name in RULE} == RULE
    assert api.get("/automation/rules").json["data"] == [body]
    assert api.get("/automation/rules/big_deal_call").json == body
    deal = create(api, "deals", name="Big", amount="5000")
    runs = api.get("/automation/runs?rule=big_deal_call").json
    assert runs["next_cursor"] is None
    [run] = runs["data"]
    assert (run["rule"], run["record_type"], run["record_id"], run["status"]) == ("big_deal_call", "deal", deal["id"], "ok")


def test_refusals_answer_422_with_fields(app, api):
    assert_error(api.post("/automation/rules", json={**RULE, "record_type": "spaceship", "trigger": "later"}),
                 422, "validation_failed", fields=["record_type", "trigger"])
    assert_error(api.post("/automation/rules", json={**RULE, "actions": [{"do": "create_task"}]}),
                 422, fields=["actions.0.subject"])
    assert api.post("/automation/rules", json=RULE).status_code == 201
    assert_error(api.post("/automation/rules", json=RULE), 422, fields=["key"])
    assert_error(api.post("/automation/rules", data="[]", content_type="application/json"), 400)
    assert_error(api.get("/automation/rules/nothing"), 404)
    assert_error(api.get("/automation/runs?limit=0"), 400, fields=["limit"])
    assert_error(api.get("/automation/runs?status=meh"), 400, fields=["status"])
    assert count(app, "automation_rule") == 1


def test_patch_edits_a_local_rule_and_switches_it_off(app, api):
    api.post("/automation/rules", json=RULE)
    changed = api.patch("/automation/rules/big_deal_call", json={"trigger": "stage_entered", "stage": "won",
                                                                 "label": "Won deals"})
    assert changed.status_code == 200, changed.json
    assert (changed.json["trigger"], changed.json["stage"], changed.json["label"]) == ("stage_entered", "won", "Won deals")
    assert_error(api.patch("/automation/rules/big_deal_call", json={"stage": "sold"}), 422, fields=["stage"])
    assert_error(api.patch("/automation/rules/big_deal_call", json={"key": "other"}), 422, fields=["key"])
    assert_error(api.patch("/automation/rules/big_deal_call", json={"label": None}), 422, fields=["label"])
    off = api.patch("/automation/rules/big_deal_call", json={"enabled": False})
    assert off.json["enabled"] is False
    create(api, "deals", name="Won", amount="5000", stage="won", close_reason="price")
    assert api.get("/automation/runs").json["data"] == []


def test_a_pack_rule_can_be_switched_but_not_redefined(app, api):
    pack_rule(app)
    assert api.get("/automation/rules/pack_rule").json["origin"] == "pack:real_estate"
    refused = assert_error(api.patch("/automation/rules/pack_rule", json={"label": "Mine now"}), 422, fields=["label"])
    assert "belongs to pack:real_estate" in refused["fields"]["label"][0]
    assert api.patch("/automation/rules/pack_rule", json={"enabled": False}).json["enabled"] is False
    assert api.get("/automation/rules/pack_rule").json["label"] == "From the pack"


def test_delete_removes_the_rule_and_keeps_its_runs(app, api):
    api.post("/automation/rules", json=RULE)
    create(api, "deals", name="Big", amount="5000")
    assert api.delete("/automation/rules/big_deal_call").status_code == 204
    assert_error(api.delete("/automation/rules/big_deal_call"), 404)
    create(api, "deals", name="Bigger", amount="9000")
    assert len(api.get("/automation/runs").json["data"]) == 1


def test_runs_page_newest_first(app, api):
    api.post("/automation/rules", json=RULE)
    deals = [create(api, "deals", name=f"Deal {n}", amount="5000")["id"] for n in range(3)]
    first = api.get("/automation/runs?limit=2").json
    assert [run["record_id"] for run in first["data"]] == deals[:0:-1]
    rest = api.get(f"/automation/runs?limit=2&cursor={first['next_cursor']}").json
    assert [run["record_id"] for run in rest["data"]] == deals[:1] and rest["next_cursor"] is None
    assert api.get("/automation/runs?status=failed").json["data"] == []


@pytest.mark.parametrize("method, path", [
    ("get", "/automation/rules"), ("post", "/automation/rules"), ("get", "/automation/rules/big_deal_call"),
    ("patch", "/automation/rules/big_deal_call"), ("delete", "/automation/rules/big_deal_call"),
    ("get", "/automation/runs"),
])
def test_only_administrators(app, api, method, path):
    api.post("/automation/rules", json=RULE)
    seller = api_client(app, make_user(app, "sam@example.com", "Sam Seller"))
    kwargs = {"json": {"enabled": False}} if method in ("post", "patch") else {}
    assert_error(getattr(seller, method)(path, **kwargs), 403)
    assert api.get("/automation/rules/big_deal_call").json["enabled"] is True


def test_the_endpoints_are_documented(app, api):
    paths = api.get("/openapi.json").json["paths"]
    assert set(paths["/api/v1/automation/rules"]) == {"get", "post"}
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/automation/rules/{key}"])
    assert "get" in paths["/api/v1/automation/runs"]
    with app.test_request_context():
        assert current_accord(app).catalog().type("deal") is not None
