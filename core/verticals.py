"""Vertical packs: finding them, reading and checking ``vertical.toml``, and writing an
instance's own layer out as a pack.

A pack is a folder holding ``vertical.toml`` (the format is in the design notes and in
``verticals/README.md``), optional sample data ``data/<type>.csv`` and optional
``templates/``. Built-in packs are the folders of ``accord/verticals``; an installed
distribution adds packs through the entry point group ``accord.verticals`` whose value is
a package that holds the same layout.

Checking here is structural: every problem in the file is collected (never only the
first) as a :class:`Problem` naming the file, the key path and the reason. Whether the
record types, fields, pipelines and stages a pack names exist on an instance is asked by
:mod:`accord.core.changesets`, with the same :class:`Problem` type.

:attr:`Pack.content` holds every section, empty when the file has none, normalised:

- ``types``: ``{key: {label, plural_label, plural, title_fields, description, timeline,
  pipeline}}`` (defaults filled in);
- ``fields``: ``{type: [spec]}``, each spec as written (the keys of
  :data:`accord.core.customfields.SPEC_KEYS`), ready for ``add_field``;
- ``terms``: ``{key: {"label", "plural"?}}``, the key as written (``"type:deal"`` becomes
  ``"deal"``); :func:`term_target` turns a key into a ``term`` table target;
- ``pipelines``: ``{key: {record_type, label, stages, order}}`` (``None`` where not
  given; stages as written, so an absent probability keeps the stored one);
- ``picklists``: ``{"<type>.<field>": [{"key", "label"}]}``;
- ``views``, ``widgets``, ``roles``, ``help``, ``rules``: lists of dicts with defaults
  filled in (a widget's ``measure`` is ``"count"``, a rule's ``conditions`` ``[]`` and
  ``enabled`` ``True``, ...).
"""

import csv
import re
import tomllib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl

from marshmallow import ValidationError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from stevedore import NamedExtensionManager

from .automation import ACTION_KEYS, EMAIL, MAX_DUE_DAYS, SUBJECT_CHARS, TRIGGERS
from .automation import OPS as CONDITION_OPS
from .customfields import CHOICE_KINDS, SPEC_KEYS
from .descriptors import Choice, Field
from .fields import FIELD_NAME, KINDS
from .models import ACTIVITY_KINDS
from .permissions import BUILT_IN_ROLES, SCOPES, VERBS
from .pipelines import OUTCOMES
from .query import MAX_LIMIT, OPERATORS

PACK_FILE = "vertical.toml"
ENTRY_POINT_GROUP = "accord.verticals"
BUILT_IN = Path(__file__).resolve().parent.parent / "verticals"
PACK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NAME = FIELD_NAME
HELP_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
SECTIONS = ("types", "fields", "terms", "pipelines", "picklists", "views", "widgets", "roles", "help", "rules")
PACK_KEYS = ("name", "version", "title", "summary", "core", "requires")
TYPE_KEYS = ("label", "plural_label", "plural", "title_fields", "description", "timeline", "pipeline")
PIPELINE_KEYS = ("record_type", "label", "stages", "order")
STAGE_KEYS = ("key", "label", "probability", "outcome", "allowed_next", "reasons")
VALUELESS_OPS = ("is_empty", "is_set")
LIST_OPS = ("in", "not_in")
VIEW_PARAMETERS = ("q", "sort", "limit")
DATA_FILE = re.compile(r"^(?:[0-9]+_)?([a-z][a-z0-9_]{0,62})$")
SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class Problem(NamedTuple):
    """One thing wrong with a pack: the file, the key path in it (``fields.deal[2].kind``,
    ``pipelines.sales.stages[0].probability``, ``line 4`` for a syntax error) and why."""

    file: str
    key: str
    reason: str

    def __str__(self):
        return f"{self.file}: {self.key}: {self.reason}"


