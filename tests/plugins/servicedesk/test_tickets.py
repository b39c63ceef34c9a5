"""Tickets through the API with the service desk switched on: first-response targets from
the settings, the support pipeline's transitions, and the times a ticket keeps."""

from datetime import datetime, timedelta

import pytest
from accord.core.errors import RecordInvalid
from accord.core.lifecycle import update_settings

PLUGIN = "servicedesk"


@pytest.fixture
def app(with_enabled_plugins):
    """Replaces accord.testing's core-only app, so its admin, api and make_record use this one."""
    return with_enabled_plugins(PLUGIN)


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def settle(app, **changes):
    with app.app_context():
        return update_settings(PLUGIN, changes, by="test")


def new_ticket(api, **values):
    created = api.post("/tickets", json={"subject": "The printer is on fire", **values})
    assert created.status_code == 201, created.json
    return created.json


def move(api, ticket, stage, **values):
    return api.patch(f"/tickets/{ticket['id']}", json={"stage": stage, **values})


def test_a_new_ticket_waits_in_new_and_is_due_for_a_first_response_after_the_default_hours(api):
    ticket = new_ticket(api, description="Smoke everywhere", channel="phone")
    assert ticket["pipeline"] == "support" and ticket["stage"] == "new"
    assert ticket["priority"] == "normal"
    assert when(ticket["first_response_due_at"]) == when(ticket["created_at"]) + timedelta(hours=8)
    assert ticket["first_responded_at"] is None and ticket["closed_at"] is None


def test_an_urgent_ticket_gets_the_urgent_target(api):
    ticket = new_ticket(api, priority="urgent")
    assert when(ticket["first_response_due_at"]) == when(ticket["created_at"]) + timedelta(hours=1)


def test_new_tickets_follow_a_changed_setting_and_older_ones_keep_their_target(app, api):
    before = new_ticket(api)
    assert settle(app, first_response_hours=24, urgent_first_response_hours=2) == {
        "first_response_hours": 24, "urgent_first_response_hours": 2}

    normal = new_ticket(api, priority="low")
    urgent = new_ticket(api, priority="urgent")
    assert when(normal["first_response_due_at"]) == when(normal["created_at"]) + timedelta(hours=24)
    assert when(urgent["first_response_due_at"]) == when(urgent["created_at"]) + timedelta(hours=2)
    assert api.get(f"/tickets/{before['id']}").json["first_response_due_at"] == before["first_response_due_at"]


@pytest.mark.parametrize("changes, field", [
    ({"first_response_hours": 0}, "first_response_hours"),
    ({"first_response_hours": 721}, "first_response_hours"),
    ({"urgent_first_response_hours": 73}, "urgent_first_response_hours"),
    ({"first_response_hours": "soon"}, "first_response_hours"),
])
def test_settings_outside_their_bounds_are_refused(app, changes, field):
    with pytest.raises(RecordInvalid) as refused:
        settle(app, **changes)
    assert field in refused.value.fields


def test_raising_a_waiting_ticket_to_urgent_moves_its_target_and_a_responded_one_keeps_it(api):
    waiting = new_ticket(api)
    raised = api.patch(f"/tickets/{waiting['id']}", json={"priority": "urgent"}).json
    assert when(raised["first_response_due_at"]) == when(waiting["created_at"]) + timedelta(hours=1)
    lowered = api.patch(f"/tickets/{waiting['id']}", json={"priority": "high"}).json
    assert when(lowered["first_response_due_at"]) == when(waiting["created_at"]) + timedelta(hours=8)

    answered = new_ticket(api)
    move(api, answered, "open")
    after = api.patch(f"/tickets/{answered['id']}", json={"priority": "urgent"}).json
    assert after["first_response_due_at"] == answered["first_response_due_at"]


def test_a_ticket_moves_through_the_support_pipeline(api):
    ticket = new_ticket(api)
    for stage in ("open", "pending", "open", "solved", "open", "pending", "solved", "closed"):
        moved = move(api, ticket, stage)
        assert moved.status_code == 200, (stage, moved.json)
        assert moved.json["stage"] == stage
    history = api.get(f"/tickets/{ticket['id']}/stage-history").json["data"]
    assert [(h["from"], h["to"]) for h in history][-2:] == [("pending", "solved"), ("solved", "closed")]


@pytest.mark.parametrize("path, refused", [
    (("solved", "closed"), "open"),        # closed is final
    (("solved",), "pending"),              # a solved ticket is reopened, not parked
    (("open",), "new"),                    # nothing goes back to new
])
def test_a_move_the_pipeline_does_not_allow_answers_422_and_writes_nothing(api, path, refused):
    ticket = new_ticket(api)
    for stage in path:
        assert move(api, ticket, stage).status_code == 200
    before = api.get(f"/tickets/{ticket['id']}").json

    answer = move(api, ticket, refused)
    assert answer.status_code == 422, answer.json
    assert f"cannot move from '{path[-1]}' to '{refused}'" in answer.json["error"]["fields"]["stage"][0]
    assert api.get(f"/tickets/{ticket['id']}").json == before


