"""Contextual help in a browser: Help (or ``?``) opens a side panel about the page at hand,
help can be searched from it, and Escape closes it and gives focus back."""

import re

from browser_helpers import requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium


def test_help_opens_on_the_page_topic_searches_and_closes_with_escape(ui):
    ui.sign_in(then="/deals/board")
    page = ui.page
    toggle = page.get_by_role("button", name="Help", exact=True)
    panel = page.locator("#help-panel")
    expect(panel).to_be_hidden()
    toggle.click()

    expect(panel).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Close help")).to_be_focused()
    body = panel.locator(".help-body")
    expect(body.get_by_role("heading").first).to_contain_text(re.compile(r"board", re.I))
    ui.screenshot("help-panel", full_page=False)  # the panel covers the window, not the page

    search = panel.get_by_label("Search help")
    search.fill("trash")
    search.press("Enter")
    expect(body).to_contain_text(re.compile(r"trash", re.I))
    expect(body.get_by_role("link").first).to_be_visible()
    expect(page).to_have_url(ui.server.url("/deals/board"))  # searched in the panel, not by leaving the page

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    ui.assert_clean()


def test_the_question_mark_opens_help_about_a_list(ui):
    ui.sign_in(then="/contacts")
    page = ui.page
    first_link = page.locator("table.records tbody a").first
    first_link.focus()
    page.keyboard.press("?")
    panel = page.locator("#help-panel")
    expect(panel).to_be_visible()
    body = panel.locator(".help-body")
    expect(body.get_by_role("heading").first).to_be_visible()
    expect(body).to_contain_text(re.compile(r"\blist\b", re.I))
    board_topic = body.get_by_role("heading").first.inner_text()
    assert not re.search(r"board", board_topic, re.I), f"the list page opened the board's help: {board_topic!r}"

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(first_link).to_be_focused()  # back where the reader was
    ui.assert_clean()


def test_all_help_topics_page(ui):
    ui.sign_in(then="/help")
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link").first).to_be_visible()
    ui.assert_clean()
