"""The admin pages: plugins on and off with their settings, custom fields, the theme; all
through real HTTP with the signed-in session and its CSRF token, on a real database."""

import html
import re
from pathlib import Path

import pytest
from accord.testing import api_client, make_user
from api_helpers import sql, tables
from installed_helpers import installed_plugins  # noqa: F401  (fixture)
from web_helpers import PASSWORD, Browser, sign_in

THEMES_INSTALLED = Path(__file__).parents[2] / "fixtures" / "themes_installed"


@pytest.fixture
def installed_themes(monkeypatch):
    """Make the fake distribution ``accord-fixture-themes`` discoverable for this test."""
    monkeypatch.syspath_prepend(str(THEMES_INSTALLED))


@pytest.fixture
def plugin_app(installed_plugins, app):  # noqa: F811
    return app


@pytest.fixture
def admin_browser(plugin_app):
    return sign_in(plugin_app)[1]


def page(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    return response.get_data(as_text=True)


def main(text):
    return text[text.index('<main id="main"'):text.index("</main>")]


def messages(text):
    return [(kind, html.unescape(message)) for kind, message in
            re.findall(r'<p class="message message-(\w+)">(.*?)</p>', text, flags=re.S)]


def follow(browser, response):
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:2000])
    return page(browser.get(response.headers["Location"]))


def row(text, row_id):
    start = text.index(f'id="{row_id}"')
    return text[start:text.index("</tr>", start)]


def tag(text, element_id):
    """The opening tag of the element with ``element_id``."""
    return re.search(rf'<[a-z]+\s[^>]*\bid="{re.escape(element_id)}"[^>]*>', text).group(0)


def plugin_status(app, name):
    from accord.core.lifecycle import plugin_report

    with app.app_context():
        return plugin_report(name)[0]


# Who may see them ------------------------------------------------------------------------


def test_every_admin_page_refuses_anyone_but_an_administrator(app):
    _, browser = sign_in(app, "agent@example.com", "Alex Agent", is_admin=False)
    sample = {"name": "midnight", "type_key": "contact", "key": "property", "pipeline": "sales", "stage": "lead",
              "view_id": 1}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = rule.build({arg: sample[arg] for arg in rule.arguments})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            answer = browser.get(path) if method == "GET" else browser.post(path, {"cascade": "1", "purge": "1"})
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert "Only administrators manage plugins, fields, themes and jobs." in answer.get_data(as_text=True)
            checked += 1
    assert checked >= 12
    assert 'data-theme="default"' in page(browser.get("/")), "the refused theme switch changed nothing"
    signed_out = app.test_client().get("/admin/plugins")
    assert signed_out.status_code == 302 and signed_out.headers["Location"].startswith("/login")


def test_the_overview_links_each_area_and_says_plainly_what_is_not_there_yet(pages):
    text = main(page(pages.get("/admin")))
    for path in ("/admin/plugins", "/admin/fields", "/admin/themes"):
        assert f'href="{path}"' in text
    assert "Users and roles" in text and "Coming with accounts." in text
    assert "/admin/users" not in text
    assert "Active: <strong>Default</strong>" in text


# Plugins ---------------------------------------------------------------------------------


def test_a_plugin_is_enabled_and_disabled_through_the_pages(plugin_app, admin_browser):
    client = plugin_app.test_client()
    listing = page(admin_browser.get("/admin/plugins"))
    assert 'data-status="disabled"' in row(listing, "plugin-fixture_tickets")
    assert "Enable<span class=\"visually-hidden\"> Fixture tickets</span>" in row(listing, "plugin-fixture_tickets")

    text = follow(admin_browser, admin_browser.post("/admin/plugins/fixture_tickets/enable", {"next": "/admin/plugins"}))
    assert ("message", "Enabled fixture_tickets.") in messages(text)
    assert 'data-status="enabled"' in row(text, "plugin-fixture_tickets")
    assert client.get("/fixture-tickets/ping").status_code == 200
    assert plugin_status(plugin_app, "fixture_tickets")["status"] == "enabled"

    detail = page(admin_browser.get("/admin/plugins/fixture_tickets"))
    assert "<code>table fixture_ticket</code>" in detail and "<code>field contact.support_tier</code>" in detail

    back = admin_browser.post("/admin/plugins/fixture_tickets/disable", {"next": "/admin/plugins/fixture_tickets"})
    assert back.headers["Location"] == "/admin/plugins/fixture_tickets"
    text = follow(admin_browser, back)
    assert ("message", "Disabled fixture_tickets; their data is kept.") in messages(text)
    assert client.get("/fixture-tickets/ping").status_code == 404
    assert plugin_status(plugin_app, "fixture_tickets")["status"] == "disabled"


