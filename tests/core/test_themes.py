"""Themes: the built-in ones (default, midnight), third-party ones from an installed
distribution, which file serves a template, and ``accord themes list|use|which``."""

import re
from pathlib import Path

import pytest
from cli_helpers import run_accord
from web_helpers import sign_in

ROOT = Path(__file__).parents[2]
CORE_TEMPLATES = ROOT / "core" / "web" / "templates"
MIDNIGHT = ROOT / "themes" / "midnight"
THEMES_INSTALLED = Path(__file__).parents[1] / "fixtures" / "themes_installed"


@pytest.fixture
def installed_themes(monkeypatch):
    """Make the fake distribution ``accord-fixture-themes`` discoverable for this test."""
    monkeypatch.syspath_prepend(str(THEMES_INSTALLED))


def use(app, name):
    from accord.core.records import write_unit
    from accord.core.registry import current_accord
    from accord.core.themes import use_theme

    with app.app_context(), write_unit() as session:
        use_theme(session, current_accord().themes, name)


def which(app, theme, template):
    from accord.core.web.rendering import which_template

    with app.app_context():
        return which_template(theme, template)


# Built-in themes ---------------------------------------------------------------------------


def test_default_and_midnight_are_built_in_and_midnight_is_dark(app):
    from accord.core.registry import current_accord

    themes = current_accord(app).themes
    assert {"default", "midnight"} <= set(themes)
    midnight = themes["midnight"]
    assert (midnight.title, midnight.source, midnight.dark) == ("Midnight", "built-in", True)
    assert midnight.folder == MIDNIGHT.resolve()


def test_midnight_overrides_the_base_layout_and_a_partial_and_leaves_the_rest_to_the_core(app):
    assert which(app, "midnight", "base.html") == str(MIDNIGHT.resolve() / "templates" / "base.html")
    assert which(app, "midnight", "partials/breadcrumbs.html") == str(MIDNIGHT.resolve() / "templates" / "partials" / "breadcrumbs.html")
    assert which(app, "midnight", "partials/header.html") == str(CORE_TEMPLATES / "partials" / "header.html")
    assert which(app, "midnight", "core/base.html") == str(CORE_TEMPLATES / "base.html")
    assert which(app, "default", "base.html") == str(CORE_TEMPLATES / "base.html")
    assert which(app, "midnight", "no/such.html") is None


def _blocks_and_includes(path):
    source = path.read_text()
    return (set(re.findall(r"{%-?\s*block\s+(\w+)", source)),
            set(re.findall(r"{%-?\s*include\s+\"([^\"]+)\"", source)))


def test_midnight_keeps_every_block_and_partial_of_the_core_layout():
    core_blocks, core_includes = _blocks_and_includes(CORE_TEMPLATES / "base.html")
    blocks, includes = _blocks_and_includes(MIDNIGHT / "templates" / "base.html")
    assert core_blocks <= blocks, f"midnight's base.html lacks blocks {core_blocks - blocks}"
    assert core_includes <= includes, f"midnight's base.html lacks partials {core_includes - includes}"
    core = (CORE_TEMPLATES / "base.html").read_text()
    for marker in ('<meta name="csrf-token"', "theme_url('theme.css')", "filename='accord.js'",
                   'data-help-page="{{ help_page }}"', '<main id="main" tabindex="-1">'):
        assert marker in core and marker in (MIDNIGHT / "templates" / "base.html").read_text(), marker


