"""Administration in a browser: a custom field added in /admin/fields shows on the new-contact
form, and choosing the midnight theme in /admin/themes changes every page until the
default is chosen again."""

import re

from browser_helpers import requires_chromium
from playwright.sync_api import expect

pytestmark = requires_chromium


def test_the_plugins_page_lists_the_installed_plugins(ui):
    ui.sign_in(then="/admin")
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    page.get_by_role("main").get_by_role("link", name="Plugins").click()
    expect(page).to_have_url(ui.server.url("/admin/plugins"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Plugins")
    expect(page.locator("#plugin-servicedesk")).to_have_attribute("data-status", "enabled")  # the demo enables it
    expect(page.get_by_role("button", name=re.compile(r"^Disable"))).to_have_count(1)
    ui.screenshot("admin-plugins")
    ui.assert_clean()


def test_a_field_added_in_admin_shows_on_the_new_contact_form(ui):
    ui.sign_in(then="/admin/fields")
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Fields of Contacts")
    form = page.locator("form", has=page.get_by_role("button", name="Add field"))
    form.get_by_label(re.compile(r"^Label")).fill("Favourite harbour")
    form.get_by_label(re.compile(r"^Kind")).select_option(label="Text")
    form.get_by_label(re.compile(r"^Help")).fill("Where they like to meet.")
    form.get_by_role("button", name="Add field").click()

    expect(page.get_by_role("status")).to_contain_text("Added the field Favourite harbour to Contacts.")
    row = page.locator("#field-favourite_harbour")
    expect(row).to_be_visible()
    expect(row).to_contain_text("Custom")
    ui.screenshot("admin-fields")

    ui.goto("/contacts/new")
    harbour = page.get_by_label("Favourite harbour")
    expect(harbour).to_be_visible()
    expect(harbour).to_be_editable()
    described = harbour.get_attribute("aria-describedby") or ""
    hints = " ".join(page.locator(f"#{name}").inner_text() for name in described.split())
    assert "Where they like to meet." in hints, f"the field's help is not tied to it ({described!r})"
    ui.assert_clean()


def test_the_midnight_theme_applies_to_every_page_until_switched_back(ui):
    ui.sign_in(then="/admin/themes")
    page = ui.page
    expect(page.get_by_role("heading", level=1)).to_have_text("Themes")
    ui.screenshot("admin-themes")
    assert theme_of(page) == ("default", "/static/themes/default/theme.css")

    page.get_by_role("button", name=re.compile(r"^Use .*Midnight", re.I)).click()
    expect(page.get_by_role("status")).to_contain_text("Midnight is now the theme of this instance")
    assert theme_of(page) == ("midnight", "/static/themes/midnight/theme.css")

    ui.goto("/contacts")
    assert theme_of(page) == ("midnight", "/static/themes/midnight/theme.css")
    # Midnight's own layout: the breadcrumb band, a skip link to search, the footer.
    expect(page.locator(".page-context").get_by_role("navigation", name="Breadcrumb")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to search")).to_be_attached()
    expect(page.locator("footer.site-footer")).to_contain_text("Theme: Midnight")
    # Midnight is dark: the page's background really comes from its stylesheet.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert luminance(background) < 0.2, f"the midnight page's background is {background}, not dark"
    ui.screenshot("midnight-contacts")
    ui.tab_through([r"^Skip to content$", r"^Skip to search$", r"^Search everything$", r"^Help$", r"^New contact$"])

    ui.goto("/admin/themes")
    page.get_by_role("button", name=re.compile(r"^Use .*Default", re.I)).click()
    expect(page.get_by_role("status")).to_contain_text("Default is now the theme of this instance")
    assert theme_of(page) == ("default", "/static/themes/default/theme.css")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert luminance(background) > 0.8, f"the default page's background is {background}, not light"
    expect(page.locator("footer.site-footer")).to_have_count(0)
    ui.assert_clean()


def theme_of(page):
    """``(html data-theme, stylesheet path)`` of the current page."""
    return (page.locator("html").get_attribute("data-theme"),
            page.locator('link[rel="stylesheet"]').first.get_attribute("href"))


def luminance(css_colour):
    """Relative luminance (0 black … 1 white) of an ``rgb()``/``rgba()`` colour."""
    red, green, blue = (int(n) / 255 for n in re.findall(r"\d+(?:\.\d+)?", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
