"""Rendering a page with the active theme.

One Jinja environment per theme and set of applied vertical packs, each an overlay of the
app's environment (same globals and filters) whose loader looks in the theme's templates,
then in the ``templates/`` of each applied pack (the one applied last first), then each
plugin's, then the core's; ``core/<name>`` always reaches the core's copy, so a theme's or
a pack's page can extend the one it replaces. The applied packs are read with the catalog,
once per schema generation, so an apply or a revert reaches every worker on its next
request, as a theme switch does. :func:`which_template` says which file wins for a name.
"""

from pathlib import Path

from flask import current_app, g, get_flashed_messages, request
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, TemplateNotFound
from markupsafe import Markup

from ..registry import current_accord
from ..themes import DEFAULT_THEME, active_theme_name
from . import present

CORE_TEMPLATES = Path(__file__).parent / "templates"
PACK_TEMPLATES = "pack_templates"


def init_rendering(app):
    accord = current_accord(app)
    accord.theme_environments = {}
    env = app.jinja_env
    env.globals.update(
        csrf_token=_csrf_token, csrf_field=_csrf_field, present=present, theme_url=_theme_url,
    )
    env.filters.update(present.FILTERS)
    env.autoescape = True


def environment(theme_name):
    """The Jinja environment of a theme with the packs applied now (made once per process
    for each such pair)."""
    accord = current_accord()
    packs = accord.catalog().memo(PACK_TEMPLATES, _pack_templates)
    envs = accord.theme_environments
    env = envs.get((theme_name, packs))
    if env is None:
        env = current_app.jinja_env.overlay(loader=ChoiceLoader(_loaders(accord, theme_name, packs)))
        envs[(theme_name, packs)] = env
    return env


def _pack_templates():
    from ..pack_ledger import applied_templates
    from ..db import db

    return applied_templates(db.session)


def _loaders(accord, theme_name, packs):
    theme = accord.themes.get(theme_name) or accord.themes.get(DEFAULT_THEME)
    loaders = []
    if theme is not None and theme.templates is not None:
        loaders.append(FileSystemLoader(str(theme.templates)))
    loaders += [FileSystemLoader(folder) for folder in packs]
    for name in sorted(accord.loaded):
        manifest = accord.installed[name].manifest
        if manifest.templates is not None:
            loaders.append(FileSystemLoader(str(manifest.templates)))
    core = FileSystemLoader(str(CORE_TEMPLATES))
    loaders += [PrefixLoader({"core": core}), core]
    return loaders


def which_template(theme_name, template):
    """The file that serves ``template`` under ``theme_name``, or ``None``."""
    env = environment(theme_name)
    for loader in env.loader.loaders:
        try:
            source = loader.get_source(env, template)
        except TemplateNotFound:
            continue
        return source[1]
    return None


def current_theme():
    catalog = current_accord().catalog()
    name = active_theme_name(catalog.instance_settings)
    return name if name in current_accord().themes else DEFAULT_THEME


def render(template, title, breadcrumbs, help_page=None, **context):
    """A page rendered with the active theme.

    :param breadcrumbs: ``[(label, url), ...]`` from the dashboard down; the last one is
        the current page (its url may be ``None``).
    :param help_page: the key contextual help looks topics up by (default: the endpoint).
    """
    accord = current_accord()
    catalog = accord.catalog()
    theme = current_theme()
    context.update(
        title=title, breadcrumbs=breadcrumbs, help_page=help_page or request.endpoint,
        theme=accord.themes[theme], catalog=catalog, user=g.get("accord_user"),
        navigation=navigation(catalog), messages=get_flashed_messages(with_categories=True),
    )
    current_app.update_template_context(context)
    return environment(theme).get_or_select_template(template).render(context)


def navigation(catalog):
    """The main menu: record types with pages, then what active plugins add, by order."""
    items = [{"label": "Dashboard", "url": "/", "order": 0}]
    for rt in sorted(catalog.types.values(), key=lambda t: t.label):
        if rt.key in present.MENU_TYPES or rt.origin != "core":
            items.append({"label": rt.plural_label, "url": f"/{rt.plural}", "order": present.MENU_TYPES.get(rt.key, 60)})
    for _plugin, item in catalog.registrations.navigation:
        url = item.get("url")
        if url and all(existing["url"] != url for existing in items):
            items.append({"label": item["label"], "url": url, "order": item.get("order", 70)})
    return sorted(items, key=lambda item: (item["order"], item["label"]))


def _csrf_token():
    from .auth import csrf_token

    return csrf_token()


def _csrf_field():
    from .auth import CSRF_FIELD, csrf_token

    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token()}">')


def _theme_url(filename):
    theme = current_theme()
    return f"/static/themes/{theme}/{filename}"
