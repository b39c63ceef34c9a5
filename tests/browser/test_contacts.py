"""Contacts in a browser: the new-contact form refuses a contact without a last name next
to the field and keeps what was typed; the search box finds a contact as you type; a
contact moved to the trash comes back with Restore."""

import re

import pytest
from browser_helpers import contact, requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def people(live_server):
    return {"found": contact(live_server, "Zephyrine", "Marchbanks", email="zephyrine@marchbanks.example"),
            "trashed": contact(live_server, "Trudy", "Trashworthy")}


def test_a_contact_without_a_last_name_is_refused_at_the_field_then_saved(ui):
    ui.sign_in(then="/contacts")
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    expect(page.locator("table.records tbody tr").first).to_be_visible()
    ui.screenshot("contacts-list")

    page.get_by_role("link", name=re.compile(r"^New contact$", re.I)).click()
    expect(page).to_have_url(ui.server.url("/contacts/new"))
    first, last, email = page.get_by_label("First name"), page.get_by_label("Last name"), page.get_by_label("Email")
    first.fill("Quentin")
    email.fill("quentin@quillfeather.example")
    # The browser's own check on a required box would stop the form before the server sees
    # it; this test is about the server's answer, which must hold without that check.
    last.evaluate("input => { input.form.noValidate = true; }")
    ui.expect_status(422, "/contacts/new")
    ui.expect_status(400, "/contacts/new")
    page.get_by_role("button", name=re.compile(r"^(Save|Create)", re.I)).click()

    expect(last).to_have_attribute("aria-invalid", "true")
    error = page.locator(".field-error").filter(has_text=re.compile(r"\S"))
    expect(error).to_have_count(1)  # only the last name is wrong
    described = (last.get_attribute("aria-describedby") or "").split()
    assert error.get_attribute("id") in described, f"the error is not tied to the last name ({described})"
    assert _same_field(last, error), "the error message is not next to the Last name field"
    expect(first).to_have_value("Quentin")
    expect(email).to_have_value("quentin@quillfeather.example")
    expect(first).not_to_have_attribute("aria-invalid", "true")
    ui.screenshot("contact-form-errors")

    last.fill("Quillfeather")
    page.get_by_role("button", name=re.compile(r"^(Save|Create)", re.I)).click()
    expect(page).to_have_url(re.compile(re.escape(ui.server.url("/contacts/")) + r"\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Quentin Quillfeather")
    expect(page.get_by_text("quentin@quillfeather.example").first).to_be_visible()
    ui.screenshot("contact-detail")
    ui.assert_clean()


def test_the_search_box_suggests_a_contact_and_enter_opens_it(ui, people):
    ui.sign_in()
    page = ui.page
    found = people["found"]
    page.locator("body").press("/")
    box = page.get_by_role("combobox", name="Search everything")
    expect(box).to_be_focused()
    page.keyboard.type("Zephyr")

    listbox = page.locator("#global-search-results")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    group = listbox.locator(".search-group", has_text=re.compile(r"^Contacts$"))
    expect(group).to_be_visible()
    option = listbox.get_by_role("option", name="Zephyrine Marchbanks")
    expect(option).to_be_visible()
    # The option sits under its type's heading: the nearest heading before it is Contacts.
    heading = option.evaluate("""el => { let n = el.previousElementSibling;
        while (n && !n.classList.contains('search-group')) { n = n.previousElementSibling; }
        return n && n.textContent; }""")
    assert heading == "Contacts", f"the suggestion is listed under {heading!r}"
    expect(option).to_have_attribute("aria-selected", "true")

    page.keyboard.press("Enter")
    expect(page).to_have_url(ui.server.url(f"/contacts/{found['id']}"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Zephyrine Marchbanks")
    ui.assert_clean()


def test_escape_closes_the_suggestions_and_keeps_what_was_typed(ui, people):
    ui.sign_in()
    page = ui.page
    box = page.get_by_role("combobox", name="Search everything")
    box.click()
    page.keyboard.type("Marchb")
    listbox = page.locator("#global-search-results")
    expect(listbox.get_by_role("option", name="Zephyrine Marchbanks")).to_be_visible()
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("Marchb")
    ui.assert_clean()


def test_the_search_page_lists_matches_by_type(ui, people):
    ui.sign_in(then="/search")
    page = ui.page
    page.get_by_label("Search all records").fill("Marchbanks")
    page.get_by_role("main").get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q=Marchbanks$"))
    expect(page.get_by_role("combobox", name="Search everything")).to_have_value("Marchbanks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")
    group = page.get_by_role("region", name="Contacts")
    expect(group.get_by_role("heading", level=2)).to_have_text("Contacts")
    result = group.get_by_role("link", name="Zephyrine Marchbanks")
    expect(result).to_have_attribute("href", f"/contacts/{people['found']['id']}")
    ui.screenshot("search-results")
    result.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Zephyrine Marchbanks")
    ui.assert_clean()


def test_a_contact_moved_to_the_trash_is_restored(ui, people):
    trashed = people["trashed"]
    ui.sign_in(then=f"/contacts/{trashed['id']}")
    page = ui.page
    page.get_by_role("main").get_by_role("link", name="Move to trash").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Move Trudy Trashworthy to the trash?")
    page.get_by_role("main").get_by_role("button", name="Move to trash").click()

    expect(page).to_have_url(ui.server.url("/contacts"))
    message = page.get_by_role("status").filter(has_text="moved to the trash")
    expect(message).to_contain_text("Trudy Trashworthy")
    ui.server.api("GET", f"/contacts/{trashed['id']}", status=404)
    elsewhere = page.context.new_page()  # a second tab, so this one keeps the message
    missing = elsewhere.goto(f"/contacts/{trashed['id']}")
    assert missing.status == 404, f"a trashed contact's page answered {missing.status}"
    expect(elsewhere.get_by_role("heading", level=1)).to_be_visible()
    elsewhere.close()

    page.get_by_role("status").get_by_role("link", name="Restore").click()
    expect(page).to_have_url(ui.server.url("/contacts/trash"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts in the trash")
    page.get_by_role("button", name="Restore Trudy Trashworthy").click()
    expect(page.get_by_role("status")).to_contain_text("Trudy Trashworthy")
    expect(page.get_by_role("button", name="Restore Trudy Trashworthy")).to_have_count(0)

    ui.goto(f"/contacts/{trashed['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Trudy Trashworthy")
    assert ui.server.api("GET", f"/contacts/{trashed['id']}")["last_name"] == "Trashworthy"
    ui.assert_clean()


def _same_field(control, message):
    """Whether ``message`` sits in the same ``.field`` wrapper as ``control``."""
    return control.evaluate("(el, msg) => !!el.closest('.field') && el.closest('.field').contains(msg)",
                            message.element_handle())
