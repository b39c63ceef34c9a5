"""The automation rule editor in ``/admin/automation``: an administrator makes a rule through
the form (rows of conditions and actions, no JSON) and it fires on a record made through the
web UI; a refused form shows each error on its row, keeps what was typed and stores nothing;
local rules are edited and deleted; a pack's rule is read-only here but can be switched and
copied as a local rule; a rule's failed runs have a page; CSRF and admin-only everywhere."""

import json
import re

from accord.core.automation import add_rule
from accord.core.records import write_unit
from api_helpers import count, create, scalar, sql
from web_helpers import sign_in

PACK_RULE = {"key": "viewing_call", "label": "Call after a viewing", "record_type": "deal", "trigger": "stage_entered",
             "stage": "qualified", "conditions": [{"field": "amount", "op": "gte", "value": 1000}],
             "actions": [{"do": "create_task", "subject": "Call the buyer", "due_in_days": 1}]}
LOCAL_RULE = {"key": "stamp", "label": "Stamp new contacts", "record_type": "contact", "trigger": "created",
              "actions": [{"do": "set_field", "field": "description", "value": "stamped"}]}


def add(app, spec, origin):
    with app.test_request_context(), write_unit() as session:
        add_rule(session, spec, origin)


def page(answer, status=200):
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:2000])
    return answer.get_data(as_text=True)


def rule_form(**overrides):
    """A filled rule form: every input the browser would post (blank rows included)."""
    form = {"key": "vip_follow_up", "label": "Follow up VIP contacts", "record_type": "contact",
            "trigger": "created", "stage": "", "field": "", "enabled": "1",
            "conditions-0-field": "job_title", "conditions-0-op": "contains", "conditions-0-value": "chief",
            "conditions-1-field": "", "conditions-1-op": "eq", "conditions-1-value": "",
            "actions-0-do": "create_task", "actions-0-subject": "Call the new VIP", "actions-0-due_in_days": "2",
            "actions-0-due_in_hours": "", "actions-0-assign_to": "", "actions-0-kind": "", "actions-0-field": "",
            "actions-0-value": "", "actions-0-user": "", "actions-0-to": "", "actions-0-body": "",
            "actions-1-do": "set_field", "actions-1-field": "description", "actions-1-value": "VIP",
            "actions-2-do": "", "actions-2-subject": ""}
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


def shown_errors(html):
    """The error messages a page shows (for failure messages)."""
    return re.findall(r'class="(?:field|form)-error"[^>]*>([^<]*)', html)


def stored(app, key):
    rows = sql(app, "SELECT key, label, origin, enabled, trigger, trigger_value, conditions, actions "
                    "FROM automation_rule WHERE key = :key", key=key)
    return rows[0] if rows else None


def as_json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_a_rule_made_through_the_form_fires_on_a_contact_made_through_the_web(app, admin):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    form = page(web.get("/admin/automation/new-rule"))
    assert 'name="conditions-0-field"' in form and 'name="actions-0-do"' in form and "automation.js" in form
    assert '<option value="job_title">' in form and '<option value="create_task">Create a task</option>' in form
    answer = web.post("/admin/automation/new-rule", rule_form())
    assert answer.status_code == 302 and answer.location.endswith("/admin/automation/vip_follow_up"), page(answer, 302)
    row = stored(app, "vip_follow_up")
    assert (row.origin, bool(row.enabled), row.trigger) == ("local", True, "created")
    assert as_json(row.conditions) == [{"field": "job_title", "op": "contains", "value": "chief"}]
    assert as_json(row.actions) == [{"do": "create_task", "subject": "Call the new VIP", "due_in_days": 2},
                                    {"do": "set_field", "field": "description", "value": "VIP"}]
    shown = page(web.get(answer.location))
    assert "Added the rule Follow up VIP contacts" in shown and "Create the task “Call the new VIP”, due in 2 days" in shown

    made = web.post("/contacts/new", {"first_name": "Ada", "last_name": "Lovelace", "job_title": "Chief analyst"})
    assert made.status_code == 302
    contact_id = int(made.location.rsplit("/", 1)[1])
    assert scalar(app, "SELECT description FROM contact WHERE id = :i", i=contact_id) == "VIP"
    assert scalar(app, "SELECT subject FROM activity WHERE related_type = 'contact' AND related_id = :i",
                  i=contact_id) == "Call the new VIP"
    web.post("/contacts/new", {"first_name": "Bob", "last_name": "Builder", "job_title": "Clerk"})
    assert count(app, "automation_run", "rule_key = 'vip_follow_up'") == 1
    listing = page(web.get("/admin/automation"))
    assert 'id="rule-vip_follow_up"' in listing and 'href="/admin/automation/vip_follow_up"' in listing