def test_disabling_a_plugin_others_require_asks_before_the_cascade(plugin_app, admin_browser):
    text = follow(admin_browser, admin_browser.post("/admin/plugins/fixture_escalation/enable"))
    assert ("message", "Enabled fixture_tickets, fixture_escalation.") in messages(text)
    assert "fixture_escalation" in row(text, "plugin-fixture_tickets")  # required by

    asked = admin_browser.post("/admin/plugins/fixture_tickets/disable")
    assert asked.headers["Location"] == "/admin/plugins/fixture_tickets/disable"
    confirm = main(page(admin_browser.get(asked.headers["Location"])))
    assert "also disables them" in confirm
    assert re.search(r"fixture_escalation</a>.*fixture_tickets</a> \(the one you chose\)", confirm, flags=re.S)
    assert 'name="cascade" value="1"' in confirm and "Disable all 2" in confirm
    assert plugin_status(plugin_app, "fixture_tickets")["status"] == "enabled"
    assert plugin_status(plugin_app, "fixture_escalation")["status"] == "enabled"

    text = follow(admin_browser, admin_browser.post("/admin/plugins/fixture_tickets/disable", {"cascade": "1"}))
    assert ("message", "Disabled fixture_escalation, fixture_tickets; their data is kept.") in messages(text)
    assert plugin_status(plugin_app, "fixture_tickets")["status"] == "disabled"
    assert plugin_status(plugin_app, "fixture_escalation")["status"] == "disabled"


@pytest.mark.parametrize("name, error", [
    ("fixture_cycle_a", "Could not enable fixture_cycle_a: dependency cycle: fixture_cycle_a -> fixture_cycle_b"),
    ("fixture_broken", "Could not enable fixture_broken: plugin 'fixture_broken' is broken: failed to import"),
    ("fixture_failing_start", ("Could not enable fixture_failing_start: cannot enable fixture_failing_start: "
                               "plugin 'fixture_failing_start' failed to start")),
    ("fixture_bad_migration", "Could not enable fixture_bad_migration; nothing was changed."),
])
def test_what_the_lifecycle_refuses_is_a_flash_error_and_changes_nothing(plugin_app, admin_browser, name, error):
    text = follow(admin_browser, admin_browser.post(f"/admin/plugins/{name}/enable"))
    assert [kind for kind, message in messages(text) if message.startswith(error)] == ["error"], messages(text)
    assert not plugin_status(plugin_app, name)["enabled"]
    assert "fixture_half_done" not in tables(plugin_app)


def test_a_broken_plugin_shows_its_error_and_offers_no_enable_button(admin_browser):
    listing = page(admin_browser.get("/admin/plugins"))
    problem = listing[listing.index('id="problem-fixture_broken"'):]
    assert "the fixture_broken plugin cannot start: missing licence key" in problem[:problem.index("</li>")]
    assert 'data-status="broken"' in row(listing, "plugin-fixture_broken")
    assert "Enable" not in row(listing, "plugin-fixture_broken")
    detail = page(admin_browser.get("/admin/plugins/fixture_broken"))
    alert = detail[detail.index('id="plugin-error"'):]
    assert 'role="alert"' in tag(detail, "plugin-error") and "missing licence key" in alert[:alert.index("</div>")]
    assert 'id="settings-heading"' not in detail
    assert page(admin_browser.get("/admin/plugins/nobody"), 404)


