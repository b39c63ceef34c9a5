"""``/admin/automation``: administrators see every rule (origin, trigger, state) and the
recent runs with their failures, and switch rules on and off through a CSRF-checked form;
the admin overview links to it; everyone else gets 403."""

from accord.core.automation import add_rule
from accord.core.records import write_unit
from api_helpers import count, create
from web_helpers import sign_in

RULE = {"key": "stamp", "label": "Stamp new contacts", "record_type": "contact", "trigger": "created",
        "actions": [{"do": "set_field", "field": "description", "value": "stamped"}]}
BROKEN = {"key": "bad_currency", "label": "Lower-case currency", "record_type": "deal", "trigger": "stage_entered",
          "stage": "lead", "conditions": [{"field": "amount", "op": "gt", "value": 0}],
          "actions": [{"do": "set_field", "field": "currency", "value": "eur"}]}


def add(app, spec, origin):
    with app.test_request_context():
        with write_unit() as session:
            add_rule(session, spec, origin)


def page(answer):
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_the_page_lists_rules_and_recent_runs_with_failures(app, api):
    add(app, RULE, "local")
    add(app, BROKEN, "pack:b2b_saas")
    create(api, "contacts", last_name="Lovelace")
    create(api, "deals", name="Ten", amount="10")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    html = page(web.get("/admin/automation"))
    assert 'id="rule-stamp" data-enabled="yes"' in html and 'id="rule-bad_currency"' in html
    assert "pack:b2b_saas" in html and "local" in html and "enters stage <code>lead</code>" in html
    assert "if amount gt 0" in html
    assert 'id="failed-runs-note"' in html and 'data-status="failed"' in html and 'data-status="ok"' in html
    assert "ISO 4217" in html
    assert 'href="/admin/automation"' in page(web.get("/admin"))


def test_switching_a_rule_off_and_on_again(app, api):
    add(app, RULE, "pack:real_estate")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    assert web.post("/admin/automation/stamp/switch", {"enabled": "0"}).status_code == 302
    assert 'data-enabled="no"' in page(web.get("/admin/automation"))
    create(api, "contacts", last_name="Unstamped")
    assert count(app, "automation_run") == 0
    web.post("/admin/automation/stamp/switch", {"enabled": "1"})
    assert create(api, "contacts", last_name="Stamped")["description"] == "stamped"
    assert web.post("/admin/automation/nothing/switch", {"enabled": "1"}).status_code == 302
    assert "There is no automation rule" in page(web.get("/admin/automation"))


def test_the_switch_needs_the_csrf_token(app):
    add(app, RULE, "local")
    _, web = sign_in(app, "web@example.com", "Wes Web")
    assert web.post("/admin/automation/stamp/switch", {"enabled": "0"}, csrf=False).status_code in (400, 403)
    assert 'data-enabled="yes"' in page(web.get("/admin/automation"))


def test_only_administrators(app, seller):
    _, web = seller
    assert web.get("/admin/automation").status_code == 403
    assert web.post("/admin/automation/stamp/switch", {"enabled": "0"}).status_code == 403


def test_the_page_has_its_help(app):
    _, web = sign_in(app, "web@example.com", "Wes Web")
    html = page(web.get("/help/panel", query_string={"page": "admin.automation_rules", "path": "/admin/automation"},
                        headers={"Accept": "text/html"}))
    assert 'data-topic="core.automation"' in html
