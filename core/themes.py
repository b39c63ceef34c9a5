"""Themes: folders with ``theme.toml``, ``templates/`` and ``static/`` that restyle the web
UI. Built-in themes live in ``accord/themes/``; third-party ones are distributions with an
entry point in the group ``accord.themes`` naming their package.

The active theme is an instance setting, so every worker switches on its next request.
Templates are looked up in the active theme, then in the applied vertical packs, then in
the plugins, then in the core (:mod:`accord.core.web.rendering`); a theme may extend the
core's copy of the page it overrides as ``core/<name>``.
"""

import importlib.util
import re
import tomllib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy import select

from .db import utcnow
from .errors import NotFound
from .models import InstanceSetting

THEME_GROUP = "accord.themes"
BUILT_IN = Path(__file__).resolve().parents[1] / "themes"
DEFAULT_THEME = "default"
THEME_KEYS = {"name", "title", "description", "version", "dark"}
THEME_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class ThemeError(ValueError):
    """A ``theme.toml`` that cannot be used; the message names the file, key and reason."""


@dataclass(frozen=True)
class Theme:
    name: str
    title: str
    description: str
    folder: Path
    source: str
    dark: bool = False

    @property
    def templates(self):
        path = self.folder / "templates"
        return path if path.is_dir() else None

    @property
    def static(self):
        path = self.folder / "static"
        return path if path.is_dir() else None

    def to_json(self):
        return {"name": self.name, "title": self.title, "description": self.description,
                "source": self.source, "dark": self.dark}


def read_theme(folder, source):
    path = Path(folder) / "theme.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThemeError(f"{path}: missing; every theme needs a theme.toml") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - THEME_KEYS)
    if unknown:
        raise ThemeError(f"{path}: {unknown[0]}: unknown key (known: {', '.join(sorted(THEME_KEYS))})")
    name = data.get("name")
    if not isinstance(name, str) or not THEME_NAME.match(name):
        raise ThemeError(f"{path}: name: required; lower-case letters, digits, '-' and '_'")
    return Theme(name=name, title=str(data.get("title") or name.title()), description=str(data.get("description", "")),
                 folder=Path(folder), source=source, dark=bool(data.get("dark", False)))


def discover_themes():
    """Every usable theme by name, built-in first; plus ``{name: problem}`` for broken ones."""
    themes, problems = {}, {}
    candidates = [(folder, "built-in") for folder in sorted(BUILT_IN.iterdir()) if (folder / "theme.toml").is_file()]
    for entry_point in entry_points(group=THEME_GROUP):
        spec = importlib.util.find_spec(entry_point.module)
        if spec is None or not spec.submodule_search_locations:
            problems[entry_point.name] = f"{entry_point.value}: not a package"
            continue
        candidates.append((Path(next(iter(spec.submodule_search_locations))),
                           entry_point.dist.name if entry_point.dist else entry_point.value))
    for folder, source in candidates:
        try:
            theme = read_theme(folder, source)
        except ThemeError as exc:
            problems[folder.name] = str(exc)
            continue
        if theme.name in themes:
            problems[theme.name] = f"the theme name {theme.name!r} is taken by {themes[theme.name].source}"
            continue
        themes[theme.name] = theme
    return themes, problems


def active_theme_name(instance_settings):
    return instance_settings.get("theme") or DEFAULT_THEME


def use_theme(session, themes, name):
    """Make ``name`` the active theme of the instance, in the caller's transaction."""
    from .registry import bump_generation

    if name not in themes:
        raise NotFound(f"There is no theme {name!r}; installed: {', '.join(sorted(themes))}.")
    row = session.get(InstanceSetting, "theme") or InstanceSetting(key="theme")
    row.value = name
    row.changed_at = utcnow()
    session.add(row)
    bump_generation(session)


def load_instance_settings(session):
    return {row.key: row.value for row in session.execute(select(InstanceSetting)).scalars()}

