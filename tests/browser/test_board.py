"""The deals board: a card dragged to an allowed column moves there (and one dragged to a
column it may not reach goes back with the reason), the keyboard's "Move to" does the
same, and the deal's page lists the moves in its stage history."""

import re

import pytest
from browser_helpers import requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def deals(live_server):
    """Three fresh deals, the most recently changed cards of their columns."""
    def deal(name, stage):
        return live_server.api("POST", "/deals", {"name": name, "stage": stage, "amount": "18500",
                                                   "currency": "EUR", "expected_close_date": "2027-03-31"})

    return {"dragged": deal("Harbour cranes retrofit", "lead"),
            "refused": deal("Lighthouse lamp order", "lead"),
            "keyboard": deal("Ferry ticketing kiosks", "qualified")}


def card(page, deal):
    return page.locator(f"#card-{deal['id']}")


def test_a_card_dragged_to_the_next_allowed_stage_moves_and_shows_in_its_history(ui, deals):
    ui.sign_in(then="/deals/board")
    page = ui.page
    moved = deals["dragged"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Deals board")
    expect(page.locator("#stage-lead").locator(f"#card-{moved['id']}")).to_be_visible()
    ui.screenshot("deals-board")

    drag(page, moved, "qualified")
    expect(page.locator("#board-status")).to_have_text(f"Moved “{moved['name']}” to Qualified.")
    expect(page.locator("#stage-qualified").locator(f"#card-{moved['id']}")).to_be_visible()
    expect(card(page, moved)).to_have_attribute("data-stage", "qualified")

    page.reload()  # the move was stored, not only drawn
    expect(page.locator("#stage-qualified").locator(f"#card-{moved['id']}")).to_be_visible()
    assert ui.server.api("GET", f"/deals/{moved['id']}")["stage"] == "qualified"

    card(page, moved).get_by_role("link", name=moved["name"]).click()
    expect(page).to_have_url(ui.server.url(f"/deals/{moved['id']}"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(moved["name"])
    expect_latest_move(page, "Lead", "Qualified")
    ui.assert_clean()


def test_a_card_dragged_where_the_pipeline_forbids_goes_back_with_the_reason(ui, deals):
    ui.sign_in(then="/deals/board")
    page = ui.page
    refused = deals["refused"]
    ui.expect_status(422, f"/deals/{refused['id']}/move")  # the move the board is told to refuse
    drag(page, refused, "negotiation")
    status = page.locator("#board-status")
    expect(status).to_have_class(re.compile(r"\bboard-status-error\b"))
    expect(status).not_to_be_empty()
    expect(page.locator("#stage-lead").locator(f"#card-{refused['id']}")).to_be_visible()
    assert ui.server.api("GET", f"/deals/{refused['id']}")["stage"] == "lead"
    ui.assert_clean()


def test_the_keyboard_moves_a_card_with_its_move_to_form(ui, deals):
    ui.sign_in(then="/deals/board")
    page = ui.page
    moving = deals["keyboard"]
    choice = page.get_by_label(f"Move {moving['name']} to")
    expect(choice).to_have_value("lead")  # the first stage Qualified may move to
    choice.focus()
    page.keyboard.press("ArrowDown")  # Lead → Proposal
    expect(choice).to_have_value("proposal")
    page.keyboard.press("Tab")
    move = card(page, moving).get_by_role("button", name="Move")
    expect(move).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#board-status")).to_have_text(f"Moved “{moving['name']}” to Proposal.")
    moved = page.locator("#stage-proposal").locator(f"#card-{moving['id']}")
    expect(moved).to_be_visible()
    expect(moved).to_be_focused()  # focus follows the card, not lost to the page
    assert ui.server.api("GET", f"/deals/{moving['id']}")["stage"] == "proposal"

    ui.goto(f"/deals/{moving['id']}")
    expect_latest_move(page, "Qualified", "Proposal")
    ui.assert_clean()


def drag(page, deal, stage):
    """Drag a deal's card by the mouse onto the head of a stage's column (both in view, so
    the page does not scroll between pressing and releasing the button)."""
    source = card(page, deal)
    source.scroll_into_view_if_needed()
    source.drag_to(page.locator(f"#stage-{stage}"), source_position={"x": 12, "y": 12},
                   target_position={"x": 20, "y": 20})


def expect_latest_move(page, source, target):
    """The deal page's stage history (newest first) starts with the move ``source`` → ``target``."""
    history = page.get_by_role("table", name=re.compile(r"^Stage history"))
    expect(history).to_be_visible()
    headers = history.get_by_role("columnheader").all_inner_texts()
    newest = history.locator("tbody tr").first.get_by_role("cell").all_inner_texts()
    move = dict(zip(headers, newest))
    assert (move.get("From"), move.get("To")) == (source, target), f"the newest stage change is {move}"
