"""A vertical pack's ``templates/`` on the Jinja lookup path: active theme, then the applied
packs (the one applied last first), then plugins, then the core. An apply or a revert made
by another process reaches a running app on its next request; the pack is the fixture
``tests/fixtures/pack_templates/showcase`` (an override of ``records/list.html`` and of
``partials/breadcrumbs.html``)."""

import shutil
from pathlib import Path

import pytest

from accord.core import changesets
from accord.core.db import db
from accord.core.records import Actor
from cli_helpers import run_accord
from web_helpers import sign_in

SHOWCASE = Path(__file__).resolve().parents[2] / "fixtures" / "pack_templates" / "showcase"
CORE_TEMPLATES = Path(__file__).resolve().parents[3] / "core" / "web" / "templates"
MIDNIGHT = Path(__file__).resolve().parents[3] / "themes" / "midnight" / "templates"
BANNER = "Listed by the showcase pack"
CRUMBS = "Crumbs by the showcase pack"
ACTOR = Actor(user_id=None, source="cli", is_admin=True, name="test")


@pytest.fixture
def showcase(tmp_path):
    """A copy of the showcase pack, and a second pack ``encore`` overriding the same page."""
    folder = tmp_path / "packs" / "showcase"
    shutil.copytree(SHOWCASE, folder)
    encore = tmp_path / "packs" / "encore"
    shutil.copytree(SHOWCASE, encore)
    toml = encore / "vertical.toml"
    toml.write_text(toml.read_text().replace('name = "showcase"', 'name = "encore"'))
    page = encore / "templates" / "records" / "list.html"
    page.write_text(page.read_text().replace("showcase", "encore"))
    shutil.rmtree(encore / "templates" / "partials")
    return folder


def accord(app, *args):
    """``accord ARGS`` in an app of its own on ``app``'s database (another process's view)."""
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
    done = run_accord(app.instance_path, *args, database_url=url)
    assert done.exit_code == 0, done
    return done.stdout


def which(app, theme, template):
    from accord.core.web.rendering import which_template

    with app.app_context():
        return which_template(theme, template)


def page(browser):
    answer = browser.get("/deals")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_the_diff_names_the_templates_and_the_pages_follow_apply_and_revert(app, showcase):
    _, browser = sign_in(app)
    assert BANNER not in page(browser) and CRUMBS not in page(browser)

    lines = accord(app, "verticals", "diff", str(showcase)).splitlines()
    assert lines == [f"+ templates partials/breadcrumbs.html, records/list.html (from {showcase / 'templates'})"]
    accord(app, "verticals", "apply", str(showcase))
    shown = page(browser)
    assert BANNER in shown and CRUMBS in shown, "the running app sees the other process's apply"
    assert "<h1>Deals</h1>" in shown, "the override extends the core's page"
    assert which(app, "default", "records/list.html") == str(showcase / "templates" / "records" / "list.html")
    assert which(app, "default", "records/_table.html") == str(CORE_TEMPLATES / "records" / "_table.html")
    assert "= templates" in accord(app, "verticals", "diff", str(showcase))

    reverted = accord(app, "verticals", "revert", "showcase").splitlines()
    assert reverted[0] == f"- templates partials/breadcrumbs.html, records/list.html (from {showcase / 'templates'})"
    shown = page(browser)
    assert BANNER not in shown and CRUMBS not in shown
    assert which(app, "default", "records/list.html") == str(CORE_TEMPLATES / "records" / "list.html")


def test_the_active_theme_wins_over_a_pack_and_the_pack_over_the_core(app, showcase):
    from accord.core.records import write_unit
    from accord.core.registry import current_accord
    from accord.core.themes import use_theme
    from accord.core.verticals import load_pack_from

    with app.test_request_context():
        changesets.apply(load_pack_from(showcase), ACTOR)
    with app.app_context(), write_unit() as session:
        use_theme(session, current_accord().themes, "midnight")
    assert which(app, "midnight", "partials/breadcrumbs.html") == str(MIDNIGHT.resolve() / "partials" / "breadcrumbs.html")
    assert which(app, "midnight", "records/list.html") == str(showcase / "templates" / "records" / "list.html")
    shown = page(sign_in(app)[1])
    assert BANNER in shown and CRUMBS not in shown


def test_the_pack_applied_last_comes_first(app, showcase):
    from accord.core.verticals import load_pack_from

    encore = showcase.parent / "encore"
    with app.test_request_context():
        changesets.apply(load_pack_from(showcase), ACTOR)
        changesets.apply(load_pack_from(encore), ACTOR)
    _, browser = sign_in(app)
    shown = page(browser)
    assert "Listed by the encore pack" in shown and BANNER not in shown
    assert CRUMBS in shown, "a page the later pack does not override still comes from the earlier one"
    with app.test_request_context():
        changesets.revert("encore", ACTOR)
    assert BANNER in page(browser)
