"""Vertical packs: finding them, reading them and describing them.

A pack is a folder holding ``vertical.toml`` (the format is in the design notes and in
``verticals/README.md``), optional sample data ``data/<type>.csv`` and optional
``templates/``. Built-in packs are the folders of ``accord/verticals``; an installed
distribution adds packs through the entry point group ``accord.verticals`` whose value is
a package that holds the same layout.

The file is checked by :mod:`accord.core.pack_schema` (structurally: every problem, as a
:class:`Problem`); whether what a pack names exists on an instance is asked by
:mod:`accord.core.pack_plan`, with the same :class:`Problem` type. Writing an instance's
own layer out as a pack is :mod:`accord.core.pack_export`.

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

from stevedore import NamedExtensionManager

from .pack_schema import Problem, _Reader, check_document

PACK_FILE = "vertical.toml"
ENTRY_POINT_GROUP = "accord.verticals"
BUILT_IN = Path(__file__).resolve().parent.parent / "verticals"
DATA_FILE = re.compile(r"^(?:[0-9]+_)?([a-z][a-z0-9_]{0,62})$")
SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


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



def applied_versions(session):
    """``{pack: version}`` of the packs applied here: those with a changeset not reverted,
    at the version of the latest one."""
    from sqlalchemy import select

    from .models import VerticalChangeset

    rows = session.execute(select(VerticalChangeset.pack, VerticalChangeset.version)
                           .where(VerticalChangeset.reverted_at.is_(None)).order_by(VerticalChangeset.id))
    return {pack: version for pack, version in rows}



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
