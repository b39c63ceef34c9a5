"""Pipelines through the API: stages, allowed transitions, close reasons, stage history and
the weighted forecast."""

from decimal import Decimal

import pytest

from accord.testing import api_client, make_user
from api_helpers import assert_error, count, create, scalar, sql

import refusing_plugin

SALES_STAGES = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]


def test_pipelines_are_listed_with_ordered_stages(api):
    response = api.get("/pipelines")
    assert response.status_code == 200
    sales = next(p for p in response.json["data"] if p["key"] == "sales")
    assert sales["record_type"] == "deal" and sales["default"] is True
    assert [s["key"] for s in sales["stages"]] == SALES_STAGES
    stages = {s["key"]: s for s in sales["stages"]}
    assert [stages[k]["probability"] for k in SALES_STAGES] == [10, 25, 50, 75, 100, 0]
    assert stages["won"]["outcome"] == "won" and stages["lost"]["outcome"] == "lost"
    assert stages["lead"]["outcome"] == "open"
    assert stages["lead"]["allowed_next"] == ["qualified", "lost"]
    assert "price" in stages["won"]["reasons"]
    assert api.get("/pipelines/sales").json == sales
    assert_error(api.get("/pipelines/nope"), 404, "not_found")


def test_types_name_their_pipeline(api):
    types = {t["key"]: t for t in api.get("/types").json["data"]}
    assert types["deal"]["pipeline"] == "sales"
    assert types["contact"]["pipeline"] is None


def test_deal_starts_at_the_first_stage_with_history(api, admin):
    deal = create(api, "deals", name="Big")
    assert deal["pipeline"] == "sales" and deal["stage"] == "lead"
    assert deal["currency"] == "EUR"
    assert deal["closed_at"] is None
    history = api.get(f"/deals/{deal['id']}/stage-history").json["data"]
    assert len(history) == 1
    assert history[0]["from"] is None and history[0]["to"] == "lead"
    assert history[0]["by"] == admin.id and history[0]["pipeline"] == "sales"
    assert history[0]["at"].endswith("Z")


def test_allowed_moves_are_recorded_in_order(api, app, admin):
    other = make_user(app, "bea@example.com", "Bea")
    other_api = api_client(app, other)
    deal = create(api, "deals", name="Big")
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).json["stage"] == "qualified"
    assert other_api.patch(f"/deals/{deal['id']}", json={"stage": "proposal"}).status_code == 200
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).status_code == 200
    history = api.get(f"/deals/{deal['id']}/stage-history").json["data"]
    assert [(h["from"], h["to"], h["by"]) for h in history] == [
        (None, "lead", admin.id), ("lead", "qualified", admin.id), ("qualified", "proposal", other.id),
        ("proposal", "qualified", admin.id),
    ]
    stamps = [h["at"] for h in history]
    assert stamps == sorted(stamps)
    assert all(h["seconds_in_previous"] is not None for h in history[1:])


def test_changing_other_fields_adds_no_history(api):
    deal = create(api, "deals", name="Big")
    api.patch(f"/deals/{deal['id']}", json={"amount": "100"})
    api.patch(f"/deals/{deal['id']}", json={"stage": "lead", "name": "Bigger"})
    assert len(api.get(f"/deals/{deal['id']}/stage-history").json["data"]) == 1


def test_disallowed_transition_is_422_on_stage_and_nothing_written(api, app):
    deal = create(api, "deals", name="Big")
    error = assert_error(api.patch(f"/deals/{deal['id']}", json={"stage": "negotiation", "amount": "5"}), 422,
                         "validation_failed", fields=["stage"])
    assert "lead" in error["fields"]["stage"][0]
    row = sql(app, "SELECT stage, amount, version FROM deal WHERE id = :id", id=deal["id"])[0]
    assert (row[0], Decimal(str(row[1])), row[2]) == ("lead", Decimal("0"), 1)
    assert count(app, "stage_history", "record_id = :id", id=deal["id"]) == 1


def test_unknown_stage_is_422(api):
    deal = create(api, "deals", name="Big")
    assert_error(api.patch(f"/deals/{deal['id']}", json={"stage": "celebrating"}), 422, fields=["stage"])
    assert_error(api.post("/deals", json={"name": "Big", "stage": "celebrating"}), 422, fields=["stage"])


def test_unknown_pipeline_is_422(api, app):
    assert_error(api.post("/deals", json={"name": "Big", "pipeline": "nope"}), 422, fields=["pipeline"])
    assert count(app, "deal") == 0


