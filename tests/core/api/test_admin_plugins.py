"""``/api/v1/admin/plugins``: administrators list, switch and configure plugins; everyone
else is refused; bad input answers 4xx naming what is wrong and changes nothing."""

import pytest
from accord.testing import api_client, make_user
from installed_helpers import installed_plugins  # noqa: F401  (fixture)


@pytest.fixture
def api(installed_plugins, app, admin):  # noqa: F811
    return api_client(app, admin)


def test_list_shows_every_installed_plugin_with_state_and_errors(api):
    listed = {p["name"]: p for p in api.get("/admin/plugins").json["data"]}
    assert listed["fixture_tickets"]["status"] == "disabled"
    assert listed["fixture_tickets"]["settings"]["first_response_hours"] == {
        "kind": "integer", "default": 4, "label": "Hours to first response", "help": "", "choices": None,
        "min": 1, "max": 72, "required": False, "value": 4}
    assert listed["fixture_broken"]["status"] == "broken"
    assert "missing licence key" in listed["fixture_broken"]["error"]
    assert api.get("/admin/plugins/fixture_escalation").json["requires"] == {"fixture_tickets": ">=1.0"}


def test_enable_disable_and_settings_round_trip(api):
    enabled = api.post("/admin/plugins/fixture_escalation/enable")
    assert enabled.status_code == 200, enabled.json
    assert enabled.json["enabled"] == ["fixture_tickets", "fixture_escalation"]
    assert api.get("/tickets").status_code == 200
    refused = api.post("/admin/plugins/fixture_tickets/disable")
    assert refused.status_code == 409
    assert "fixture_escalation requires fixture_tickets" in refused.json["error"]["message"]
    assert api.patch("/admin/plugins/fixture_tickets/settings", json={"first_response_hours": 12}).json == {
        "first_response_hours": 12, "greeting": "Thanks for writing"}
    assert api.get("/admin/plugins/fixture_tickets/settings").json["first_response_hours"] == 12
    assert api.post("/tickets", json={"subject": "Twelve"}).json["respond_within_hours"] == 12
    cascaded = api.post("/admin/plugins/fixture_tickets/disable?cascade=true")
    assert cascaded.json["disabled"] == ["fixture_escalation", "fixture_tickets"]
    assert api.get("/tickets").status_code == 404


@pytest.mark.parametrize("body, field, reason", [
    ({"first_response_hours": 100}, "first_response_hours", "at most 72"),
    ({"first_response_hours": True}, "first_response_hours", "integer"),
    ({"unknown": 1}, "unknown", "no setting"),
])
def test_bad_settings_answer_422_naming_the_setting(api, body, field, reason):
    answer = api.patch("/admin/plugins/fixture_tickets/settings", json=body)
    assert answer.status_code == 422
    assert reason in " ".join(answer.json["error"]["fields"][field])
    assert api.get("/admin/plugins/fixture_tickets/settings").json["first_response_hours"] == 4


def test_errors_for_unknown_broken_and_malformed_requests(api):
    assert api.get("/admin/plugins/nobody").status_code == 404
    assert api.post("/admin/plugins/nobody/enable").status_code == 404
    broken = api.post("/admin/plugins/fixture_broken/enable")
    assert broken.status_code == 409 and "missing licence key" in broken.json["error"]["message"]
    assert api.post("/admin/plugins/fixture_tickets/disable?cascade=maybe").status_code == 400
    assert api.patch("/admin/plugins/fixture_tickets/settings", data="[1",
                     headers={"Content-Type": "application/json"}).status_code == 400


def test_only_administrators_manage_plugins(api, app):
    clerk = api_client(app, make_user(app, "clerk@example.com", "Clerk"))
    assert clerk.get("/admin/plugins").status_code == 403
    assert clerk.post("/admin/plugins/fixture_tickets/enable").status_code == 403
    assert clerk.patch("/admin/plugins/fixture_tickets/settings", json={"greeting": "x"}).status_code == 403
    assert api.get("/admin/plugins/fixture_tickets").json["status"] == "disabled"
    assert app.test_client().get("/api/v1/admin/plugins").status_code == 401
