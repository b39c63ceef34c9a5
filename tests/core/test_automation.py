"""Automation rules (``core/automation.py``) on a real database: every trigger, condition op
and action; the three doors (API, web form, import) fire them alike; a failing rule rolls
back alone and leaves the triggering write committed with a failed run; rules' writes are
audited as the rule's; a rule that sets the field it watches runs once; a write of a type
without rules asks nothing of the database; notifications go out by SMTP or to the outbox."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from accord.core import automation, jobs
from accord.core.automation import add_rule, holds, remove_rule, rule_to_spec, validate_rule
from accord.core.errors import RecordInvalid
from accord.core.models import AutomationRule
from accord.core.records import write_unit
from accord.core.registry import current_accord
from accord.testing import api_client, make_user
from api_helpers import count, create, sql
from web_helpers import sign_in

TASK_RULE = {"key": "big_deal_call", "label": "Call about big deals", "record_type": "deal", "trigger": "created",
             "conditions": [{"field": "amount", "op": "gte", "value": 1000}],
             "actions": [{"do": "create_task", "subject": "Call the buyer", "due_in_days": 2, "assign_to": "owner"}]}


def add(app, origin="local", **spec):
    """Validate and store a rule as a pack or an admin would."""
    with app.test_request_context():
        with write_unit() as session:
            validate_rule(current_accord(app).catalog(), spec)
            add_rule(session, spec, origin)


def runs(app, rule=None):
    where = "WHERE rule_key = :rule" if rule else ""
    return sql(app, f"SELECT rule_key, record_type, record_id, status, detail FROM automation_run {where} ORDER BY id",
               rule=rule)


def tasks(app, related_type=None, related_id=None):
    return sql(app, "SELECT id, kind, subject, owner_id, due_at, related_type, related_id FROM activity "
                    "WHERE related_type = :t AND related_id = :i ORDER BY id", t=related_type, i=related_id)


# Triggers ---------------------------------------------------------------------------------


def test_created_rule_makes_a_task_for_the_owner_due_in_days(app, api, admin):
    add(app, **TASK_RULE)
    small = create(api, "deals", name="Small", amount="10")
    big = create(api, "deals", name="Big", amount="5000")
    assert tasks(app, "deal", small["id"]) == []
    [task] = tasks(app, "deal", big["id"])
    assert task.kind == "task" and task.subject == "Call the buyer" and task.owner_id == admin.id
    due = task.due_at if isinstance(task.due_at, datetime) else datetime.fromisoformat(str(task.due_at))
    due = due.replace(tzinfo=timezone.utc) if due.tzinfo is None else due
    assert abs(due - (datetime.now(timezone.utc) + timedelta(days=2))) < timedelta(minutes=1)
    assert [(r.rule_key, r.record_id, r.status) for r in runs(app)] == [("big_deal_call", big["id"], "ok")]
    assert "created task" in runs(app)[0].detail


def test_stage_entered_fires_when_the_record_enters_the_stage(app, api):
    add(app, key="qualified_call", label="Qualified", record_type="deal", trigger="stage_entered", stage="qualified",
        actions=[{"do": "create_activity", "kind": "note", "subject": "Qualified"}])
    deal = create(api, "deals", name="D")
    assert runs(app) == []
    assert api.patch(f"/deals/{deal['id']}", json={"description": "x"}).status_code == 200
    assert runs(app) == []
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).status_code == 200
    assert [(a.kind, a.subject) for a in tasks(app, "deal", deal["id"])] == [("note", "Qualified")]
    assert api.patch(f"/deals/{deal['id']}", json={"description": "still qualified"}).status_code == 200
    assert len(runs(app)) == 1
    direct = create(api, "deals", name="Straight in", stage="qualified")
    assert [r.record_id for r in runs(app)] == [deal["id"], direct["id"]]


def test_field_changed_fires_only_when_the_value_really_changes(app, api):
    add(app, key="title_changed", label="Title", record_type="contact", trigger="field_changed", field="job_title",
        actions=[{"do": "create_activity", "kind": "note", "subject": "New job title"}])
    contact = create(api, "contacts", last_name="Lovelace", job_title="Analyst")
    assert runs(app) == []
    api.patch(f"/contacts/{contact['id']}", json={"job_title": "Analyst"})
    api.patch(f"/contacts/{contact['id']}", json={"city": "London"})
    assert runs(app) == []
    api.patch(f"/contacts/{contact['id']}", json={"job_title": "Engineer"})
    assert [r.status for r in runs(app)] == ["ok"]


# Conditions -------------------------------------------------------------------------------

DEAL = {"name": "Harbour view", "amount": Decimal("1500"), "stage": "proposal", "currency": "EUR",
        "expected_close_date": date(2030, 6, 1), "description": None, "close_reason": ""}


@pytest.mark.parametrize("field, op, value, expected", [
    ("stage", "eq", "proposal", True), ("stage", "eq", "lead", False),
    ("stage", "ne", "lead", True), ("stage", "ne", "proposal", False),
    ("amount", "gt", 1000, True), ("amount", "gt", "1500", False),
    ("amount", "gte", "1500", True), ("amount", "gte", 1500.01, False),
    ("amount", "lt", 2000, True), ("amount", "lt", 1500, False),
    ("amount", "lte", 1500, True), ("amount", "lte", "1499.99", False),
    ("expected_close_date", "gt", "2030-01-01", True), ("expected_close_date", "lt", "2030-01-01", False),
    ("stage", "in", ["proposal", "negotiation"], True), ("stage", "in", ["lead"], False),
    ("stage", "not_in", ["lead", "won"], True), ("stage", "not_in", ["proposal"], False),
    ("description", "is_empty", None, True), ("close_reason", "is_empty", None, True), ("name", "is_empty", None, False),
    ("name", "is_set", None, True), ("description", "is_set", None, False),
    ("name", "contains", "HARBOUR", True), ("name", "contains", "castle", False), ("description", "contains", "x", False),
])
def test_every_condition_op(app, field, op, value, expected):
    with app.test_request_context():
        rt = current_accord(app).catalog().type("deal")
        condition = {"field": field, "op": op} | ({} if value is None else {"value": value})
        assert holds(rt, condition, DEAL) is expected


def test_contains_on_a_multi_choice_field_and_eq_on_a_boolean(app, api):
    create_field = api.post("/types/contact/fields", json={"name": "tags", "kind": "multi_choice",
                                                            "choices": ["vip", "press"]})
    assert create_field.status_code == 201, create_field.json
    with app.test_request_context():
        contact, activity = (current_accord(app).catalog().type(key) for key in ("contact", "activity"))
        assert holds(contact, {"field": "tags", "op": "contains", "value": "vip"}, {"tags": ["press", "vip"]})
        assert not holds(contact, {"field": "tags", "op": "contains", "value": "vip"}, {"tags": None})
        assert holds(activity, {"field": "done", "op": "eq", "value": True}, {"done": True})
        assert holds(activity, {"field": "done", "op": "eq", "value": "false"}, {"done": False})


def test_conditions_are_read_after_the_write(app, api):
    add(app, key="lost_note", label="Lost", record_type="deal", trigger="field_changed", field="description",
        conditions=[{"field": "stage", "op": "eq", "value": "qualified"}, {"field": "amount", "op": "gt", "value": 10}],
        actions=[{"do": "create_activity", "kind": "note", "subject": "Seen"}])
    deal = create(api, "deals", name="D", amount="50")
    api.patch(f"/deals/{deal['id']}", json={"description": "one"})
    assert runs(app) == []
    api.patch(f"/deals/{deal['id']}", json={"description": "two", "stage": "qualified"})
    assert [r.status for r in runs(app)] == ["ok"]


# Actions ----------------------------------------------------------------------------------


def test_create_task_for_a_user_named_by_email_due_in_hours(app, api):
    sam = make_user(app, "sam@example.com", "Sam Seller")
    add(app, key="hand_over", label="Hand over", record_type="contact", trigger="created",
        actions=[{"do": "create_task", "subject": "Welcome call", "due_in_hours": 3, "assign_to": "Sam@Example.com"}])
    contact = create(api, "contacts", last_name="Hopper")
    [task] = tasks(app, "contact", contact["id"])
    assert task.owner_id == sam.id and task.subject == "Welcome call"
    timeline = api.get(f"/contacts/{contact['id']}/timeline").json["data"]
    assert [entry["subject"] for entry in timeline] == ["Welcome call"]


def test_set_field_and_assign_owner_answer_in_the_response(app, api):
    sam = make_user(app, "sam@example.com", "Sam Seller")
    add(app, key="route_press", label="Route press", record_type="contact", trigger="created",
        conditions=[{"field": "job_title", "op": "contains", "value": "journalist"}],
        actions=[{"do": "set_field", "field": "description", "value": "Press: answer within the hour"},
                 {"do": "assign_owner", "user": "sam@example.com"}])
    contact = create(api, "contacts", last_name="Bly", job_title="Journalist")
    assert contact["description"] == "Press: answer within the hour" and contact["owner_id"] == sam.id
    stored = api.get(f"/contacts/{contact['id']}")
    assert stored.json == contact and stored.headers["ETag"] == f'"contact-{contact["id"]}-{contact["version"]}"'


def test_notify_the_owner_lands_in_the_outbox_by_default(app, api):
    add(app, key="won_mail", label="Won", record_type="deal", trigger="created",
        actions=[{"do": "notify", "to": "owner", "subject": "A deal was opened", "body": "Have a look."}])
    deal = create(api, "deals", name="Lighthouse")
    assert count(app, "job", "name = :name", name=automation.NOTIFY_JOB) == 1
    jobs.run_due(app)
    [message] = (Path(app.instance_path) / "outbox").glob("*.eml")
    parsed = message_from_bytes(message.read_bytes(), policy=policy.default)
    assert parsed["To"] == "admin@example.com" and parsed["Subject"] == "A deal was opened"
    assert "Have a look." in parsed.get_content() and f"Lighthouse (#{deal['id']})" in parsed.get_content()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def test_notify_an_address_sends_real_email_by_smtp(accord_app_factory):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app = accord_app_factory(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_STARTTLS=False)
        api = api_client(app, make_user(app, "admin@example.com", "Ada Admin", is_admin=True))
        add(app, key="vip_mail", label="VIP", record_type="contact", trigger="created",
            actions=[{"do": "notify", "to": "desk@example.org", "subject": "New VIP", "body": "Greet them."}])
        create(api, "contacts", last_name="Curie")
        jobs.run_due(app)
    finally:
        controller.stop()
    [(recipients, message)] = inbox.messages
    assert recipients == ["desk@example.org"] and message["Subject"] == "New VIP"
    assert "Greet them." in message.get_content()


# The three doors --------------------------------------------------------------------------


def test_rules_fire_on_api_web_form_and_import_writes_alike(app, api, tmp_path):
    from accord.core.transfer import import_file

    add(app, key="welcome", label="Welcome", record_type="contact", trigger="created",
        actions=[{"do": "create_task", "subject": "Say hello", "due_in_days": 1}])
    by_api = create(api, "contacts", last_name="Api")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    answer = web.post("/contacts/new", {"last_name": "Web"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    path = tmp_path / "contacts.csv"
    path.write_text("last_name\nImported One\nImported Two\n", encoding="utf-8")
    with app.test_request_context():
        assert import_file("contact", str(path)) == 2
    contact_ids = [row.id for row in sql(app, "SELECT id FROM contact ORDER BY id")]
    assert len(contact_ids) == 4 and contact_ids[0] == by_api["id"]
    assert [r.record_id for r in runs(app)] == contact_ids
    assert all(len(tasks(app, "contact", contact_id)) == 1 for contact_id in contact_ids)
    sources = sql(app, "SELECT a.source FROM audit_entry a WHERE a.record_type = 'contact' AND a.action = 'created' "
                       "ORDER BY a.record_id")
    assert [row.source for row in sources] == ["api", "web", "import", "import"]


# Failures, audit, loops ---------------------------------------------------------------------


def test_a_failing_rule_rolls_back_alone_and_the_write_commits(app, api):
    add(app, key="bad_currency", label="Bad", record_type="deal", trigger="created",
        actions=[{"do": "create_task", "subject": "Never kept"}, {"do": "set_field", "field": "currency", "value": "eur"}])
    add(app, key="good_note", label="Good", record_type="deal", trigger="created",
        actions=[{"do": "create_activity", "kind": "note", "subject": "Kept"}])
    deal = create(api, "deals", name="Still here")
    assert deal["currency"] == "EUR" and deal["version"] == 1
    assert [(a.kind, a.subject) for a in tasks(app, "deal", deal["id"])] == [("note", "Kept")]
    failed, ok = runs(app)
    assert (failed.rule_key, failed.status, ok.rule_key, ok.status) == ("bad_currency", "failed", "good_note", "ok")
    assert "currency" in failed.detail and "ISO 4217" in failed.detail
    audited = sql(app, "SELECT record_type, source FROM audit_entry ORDER BY id")
    assert [tuple(row) for row in audited] == [("deal", "api"), ("activity", "automation")]
    assert api.get(f"/deals/{deal['id']}").json["version"] == 1


def test_an_action_naming_a_deactivated_user_fails_the_rule_not_the_write(app, api):
    sam = make_user(app, "sam@example.com", "Sam Seller")
    add(app, key="to_sam", label="To Sam", record_type="contact", trigger="created",
        actions=[{"do": "assign_owner", "user": "sam@example.com"}])
    assert api.patch(f"/users/{sam.id}", json={"is_active": False}).status_code == 200
    contact = create(api, "contacts", last_name="Orphan")
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    [run] = runs(app)
    assert run.status == "failed" and "No active user has the email 'sam@example.com'" in run.detail


def test_rule_writes_are_audited_as_the_rule(app, api):
    add(app, key="stamp", label="Stamp", record_type="contact", trigger="created",
        actions=[{"do": "set_field", "field": "description", "value": "stamped"},
                 {"do": "create_task", "subject": "Check"}])
    contact = create(api, "contacts", last_name="Audit")
    trail = api.get(f"/contacts/{contact['id']}/audit").json["data"]
    assert sorted((e["action"], e["source"], e["actor_name"]) for e in trail) == [
        ("created", "api", "Ada Admin"), ("updated", "automation", "rule stamp")]
    [update] = [e for e in trail if e["action"] == "updated"]
    assert update["changes"] == {"description": [None, "stamped"]}
    entries = api.get("/audit?record_type=activity").json["data"]
    assert [(e["source"], e["actor_id"]) for e in entries] == [("automation", None)]


def test_a_rule_setting_the_field_it_watches_runs_once(app, api):
    add(app, key="shout", label="Shout", record_type="contact", trigger="field_changed", field="job_title",
        actions=[{"do": "set_field", "field": "job_title", "value": "Chief"}])
    contact = create(api, "contacts", last_name="Loop", job_title="Clerk")
    changed = api.patch(f"/contacts/{contact['id']}", json={"job_title": "Manager"})
    assert changed.status_code == 200 and changed.json["job_title"] == "Chief" and changed.json["version"] == 3
    assert [r.status for r in runs(app)] == ["ok"]


def test_disabled_and_removed_rules_do_not_fire(app, api):
    add(app, enabled=False, **TASK_RULE)
    create(api, "deals", name="Big", amount="5000")
    assert runs(app) == []
    with app.test_request_context():
        with write_unit() as session:
            assert remove_rule(session, "big_deal_call") is True
            assert remove_rule(session, "big_deal_call") is False
    assert count(app, "automation_rule") == 0


def test_a_write_of_a_type_without_rules_asks_the_database_nothing_more(app, api, count_statements):
    add(app, **TASK_RULE)
    create(api, "contacts", last_name="Warm")
    with count_statements() as seen:
        create(api, "contacts", last_name="Cold")
    assert not [s for s in seen if "automation" in s]


# Rules as data ----------------------------------------------------------------------------


def test_a_spec_round_trips_through_a_row(app):
    spec = {**TASK_RULE, "conditions": [{"field": "expected_close_date", "op": "lt", "value": date(2031, 1, 1)}],
            "enabled": False}
    add(app, origin="pack:real_estate", **spec)
    with app.app_context():
        from accord.core.db import db
        row = db.session.query(AutomationRule).one()
        assert row.origin == "pack:real_estate"
        assert rule_to_spec(row) == {**spec, "conditions": [{"field": "expected_close_date", "op": "lt",
                                                             "value": "2031-01-01"}]}


@pytest.mark.parametrize("change, fields", [
    ({"record_type": "spaceship"}, ["record_type"]),
    ({"key": "Bad Key"}, ["key"]),
    ({"label": " "}, ["label"]),
    ({"colour": "red"}, ["colour"]),
    ({"trigger": "deleted"}, ["trigger"]),
    ({"trigger": "stage_entered"}, ["stage"]),
    ({"trigger": "stage_entered", "stage": "sold"}, ["stage"]),
    ({"trigger": "field_changed", "field": "colour"}, ["field"]),
    ({"stage": "won"}, ["stage"]),
    ({"conditions": [{"field": "colour", "op": "eq", "value": 1}]}, ["conditions.0.field"]),
    ({"conditions": [{"field": "amount", "op": "about", "value": 1}]}, ["conditions.0.op"]),
    ({"conditions": [{"field": "amount", "op": "gt", "value": "lots"}]}, ["conditions.0.value"]),
    ({"conditions": [{"field": "name", "op": "gt", "value": "m"}]}, ["conditions.0.op"]),
    ({"conditions": [{"field": "stage", "op": "in", "value": "lead"}]}, ["conditions.0.value"]),
    ({"conditions": [{"field": "amount", "op": "eq"}]}, ["conditions.0.value"]),
    ({"actions": []}, ["actions"]),
    ({"actions": [{"do": "explode"}]}, ["actions.0.do"]),
    ({"actions": [{"do": "create_task"}]}, ["actions.0.subject"]),
    ({"actions": [{"do": "create_task", "subject": "x", "due_in_days": -1}]}, ["actions.0.due_in_days"]),
    ({"actions": [{"do": "create_task", "subject": "x", "assign_to": "nobody@example.com"}]}, ["actions.0.assign_to"]),
    ({"actions": [{"do": "create_activity", "kind": "fax", "subject": "x"}]}, ["actions.0.kind"]),
    ({"actions": [{"do": "set_field", "field": "amount", "value": "lots"}]}, ["actions.0.value"]),
    ({"actions": [{"do": "set_field", "field": "closed_at", "value": None}]}, ["actions.0.field"]),
    ({"actions": [{"do": "assign_owner", "user": "ghost@example.com"}]}, ["actions.0.user"]),
    ({"actions": [{"do": "notify", "to": "not an address", "subject": "s", "body": "b"}]}, ["actions.0.to"]),
    ({"actions": [{"do": "notify", "to": "owner", "subject": "s", "body": "b", "cc": "x"}]}, ["actions.0.cc"]),
])
def test_validate_rule_names_each_problem(app, admin, change, fields):
    with app.test_request_context():
        with pytest.raises(RecordInvalid) as refused:
            validate_rule(current_accord(app).catalog(), {**TASK_RULE, **change})
    assert set(fields) <= set(refused.value.fields), refused.value.fields


def test_rule_changes_reach_the_cached_rules(app, api):
    add(app, **TASK_RULE)
    create(api, "deals", name="First", amount="5000")
    with app.test_request_context():
        with write_unit() as session:
            remove_rule(session, TASK_RULE["key"])
    create(api, "deals", name="Second", amount="5000")
    assert len(runs(app)) == 1