def _to_proposal(api, deal_id):
    for stage in ("qualified", "proposal"):
        assert api.patch(f"/deals/{deal_id}", json={"stage": stage}).status_code == 200


def test_won_needs_a_close_reason(api, app):
    deal = create(api, "deals", name="Big")
    _to_proposal(api, deal["id"])
    error = assert_error(api.patch(f"/deals/{deal['id']}", json={"stage": "won"}), 422, fields=["stage"])
    assert "close_reason" in error["fields"]["stage"][0]
    assert_error(api.patch(f"/deals/{deal['id']}", json={"stage": "won", "close_reason": "luck"}), 422,
                 fields=["stage"])
    assert scalar(app, "SELECT stage FROM deal WHERE id = :id", id=deal["id"]) == "proposal"
    won = api.patch(f"/deals/{deal['id']}", json={"stage": "won", "close_reason": "price"})
    assert won.status_code == 200
    assert won.json["stage"] == "won" and won.json["closed_at"]
    last = api.get(f"/deals/{deal['id']}/stage-history").json["data"][-1]
    assert (last["from"], last["to"], last["reason"]) == ("proposal", "won", "price")
    reopened = api.patch(f"/deals/{deal['id']}", json={"stage": "negotiation"})
    assert reopened.status_code == 200 and reopened.json["closed_at"] is None


def test_lost_needs_a_close_reason(api):
    deal = create(api, "deals", name="Big")
    assert_error(api.patch(f"/deals/{deal['id']}", json={"stage": "lost"}), 422, fields=["stage"])
    lost = api.patch(f"/deals/{deal['id']}", json={"stage": "lost", "close_reason": "competitor"})
    assert lost.status_code == 200 and lost.json["closed_at"]
    assert_error(api.post("/deals", json={"name": "Born lost", "stage": "lost"}), 422, fields=["stage"])


def test_stage_history_of_missing_or_trashed_deal_is_404(api):
    assert_error(api.get("/deals/999999/stage-history"), 404)
    deal = create(api, "deals", name="Big")
    api.delete(f"/deals/{deal['id']}")
    assert_error(api.get(f"/deals/{deal['id']}/stage-history"), 404)


def test_plugin_stage_guard_vetoes_with_its_reason(with_plugins):
    app = with_plugins(refusing_plugin)
    client = api_client(app, make_user(app, "g@example.com", "Guard", is_admin=True))
    deal = create(client, "deals", name="Big")
    client.patch(f"/deals/{deal['id']}", json={"stage": "qualified"})
    error = assert_error(client.patch(f"/deals/{deal['id']}", json={"stage": "proposal"}), 422, fields=["stage"])
    assert "A proposal needs a description." in error["fields"]["stage"]
    assert scalar(app, "SELECT stage FROM deal WHERE id = :id", id=deal["id"]) == "qualified"
    ok = client.patch(f"/deals/{deal['id']}", json={"stage": "proposal", "description": "Scope attached"})
    assert ok.status_code == 200


# Forecast ---------------------------------------------------------------------------------


@pytest.fixture
def pipeline_deals(api, app, admin):
    seller = make_user(app, "seller@example.com", "Seller")
    north = create(api, "territories", name="North")["id"]
    south = create(api, "territories", name="South")["id"]

    def deal(name, amount, stage, month, owner=None, territory=None, currency=None, **extra):
        values = dict(name=name, amount=amount, stage=stage, expected_close_date=f"{month}-15",
                      owner_id=owner or admin.id, **extra)
        if territory:
            values["territory_id"] = territory
        if currency:
            values["currency"] = currency
        if stage in ("won", "lost"):
            values["close_reason"] = "price" if stage == "won" else "competitor"
        return create(api, "deals", **values)

    deal("A", "1000", "lead", "2025-01", territory=north)               # 10% -> 100
    deal("B", "2000", "qualified", "2025-01", territory=north)          # 25% -> 500
    deal("C", "400.50", "proposal", "2025-02", territory=south)         # 50% -> 200.25
    deal("D", "3000", "won", "2025-01", territory=north)                # won at 100%
    deal("E", "5000", "lost", "2025-01", territory=north)               # excluded
    deal("F", "1000", "negotiation", "2025-01", territory=north, currency="USD")  # 75% -> 750 USD
    deal("G", "500", "lead", "2025-01", owner=seller.id, territory=south)  # 10% -> 50
    gone = deal("H", "9999", "proposal", "2025-01", territory=north)
    assert api.delete(f"/deals/{gone['id']}").status_code == 204
    return {"admin": admin.id, "seller": seller.id, "north": north, "south": south}