def test_the_settings_form_is_built_from_the_manifest_and_saves(plugin_app, admin_browser):
    text = page(admin_browser.get("/admin/plugins/fixture_tickets"))
    hours = tag(text, "setting-first_response_hours")
    assert 'type="number"' in hours and 'value="4"' in hours and 'min="1"' in hours and 'max="72"' in hours
    assert '<label for="setting-first_response_hours">Hours to first response' in text
    assert 'value="Thanks for writing"' in tag(text, "setting-greeting")
    assert "<code>fixture_tickets.ticket.assign</code></dt><dd>Assign tickets to agents" in text

    answer = admin_browser.post("/admin/plugins/fixture_tickets/settings",
                                {"setting-first_response_hours": "9", "setting-greeting": "Hello there"})
    text = follow(admin_browser, answer)
    assert ("message", "Saved the settings of Fixture tickets; every worker uses them from its next request.") in messages(text)
    assert 'value="9"' in tag(text, "setting-first_response_hours")
    settings = plugin_status(plugin_app, "fixture_tickets")["settings"]
    assert (settings["first_response_hours"]["value"], settings["greeting"]["value"]) == (9, "Hello there")


@pytest.mark.parametrize("typed, reason", [("0", "Must be at least 1."), ("73", "Must be at most 72."),
                                           ("soon", "Enter a whole number.")])
def test_a_bad_setting_is_refused_inline_keeping_what_was_typed(plugin_app, admin_browser, typed, reason):
    answer = admin_browser.post("/admin/plugins/fixture_tickets/settings",
                                {"setting-first_response_hours": typed, "setting-greeting": "Changed too"})
    text = page(answer, 422)
    hours = tag(text, "setting-first_response_hours")
    assert f'value="{typed}"' in hours and 'aria-invalid="true"' in hours
    assert 'aria-describedby="setting-first_response_hours-error"' in hours
    assert f'<p class="field-error" id="setting-first_response_hours-error">{reason}</p>' in text
    assert 'value="Changed too"' in tag(text, "setting-greeting")
    settings = plugin_status(plugin_app, "fixture_tickets")["settings"]
    assert (settings["first_response_hours"]["value"], settings["greeting"]["value"]) == (4, "Thanks for writing")


# Fields ----------------------------------------------------------------------------------


@pytest.fixture
def admin_user(app):
    return make_user(app, "admin@example.com", "Ada Admin", is_admin=True, password=PASSWORD)


@pytest.fixture
def pages(app, admin_user):
    return Browser(app, admin_user.email)


@pytest.fixture
def admin_api(app, admin_user):
    return api_client(app, admin_user)


def contact_fields(api):
    return {f["name"]: f for f in api.get("/types/contact").json["fields"]}


def test_the_fields_page_lists_built_in_and_custom_fields_per_record_type(pages, admin_api):
    text = page(pages.get("/admin/fields"))
    assert "<h1>Fields of Contacts</h1>" in text
    assert "Built-in" in row(text, "field-last_name") and "Edit" not in row(text, "field-last_name")
    assert '<option value="deal">Deals</option>' in text
    assert "<h1>Fields of Deals</h1>" in page(pages.get("/admin/fields?type=deal"))
    assert page(pages.get("/admin/fields?type=spaceship"), 404)


def test_a_field_added_through_the_page_appears_in_the_api(pages, admin_api):
    answer = pages.post("/admin/fields/contact", {
        "label": "Loyalty tier", "kind": "choice", "choices": "Gold\nsilver = Silver level\n\n",
        "indexed": "1", "searchable": "1", "help": "Set by the loyalty programme."})
    text = follow(pages, answer)
    assert ("message", "Added the field Loyalty tier to Contacts.") in messages(text)
    assert "Custom" in row(text, "field-loyalty_tier") and "Edit" in row(text, "field-loyalty_tier")
    field = contact_fields(admin_api)["loyalty_tier"]
    assert field["kind"] == "choice" and field["label"] == "Loyalty tier" and field["custom"] is True
    assert field["choices"] == [{"key": "gold", "label": "Gold"}, {"key": "silver", "label": "Silver level"}]
    assert (field["indexed"], field["searchable"], field["required"], field["pii"]) == (True, True, False, False)
    assert field["help"] == "Set by the loyalty programme."


