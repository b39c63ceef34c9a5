"""Plugin manifests: ``plugin.toml`` beside a plugin's ``__init__.py``, read and checked
before any of the plugin's code runs, so dependencies, compatibility and settings are
known even for a plugin that fails to import.

An example::

    name = "servicedesk"
    version = "1.2.0"
    title = "Service desk"
    summary = "Tickets with an SLA."
    accord = ">=0.1"            # core versions this plugin works with
    hook_contract = 1           # the hook contract it was written for
    requires = { marketing = ">=1.0" }

    [permissions]
    "servicedesk.ticket.assign" = "Assign tickets to agents"

    [settings.first_response_hours]
    kind = "integer"
    default = 4
    label = "Hours to first response"
    min = 1

    [[fields]]                  # custom fields it adds to other plugins' or core types
    record_type = "contact"
    name = "support_tier"
    kind = "choice"
    choices = ["standard", "gold"]
"""

import importlib.util
import re
import tomllib
from dataclasses import dataclass, field as dc_field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

MANIFEST_FILE = "plugin.toml"
PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED_NAMES = {"accord", "core", "api", "web", "admin", "static", "plugins", "themes", "verticals"}
SETTING_KINDS = ("text", "long_text", "integer", "decimal", "boolean", "choice", "multi_choice",
                 "email", "url", "date")
TOP_KEYS = {"name", "version", "title", "summary", "accord", "hook_contract", "requires", "permissions",
            "settings", "fields", "migrations", "templates"}
SETTING_KEYS = {"kind", "default", "label", "help", "choices", "min", "max", "required"}
FIELD_KEYS = {"record_type", "name", "kind", "label", "required", "choices", "reference", "indexed",
              "searchable", "pii", "help"}


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, the key and the reason."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str
    default: object = None
    label: str = ""
    help: str = ""
    choices: tuple = ()
    min: object = None
    max: object = None
    required: bool = False


@dataclass(frozen=True)
class Manifest:
    """What a plugin says about itself."""

    name: str
    version: Version
    title: str
    summary: str
    accord: SpecifierSet
    hook_contract: int
    requires: dict = dc_field(default_factory=dict)
    permissions: dict = dc_field(default_factory=dict)
    settings: dict = dc_field(default_factory=dict)
    fields: tuple = ()
    migrations: Path | None = None
    templates: Path | None = None
    folder: Path | None = None

    def to_json(self):
        return {
            "name": self.name, "version": str(self.version), "title": self.title, "summary": self.summary,
            "accord": str(self.accord) or "any", "hook_contract": self.hook_contract,
            "requires": {name: str(spec) or "any" for name, spec in self.requires.items()},
            "permissions": dict(self.permissions),
            "settings": {s.name: {"kind": s.kind, "default": s.default, "label": s.label, "help": s.help,
                                  "choices": list(s.choices) or None, "min": s.min, "max": s.max,
                                  "required": s.required}
                         for s in self.settings.values()},
            "fields": [dict(f) for f in self.fields],
        }


