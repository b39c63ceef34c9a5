"""The automation rule editor in a browser: an administrator fills the new-rule form (record
type, trigger, a condition row, an action row), automation.js shows only the inputs the
choices use and redraws the form for the chosen type, the rule is saved and listed, and the
pages raise no console error and no content-security-policy violation."""

import re

from browser_helpers import requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium

WATCH_CSP = """document.addEventListener("securitypolicyviolation", (event) => {
  (window.__csp = window.__csp || []).push(event.violatedDirective + " " + event.blockedURI);
});"""


def test_a_rule_filled_in_the_form_is_saved_and_listed(ui):
    page = ui.page
    page.add_init_script(WATCH_CSP)
    ui.sign_in(then="/admin/automation")
    page.get_by_role("link", name="New rule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New automation rule")
    form = page.locator("form.rule-form")
    form.get_by_label(re.compile(r"^Label")).fill("Call new chief executives")

    form.get_by_label(re.compile(r"^Record type")).select_option(label="Contact")  # automation.js redraws the form
    expect(page.locator('#conditions-0-field option[value="job_title"]')).to_have_count(1)
    expect(form.get_by_label(re.compile(r"^Label"))).to_have_value("Call new chief executives")
    expect(page.locator("#rule-refresh")).to_be_hidden()

    trigger = form.get_by_label(re.compile(r"^Trigger"))
    expect(page.locator("#rule-stage")).to_be_hidden()
    trigger.select_option("field_changed")
    expect(page.locator("#rule-field")).to_be_visible()
    trigger.select_option("created")
    expect(page.locator("#rule-field")).to_be_hidden()

    page.locator("#conditions-0-field").select_option("job_title")
    page.locator("#conditions-0-op").select_option("contains")
    page.locator("#conditions-0-value").fill("chief")

    expect(page.locator("#actions-0-subject")).to_be_hidden()
    page.locator("#actions-0-do").select_option("create_task")
    expect(page.locator("#actions-0-kind")).to_be_hidden()
    page.locator("#actions-0-subject").fill("Call the new chief")
    page.locator("#actions-0-due_in_days").fill("1")
    ui.screenshot("automation-rule-form")
    form.get_by_role("button", name="Add rule").click()

    expect(page.get_by_role("status")).to_contain_text("Added the rule Call new chief executives")
    expect(page.locator("#rule-when")).to_have_text("A contact is created")
    expect(page.locator("#rule-if")).to_contain_text("Job title contains chief")
    ui.screenshot("automation-rule")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Automation").click()
    row = page.locator("#rule-call_new_chief_executives")
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-enabled", "yes")
    expect(row).to_contain_text("local")
    ui.screenshot("automation-rules")
    assert page.evaluate("window.__csp || []") == []
    ui.assert_clean()


def test_a_refused_rule_shows_the_error_on_its_row(ui):
    page = ui.page
    page.add_init_script(WATCH_CSP)
    ui.sign_in(then="/admin/automation/new-rule?type=deal")
    ui.expect_status(422, "/admin/automation/new-rule")
    page.locator("#rule-label").fill("Big deals")
    page.locator("#conditions-0-field").select_option("amount")
    page.locator("#conditions-0-op").select_option("gte")
    page.locator("#conditions-0-value").fill("a lot")
    page.locator("#actions-0-do").select_option("create_activity")
    page.locator("#actions-0-kind").select_option("note")
    page.locator("#actions-0-subject").fill("Big one")
    page.get_by_role("button", name="Add rule").click()

    expect(page.locator("#rule-errors")).to_be_visible()
    expect(page.locator("#conditions-0-value-error")).to_contain_text("is not a decimal value")
    expect(page.locator("#conditions-0-value")).to_have_value("a lot")
    expect(page.locator("#actions-0-subject")).to_have_value("Big one")
    expect(page.locator("#actions-0-kind")).to_be_visible()
    assert page.evaluate("window.__csp || []") == []
    ui.assert_clean()