def test_a_bad_field_is_refused_inline_keeping_what_was_typed(pages, admin_api):
    text = page(pages.post("/admin/fields/contact", {"label": "Tier", "kind": "choice", "name": "Bad Name!",
                                                     "help": "kept"}), 422)
    for key in ("name", "choices"):
        assert 'aria-invalid="true"' in tag(text, f"field-{key}")
        assert f'id="field-{key}-error"' in text
    assert "Use 1-63 lower-case letters" in text and "Give at least one choice, one per line." in text
    assert 'value="Tier"' in tag(text, "field-label") and 'value="Bad Name!"' in tag(text, "field-name")
    assert re.search(r'<option value="choice" selected>', text) and ">kept</textarea>" in text
    text = page(pages.post("/admin/fields/contact", {"label": "", "kind": "text"}), 422)
    assert 'aria-invalid="true"' in tag(text, "field-label") and "Give the field a label" in text
    text = page(pages.post("/admin/fields/contact", {"label": "Tags", "kind": "multi_choice", "choices": "a", "indexed": "1"}), 422)
    assert "multi_choice fields cannot be indexed." in text and 'aria-invalid="true"' in tag(text, "field-indexed")
    assert {"tier", "bad_name", "tags"}.isdisjoint(contact_fields(admin_api))


@pytest.mark.parametrize("kind, held, kept", [("choice", "silver", "gold"),
                                               ("multi_choice", ["gold", "silver"], ["gold"])])
def test_a_field_is_edited_and_a_choice_in_use_cannot_go(pages, admin_api, kind, held, kept):
    follow(pages, pages.post("/admin/fields/contact", {"label": "Loyalty tier", "kind": kind, "choices": "Gold\nSilver"}))
    contact = admin_api.post("/contacts", json={"last_name": "Lovelace", "loyalty_tier": held}).json
    admin_api.post("/contacts", json={"last_name": "Other", "loyalty_tier": kept})
    text = page(pages.get("/admin/fields/contact/loyalty_tier/edit"))
    assert ">gold = Gold\nsilver = Silver</textarea>" in text

    refused = page(pages.post("/admin/fields/contact/loyalty_tier/edit",
                              {"label": "Loyalty level", "choices": "gold = Gold\nbronze = Bronze"}), 422)
    assert "Cannot remove choice &#39;silver&#39; is held by 1 record (trash included); change it first." in refused
    assert 'aria-invalid="true"' in tag(refused, "field-choices") and 'value="Loyalty level"' in tag(refused, "field-label")
    assert contact_fields(admin_api)["loyalty_tier"]["label"] == "Loyalty tier"

    assert admin_api.patch(f"/contacts/{contact['id']}", json={"loyalty_tier": kept}).status_code == 200
    text = follow(pages, pages.post("/admin/fields/contact/loyalty_tier/edit", {
        "label": "Loyalty level", "required": "1", "help": "Ask at checkout.",
        "choices": "gold = Gold customer\nbronze = Bronze"}))
    assert ("message", "Saved the field Loyalty level of Contacts.") in messages(text)
    field = contact_fields(admin_api)["loyalty_tier"]
    assert (field["label"], field["required"], field["help"]) == ("Loyalty level", True, "Ask at checkout.")
    assert field["choices"] == [{"key": "gold", "label": "Gold customer"}, {"key": "bronze", "label": "Bronze"}]
    assert page(pages.get("/admin/fields/contact/last_name/edit"), 404)
    assert page(pages.get("/admin/fields/contact/nothing/edit"), 404)