def _pages(app):
    """Every page without arguments that the web UI serves, plus a list and a missing page."""
    paths = {"/contacts", "/deals", "/admin/fields?type=deal", "/search?q=ada", "/no-such-page"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/api/", "/static")):
            paths.add(rule.rule)
    return sorted(paths - {"/logout"})


THEME_AWARE = {"/admin", "/admin/themes"}
"""Pages that name the active theme, so their content differs by design."""


def _main(text):
    match = re.search(r'<main id="main" tabindex="-1">(.*)</main>', text, flags=re.S)
    return match.group(1) if match else None


def test_every_page_works_the_same_under_midnight(app):
    _, browser = sign_in(app)
    before = {path: browser.get(path) for path in _pages(app)}
    use(app, "midnight")
    for path, default in before.items():
        midnight = browser.get(path)
        assert midnight.status_code == default.status_code, path
        if default.mimetype != "text/html" or "<html" not in default.get_data(as_text=True):
            continue  # redirects, JSON and fragments (the help panel)
        text = midnight.get_data(as_text=True)
        assert 'data-theme="midnight"' in text and "/static/themes/midnight/theme.css" in text, path
        if path not in THEME_AWARE:
            assert _main(text) == _main(default.get_data(as_text=True)), f"{path}: the page's content changed"
        scripts = set(re.findall(r"<script[^>]*>", default.get_data(as_text=True)))
        assert scripts <= set(re.findall(r"<script[^>]*>", text)), f"{path}: a page script was lost"


def test_midnight_pages_carry_its_layout_and_breadcrumb_band(app):
    _, browser = sign_in(app)
    use(app, "midnight")
    text = browser.get("/admin/plugins").get_data(as_text=True)
    assert '<nav class="skip-links" aria-label="Skip links">' in text
    assert '<a class="skip-link" href="#global-search-input">Skip to search</a>' in text
    assert '<nav class="breadcrumbs breadcrumbs-band" aria-label="Breadcrumb">' in text
    assert '<span aria-current="page">Plugins</span>' in text
    assert '<a class="breadcrumbs-up" href="/admin"><span aria-hidden="true">↑ </span>Up to Administration</a>' in text
    assert '<footer class="site-footer">' in text and "Theme: Midnight" in text
    assert text.index('class="site-header"') < text.index('class="page-context"') < text.index('<main id="main"')
    assert browser.get("/static/themes/midnight/theme.css").status_code == 200


def _luminance(colour):
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b):
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("text, background, minimum", [
    ("text", "bg", 4.5), ("text", "surface", 4.5), ("text", "accent-soft", 4.5), ("muted", "bg", 4.5),
    ("muted", "surface", 4.5), ("accent", "bg", 4.5), ("accent", "surface", 4.5), ("accent", "accent-soft", 4.5),
    ("accent-text", "accent", 4.5), ("danger", "surface", 4.5), ("danger", "danger-soft", 4.5),
    ("success", "surface", 4.5), ("success", "success-soft", 4.5), ("header-text", "header-bg", 4.5),
    ("header-link", "header-bg", 4.5), ("focus", "bg", 3), ("focus", "surface", 3),
    ("chart-weighted", "surface", 3), ("chart-lost", "surface", 3),
])
def test_midnight_colour_pairs_meet_wcag_aa(text, background, minimum):
    css = (MIDNIGHT / "static" / "theme.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    ratio = _contrast(colours[text], colours[background])
    assert ratio >= minimum, f"--{text} on --{background}: {ratio:.2f}:1"
    stated = re.search(rf"--{text} (?:\([a-z ]+\) )?on --{background}[^0-9]*?([0-9.]+):1", css)
    if stated:
        assert abs(float(stated.group(1)) - ratio) < 0.1, f"the comment says {stated.group(1)}:1, it is {ratio:.1f}:1"


# Third-party themes ------------------------------------------------------------------------


def test_a_theme_from_an_installed_distribution_is_found_and_a_broken_one_reported(installed_themes, accord_app_factory):
    from accord.core.registry import current_accord

    app = accord_app_factory()
    accord = current_accord(app)
    aurora = accord.themes["aurora"]
    assert (aurora.title, aurora.source, aurora.dark) == ("Aurora", "accord-fixture-themes", False)
    assert "fixture_bad_theme" in accord.theme_problems
    assert "colour: unknown key" in accord.theme_problems["fixture_bad_theme"]
    assert which(app, "aurora", "error.html") == str(THEMES_INSTALLED / "fixture_aurora_theme" / "templates" / "error.html")
    assert which(app, "aurora", "base.html") == str(CORE_TEMPLATES / "base.html")


# The command line --------------------------------------------------------------------------


@pytest.fixture
def accord(tmp_path):
    instance = tmp_path / "instance"

    def run(*args):
        return run_accord(instance, *args)

    assert run("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return run


def ok(result):
    assert result.exit_code == 0, result
    return result.stdout


def refused(result, message):
    assert result.exit_code == 1, result
    assert result.stderr.startswith("Error: ") and message in result.stderr, result
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result


def test_themes_list_use_and_which(accord):
    listed = ok(accord("themes", "list")).splitlines()
    assert re.match(r"default\s+built-in\s+Default\s+active$", listed[0]), listed
    assert re.match(r"midnight\s+built-in\s+Midnight$", listed[1]), listed

    assert ok(accord("themes", "use", "midnight")) == "Theme midnight is active.\n"
    listed = ok(accord("themes", "list")).splitlines()
    assert re.match(r"midnight\s+built-in\s+Midnight\s+active$", listed[1]) and listed[0].endswith("Default"), listed

    assert ok(accord("themes", "which", "base.html")).strip() == str(MIDNIGHT.resolve() / "templates" / "base.html")
    assert ok(accord("themes", "which", "partials/header.html")).strip() == str(CORE_TEMPLATES / "partials" / "header.html")
    assert ok(accord("themes", "which", "--theme", "default", "base.html")).strip() == str(CORE_TEMPLATES / "base.html")
    refused(accord("themes", "which", "nope.html"),
            "nope.html: not found in theme midnight, the applied vertical packs, the plugins or the core")
    refused(accord("themes", "which", "--theme", "neon", "base.html"), "there is no theme 'neon'; installed: default, midnight")
    refused(accord("themes", "use", "neon"), "There is no theme 'neon'; installed: default, midnight.")
    assert "midnight" in ok(accord("themes", "list")).splitlines()[1]


def test_themes_from_a_distribution_on_the_command_line(installed_themes, accord):
    listed = ok(accord("themes", "list"))
    assert re.search(r"^aurora\s+accord-fixture-themes\s+Aurora$", listed, flags=re.M), listed
    assert re.search(r"^fixture_bad_theme\s+broken: .*colour: unknown key", listed, flags=re.M), listed
    refused(accord("themes", "use", "fixture_bad_theme"), "theme 'fixture_bad_theme' cannot be used: ")
    ok(accord("themes", "use", "aurora"))
    assert re.search(r"^aurora\s+accord-fixture-themes\s+Aurora\s+active$", ok(accord("themes", "list")), flags=re.M)
    assert ok(accord("themes", "which", "error.html")).strip().endswith("fixture_aurora_theme/templates/error.html")