def test_a_stage_rule_lists_the_type_stages_and_the_key_comes_from_the_label(app, admin):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    form = page(web.get("/admin/automation/new-rule?type=deal"))
    assert '<option value="qualified">' in form and '<option value="amount">' in form
    refreshed = page(web.post("/admin/automation/new-rule", rule_form(
        key="", label="Won deals", record_type="deal", refresh="1", **{"conditions-0-field": "", "conditions-0-value": ""})))
    assert 'value="Won deals"' in refreshed and '<option value="won">' in refreshed
    assert count(app, "automation_rule") == 0
    answer = web.post("/admin/automation/new-rule", rule_form(
        key="", label="Won deals", record_type="deal", trigger="stage_entered", stage="won", field="amount",
        **{"conditions-0-field": "amount", "conditions-0-op": "in", "conditions-0-value": "10, 20",
           "actions-1-field": "description", "actions-1-value": "Send the invoice"}))
    assert answer.status_code == 302, page(answer, 302)
    row = stored(app, "won_deals")
    assert (row.trigger, row.trigger_value) == ("stage_entered", "won")
    assert as_json(row.conditions) == [{"field": "amount", "op": "in", "value": ["10", "20"]}]


def test_an_invalid_condition_value_is_shown_on_its_row_and_nothing_is_stored(app, admin):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    answer = web.post("/admin/automation/new-rule", rule_form(
        record_type="deal", **{"conditions-0-field": "amount", "conditions-0-op": "gt", "conditions-0-value": "lots",
                               "conditions-1-field": "stage", "conditions-1-op": "eq", "conditions-1-value": "won",
                               "actions-1-field": "amount", "actions-1-value": "abc"}))
    html = page(answer, 422)
    assert count(app, "automation_rule") == 0
    assert 'id="rule-errors"' in html
    assert re.search(r'id="conditions-0-value"[^>]*value="lots"|value="lots"[^>]*id="conditions-0-value"', html)
    assert 'id="conditions-0-value-error"' in html and "&#39;lots&#39; is not a decimal value" in html, shown_errors(html)
    assert 'aria-describedby="conditions-0-value-error" aria-invalid="true"' in html
    assert 'id="conditions-1-value-error"' not in html  # the second row is fine
    assert 'id="actions-1-value-error"' in html  # the set-field value does not fit the amount
    assert 'value="Call the new VIP"' in html and 'value="Follow up VIP contacts"' in html
    # The rows come back in order, the fine row selected as it was typed.
    assert re.search(r'name="conditions-1-field".*?<option value="stage" selected>', html, re.DOTALL)


def test_removing_and_adding_rows_only_redraws_the_form(app, admin):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    html = page(web.post("/admin/automation/new-rule", rule_form(remove="conditions.0")))
    assert 'value="chief"' not in html and count(app, "automation_rule") == 0
    html = page(web.post("/admin/automation/new-rule", rule_form(more="condition")))
    assert 'name="conditions-3-field"' in html and 'value="chief"' in html


def test_editing_a_local_rule(app, api):
    add(app, LOCAL_RULE, "local")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    form = page(web.get("/admin/automation/stamp/edit"))
    assert 'value="Stamp new contacts"' in form and 'value="stamped"' in form and 'name="key"' not in form
    answer = web.post("/admin/automation/stamp/edit", {
        "label": "Stamp chiefs", "record_type": "contact", "trigger": "field_changed", "field": "job_title",
        "conditions-0-field": "job_title", "conditions-0-op": "is_set", "conditions-0-value": "",
        "actions-0-do": "set_field", "actions-0-field": "description", "actions-0-value": "chief stamped",
        "actions-1-do": "create_activity", "actions-1-kind": "note", "actions-1-subject": "Title changed"})
    assert answer.status_code == 302, page(answer, 302)
    row = stored(app, "stamp")
    assert (row.label, row.trigger, row.trigger_value, row.origin) == ("Stamp chiefs", "field_changed", "job_title", "local")
    assert as_json(row.conditions) == [{"field": "job_title", "op": "is_set"}]
    assert as_json(row.actions)[1] == {"do": "create_activity", "kind": "note", "subject": "Title changed"}
    contact = create(api, "contacts", last_name="Doe")
    assert contact["description"] is None
    assert api.patch(f"/contacts/{contact['id']}", json={"job_title": "CEO"}).get_json()["description"] == "chief stamped"
    refused = page(web.post("/admin/automation/stamp/edit", {
        "label": "", "record_type": "contact", "trigger": "field_changed", "field": "nope",
        "actions-0-do": "set_field", "actions-0-field": "description", "actions-0-value": "x"}), 422)
    assert 'id="rule-label-error"' in refused and 'id="rule-field-error"' in refused
    assert stored(app, "stamp").label == "Stamp chiefs"


