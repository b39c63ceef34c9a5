"""What the service desk adds around its tickets: dashboard widgets (their data and the
queries behind it), the navigation item, the help topic and the SLA partial."""

from datetime import datetime, timedelta, timezone

import jinja2
import pytest
from accord.core import current_accord
from accord.plugins.servicedesk import dashboard
from accord.plugins.servicedesk.sla import sla_status

PLUGIN = "servicedesk"
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(with_enabled_plugins):
    return with_enabled_plugins(PLUGIN)


def registered(app, kind):
    with app.test_request_context():
        return {item.get("key", item.get("label")): item
                for plugin, item in getattr(current_accord(app).catalog().registrations, kind) if plugin == PLUGIN}


def widget_data(app, key, admin, **kwargs):
    data = registered(app, "dashboard_widgets")[key]["data"]
    with app.test_request_context():
        return data(app, admin, **kwargs)


def new_ticket(api, stage=None, **values):
    ticket = api.post("/tickets", json={"subject": "Something broke", **values}).json
    if stage is not None:
        moved = api.patch(f"/tickets/{ticket['id']}", json={"stage": stage})
        assert moved.status_code == 200, moved.json
        ticket = moved.json
    return ticket


def test_open_tickets_are_counted_by_priority_most_urgent_first(app, api, admin):
    for priority, stage in [("urgent", None), ("urgent", "open"), ("high", "pending"), ("low", None),
                            ("low", "solved"), ("normal", "closed"), ("high", None)]:
        new_ticket(api, stage=stage, priority=priority)
    trashed = new_ticket(api, priority="normal")
    assert api.delete(f"/tickets/{trashed['id']}").status_code == 204

    data = widget_data(app, "servicedesk.open_by_priority", admin)
    assert data == {"total": 5, "priorities": [
        {"key": "urgent", "label": "Urgent", "count": 2}, {"key": "high", "label": "High", "count": 2},
        {"key": "normal", "label": "Normal", "count": 0}, {"key": "low", "label": "Low", "count": 1}]}


def test_overdue_counts_waiting_tickets_past_their_target_and_shows_the_oldest_few(app, api, admin):
    created = [new_ticket(api, subject=f"Waiting {n}") for n in range(7)]
    urgent = new_ticket(api, subject="Urgent and waiting", priority="urgent")
    new_ticket(api, stage="open", subject="Answered")
    trashed = new_ticket(api, subject="Binned")
    api.delete(f"/tickets/{trashed['id']}")

    assert widget_data(app, "servicedesk.overdue", admin)["count"] == 0
    soon = datetime.now(timezone.utc) + timedelta(hours=2)
    assert widget_data(app, "servicedesk.overdue", admin, now=soon) == {"count": 1, "oldest": [
        {"id": urgent["id"], "subject": "Urgent and waiting", "priority": "urgent",
         "first_response_due_at": urgent["first_response_due_at"]}]}

    later = widget_data(app, "servicedesk.overdue", admin, now=soon + timedelta(hours=8))
    assert later["count"] == 8
    assert [t["id"] for t in later["oldest"]] == [urgent["id"]] + [t["id"] for t in created[:dashboard.OLDEST_SHOWN - 1]]


def test_each_widget_reads_a_bounded_answer_in_at_most_two_statements(app, api, admin, count_statements):
    for _ in range(3):
        new_ticket(api)
    widgets = registered(app, "dashboard_widgets")
    with app.test_request_context():
        current_accord(app).catalog()
        with count_statements() as seen:
            widgets["servicedesk.open_by_priority"]["data"](app, admin)
        assert len(seen) == 1
        with count_statements() as seen:
            widgets["servicedesk.overdue"]["data"](app, admin, now=NOW)
        assert len(seen) == 2
        assert all("LIMIT" in statement or "count(" in statement for statement in seen)


def test_the_widgets_navigation_and_help_are_there_only_while_the_plugin_is_on(app):
    assert set(registered(app, "dashboard_widgets")) == {"servicedesk.open_by_priority", "servicedesk.overdue"}
    assert registered(app, "navigation") == {"Tickets": {"label": "Tickets", "url": "/tickets", "order": 40}}
    with app.app_context():
        from accord.core.lifecycle import disable

        disable(PLUGIN)
    assert registered(app, "dashboard_widgets") == {} and registered(app, "help_topics") == {}


def test_the_help_topic_explains_the_stages_and_the_targets_on_the_ticket_pages(app):
    topic = registered(app, "help_topics")["servicedesk.tickets"]
    assert topic["pages"] == ["/tickets"]
    for words in ("New", "Open", "Pending", "Solved", "Closed", "first_response_hours",
                  "urgent_first_response_hours", "overdue"):
        assert words in topic["body"], words


@pytest.mark.parametrize("responded, now, state, shown", [
    (None, NOW - timedelta(hours=1), "awaiting", "First response due"),
    (None, NOW + timedelta(minutes=1), "overdue", "Overdue:"),
    (NOW - timedelta(hours=2), NOW, "met", "within the target"),
    (NOW + timedelta(hours=2), NOW, "missed", "after the target"),
])
def test_the_sla_partial_shows_where_a_ticket_stands(app, responded, now, state, shown):
    templates = current_accord(app).installed[PLUGIN].manifest.templates
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True)
    sla = sla_status({"first_response_due_at": NOW, "first_responded_at": responded}, now)
    assert sla["state"] == state
    html = environment.get_template("servicedesk/ticket_sla.html").render(sla=sla)
    assert f"ticket-sla--{state}" in html and shown in html
    assert '<time datetime="2030-05-01T12:00:00+00:00">2030-05-01 12:00 UTC</time>' in html


def test_the_sla_partial_without_a_target(app):
    templates = current_accord(app).installed[PLUGIN].manifest.templates
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True)
    html = environment.get_template("servicedesk/ticket_sla.html").render(sla=sla_status({}, NOW))
    assert "No first-response target." in html