class PackInvalid(Exception):
    """A pack that cannot be used; :attr:`problems` lists every :class:`Problem` found and
    ``str()`` gives one line per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))

    def __str__(self):
        return "\n".join(map(str, self.problems))


@dataclass(frozen=True)
class Pack:
    """A checked vertical pack (see the module docstring for :attr:`content`).

    :param source: ``"built-in"``, ``"distribution <name>"`` or ``"folder <path>"``.
    :param data_files: the sample data ``data/*.csv``, sorted (the order they load in).
    :param templates: the ``templates`` folder, or ``None``.
    """

    name: str
    version: str
    title: str
    summary: str
    core: str | None
    requires: dict
    path: Path
    source: str
    content: dict
    data_files: list
    templates: Path | None


# --- discovery -------------------------------------------------------------------------


def available_packs():
    """Every pack found here, by name: a :class:`Pack`, or the :class:`PackInvalid` that
    says why it cannot be used (a broken pack is listed, never raised). A name claimed
    twice (built-in and a distribution, or two distributions) is listed as invalid rather
    than one of them being picked."""
    found, sources = {}, {}
    if BUILT_IN.is_dir():
        for folder in sorted(BUILT_IN.iterdir()):
            if folder.is_dir() and not folder.name.startswith((".", "_")):
                found[folder.name] = _attempt(folder, folder.name, "built-in")
                sources[folder.name] = "built-in"
    for name, folder, source, problem in _installed_packs():
        if name in found:
            found[name] = PackInvalid([Problem(str(folder / PACK_FILE), "pack.name",
                                               f"the name {name!r} is claimed by both the {sources[name]} pack "
                                               f"and {source}; uninstall one of them")])
            continue
        sources[name] = source
        found[name] = PackInvalid([problem]) if problem else _attempt(folder, name, source)
    return found


def load_pack(name):
    """The pack called ``name``; raises :class:`LookupError` when there is none and
    :class:`PackInvalid` when it is broken."""
    packs = available_packs()
    if name not in packs:
        raise LookupError(f"no vertical pack named {name}; available: {', '.join(sorted(packs)) or 'none'}")
    if isinstance(packs[name], PackInvalid):
        raise packs[name]
    return packs[name]


def load_pack_from(path, source=None):
    """The pack in folder ``path`` (or whose ``vertical.toml`` is ``path``), its name
    being the folder's; raises :class:`PackInvalid`."""
    folder = Path(path)
    if folder.name == PACK_FILE and folder.is_file():
        folder = folder.parent
    return read_pack(folder, folder.name, source or f"folder {folder}")


def _attempt(folder, name, source):
    try:
        return read_pack(folder, name, source)
    except PackInvalid as exc:
        return exc


def _installed_packs():
    """``(name, folder, source, problem)`` for each ``accord.verticals`` entry point, its
    package imported through stevedore as plugins are (:mod:`accord.core.discovery`);
    one that fails to import comes with the problem instead of a folder."""
    declared, clashes = {}, {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else "an unknown distribution"
        source = f"distribution {distribution}"
        first = declared.setdefault(entry_point.name, (entry_point.value, source))
        if first != (entry_point.value, source):
            clashes[entry_point.name] = (f"the pack name {entry_point.name!r} is claimed by both {first[1]} "
                                         f"({first[0]}) and {source} ({entry_point.value}); uninstall one of them")
    if not declared:
        return []
    NamedExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
    failures = {}

    def failed(manager, entry_point, exc):
        failures[entry_point.name] = f"cannot import {entry_point.value}: {type(exc).__name__}: {exc}"

    manager = NamedExtensionManager(
        ENTRY_POINT_GROUP, names=sorted(declared), name_order=True, invoke_on_load=False,
        on_load_failure_callback=failed, on_missing_entrypoints_callback=lambda names: None,
    )
    folders = {extension.name: _module_folder(extension.plugin) for extension in manager}
    found = []
    for name, (target, source) in sorted(declared.items()):
        folder = folders.get(name)
        if name in clashes:
            found.append((name, Path(target), source, Problem(target, "entry point", clashes[name])))
        elif folder is None:
            reason = failures.get(name, f"{target} is not a package whose folder holds {PACK_FILE}")
            found.append((name, Path(target), source, Problem(target, "entry point", reason)))
        else:
            found.append((name, folder, source, None))
    return found


def _module_folder(module):
    locations = list(getattr(module, "__path__", None) or ())
    if locations:
        return Path(locations[0])
    return Path(module.__file__).parent if getattr(module, "__file__", None) else None


# --- reading -----------------------------------------------------------------------------


def read_pack(folder, expected_name, source):
    """Read and check the pack in ``folder`` whose name must be ``expected_name``; raises
    :class:`PackInvalid` with every problem found."""
    folder = Path(folder)
    file = folder / PACK_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackInvalid([Problem(str(file), "(file)", f"missing; every pack needs a {PACK_FILE}")]) from None
    except UnicodeDecodeError:
        raise PackInvalid([Problem(str(file), "(file)", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PackInvalid([_syntax_problem(file, exc)]) from None
    reader = _Reader(file)
    header, content = check_document(reader, data, expected_name)
    data_files = sorted((folder / "data").glob("*.csv")) if (folder / "data").is_dir() else []
    for data_file in data_files:
        _check_data_file(reader, data_file)
    if reader.problems:
        raise PackInvalid(reader.problems)
    templates = folder / "templates"
    return Pack(path=folder, source=source, content=content, data_files=data_files,
                templates=templates if templates.is_dir() else None, **header)


def _syntax_problem(file, exc):
    message = str(exc)
    position = SYNTAX_POSITION.search(message)
    if position is None:
        return Problem(str(file), "(file)", f"not valid TOML: {message}")
    return Problem(str(file), f"line {position.group(1)}",
                   f"not valid TOML: {message[:position.start()]} (column {position.group(2)})")


def _check_data_file(reader, data_file):
    problem = _Reader(data_file)
    if data_record_type(data_file) is None:
        problem.problem("(file name)", "name a data file after the record type it holds, optionally after a "
                                       "number that orders it: data/property.csv, data/02_property.csv")
    try:
        with data_file.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        problem.problem("(file)", f"not a UTF-8 CSV file: {exc}")
    else:
        if not [column for column in header if column.strip()]:
            problem.problem("line 1", "the first line must name the columns")
    reader.problems.extend(problem.problems)


def data_record_type(data_file):
    """The record type a sample data file holds: ``data/02_property.csv`` and
    ``data/property.csv`` hold ``property`` (files load in name order); ``None`` for a
    name that says no type."""
    match = DATA_FILE.match(Path(data_file).stem)
    return match.group(1) if match else None


def check_document(reader, data, expected_name=None):
    """Check a parsed ``vertical.toml``: ``(pack header, content)``, with every problem
    added to ``reader.problems`` (the values of a broken part are left out)."""
    for key in sorted(set(data) - {"pack", *SECTIONS}):
        reader.problem(key, f"unknown section (known: pack, {', '.join(SECTIONS)})")
    header = _pack_header(reader, data.get("pack"), expected_name)
    readers = {"types": _types, "fields": _fields, "terms": _terms, "pipelines": _pipelines, "picklists": _picklists,
               "views": _views, "widgets": _widgets, "roles": _roles, "help": _help, "rules": _rules}
    content = {section: readers[section](reader, data.get(section), section) for section in SECTIONS}
    _cross_check(reader, content)
    return header, content


class _Reader:
    """Collects the problems of one file and checks values at a key path."""

    def __init__(self, file):
        self.file = str(file)
        self.problems = []

    def problem(self, key, reason):
        self.problems.append(Problem(self.file, key, reason))

    def table(self, value, where, allowed, required=()):
        """``value`` if it is a table (its unknown keys and missing required ones
        reported), else ``None``."""
        if not isinstance(value, dict):
            self.problem(where, "must be a table")
            return None
        for key in value:
            if key not in allowed:
                hint = " (quote a dotted key: \"a.b\")" if isinstance(value[key], dict) else ""
                self.problem(_at(where, key), f"unknown key (known: {', '.join(allowed)}){hint}")
        for key in required:
            if key not in value:
                self.problem(_at(where, key), "required")
        return value

    def tables(self, value, where):
        """``value`` if it is an array of tables, else ``None``."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.problem(where, f"must be an array of tables ([[{where}]])")
            return None
        return value

    def text(self, table, key, where, limit=None, required=False):
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(_at(where, key), "must be text" + (" (not empty)" if required else ""))
            return None
        if limit and len(value) > limit:
            self.problem(_at(where, key), f"must be at most {limit} characters")
            return None
        return value

    def name(self, table, key, where, pattern=NAME):
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.match(value):
            self.problem(_at(where, key), _name_reason(pattern, value))
            return None
        return value

    def names(self, table, key, where):
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.problem(_at(where, key), "must be an array of names")
            return None
        good = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not NAME.match(item):
                self.problem(f"{_at(where, key)}[{index}]", _name_reason(NAME, item))
            elif item in good:
                self.problem(f"{_at(where, key)}[{index}]", f"{item!r} is listed twice")
            else:
                good.append(item)
        return good

    def flag(self, table, key, where):
        value = table.get(key)
        if value is not None and not isinstance(value, bool):
            self.problem(_at(where, key), "must be true or false")
            return None
        return value

    def number(self, table, key, where, low, high):
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.problem(_at(where, key), f"must be a whole number from {low} to {high}")
            return None
        return value

    def once(self, seen, value, where, what):
        """Report ``value`` met before (``seen`` maps values to their key path)."""
        if value is None:
            return
        if value in seen:
            self.problem(where, f"{what} {value!r} is declared twice (also at {seen[value]})")
        else:
            seen[value] = where


def _at(where, key):
    return f"{where}.{key}" if where else str(key)


def _name_reason(pattern, value):
    if pattern is PACK_NAME:
        return f"{value!r} is not a pack name: lower-case letters, digits and underscores, starting with a letter (at most 40)"
    if pattern is HELP_KEY:
        return f"{value!r} is not a key: names of lower-case letters, digits and underscores joined by dots"
    return f"{value!r} is not a name: lower-case letters, digits and underscores, starting with a letter (at most 63)"


def _specifier(reader, value, where):
    if not isinstance(value, str):
        reader.problem(where, "must be a version specifier such as '>=1.0,<2'")
        return None
    try:
        return str(SpecifierSet(value))
    except InvalidSpecifier:
        reader.problem(where, f"{value!r} is not a version specifier (e.g. '>=1.0,<2')")
        return None


def _pack_header(reader, raw, expected_name):
    if raw is None:
        reader.problem("pack", "required: a [pack] table with name, version and title")
        return {}
    pack = reader.table(raw, "pack", PACK_KEYS, required=("name", "version", "title"))
    if pack is None:
        return {}
    name = reader.name(pack, "name", "pack", PACK_NAME)
    if name and expected_name is not None and name != expected_name:
        reader.problem("pack.name", f"is {name!r} but the pack is found as {expected_name!r}; make them equal")
    version = pack.get("version")
    if version is not None:
        try:
            Version(version if isinstance(version, str) else "")
        except InvalidVersion:
            reader.problem("pack.version", f"{version!r} is not a version number (PEP 440, e.g. '1.0.0')")
            version = None
    requires = {}
    raw_requires = pack.get("requires", {})
    if not isinstance(raw_requires, dict):
        reader.problem("pack.requires", "must be a table of plugin names to version specifiers")
        raw_requires = {}
    for plugin, spec in raw_requires.items():
        if not PACK_NAME.match(plugin):
            reader.problem(f"pack.requires.{plugin}", "not a plugin name")
        requires[plugin] = _specifier(reader, spec, f"pack.requires.{plugin}")
    core = pack.get("core")
    return {
        "name": name, "version": version, "title": reader.text(pack, "title", "pack", 120, required=True),
        "summary": reader.text(pack, "summary", "pack") or "", "requires": requires,
        "core": _specifier(reader, core, "pack.core") if core is not None else None,
    }


# --- sections ----------------------------------------------------------------------------


def _named_tables(reader, raw, where):
    """``(key, table, path)`` of a table of tables, bad keys and non-tables reported."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        reader.problem(where, "must be a table")
        return []
    found = []
    for key, value in raw.items():
        path = _at(where, key)
        if not NAME.match(key):
            reader.problem(path, _name_reason(NAME, key))
        elif not isinstance(value, dict):
            reader.problem(path, "must be a table")
        else:
            found.append((key, value, path))
    return found


def _types(reader, raw, where):
    types, plurals = {}, {}
    for key, table, path in _named_tables(reader, raw, where):
        reader.table(table, path, TYPE_KEYS, required=("label", "plural_label", "plural"))
        plural = reader.name(table, "plural", path)
        reader.once(plurals, plural, _at(path, "plural"), "the plural")
        types[key] = {
            "label": reader.text(table, "label", path, 120, required=True),
            "plural_label": reader.text(table, "plural_label", path, 120, required=True),
            "plural": plural, "title_fields": reader.names(table, "title_fields", path) or [],
            "description": reader.text(table, "description", path) or "",
            "timeline": bool(reader.flag(table, "timeline", path)), "pipeline": reader.name(table, "pipeline", path),
        }
    return types


def _fields(reader, raw, where):
    fields = {}
    if raw is None:
        return fields
    if not isinstance(raw, dict):
        reader.problem(where, "must hold one array of tables per record type ([[fields.deal]])")
        return fields
    for record_type, specs in raw.items():
        path = _at(where, record_type)
        if not NAME.match(record_type):
            reader.problem(path, _name_reason(NAME, record_type))
            continue
        specs = reader.tables(specs, path)
        if specs is None:
            continue
        seen = {}
        for index, spec in enumerate(specs):
            spec_path = f"{path}[{index}]"
            if _field_spec(reader, spec, spec_path):
                reader.once(seen, spec["name"], _at(spec_path, "name"), "the field")
        fields[record_type] = specs
    return fields


def _field_spec(reader, spec, where):
    """Check one field spec as ``add_field`` would; ``True`` when its name is usable."""
    reader.table(spec, where, sorted(SPEC_KEYS), required=("name", "kind"))
    name = reader.name(spec, "name", where)
    kind = spec.get("kind")
    if kind is not None and kind not in KINDS:
        reader.problem(_at(where, "kind"), f"{kind!r} is not a field kind (kinds: {', '.join(KINDS)})")
        kind = None
    reader.text(spec, "label", where, 120)
    reader.text(spec, "help", where)
    for flag in ("required", "pii", "sensitive", "indexed", "searchable"):
        reader.flag(spec, flag, where)
    choices = None
    if kind in CHOICE_KINDS:
        if "choices" in spec:
            choices = _choices(reader, spec["choices"], _at(where, "choices"))
        else:
            reader.problem(_at(where, "choices"), f"a {kind} field needs its choices")
    elif kind and "choices" in spec:
        reader.problem(_at(where, "choices"), "only choice and multi_choice fields have choices")
    if kind == "reference":
        if "reference" not in spec:
            reader.problem(_at(where, "reference"), "a reference field names the record type it points at")
        reader.name(spec, "reference", where)
    elif kind and "reference" in spec:
        reader.problem(_at(where, "reference"), "only reference fields point at a record type")
    if spec.get("indexed") is True and kind and not KINDS[kind].sortable:
        reader.problem(_at(where, "indexed"), f"{kind} fields cannot be indexed")
    if spec.get("default") is not None and kind and kind != "reference" and (kind not in CHOICE_KINDS or choices):
        probe = Field(name=name or "field", kind=kind, choices=tuple(Choice(c["key"], c["label"]) for c in choices or ()))
        try:
            KINDS[kind].marshmallow_field(probe).deserialize(spec["default"])
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
            reader.problem(_at(where, "default"), " ".join(map(str, messages)))
    return name is not None


def _choices(reader, raw, where):
    """``[{"key", "label"}]`` from strings or ``{key, label}`` tables, or ``None``."""
    if not isinstance(raw, list) or not raw:
        reader.problem(where, "must be a non-empty array of keys or {key, label} tables")
        return None
    choices, seen = [], {}
    for index, item in enumerate(raw):
        path = f"{where}[{index}]"
        if isinstance(item, str) and item:
            item = {"key": item}
        elif isinstance(item, dict):
            reader.table(item, path, ("key", "label"), required=("key",))
        else:
            reader.problem(path, "must be a key or a {key, label} table")
            continue
        key = item.get("key")
        if not isinstance(key, str) or not key or len(key) > 64:
            reader.problem(_at(path, "key"), "must be text of 1 to 64 characters")
            continue
        reader.once(seen, key, _at(path, "key"), "the choice")
        label = reader.text(item, "label", path, 120) or key.replace("_", " ").capitalize()
        choices.append({"key": key, "label": label})
    return choices


def _terms(reader, raw, where):
    terms, seen = {}, {}
    if raw is None:
        return terms
    if not isinstance(raw, dict):
        reader.problem(where, "must be a table of terms")
        return terms
    for key, value in raw.items():
        path = _at(where, key)
        kind, target = _term_form(key)
        if kind is None:
            reader.problem(path, "name a type (deal), a field (deal.amount) or a stage (sales.won); "
                                 "type:, field: and stage: prefixes are allowed")
            continue
        table = reader.table(value, path, ("label", "plural") if kind == "type" else ("label",), required=("label",))
        if table is None:
            continue
        reader.once(seen, target.split(":", 1)[-1], path, "the term")
        term = {"label": reader.text(table, "label", path, 120, required=True)}
        if "plural" in table:
            term["plural"] = reader.text(table, "plural", path, 120, required=True)
        terms[target.removeprefix("type:")] = term
    return terms


def _term_form(key):
    """``(kind, canonical key)``: kind ``"type"``, ``"field"``, ``"stage"``, ``"field or
    stage"`` (an unprefixed ``a.b``), or ``None`` for a malformed key."""
    prefix, _, rest = key.rpartition(":")
    parts = rest.split(".")
    if not all(NAME.match(part) for part in parts) or prefix not in ("", "type", "field", "stage"):
        return None, key
    if prefix == "type" or (not prefix and len(parts) == 1):
        return ("type", f"type:{rest}") if len(parts) == 1 else (None, key)
    if len(parts) != 2:
        return None, key
    return (prefix or "field or stage"), key


def term_target(key, record_types):
    """The ``term`` table target of a :attr:`Pack.content` terms key: ``type:<key>``,
    ``field:<type>.<name>`` or ``stage:<pipeline>.<stage>``. An unprefixed ``a.b`` is a
    field when ``a`` is one of ``record_types`` (the instance's and the pack's), else a
    stage."""
    if key.startswith(("field:", "stage:")):
        return key
    if "." not in key:
        return f"type:{key}"
    return f"field:{key}" if key.split(".")[0] in record_types else f"stage:{key}"


def _pipelines(reader, raw, where):
    pipelines = {}
    for key, table, path in _named_tables(reader, raw, where):
        reader.table(table, path, PIPELINE_KEYS)
        record_type = reader.name(table, "record_type", path)
        creates = "record_type" in table
        if creates:
            for required in ("label", "stages"):
                if required not in table:
                    reader.problem(_at(path, required), "required for a new pipeline (one with record_type)")
        elif not set(table) & {"label", "stages", "order"}:
            reader.problem(path, "says nothing: give stages, order or label (and record_type for a new pipeline)")
        stages = reader.tables(table.get("stages"), _at(path, "stages")) or []
        seen = {}
        for index, stage in enumerate(stages):
            _stage(reader, stage, f"{path}.stages[{index}]", seen)
        if creates:
            known = set(seen)
            for index, stage in enumerate(stages):
                unknown = sorted(set(stage.get("allowed_next") or ()) - known) if isinstance(stage.get("allowed_next"), list) else []
                if unknown:
                    reader.problem(f"{path}.stages[{index}].allowed_next", f"names stages this pipeline lacks: {', '.join(unknown)}")
        order = reader.names(table, "order", path)
        if order is not None:
            missing = [stage for stage in seen if stage not in order]
            if missing:
                reader.problem(_at(path, "order"), f"must list every stage the pack gives; missing {', '.join(missing)}")
        pipelines[key] = {"record_type": record_type, "label": reader.text(table, "label", path, 120, required=True),
                          "stages": stages, "order": order}
    return pipelines


def _stage(reader, stage, where, seen):
    reader.table(stage, where, STAGE_KEYS, required=("key",))
    reader.once(seen, reader.name(stage, "key", where), _at(where, "key"), "the stage")
    reader.text(stage, "label", where, 120, required=True)
    reader.number(stage, "probability", where, 0, 100)
    if "outcome" in stage and stage["outcome"] not in OUTCOMES:
        reader.problem(_at(where, "outcome"), f"{stage['outcome']!r} is not an outcome; use one of {', '.join(OUTCOMES)}")
    reader.names(stage, "allowed_next", where)
    reasons = stage.get("reasons")
    if reasons is not None and (not isinstance(reasons, list) or not all(isinstance(r, str) and r for r in reasons)):
        reader.problem(_at(where, "reasons"), "must be an array of reason keys")


def _picklists(reader, raw, where):
    picklists = {}
    if raw is None:
        return picklists
    if not isinstance(raw, dict):
        reader.problem(where, "must be a table of \"<type>.<field>\" = [choices]")
        return picklists
    for key, choices in raw.items():
        path = _at(where, key)
        parts = key.split(".")
        if len(parts) != 2 or not all(NAME.match(part) for part in parts):
            hint = " (quote the key)" if isinstance(choices, dict) else ""
            reader.problem(path, f"name the field as \"<type>.<field>\", e.g. \"contact.source\"{hint}")
            continue
        checked = _choices(reader, choices, path)
        if checked is not None:
            picklists[key] = checked
    return picklists


def _views(reader, raw, where):
    views, seen = [], {}
    for index, table in enumerate(reader.tables(raw, where) or ()):
        path = f"{where}[{index}]"
        reader.table(table, path, ("record_type", "name", "query"), required=("record_type", "name", "query"))
        view = {"record_type": reader.name(table, "record_type", path),
                "name": reader.text(table, "name", path, 120, required=True),
                "query": reader.text(table, "query", path, required=True)}
        if view["query"] is not None:
            _check_query(reader, view["query"], _at(path, "query"))
        if view["record_type"] and view["name"]:
            reader.once(seen, (view["record_type"], view["name"]), path, "the view")
        views.append(view)
    return views


def _check_query(reader, query, where):
    """A saved view's list query string: filters ``field``/``field__op`` and ``q``,
    ``sort``, ``limit``, as the list API reads them."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        reader.problem(where, f"not a query string: {exc}")
        return
    for name, value in pairs:
        if name == "sort":
            bad = [part for part in value.split(",") if not NAME.match(part.strip().lstrip("-+"))]
            if bad or not value.strip():
                reader.problem(where, f"sort={value}: give field names, each with '-' for descending")
        elif name == "limit":
            if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
                reader.problem(where, f"limit={value}: a whole number from 1 to {MAX_LIMIT}")
        elif name not in VIEW_PARAMETERS:
            field, _, op = name.partition("__")
            if not NAME.match(field):
                reader.problem(where, f"{name}: not a field name")
            elif op and op not in OPERATORS:
                reader.problem(where, f"{name}: unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")


def _widgets(reader, raw, where):
    widgets, seen = [], {}
    for index, table in enumerate(reader.tables(raw, where) or ()):
        path = f"{where}[{index}]"
        reader.table(table, path, ("key", "title", "record_type", "measure", "field", "group_by"),
                     required=("key", "title", "record_type"))
        key = reader.name(table, "key", path)
        reader.once(seen, key, _at(path, "key"), "the widget")
        measure = table.get("measure", "count")
        if measure not in ("count", "sum"):
            reader.problem(_at(path, "measure"), f"{measure!r}: use count or sum")
        if measure == "sum" and "field" not in table:
            reader.problem(_at(path, "field"), "a sum names the field it adds up")
        elif measure == "count" and "field" in table:
            reader.problem(_at(path, "field"), "only a sum names a field")
        widgets.append({"key": key, "title": reader.text(table, "title", path, 120, required=True),
                        "record_type": reader.name(table, "record_type", path), "measure": measure,
                        "field": reader.name(table, "field", path), "group_by": reader.name(table, "group_by", path)})
    return widgets


def _roles(reader, raw, where):
    roles, seen = [], {}
    for index, table in enumerate(reader.tables(raw, where) or ()):
        path = f"{where}[{index}]"
        reader.table(table, path, ("key", "label", "description", "grants", "sensitive"),
                     required=("key", "label", "grants"))
        key = reader.name(table, "key", path)
        if key in BUILT_IN_ROLES:
            reader.problem(_at(path, "key"), f"{key!r} is a built-in role; choose another key")
        reader.once(seen, key, _at(path, "key"), "the role")
        roles.append({"key": key, "label": reader.text(table, "label", path, 120, required=True),
                      "description": reader.text(table, "description", path) or "",
                      "grants": _grants(reader, table.get("grants"), _at(path, "grants")),
                      "sensitive": bool(reader.flag(table, "sensitive", path))})
    return roles


def _grants(reader, raw, where):
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        reader.problem(where, "must be a table of record type (or \"*\") to {verbs, scope}")
        return {}
    grants = {}
    for record_type, grant in raw.items():
        path = _at(where, record_type)
        if record_type != "*" and not NAME.match(record_type):
            reader.problem(path, _name_reason(NAME, record_type))
            continue
        if reader.table(grant, path, ("verbs", "scope"), required=("verbs",)) is None:
            continue
        verbs = grant.get("verbs", [])
        if not isinstance(verbs, list) or not verbs or not all(verb in VERBS for verb in verbs):
            reader.problem(_at(path, "verbs"), f"must be an array of verbs from {', '.join(VERBS)}")
        scope = grant.get("scope", "all")
        if scope not in SCOPES:
            reader.problem(_at(path, "scope"), f"{scope!r}: use one of {', '.join(SCOPES)}")
        grants[record_type] = {"verbs": verbs, "scope": scope}
    return grants


def _help(reader, raw, where):
    topics, seen = [], {}
    for index, table in enumerate(reader.tables(raw, where) or ()):
        path = f"{where}[{index}]"
        reader.table(table, path, ("key", "title", "body", "pages", "group"), required=("key", "title", "body"))
        key = reader.name(table, "key", path, HELP_KEY)
        if key and len(key) > 64:
            reader.problem(_at(path, "key"), "must be at most 64 characters")
        reader.once(seen, key, _at(path, "key"), "the help topic")
        pages = table.get("pages", [])
        if not isinstance(pages, list) or not all(isinstance(page, str) and page for page in pages):
            reader.problem(_at(path, "pages"), "must be an array of page paths (/deals) or endpoint names")
        topics.append({"key": key, "title": reader.text(table, "title", path, 200, required=True),
                       "body": reader.text(table, "body", path, required=True), "pages": pages,
                       "group": reader.text(table, "group", path, 120)})
    return topics


def _rules(reader, raw, where):
    rules, seen = [], {}
    for index, table in enumerate(reader.tables(raw, where) or ()):
        path = f"{where}[{index}]"
        reader.table(table, path, ("key", "label", "record_type", "trigger", "stage", "field", "conditions",
                                   "actions", "enabled"),
                     required=("key", "label", "record_type", "trigger", "actions"))
        key = reader.name(table, "key", path)
        reader.once(seen, key, _at(path, "key"), "the rule")
        trigger = table.get("trigger")
        if trigger is not None and trigger not in TRIGGERS:
            reader.problem(_at(path, "trigger"), f"{trigger!r}: use one of {', '.join(TRIGGERS)}")
        for needed, wanted in (("stage", "stage_entered"), ("field", "field_changed")):
            if trigger == wanted and needed not in table:
                reader.problem(_at(path, needed), f"required for trigger {wanted}")
            elif trigger != wanted and needed in table:
                reader.problem(_at(path, needed), f"only for trigger {wanted}")
        conditions = reader.tables(table.get("conditions"), _at(path, "conditions")) or []
        for number, condition in enumerate(conditions):
            _condition(reader, condition, f"{path}.conditions[{number}]")
        actions = reader.tables(table.get("actions"), _at(path, "actions"))
        if actions == [] and "actions" in table:
            reader.problem(_at(path, "actions"), "give at least one action")
        for number, action in enumerate(actions or ()):
            _action(reader, action, f"{path}.actions[{number}]")
        enabled = reader.flag(table, "enabled", path)
        rules.append({"key": key, "label": reader.text(table, "label", path, 200, required=True),
                      "record_type": reader.name(table, "record_type", path), "trigger": trigger,
                      "stage": reader.name(table, "stage", path), "field": reader.name(table, "field", path),
                      "conditions": conditions, "actions": actions or [], "enabled": enabled is not False})
    return rules


def _condition(reader, condition, where):
    reader.table(condition, where, ("field", "op", "value"), required=("field", "op"))
    reader.name(condition, "field", where)
    op = condition.get("op")
    if op is None:
        return
    if op not in CONDITION_OPS:
        reader.problem(_at(where, "op"), f"{op!r}: use one of {', '.join(CONDITION_OPS)}")
    elif op in VALUELESS_OPS and "value" in condition:
        reader.problem(_at(where, "value"), f"{op} takes no value")
    elif op not in VALUELESS_OPS and "value" not in condition:
        reader.problem(_at(where, "value"), f"required for {op}")
    elif op in LIST_OPS and (not isinstance(condition["value"], list) or not condition["value"]):
        reader.problem(_at(where, "value"), f"{op} needs a non-empty array of values")


def _action(reader, action, where):
    """One action, with the parameters :data:`accord.core.automation.ACTION_KEYS` gives it."""
    do = action.get("do")
    if do not in ACTION_KEYS:
        reader.problem(_at(where, "do"), f"{do!r}: use one of {', '.join(ACTION_KEYS)}" if do is not None else "required")
        return
    params = ACTION_KEYS[do]
    reader.table(action, where, ("do", *params), required=tuple(key for key, needed in params.items() if needed))
    for key in ("subject", "body"):
        if key in action:
            reader.text(action, key, where, SUBJECT_CHARS if key == "subject" else None, required=True)
    if do == "create_activity" and "kind" in action and action["kind"] not in ACTIVITY_KINDS:
        reader.problem(_at(where, "kind"), f"{action['kind']!r}: use one of {', '.join(ACTIVITY_KINDS)}")
    for key, most in (("due_in_days", MAX_DUE_DAYS), ("due_in_hours", MAX_DUE_DAYS * 24)):
        value = action.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= most):
            reader.problem(_at(where, key), f"must be a number from 0 to {most}")
    if "due_in_days" in action and "due_in_hours" in action:
        reader.problem(where, "give due_in_days or due_in_hours, not both")
    if do == "set_field":
        reader.name(action, "field", where)
    for key, word in (("assign_to", "owner"), ("to", "owner"), ("user", None)):
        value = action.get(key)
        if key in action and (not isinstance(value, str) or (value != word and not EMAIL.fullmatch(value))):
            reader.problem(_at(where, key), f"must be {word!r} or a user's email" if word else "must be a user's email")


def _cross_check(reader, content):
    """What can be checked inside one pack: a declared type's title fields and pipeline."""
    for key, declared in content["types"].items():
        fields = {spec.get("name") for spec in content["fields"].get(key, [])}
        for index, name in enumerate(declared["title_fields"]):
            if name not in fields:
                reader.problem(f"types.{key}.title_fields[{index}]", f"{name!r} is not a field in [[fields.{key}]]")
        pipeline = content["pipelines"].get(declared["pipeline"])
        if pipeline and pipeline["record_type"] not in (None, key):
            reader.problem(f"types.{key}.pipeline", f"pipeline {declared['pipeline']!r} is for {pipeline['record_type']!r}")


# --- applied state and export -----------------------------------------------------------


def applied_versions(session):
    """``{pack: version}`` of the packs applied here: those with a changeset not reverted,
    at the version of the latest one."""
    from sqlalchemy import select

    from .models import VerticalChangeset

    rows = session.execute(select(VerticalChangeset.pack, VerticalChangeset.version)
                           .where(VerticalChangeset.reverted_at.is_(None)).order_by(VerticalChangeset.id))
    return {pack: version for pack, version in rows}


def export_local_layer(name, directory, *, version="1.0.0", title=None):
    """Write the instance's own layer (every object with origin ``"local"``) as the pack
    ``<directory>/<name>/vertical.toml``, which :func:`load_pack_from` accepts and another
    instance can apply; returns the new folder. Needs an app context. Refuses (``ValueError``)
    a bad name or version and an existing folder; nothing is written unless the result
    passes :func:`check_document`."""
    import tomli_w

    if not isinstance(name, str) or not PACK_NAME.match(name):
        raise ValueError(_name_reason(PACK_NAME, name))
    try:
        Version(version)
    except InvalidVersion:
        raise ValueError(f"{version!r} is not a version number (PEP 440, e.g. '1.0.0')") from None
    folder = Path(directory) / name
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose another name or folder")
    document = local_layer(name, version, title or f"{name.replace('_', ' ').capitalize()} (exported local layer)")
    text = tomli_w.dumps(document, multiline_strings=True)
    reader = _Reader(folder / PACK_FILE)
    check_document(reader, tomllib.loads(text), name)
    if reader.problems:
        raise PackInvalid(reader.problems)
    folder.mkdir(parents=True)
    (folder / PACK_FILE).write_text(text, encoding="utf-8")
    return folder


def local_layer(name, version, title):
    """The ``vertical.toml`` document (a dict) of every object with origin ``"local"``."""
    from sqlalchemy import select

    from .. import __version__
    from .db import db
    from .models import (
        AutomationRule,
        CustomField,
        DashboardWidgetDefinition,
        HelpTopicDefinition,
        PicklistValue,
        Pipeline,
        PipelineStage,
        RecordTypeDefinition,
        Role,
        SavedView,
        Term,
    )

    session = db.session
    local = "local"

    def rows(model, *order, where=()):
        return session.execute(select(model).where(model.origin == local, *where).order_by(*order)).scalars().all()

    document = {"pack": {"name": name, "version": version, "title": title,
                         "summary": "The objects this instance's administrators added.", "core": f">={__version__}"}}
    document["types"] = {row.key: _without_none({
        "label": row.label, "plural_label": row.plural_label, "plural": row.plural, "title_fields": row.title_fields,
        "description": row.description or None, "timeline": row.timeline or None, "pipeline": row.pipeline,
    }) for row in rows(RecordTypeDefinition, RecordTypeDefinition.key)}
    fields = {}
    for row in rows(CustomField, CustomField.record_type, CustomField.position, CustomField.id,
                    where=(CustomField.removed_at.is_(None),)):
        fields.setdefault(row.record_type, []).append(_without_none({
            "name": row.name, "label": row.label, "kind": row.kind, "required": row.required,
            "choices": row.choices, "default": row.default, "reference": row.reference, "pii": row.pii,
            "sensitive": row.sensitive, "indexed": row.indexed, "searchable": row.searchable, "help": row.help or None,
        }))
    document["fields"] = fields
    document["terms"] = {row.target.removeprefix("type:"): _without_none({"label": row.label, "plural": row.plural_label})
                         for row in rows(Term, Term.target)}
    document["pipelines"] = _local_pipelines(session, rows(Pipeline, Pipeline.key), local, Pipeline, PipelineStage)
    picklists = {}
    for row in rows(PicklistValue, PicklistValue.record_type, PicklistValue.field, PicklistValue.position, PicklistValue.id):
        picklists.setdefault(f"{row.record_type}.{row.field}", []).append({"key": row.key, "label": row.label})
    document["picklists"] = picklists
    document["views"] = [{"record_type": row.record_type, "name": row.name, "query": row.query}
                         for row in rows(SavedView, SavedView.record_type, SavedView.name,
                                         where=(SavedView.user_id.is_(None),))]
    document["widgets"] = [_without_none({"key": row.key, "title": row.title, "record_type": row.record_type,
                                          "measure": row.measure, "field": row.field, "group_by": row.group_by})
                           for row in rows(DashboardWidgetDefinition, DashboardWidgetDefinition.position,
                                           DashboardWidgetDefinition.key)]
    document["roles"] = [_without_none({"key": row.key, "label": row.label, "description": row.description or None,
                                        "grants": row.grants, "sensitive": row.sensitive})
                         for row in rows(Role, Role.key)]
    document["help"] = [_without_none({"key": row.key, "title": row.title, "body": row.body, "pages": row.pages,
                                       "group": row.group})
                        for row in rows(HelpTopicDefinition, HelpTopicDefinition.key)]
    document["rules"] = [_rule(row) for row in rows(AutomationRule, AutomationRule.key)]
    requires = _required_plugins(document)
    if requires:
        document["pack"]["requires"] = requires
    return {key: value for key, value in document.items() if value}


def _local_pipelines(session, local_pipelines, local, Pipeline, PipelineStage):
    """New pipelines the admins made (whole), and stages they added to other pipelines,
    with the full order when a local stage sits before another."""
    from sqlalchemy import select

    def stage(row):
        return _without_none({"key": row.key, "label": row.label, "probability": row.probability,
                              "outcome": row.outcome if row.outcome != "open" else None,
                              "allowed_next": row.allowed_next, "reasons": row.reasons})

    found = {}
    for pipeline in local_pipelines:
        stages = session.execute(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline.id)
                                 .order_by(PipelineStage.position, PipelineStage.id)).scalars()
        found[pipeline.key] = {"record_type": pipeline.record_type, "label": pipeline.label,
                               "stages": [stage(row) for row in stages]}
    touched = session.execute(select(Pipeline).where(Pipeline.origin != local, Pipeline.id.in_(
        select(PipelineStage.pipeline_id).where(PipelineStage.origin == local))).order_by(Pipeline.key)).scalars()
    for pipeline in touched:
        every = session.execute(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline.id)
                                .order_by(PipelineStage.position, PipelineStage.id)).scalars().all()
        mine = [row for row in every if row.origin == local]
        entry = {"stages": [stage(row) for row in mine]}
        first_local = every.index(mine[0])
        if any(row.origin != local for row in every[first_local:]):
            entry["order"] = [row.key for row in every]
        found[pipeline.key] = entry
    return found


def _rule(row):
    rule = {"key": row.key, "label": row.label, "record_type": row.record_type, "trigger": row.trigger}
    if row.trigger == "stage_entered":
        rule["stage"] = row.trigger_value
    elif row.trigger == "field_changed":
        rule["field"] = row.trigger_value
    rule.update(conditions=[_without_none(c) for c in row.conditions or ()],
                actions=[_without_none(a) for a in row.actions or ()])
    if not row.enabled:
        rule["enabled"] = False
    return _without_none(rule)


def _without_none(value):
    """``value`` without ``None`` anywhere in it (TOML has no null) nor empty lists."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def _required_plugins(document):
    """``{plugin: ">=<installed version>"}`` for the installed plugins whose record types
    the layer uses, so it installs only where they are."""
    from .registry import current_accord

    accord = current_accord()
    catalog = accord.catalog()
    used = set(document["types"]) | set(document["fields"])
    used |= {key.split(".")[0] for key in document["picklists"]}
    used |= {p["record_type"] for p in document["pipelines"].values() if p.get("record_type")}
    used |= {item["record_type"] for section in ("views", "widgets", "rules") for item in document[section]}
    used |= {key for role in document["roles"] for key in role["grants"] if key != "*"}
    used |= {spec["reference"] for specs in document["fields"].values() for spec in specs if spec.get("reference")}
    requires = {}
    for key in sorted(used):
        rt = catalog.type(key)
        installed = accord.installed.get(rt.origin) if rt is not None else None
        if installed is not None and installed.manifest is not None:
            requires[installed.name] = f">={installed.manifest.version}"
    return requires


# --- a readable account of a pack ---------------------------------------------------------


def describe(pack):
    """Lines saying everything ``pack`` declares, section by section (``accord verticals
    show``)."""
    content = pack.content
    lines = [f"{pack.name} {pack.version}: {pack.title}"]
    if pack.summary:
        lines.append(f"  {pack.summary}")
    lines += [f"source: {pack.source}", f"folder: {pack.path}"]
    if pack.core:
        lines.append(f"needs accord: {pack.core}")
    if pack.requires:
        lines.append("requires: " + ", ".join(f"{name} {spec or 'any version'}" for name, spec in pack.requires.items()))
    sections = {
        "types": [f"{key}: {t['label']} / {t['plural_label']} (/{t['plural']})"
                  + (f"; title: {', '.join(t['title_fields'])}" if t["title_fields"] else "")
                  + (f"; pipeline: {t['pipeline']}" if t["pipeline"] else "") + ("; timeline" if t["timeline"] else "")
                  + (f"; {t['description']}" if t["description"] else "")
                  for key, t in content["types"].items()],
        "fields": [_describe_field(record_type, spec) for record_type, specs in content["fields"].items() for spec in specs],
        "terms": [f"{key}: {term['label']}" + (f" / {term['plural']}" if term.get("plural") else "")
                  for key, term in content["terms"].items()],
        "pipelines": [line for key, p in content["pipelines"].items() for line in _describe_pipeline(key, p)],
        "picklists": [f"{key}: " + ", ".join(f"{c['key']} ({c['label']})" for c in choices)
                      for key, choices in content["picklists"].items()],
        "views": [f"{v['record_type']}: {v['name']!r}: {v['query']}" for v in content["views"]],
        "widgets": [f"{w['key']}: {w['title']!r}: {w['measure']}" + (f" of {w['field']}" if w["field"] else "")
                    + f" over {w['record_type']}" + (f" by {w['group_by']}" if w["group_by"] else "")
                    for w in content["widgets"]],
        "roles": [f"{r['key']}: {r['label']}" + (" (sees sensitive fields)" if r["sensitive"] else "") + "; "
                  + "; ".join(f"{rt}: {', '.join(g['verbs'])} ({g['scope']})" for rt, g in r["grants"].items())
                  for r in content["roles"]],
        "help": [f"{h['key']}: {h['title']!r}" + (f" on {', '.join(h['pages'])}" if h["pages"] else "")
                 for h in content["help"]],
        "rules": [_describe_rule(rule) for rule in content["rules"]],
        "data": [str(path.relative_to(pack.path)) for path in pack.data_files],
    }
    for section, entries in sections.items():
        if entries:
            lines.append(f"{section}:")
            lines += [f"  {entry}" for entry in entries]
    if pack.templates:
        lines.append(f"templates: {pack.templates}")
    return lines


def _describe_field(record_type, spec):
    flags = [flag for flag in ("required", "indexed", "searchable", "pii", "sensitive") if spec.get(flag)]
    text = f"{record_type}.{spec['name']}: {spec['kind']}"
    if spec.get("reference"):
        text += f" -> {spec['reference']}"
    if spec.get("label"):
        text += f" {spec['label']!r}"
    if spec.get("choices"):
        text += " [" + ", ".join(c if isinstance(c, str) else c["key"] for c in spec["choices"]) + "]"
    if spec.get("default") is not None:
        text += f" default {spec['default']!r}"
    return text + (f" ({', '.join(flags)})" if flags else "")


def _describe_pipeline(key, pipeline):
    heading = (f"{key}: new, for {pipeline['record_type']}" if pipeline["record_type"] else f"{key}: changes")
    if pipeline["label"]:
        heading += f", labelled {pipeline['label']!r}"
    lines = [heading]
    for stage in pipeline["stages"]:
        text = f"  stage {stage['key']}"
        details = [f"{stage['label']!r}" if "label" in stage else "",
                   f"{stage['probability']}%" if "probability" in stage else "",
                   stage.get("outcome", "") if stage.get("outcome", "open") != "open" else "",
                   f"then {', '.join(stage['allowed_next'])}" if stage.get("allowed_next") else ""]
        lines.append(" ".join([text, *filter(None, details)]))
    if pipeline["order"]:
        lines.append(f"  order: {', '.join(pipeline['order'])}")
    return lines


def _describe_rule(rule):
    trigger = {"created": "created", "stage_entered": f"enters stage {rule['stage']}",
               "field_changed": f"{rule['field']} changes"}.get(rule["trigger"], rule["trigger"])
    text = f"{rule['key']}: {rule['label']!r}: when a {rule['record_type']} {trigger}"
    if rule["conditions"]:
        text += " and " + " and ".join(
            f"{c['field']} {c['op']}" + (f" {c['value']!r}" if "value" in c else "") for c in rule["conditions"])
    text += ": " + "; ".join(
        a["do"] + "".join(f" {k}={v!r}" for k, v in a.items() if k != "do") for a in rule["actions"])
    return text + ("" if rule["enabled"] else " (disabled)")
