"""Signing in: a wrong password keeps the email and says why; the right one lands on the
dashboard, which also works at a phone's width."""

import re

from browser_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, PHONE, requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_dashboard(ui):
    page = ui.page
    ui.goto("/")  # signed out: sent to the sign-in page, which remembers where to go
    expect(page).to_have_url(re.compile(r"/login\?next=/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Accord")
    expect(page.get_by_label("Email")).to_be_focused()
    ui.screenshot("login")

    ui.expect_status(401, "/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    error = page.get_by_role("alert")
    expect(error).to_have_text("That email and password do not match an active account.")
    expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_have_value("")

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(ui.server.url("/"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_have_attribute(
        "aria-current", "page")
    expect(page.get_by_role("button", name=re.compile(r"^Sign out"))).to_be_visible()
    ui.screenshot("dashboard")
    ui.assert_clean()


def test_the_dashboard_fits_a_phone(ui):
    ui.page.set_viewport_size(PHONE)
    ui.sign_in()
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    ui.screenshot("dashboard-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, (f"the dashboard is {overflow}px wider than a 375px screen, so it scrolls sideways; "
                           f"sticking out: {ui.sticking_out()}")
    expect(page.get_by_role("combobox", name="Search everything")).to_be_visible()
    expect(page.get_by_role("button", name="Help", exact=True)).to_be_visible()
    ui.assert_clean()