def plugin_folder(module_name):
    """The folder of a plugin's package, found without executing the package itself."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(f"{module_name}: not a package, so it has no {MANIFEST_FILE}")
    return Path(next(iter(spec.submodule_search_locations)))


def read_manifest(folder, expected_name=None):
    """Parse and check ``folder/plugin.toml``; raise :class:`ManifestError` on any problem."""
    path = Path(folder) / MANIFEST_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: missing; every plugin needs a {MANIFEST_FILE}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from None
    return parse_manifest(data, path, expected_name)


def parse_manifest(data, path, expected_name=None):
    where = str(path)

    def fail(key, reason):
        raise ManifestError(f"{where}: {key}: {reason}")

    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        fail(unknown[0], f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")
    for key in ("name", "version"):
        if not isinstance(data.get(key), str):
            fail(key, "required, a string")
    name = data["name"]
    if not PLUGIN_NAME.match(name):
        fail("name", "lower-case letters, digits and underscores, starting with a letter (at most 40)")
    if name in RESERVED_NAMES:
        fail("name", f"{name!r} is reserved by Accord; choose another name")
    if expected_name is not None and name != expected_name:
        fail("name", f"is {name!r} but the entry point is named {expected_name!r}")
    try:
        version = Version(data["version"])
    except InvalidVersion:
        fail("version", f"{data['version']!r} is not a version number")
    for key in ("title", "summary"):
        if not isinstance(data.get(key, ""), str):
            fail(key, "must be a string")
    accord = _specifier(data.get("accord", ""), "accord", fail)
    contract = data.get("hook_contract", 1)
    if not isinstance(contract, int) or isinstance(contract, bool) or contract < 1:
        fail("hook_contract", "must be a whole number from 1")
    requires = _table(data, "requires", fail)
    for other, spec in requires.items():
        if not PLUGIN_NAME.match(other):
            fail(f"requires.{other}", "not a plugin name")
        if other == name:
            fail(f"requires.{other}", "a plugin cannot require itself")
    requires = {other: _specifier(spec, f"requires.{other}", fail) for other, spec in requires.items()}
    permissions = _table(data, "permissions", fail)
    for perm, description in permissions.items():
        if not perm.startswith(f"{name}."):
            fail(f"permissions.{perm}", f"must start with {name + '.'!r} so plugins cannot collide")
        if not isinstance(description, str):
            fail(f"permissions.{perm}", "the description must be a string")
    settings = {key: _setting(key, spec, fail) for key, spec in _table(data, "settings", fail).items()}
    fields = data.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, dict) for f in fields):
        fail("fields", "must be an array of tables ([[fields]])")
    for index, spec in enumerate(fields):
        extra = sorted(set(spec) - FIELD_KEYS)
        if extra:
            fail(f"fields[{index}].{extra[0]}", "unknown key")
        for key in ("record_type", "name", "kind"):
            if not isinstance(spec.get(key), str):
                fail(f"fields[{index}].{key}", "required, a string")
    folder = Path(path).parent
    return Manifest(
        name=name, version=version, title=data.get("title") or name.replace("_", " ").title(),
        summary=data.get("summary", ""), accord=accord, hook_contract=contract, requires=requires,
        permissions=permissions, settings=settings, fields=tuple(fields),
        migrations=_subfolder(folder, data.get("migrations", "migrations"), "migrations", fail),
        templates=_subfolder(folder, data.get("templates", "templates"), "templates", fail),
        folder=folder,
    )


def _table(data, key, fail):
    value = data.get(key, {})
    if not isinstance(value, dict):
        fail(key, "must be a table")
    return value


def _specifier(text, key, fail):
    if not isinstance(text, str):
        fail(key, "must be a version specifier string such as '>=1.0,<2'")
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        fail(key, f"{text!r} is not a version specifier (e.g. '>=1.0,<2')")


def _setting(key, spec, fail):
    where = f"settings.{key}"
    if not re.match(r"^[a-z][a-z0-9_]{0,62}$", key):
        fail(where, "setting names are lower-case letters, digits and underscores")
    if not isinstance(spec, dict):
        fail(where, "must be a table with at least 'kind'")
    extra = sorted(set(spec) - SETTING_KEYS)
    if extra:
        fail(f"{where}.{extra[0]}", f"unknown key (known: {', '.join(sorted(SETTING_KEYS))})")
    kind = spec.get("kind")
    if kind not in SETTING_KINDS:
        fail(f"{where}.kind", f"must be one of {', '.join(SETTING_KINDS)}")
    choices = spec.get("choices", [])
    if kind in ("choice", "multi_choice") and (not choices or not all(isinstance(c, str) for c in choices)):
        fail(f"{where}.choices", "a choice setting needs a list of choice keys")
    return Setting(name=key, kind=kind, default=spec.get("default"), label=spec.get("label", key.replace("_", " ").capitalize()),
                   help=spec.get("help", ""), choices=tuple(choices), min=spec.get("min"), max=spec.get("max"),
                   required=bool(spec.get("required", False)))


def _subfolder(folder, relative, key, fail):
    if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
        fail(key, "must be a folder inside the plugin's package")
    path = folder / relative
    return path if path.is_dir() else None