def test_an_unknown_stage_is_refused_naming_the_stages(api):
    answer = api.post("/tickets", json={"subject": "Where does this go?", "stage": "escalated"})
    assert answer.status_code == 422
    assert "new, open, pending, solved, closed" in answer.json["error"]["fields"]["stage"][0]


def test_the_first_response_is_recorded_once_when_the_ticket_leaves_new(api):
    ticket = new_ticket(api)
    assert api.patch(f"/tickets/{ticket['id']}", json={"description": "More smoke"}).json["first_responded_at"] is None

    opened = move(api, ticket, "open").json
    assert opened["first_responded_at"] == opened["updated_at"]
    for stage in ("pending", "open", "solved", "open"):
        later = move(api, ticket, stage).json
        assert later["first_responded_at"] == opened["first_responded_at"]


def test_a_ticket_logged_past_new_was_responded_to_when_it_was_logged(api):
    ticket = new_ticket(api, stage="solved", channel="phone")
    assert ticket["first_responded_at"] == ticket["created_at"]
    assert ticket["closed_at"] is not None


def test_first_response_times_are_read_only(api):
    answer = api.post("/tickets", json={"subject": "Sneaky", "first_responded_at": "2020-01-01T00:00:00Z",
                                        "first_response_due_at": "2030-01-01T00:00:00Z"})
    assert answer.status_code == 422
    assert set(answer.json["error"]["fields"]) == {"first_responded_at", "first_response_due_at"}


def test_resolved_at_is_set_when_solved_kept_when_closed_and_cleared_when_reopened(api):
    ticket = new_ticket(api)
    solved = move(api, ticket, "solved").json
    assert solved["closed_at"] is not None
    reopened = move(api, ticket, "open").json
    assert reopened["closed_at"] is None
    solved_again = move(api, ticket, "solved").json
    assert when(solved_again["closed_at"]) > when(solved["closed_at"])
    closed = move(api, ticket, "closed", close_reason="customer confirmed").json
    assert closed["closed_at"] == solved_again["closed_at"]
    history = api.get(f"/tickets/{ticket['id']}/stage-history").json["data"]
    assert history[-1]["reason"] == "customer confirmed"


def test_a_ticket_refers_to_live_contacts_and_organizations(api):
    organization = api.post("/organizations", json={"name": "Acme"}).json
    contact = api.post("/contacts", json={"last_name": "Doe", "organization_id": organization["id"]}).json
    ticket = new_ticket(api, contact_id=contact["id"], organization_id=organization["id"])
    assert (ticket["contact_id"], ticket["organization_id"]) == (contact["id"], organization["id"])
    assert api.get(f"/tickets?contact_id={contact['id']}").json["data"][0]["id"] == ticket["id"]

    answer = api.post("/tickets", json={"subject": "Nobody", "contact_id": 999_999})
    assert answer.status_code == 422 and "contact_id" in answer.json["error"]["fields"]


def test_a_ticket_needs_a_subject_and_known_choices(api):
    answer = api.post("/tickets", json={"priority": "whenever", "channel": "pigeon"})
    assert answer.status_code == 422
    assert set(answer.json["error"]["fields"]) == {"subject", "priority", "channel"}


def test_tickets_are_described_and_searchable(api):
    described = {t["key"]: t for t in api.get("/types").json["data"]}["ticket"]
    assert described["pipeline"] == "support" and described["timeline"] is True
    pipeline = {p["key"]: p for p in api.get("/pipelines").json["data"]}["support"]
    assert [s["key"] for s in pipeline["stages"]] == ["new", "open", "pending", "solved", "closed"]
    assert [s["outcome"] for s in pipeline["stages"]] == ["open", "open", "open", "won", "won"]

    ticket = new_ticket(api, subject="Invoice 4711 is wrong", description="charged twice for the toner")
    assert [t["id"] for t in api.get("/tickets?q=toner").json["data"]] == [ticket["id"]]
    found = api.get("/search?q=invoice").json["data"]
    assert {(hit["type"], hit["id"]) for hit in found} >= {("ticket", ticket["id"])}


def test_a_ticket_without_a_priority_is_normal(api):
    ticket = new_ticket(api, priority=None)
    assert ticket["priority"] == "normal"
    assert api.patch(f"/tickets/{ticket['id']}", json={"priority": None}).json["priority"] == "normal"