def test_a_pack_rule_is_read_only_but_can_be_switched_and_copied(app, admin):
    add(app, PACK_RULE, "pack:real_estate")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    html = page(web.get("/admin/automation/viewing_call"))
    assert 'data-origin="pack:real_estate"' in html and "A deal enters the stage Qualified" in html
    assert "Amount is at least 1000" in html and "/admin/automation/viewing_call/edit" not in html
    assert "/admin/automation/viewing_call/delete" not in html and "copy=viewing_call" in html
    assert web.get("/admin/automation/viewing_call/edit").status_code == 302
    answer = web.post("/admin/automation/viewing_call/edit", {"label": "Hijacked", "record_type": "deal",
                                                               "trigger": "created", "actions-0-do": "notify"})
    assert answer.status_code == 302 and stored(app, "viewing_call").label == "Call after a viewing"
    assert "belongs to pack:real_estate" in page(web.get("/admin/automation/viewing_call"))
    assert web.post("/admin/automation/viewing_call/delete").status_code == 302
    assert stored(app, "viewing_call") is not None

    switched = web.post("/admin/automation/viewing_call/switch",
                        {"enabled": "0", "next": "/admin/automation/viewing_call"})
    assert switched.location.endswith("/admin/automation/viewing_call") and not stored(app, "viewing_call").enabled

    copy = page(web.get("/admin/automation/new-rule?copy=viewing_call"))
    assert 'value="viewing_call_copy"' in copy and 'value="Call after a viewing (copy)"' in copy
    assert '<option value="qualified" selected>' in copy and 'value="Call the buyer"' in copy
    answer = web.post("/admin/automation/new-rule", {
        "key": "viewing_call_copy", "label": "My viewing call", "record_type": "deal", "trigger": "stage_entered",
        "stage": "qualified", "enabled": "1", "conditions-0-field": "amount", "conditions-0-op": "gte",
        "conditions-0-value": "1000", "actions-0-do": "create_task", "actions-0-subject": "Call the buyer",
        "actions-0-due_in_days": "1"})
    assert answer.status_code == 302, page(answer, 302)
    copied = stored(app, "viewing_call_copy")
    assert copied.origin == "local" and as_json(copied.actions) == PACK_RULE["actions"]
    assert "/admin/automation/viewing_call_copy/edit" in page(web.get("/admin/automation/viewing_call_copy"))


def test_deleting_a_local_rule_asks_first(app, admin):
    add(app, LOCAL_RULE, "local")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    ask = page(web.get("/admin/automation/stamp/delete"))
    assert "Delete the rule Stamp new contacts?" in ask and stored(app, "stamp") is not None
    assert web.post("/admin/automation/stamp/delete", csrf=False).status_code in (400, 403)
    assert stored(app, "stamp") is not None
    answer = web.post("/admin/automation/stamp/delete")
    assert answer.status_code == 302 and stored(app, "stamp") is None
    assert "Deleted the rule Stamp new contacts." in page(web.get("/admin/automation"))
    assert web.get("/admin/automation/stamp").status_code == 404


def test_each_rule_shows_its_last_runs_and_its_failed_runs(app, api, admin):
    broken = {"key": "bad_currency", "label": "Lower-case currency", "record_type": "deal", "trigger": "created",
              "actions": [{"do": "set_field", "field": "currency", "value": "eur"}]}
    add(app, broken, "local")
    add(app, LOCAL_RULE, "local")
    create(api, "deals", name="One", amount="10")
    create(api, "deals", name="Two", amount="20")
    create(api, "contacts", last_name="Fine")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    listing = page(web.get("/admin/automation"))
    assert 'href="/admin/automation/bad_currency?status=failed">2 failed' in listing
    assert 'id="rule-stamp"' in listing and "0 failed" not in listing
    failed = page(web.get("/admin/automation/bad_currency?status=failed"))
    assert failed.count('data-status="failed"') == 2 and "ISO 4217" in failed
    assert re.search(r'href="/deals/\d+">deal #\d+', failed)
    assert 'id="no-runs"' in page(web.get("/admin/automation/stamp?status=failed"))
    assert page(web.get("/admin/automation/stamp")).count('data-status="ok"') == 1


def test_forms_need_the_csrf_token(app, admin):
    add(app, LOCAL_RULE, "local")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    assert web.post("/admin/automation/new-rule", rule_form(), csrf=False).status_code in (400, 403)
    assert web.post("/admin/automation/stamp/edit", {"label": "Changed", "record_type": "contact", "trigger": "created",
                                                     "actions-0-do": "assign_owner", "actions-0-user": "web@example.com"},
                    csrf=False).status_code in (400, 403)
    assert count(app, "automation_rule") == 1 and stored(app, "stamp").label == "Stamp new contacts"


def test_only_administrators(app, seller):
    add(app, LOCAL_RULE, "local")
    _, web = seller
    for path in ("/admin/automation/new-rule", "/admin/automation/stamp", "/admin/automation/stamp/edit",
                 "/admin/automation/stamp/delete", "/admin/automation/new-rule?copy=stamp"):
        assert web.get(path).status_code == 403, path
    assert web.post("/admin/automation/new-rule", rule_form()).status_code == 403
    assert web.post("/admin/automation/stamp/edit", {"label": "x"}).status_code == 403
    assert web.post("/admin/automation/stamp/delete").status_code == 403
    assert count(app, "automation_rule") == 1 and stored(app, "stamp").label == "Stamp new contacts"


def test_the_editor_pages_have_the_automation_help(app, admin):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    html = page(web.get("/admin/automation/new-rule"))
    assert 'data-help-page="admin.automation_rules"' in html
    panel = page(web.get("/help/panel", query_string={"page": "admin.automation_rules", "path": "/admin/automation/new-rule"},
                         headers={"Accept": "text/html"}))
    assert 'data-topic="core.automation"' in panel and "Copy as a local rule" in panel