def _rows(response, *keys):
    assert response.status_code == 200, response.get_data(as_text=True)
    return {tuple(row[k] for k in keys): row for row in response.json["data"]}


def test_forecast_by_month(api, pipeline_deals):
    response = api.get("/forecast?group_by=month")
    assert response.json["pipeline"] == "sales" and response.json["group_by"] == ["month"]
    rows = _rows(response, "month", "currency")
    assert set(rows) == {("2025-01", "EUR"), ("2025-01", "USD"), ("2025-02", "EUR")}
    jan = rows[("2025-01", "EUR")]
    assert jan["open_deals"] == 3
    assert Decimal(jan["open_amount"]) == Decimal("3500")
    assert Decimal(jan["weighted_amount"]) == Decimal("650")
    assert jan["won_deals"] == 1 and Decimal(jan["won_amount"]) == Decimal("3000")
    assert Decimal(jan["forecast_amount"]) == Decimal("3650")
    usd = rows[("2025-01", "USD")]
    assert Decimal(usd["weighted_amount"]) == Decimal("750") and Decimal(usd["forecast_amount"]) == Decimal("750")
    feb = rows[("2025-02", "EUR")]
    assert Decimal(feb["weighted_amount"]) == Decimal("200.25")
    assert feb["won_deals"] == 0 and Decimal(feb["won_amount"]) == Decimal("0")


def test_forecast_by_owner_and_territory(api, pipeline_deals):
    ids = pipeline_deals
    by_owner = _rows(api.get("/forecast?group_by=owner"), "owner_id", "currency")
    assert Decimal(by_owner[(ids["admin"], "EUR")]["weighted_amount"]) == Decimal("800.25")
    assert Decimal(by_owner[(ids["admin"], "EUR")]["forecast_amount"]) == Decimal("3800.25")
    assert Decimal(by_owner[(ids["seller"], "EUR")]["weighted_amount"]) == Decimal("50")
    assert Decimal(by_owner[(ids["admin"], "USD")]["weighted_amount"]) == Decimal("750")
    by_territory = _rows(api.get("/forecast?group_by=territory"), "territory_id", "currency")
    assert Decimal(by_territory[(ids["north"], "EUR")]["forecast_amount"]) == Decimal("3600")
    assert Decimal(by_territory[(ids["south"], "EUR")]["forecast_amount"]) == Decimal("250.25")
    assert by_territory[(ids["north"], "EUR")]["won_deals"] == 1


def test_forecast_default_groups_by_month_owner_territory(api, pipeline_deals):
    response = api.get("/forecast")
    assert response.json["group_by"] == ["month", "owner", "territory"]
    rows = _rows(response, "month", "owner_id", "territory_id", "currency")
    key = ("2025-01", pipeline_deals["admin"], pipeline_deals["north"], "EUR")
    assert Decimal(rows[key]["weighted_amount"]) == Decimal("600")
    assert Decimal(rows[key]["forecast_amount"]) == Decimal("3600")
    total = sum(Decimal(r["forecast_amount"]) for r in response.json["data"])
    assert total == Decimal("3650") + Decimal("750") + Decimal("200.25")


def test_forecast_month_bounds(api, pipeline_deals):
    rows = _rows(api.get("/forecast?group_by=month&from=2025-02"), "month", "currency")
    assert set(rows) == {("2025-02", "EUR")}
    rows = _rows(api.get("/forecast?group_by=month&to=2025-01"), "month", "currency")
    assert set(rows) == {("2025-01", "EUR"), ("2025-01", "USD")}
    assert_error(api.get("/forecast?from=January"), 400, fields=["from"])


def test_forecast_follows_stage_changes(api, pipeline_deals):
    c = api.get("/deals?name=C").json["data"][0]
    assert api.patch(f"/deals/{c['id']}", json={"stage": "won", "close_reason": "timing"}).status_code == 200
    feb = _rows(api.get("/forecast?group_by=month"), "month", "currency")[("2025-02", "EUR")]
    assert feb["open_deals"] == 0 and feb["won_deals"] == 1
    assert Decimal(feb["forecast_amount"]) == Decimal("400.50")


def test_forecast_bad_parameters_are_400(api):
    assert_error(api.get("/forecast?pipeline=nope"), 400, "bad_request", fields=["pipeline"])
    assert_error(api.get("/forecast?group_by=colour"), 400, fields=["group_by"])
    assert api.get("/forecast?pipeline=sales").status_code == 200


def test_forecast_with_no_deals_is_empty(api):
    response = api.get("/forecast")
    assert response.status_code == 200 and response.json["data"] == []
