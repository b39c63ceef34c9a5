"""The structural check of a vertical pack's ``vertical.toml``: :func:`check_document`.

Checking here is structural: every problem in the file is collected (never only the
first) as a :class:`Problem` naming the file, the key path and the reason. Whether the
record types, fields, pipelines and stages a pack names exist on an instance is asked by
:mod:`accord.core.pack_plan`, with the same :class:`Problem` type. What a checked file
becomes is :attr:`accord.core.verticals.Pack.content`.
"""

import re
from typing import NamedTuple
from urllib.parse import parse_qsl

from marshmallow import ValidationError
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .automation import ACTION_KEYS, EMAIL, MAX_DUE_DAYS, SUBJECT_CHARS, TRIGGERS
from .automation import OPS as CONDITION_OPS
from .customfields import CHOICE_KINDS, SPEC_KEYS
from .descriptors import Choice, Field
from .fields import FIELD_NAME, KINDS
from .models import ACTIVITY_KINDS
from .permissions import BUILT_IN_ROLES, SCOPES, VERBS
from .pipelines import OUTCOMES
from .query import MAX_LIMIT, OPERATORS

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


class Problem(NamedTuple):
    """One thing wrong with a pack: the file, the key path in it (``fields.deal[2].kind``,
    ``pipelines.sales.stages[0].probability``, ``line 4`` for a syntax error) and why."""

    file: str
    key: str
    reason: str

    def __str__(self):
        return f"{self.file}: {self.key}: {self.reason}"



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