def test_a_field_is_removed_keeping_its_values_then_erased(app, pages, admin_api):
    follow(pages, pages.post("/admin/fields/contact", {"label": "Nickname", "kind": "text"}))
    contact = admin_api.post("/contacts", json={"last_name": "Lovelace", "nickname": "Ada"}).json
    confirm = page(pages.get("/admin/fields/contact/nickname/remove"))
    assert '<label for="field-purge">Also erase the stored values</label>' in confirm

    text = follow(pages, pages.post("/admin/fields/contact/nickname/remove"))
    assert ("message", "Removed the field Nickname; its values are kept.") in messages(text)
    assert "nickname" not in contact_fields(admin_api)
    assert 'id="removed-nickname"' in text
    assert sql(app, "SELECT custom FROM contact WHERE id = :id", id=contact["id"])[0][0] is not None

    text = follow(pages, pages.post("/admin/fields/contact/nickname/remove"))
    assert ("message", "Erased the stored values of nickname.") in messages(text)
    assert 'id="removed-nickname"' not in text
    follow(pages, pages.post("/admin/fields/contact", {"label": "Nickname", "kind": "text"}))
    assert admin_api.get(f"/contacts/{contact['id']}").json["nickname"] is None


def test_removing_with_purge_erases_at_once(pages, admin_api):
    follow(pages, pages.post("/admin/fields/contact", {"label": "Nickname", "kind": "text"}))
    contact = admin_api.post("/contacts", json={"last_name": "Lovelace", "nickname": "Ada"}).json
    text = follow(pages, pages.post("/admin/fields/contact/nickname/remove", {"purge": "1"}))
    assert ("message", "Removed the field Nickname and erased its values.") in messages(text)
    assert 'id="removed-nickname"' not in text
    follow(pages, pages.post("/admin/fields/contact", {"label": "Nickname", "kind": "text"}))
    assert admin_api.get(f"/contacts/{contact['id']}").json["nickname"] is None


# Themes ----------------------------------------------------------------------------------


def stylesheet(text):
    return re.search(r'<link rel="stylesheet" href="([^"]+)">', text).group(1)


def test_switching_the_theme_reaches_every_worker_on_its_next_request(app, tmp_path):
    from accord.core import create_app
    from accord.testing import close_app

    _, first = sign_in(app)
    other = create_app({"INSTANCE_PATH": str(tmp_path / "worker2"), "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    try:
        second = Browser(other, "admin@example.com")
        before = page(second.get("/admin/plugins"))
        assert stylesheet(before) == "/static/themes/default/theme.css" and "breadcrumbs-band" not in before
        listing = page(first.get("/admin/themes"))
        assert 'aria-current="true"' in tag(listing, "theme-default") and "Use this theme" in listing

        text = follow(first, first.post("/admin/themes/midnight/use"))
        assert ("message", "Midnight is now the theme of this instance, for everyone from their next page.") in messages(text)
        assert stylesheet(text) == "/static/themes/midnight/theme.css"
        assert 'aria-current="true"' in tag(text, "theme-midnight")
        after = page(second.get("/admin/plugins"))
        assert stylesheet(after) == "/static/themes/midnight/theme.css"
        assert 'class="breadcrumbs breadcrumbs-band"' in after and 'class="site-footer"' in after
        assert '@import url("/static/themes/default/theme.css")' in page(second.get("/static/themes/midnight/theme.css"))

        follow(second, second.post("/admin/themes/default/use"))
        assert stylesheet(page(first.get("/admin"))) == "/static/themes/default/theme.css"
        text = follow(first, first.post("/admin/themes/nowhere/use"))
        assert [kind for kind, message in messages(text) if message.startswith("There is no theme 'nowhere'")] == ["error"]
    finally:
        close_app(other)


def test_a_third_party_theme_is_listed_and_usable(installed_themes, accord_app_factory):
    app = accord_app_factory()
    _, browser = sign_in(app)
    text = page(browser.get("/admin/themes"))
    aurora = text[text.index('id="theme-aurora"'):]
    assert "Aurora" in aurora and "from accord-fixture-themes" in aurora[:aurora.index("</li>")]
    problem = text[text.index('id="theme-problem-fixture_bad_theme"'):]
    assert "colour: unknown key" in problem[:problem.index("</li>")]
    assert "Use this theme<span class=\"visually-hidden\">: fixture_bad" not in text

    text = follow(browser, browser.post("/admin/themes/aurora/use"))
    assert stylesheet(text) == "/static/themes/aurora/theme.css"
    missing = page(browser.get("/admin/no-such-page"), 404)
    assert '<p class="aurora-note">' in missing and "<h1>Not found</h1>" in missing
