"""Vertical packs applied as recorded changesets: plan (the diff), apply, upgrade, revert.

A plan compares what a pack declares with the live instance and lists every change apply
would make, each with the state it replaces, plus the problems (a field clashing with one
of another kind, a stage in an unknown pipeline, an invalid rule...) and the conflicts with
packs applied earlier or with the instance's own layer (origin ``local``). Apply refuses
with all of them before changing anything; otherwise it writes every change and one
``vertical_changeset`` row in one transaction, so a revert restores exactly what was there.

Packs stack in changeset order. A definition identical to one already in place is shared:
the pack records it as a no-op, which makes it depend on the pack that made it, so that
pack cannot be reverted first. Applying a newer version of an applied pack records a
changeset with only the difference; the same version is "already applied".

Plugins a pack requires must be installed at a matching version; those not enabled are
switched on through the plugin lifecycle as a step of their own, listed in the diff,
before the pack's transaction (each enable runs its migrations in its own transaction). A
revert leaves them on: other packs, or data, may use them.
"""

import json
from dataclasses import dataclass, field as dc_field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlalchemy import delete, insert, select, text, update
from werkzeug.datastructures import MultiDict

from .. import __version__
from .customfields import CHOICE_KINDS, _validate_spec, create_index, drop_index
from .db import UTCDateTime, db, utcnow
from .errors import AccordError, BadRequest, Conflict, NotFound, RecordInvalid
from .fields import KINDS
from .models import (
    AutomationRule, CustomField, DashboardWidgetDefinition, HelpTopicDefinition, Pipeline, PipelineStage,
    PicklistValue, RecordTypeDefinition, Role, SavedView, SchemaGeneration, Term, VerticalChangeset,
)
from .pipelines import PipelineDef, StageDef, validate_definition
from .records import SYSTEM, Actor, write_unit
from .registry import bump_generation, current_accord, custom_field_descriptor
from .verticals import Problem, term_target

ORDER = ("plugin", "type", "field", "pipeline", "stage", "term", "picklist", "view", "widget", "role", "help", "rule",
         "templates")
"""The order changes are written in (removals in the reverse order), so that a field comes
after its type and a stage after its pipeline, and a revert undoes them the other way."""
UNWRITTEN = ("plugin", "templates")
"""Kinds of change that write no row: required plugins are enabled through the plugin
lifecycle; a pack's page templates are on the lookup path while a changeset naming them
is active (:func:`applied_templates`)."""


@dataclass(frozen=True)
class Section:
    """How one kind of object is stored: its table, the columns naming it, the columns
    whose values make its meaning (compared to find no-ops and conflicts), and for fields
    the fewer that make two definitions shareable."""

    model: type
    key: tuple
    compared: tuple
    shared_when: tuple = ()


SECTIONS = {
    "type": Section(RecordTypeDefinition, ("key",),
                    ("label", "plural_label", "plural", "title_fields", "description", "pipeline", "timeline")),
    "field": Section(CustomField, ("record_type", "name"),
                     ("label", "kind", "required", "choices", "default", "reference", "pii", "sensitive", "indexed",
                      "searchable", "help"), shared_when=("kind", "choices", "reference")),
    "pipeline": Section(Pipeline, ("key",), ("record_type", "label", "is_default")),
    "stage": Section(PipelineStage, ("pipeline", "key"),
                     ("label", "position", "probability", "outcome", "allowed_next", "reasons")),
    "term": Section(Term, ("target",), ("label", "plural_label")),
    "picklist": Section(PicklistValue, ("record_type", "field", "key"), ("label", "position")),
    "view": Section(SavedView, ("record_type", "name"), ("query",)),
    "widget": Section(DashboardWidgetDefinition, ("key",),
                      ("title", "record_type", "measure", "field", "group_by", "position")),
    "role": Section(Role, ("key",), ("label", "description", "grants", "sensitive")),
    "help": Section(HelpTopicDefinition, ("key",), ("title", "body", "pages", "group")),
    "rule": Section(AutomationRule, ("key",),
                    ("label", "record_type", "trigger", "trigger_value", "conditions", "actions", "enabled")),
}


@dataclass
class Change:
    """One change: the object (``kind``, ``target``), its rows before and after (``None``
    where it does not exist), the line the diff prints, ``noop`` for a definition already
    in place (shared), and ``requires``: the targets it builds on (a field's type)."""

    kind: str
    target: str
    before: dict | None
    after: dict | None
    line: str
    noop: bool = False
    requires: tuple = ()

    def to_json(self):
        return {"kind": self.kind, "target": self.target, "before": self.before, "after": self.after,
                "line": self.line, "noop": self.noop, "requires": list(self.requires)}

    @classmethod
    def from_json(cls, data):
        return cls(data["kind"], data["target"], data["before"], data["after"], data["line"],
                   data.get("noop", False), tuple(data.get("requires", ())))

    def inverse(self):
        return replace(self, before=self.after, after=self.before)


@dataclass
class Plan:
    """What applying ``pack`` would do: ``changes`` in write order, ``problems`` and
    ``conflicts`` (:class:`~accord.core.verticals.Problem`), the version applied now (if
    any), and what an upgrade would drop that holds data."""

    pack: object
    changes: list = dc_field(default_factory=list)
    problems: list = dc_field(default_factory=list)
    conflicts: list = dc_field(default_factory=list)
    applied_version: str | None = None
    held: list = dc_field(default_factory=list)
    generation: int = 0

    @property
    def ok(self):
        return not self.problems and not self.conflicts

    @property
    def effective(self):
        """The changes that write something (shared no-ops left out)."""
        return [change for change in self.changes if not change.noop]

    @property
    def status(self):
        """``new``, ``applied`` (this version, nothing to do) or ``upgrade``."""
        if self.applied_version is None:
            return "new"
        return "upgrade" if self.effective or self.applied_version != self.pack.version else "applied"

    @property
    def lines(self):
        return [change.line for change in self.changes]

    def to_json(self):
        return {
            "pack": self.pack.name, "version": str(self.pack.version), "applied_version": self.applied_version,
            "status": self.status, "ok": self.ok, "lines": self.lines,
            "changes": [change.to_json() for change in self.changes],
            "problems": [problem_json(p) for p in self.problems],
            "conflicts": [problem_json(p) for p in self.conflicts], "holds_data": self.held,
        }


def problem_json(problem):
    return {"file": str(problem.file), "key": problem.key, "reason": problem.reason}


def problem_line(problem):
    """A problem as one line: ``file: key: reason``."""
    return f"{problem.file}: {problem.key}: {problem.reason}"


class PackRefused(Conflict):
    """A pack that cannot be applied or reverted as asked; ``problems`` lists every reason.
    Nothing was changed."""

    def __init__(self, message, problems):
        fields = {}
        for problem in problems:
            fields.setdefault(problem.key or "pack", []).append(problem.reason)
        super().__init__(message, fields)
        self.problems = list(problems)


# The record of applied changesets ---------------------------------------------------------


class Ledger:
    """The active (not reverted) changesets in stack order, and which pack touched what."""

    def __init__(self, session):
        self.changesets = session.execute(
            select(VerticalChangeset).where(VerticalChangeset.reverted_at.is_(None)).order_by(VerticalChangeset.id)
        ).scalars().all()
        self.touches = {}
        self.baseline = {}
        self.version = {}
        self.templates = {}
        for changeset in self.changesets:
            self.version[changeset.pack] = changeset.version
            for op in map(Change.from_json, changeset.operations):
                if op.kind == "templates":
                    self.templates[changeset.pack] = op.after
                elif op.kind != "plugin":
                    self.touches.setdefault(op.target, []).append((changeset.pack, changeset.id, op))
                    self.baseline.setdefault(changeset.pack, {}).setdefault(op.target, op.before)

    def of(self, pack_name):
        return [c for c in self.changesets if c.pack == pack_name]

    def touched_by(self, target, pack_name):
        return any(name == pack_name for name, _, _ in self.touches.get(target, ()))

    def others(self, target, pack_name):
        """Packs other than ``pack_name`` that touched ``target``, oldest first."""
        seen = []
        for name, _, _ in self.touches.get(target, ()):
            if name != pack_name and name not in seen:
                seen.append(name)
        return seen

    def owned(self, pack_name):
        """Targets ``pack_name`` changed (not only shared), with its last change of each."""
        owned = {}
        for target, entries in self.touches.items():
            for name, _, op in entries:
                if name == pack_name and not op.noop:
                    owned[target] = op
        return owned

    def later(self, pack_name, target, other):
        """Whether ``other`` touched ``target`` after ``pack_name`` first did."""
        entries = self.touches.get(target, ())
        mine = [cid for name, cid, _ in entries if name == pack_name]
        return any(cid > min(mine) for name, cid, _ in entries if name == other) if mine else False


# The live state -------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_json(obj, pipelines_by_id=None):
    """A stored row as a JSON object of all its columns (a stage names its pipeline by key)."""
    data = {c.key: _jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}
    if isinstance(obj, PipelineStage):
        data["pipeline"] = (pipelines_by_id or {}).get(data.pop("pipeline_id"))
    return data


def load_live(session):
    """Every object a pack can change, as JSON rows by target (``field:deal.x``, ...)."""
    live = {}
    pipelines = session.execute(select(Pipeline)).scalars().all()
    by_id = {p.id: p.key for p in pipelines}
    named = (
        (RecordTypeDefinition, lambda r: f"type:{r.key}"),
        (CustomField, lambda r: f"field:{r.record_type}.{r.name}"),
        (Term, lambda r: f"term:{r.target}"),
        (PicklistValue, lambda r: f"picklist:{r.record_type}.{r.field}.{r.key}"),
        (DashboardWidgetDefinition, lambda r: f"widget:{r.key}"),
        (Role, lambda r: f"role:{r.key}"),
        (HelpTopicDefinition, lambda r: f"help:{r.key}"),
        (AutomationRule, lambda r: f"rule:{r.key}"),
    )
    for model, target in named:
        for row in session.execute(select(model)).scalars():
            live[target(row)] = row_json(row)
    for row in pipelines:
        live[f"pipeline:{row.key}"] = row_json(row)
    for row in session.execute(select(PipelineStage)).scalars():
        live[f"stage:{by_id[row.pipeline_id]}.{row.key}"] = row_json(row, by_id)
    for row in session.execute(select(SavedView).where(SavedView.user_id.is_(None))).scalars():
        live[f"view:{row.record_type}.{row.name}"] = row_json(row)
    return live


# Planning -------------------------------------------------------------------------------


def plan(pack):
    """The :class:`Plan` of applying ``pack`` here now; changes nothing."""
    return _Planner(pack, db.session).run()


class _Planner:
    """Builds one :class:`Plan`: each section of the pack as desired rows, compared with
    the live rows, with the pack's earlier changesets and with other packs'."""

    def __init__(self, pack, session):
        self.pack = pack
        self.session = session
        self.origin = f"pack:{pack.name}"
        self.file = str(Path(pack.path) / "vertical.toml")
        self.accord = current_accord()
        self.catalog = self.accord.catalog()
        self.ledger = Ledger(session)
        self.live = load_live(session)
        self.baseline = self.ledger.baseline.get(pack.name, {})
        self.owned = self.ledger.owned(pack.name)
        self.plan = Plan(pack=pack, applied_version=self.ledger.version.get(pack.name), generation=_generation(session))
        self.declared = {}
        self.new_types = {}
        self.plugin_types = {}

    def problem(self, key, reason):
        self.plan.problems.append(Problem(self.file, key, reason))

    def conflict(self, key, reason):
        self.plan.conflicts.append(Problem(self.file, key, reason))

    def run(self):
        content = self.pack.content
        self._core()
        self._requires()
        self._types(content["types"])
        self._fields(content["fields"])
        self._pipelines(content["pipelines"])
        self.probe = self._probe()
        for section in ("terms", "picklists", "views", "widgets", "roles", "help", "rules"):
            getattr(self, f"_{section}")(content[section])
        self._templates()
        self._removals()
        self._stored_values()
        self.plan.changes.sort(key=_write_order)
        return self.plan

    # -- header

    def _core(self):
        if self.pack.core and not SpecifierSet(self.pack.core).contains(Version(__version__), prereleases=True):
            self.problem("pack.core", f"needs Accord {self.pack.core}; this is Accord {__version__}")

    def _requires(self):
        """Required plugins: installed, sound, of a matching version; those not enabled yet
        become ``enable plugin`` steps (with what they require, dependencies first)."""
        from .dependencies import DependencyError, ordered, plan_enable
        from .lifecycle import enabled_names

        installed = self.accord.installed
        enabled = enabled_names()
        enabling = []
        for name, spec in sorted(self.pack.requires.items()):
            key = f"pack.requires.{name}"
            plugin = installed.get(name)
            if plugin is None:
                self.problem(key, f"plugin {name!r} is not installed")
                continue
            if plugin.broken or plugin.manifest is None:
                self.problem(key, f"plugin {name!r} is broken: {plugin.problem}")
                continue
            try:
                specifier = SpecifierSet(spec or "")
            except InvalidSpecifier:
                self.problem(key, f"{spec!r} is not a version specifier")
                continue
            if not specifier.contains(plugin.manifest.version, prereleases=True):
                self.problem(key, f"needs {name} {specifier}, but {name} {plugin.manifest.version} is installed")
                continue
            try:
                steps = plan_enable(name, installed, enabled + enabling)
            except DependencyError as exc:
                self.problem(key, exc.message)
                continue
            for step in steps:
                enabling.append(step)
                why = "" if step == name else f" (required by {name})"
                self.plan.changes.append(Change("plugin", f"plugin:{step}", {"name": step, "enabled": False},
                                                {"name": step, "enabled": True}, f"+ enable plugin {step}{why}"))
        if enabling:
            registrations = self.accord.registrations(ordered(enabled + enabling, installed))
            self.plugin_types = {k: rt for k, rt in registrations.code_types.items() if k not in self.catalog.types}

    # -- comparing and recording

    def declare(self, kind, target, desired, describe, key, requires=()):
        """Record what the pack wants ``target`` to be: a change, a shared no-op, a
        conflict with another pack or the local layer, or a clash."""
        if target in self.declared:
            self.problem(key, f"{_words(target)} is declared twice")
            return
        self.declared[target] = desired
        section = SECTIONS[kind]
        stored = self.live.get(target)
        current = None if stored is not None and stored.get("removed_at") else stored
        others = self.ledger.others(target, self.pack.name)
        if _same(section.compared, current, desired):
            if not self.ledger.touched_by(target, self.pack.name):
                who = f"shared with pack {others[-1]}" if others else "already in place"
                self.plan.changes.append(Change(kind, target, current, current, f"= {describe}: {who}", True, requires))
            return
        if current is not None and others and kind == "field" and _same(section.shared_when, current, desired):
            self.plan.changes.append(Change(kind, target, current, current,
                                            f"= {describe}: shared with pack {others[-1]}, whose label and flags stand",
                                            True, requires))
            return
        difference = _difference(current, desired, section)
        if others:
            self.conflict(key, f"packs {others[-1]} and {self.pack.name} define {_words(target)} differently "
                               f"({difference}); revert {others[-1]} or change one of them")
            return
        written = self.owned.get(target)
        if current is not None and written is not None and not _same(section.compared, current, written.after):
            self.conflict(key, f"{_words(target)} was changed here since pack {self.pack.name} set it "
                               f"({_difference(written.after, current, section)}); a pack never overwrites that")
            return
        if current is not None and (target not in self.owned or current.get("origin") == "local"):
            origin = current.get("origin")
            if origin == "local":
                self.conflict(key, f"{_words(target)} belongs to this instance's own layer (origin local) and differs "
                                   f"({difference}); a pack never changes it")
                return
            if kind not in ("stage", "pipeline"):
                self.problem(key, f"{_words(target)} already exists ({origin}) and differs ({difference})")
                return
        if stored is not None and current is None and stored["kind"] != desired["kind"]:
            self.problem(key, f"{_words(target)} was removed earlier as a {stored['kind']} field and its values are "
                              f"kept; declare it as {stored['kind']} or purge it first")
            return
        if current is not None:
            line = f"~ {describe}: {difference}"
        elif stored is not None:
            line = f"+ {describe} (brings back the values kept since it was removed)"
        else:
            line = f"+ {describe}"
        self.plan.changes.append(Change(kind, target, stored, desired, line, False, requires))

    def base(self, target):
        """What the pack builds on for ``target``: its state before the pack first changed
        it, else the live one."""
        if target in self.baseline:
            return self.baseline[target]
        stored = self.live.get(target)
        return None if stored is not None and stored.get("removed_at") else stored

    def kept(self, target, *columns):
        """Columns of the live row the pack keeps (``id``, ``created_at``...) when it changes it."""
        stored = self.live.get(target) or {}
        return {c: stored[c] for c in columns if c in stored}

    def type_of(self, key):
        return self.new_types.get(key) or self.catalog.type(key) or self.plugin_types.get(key)

    # -- types and fields

    def _types(self, types):
        from .declared_types import record_type_of, table_name, validate_type_spec

        for key, spec in types.items():
            where = f"types.{key}"
            target = f"type:{key}"
            if key in self.plugin_types:
                self.problem(where, f"record type {key!r} comes with plugin {self.plugin_types[key].origin}")
                continue
            errors = validate_type_spec(self.catalog, key, dict(spec))
            if target in self.live:
                errors.pop("key", None)
                if spec["plural"] == self.live[target]["plural"]:
                    errors.pop("plural", None)
            for name, reasons in errors.items():
                for reason in reasons:
                    self.problem(f"{where}.{name}", str(reason))
            if errors:
                continue
            desired = {**self.kept(target, "created_at", "table_name"), "key": key, "table_name": table_name(key),
                       **{name: spec[name] for name in SECTIONS["type"].compared}, "origin": self.origin}
            self.declare("type", target, desired, f"type {key} ({spec['label']}, /{spec['plural']})", where)
            existing = self.catalog.type(key)
            self.new_types[key] = record_type_of(SimpleNamespace(**desired), [
                f for f in (existing.fields.values() if existing else ()) if f.custom])

    def _fields(self, fields):
        positions = {}
        for type_key, specs in fields.items():
            rt = self.type_of(type_key)
            if rt is None:
                self.problem(f"fields.{type_key}", f"there is no record type {type_key!r}")
                continue
            probe = _Probe(self.catalog, {**self.plugin_types, **self.catalog.types, **self.new_types},
                           self.catalog.pipelines)
            for index, spec in enumerate(specs):
                where = f"fields.{type_key}[{index}]"
                name = spec.get("name")
                target = f"field:{type_key}.{name}"
                existing = rt.fields.get(name)
                if existing is not None and not existing.custom:
                    self.problem(f"{where}.name", f"{rt.label} already has the built-in field {name!r} ({existing.kind})")
                    continue
                check = replace(rt, fields={n: f for n, f in rt.fields.items() if n != name})
                try:
                    definition = _validate_spec(probe, check, spec)
                except RecordInvalid as exc:
                    for field_key, reasons in exc.fields.items():
                        for reason in reasons:
                            self.problem(where if field_key == "_schema" else f"{where}.{field_key}", str(reason))
                    continue
                base = self.base(target) or {}
                if "position" not in base:
                    positions.setdefault(type_key, sum(1 for t in self.live if t.startswith(f"field:{type_key}.")))
                    base = {**base, "position": positions[type_key]}
                    positions[type_key] += 1
                desired = {**self.kept(target, "id", "created_at", "created_by"), "record_type": type_key,
                           **definition, "position": base["position"], "origin": self.origin, "removed_at": None}
                requires = (f"type:{type_key}",) + ((f"type:{definition['reference']}",) if definition["reference"] else ())
                self.declare("field", target, desired, f"field {type_key}.{name} ({definition['kind']}, "
                                                       f"{definition['label']!r})", where, requires)

    def _probe(self):
        """The catalog as it would be with the pack's types, fields, pipelines and stages."""
        added = {}
        for target, desired in self.declared.items():
            if target.startswith("field:"):
                added.setdefault(desired["record_type"], []).append(custom_field_descriptor(SimpleNamespace(**desired)))
        types = {}
        for key, rt in {**self.plugin_types, **self.catalog.types, **self.new_types}.items():
            types[key] = replace(rt, fields={**rt.fields, **{f.name: f for f in added.get(key, ())}})
        pipelines = dict(self.catalog.pipelines)
        for target, desired in self.declared.items():
            if target.startswith("pipeline:") and desired["key"] not in pipelines:
                pipelines[desired["key"]] = PipelineDef(desired["key"], desired["record_type"], desired["label"],
                                                        desired["is_default"], ())
        stages = {}
        for target, desired in self.declared.items():
            if target.startswith("stage:"):
                stages.setdefault(desired["pipeline"], {})[desired["key"]] = StageDef(
                    desired["key"], desired["label"], desired["position"], desired["probability"], desired["outcome"],
                    tuple(desired["allowed_next"]) if desired["allowed_next"] is not None else None,
                    tuple(desired["reasons"] or ()))
        for key, by_key in stages.items():
            pipeline = pipelines[key]
            merged = {**{s.key: s for s in pipeline.stages}, **by_key}
            pipelines[key] = replace(pipeline, stages=tuple(sorted(merged.values(), key=lambda s: s.position)))
        return _Probe(self.catalog, types, pipelines)

    # -- pipelines and stages

    def _pipelines(self, pipelines):
        for key, spec in pipelines.items():
            where = f"pipelines.{key}"
            target = f"pipeline:{key}"
            if spec["record_type"] is not None:
                if target in self.live and target not in self.owned and not self.ledger.others(target, self.pack.name):
                    self.problem(f"{where}.record_type", f"pipeline {key!r} already exists; leave out record_type to "
                                                         f"change its stages")
                    continue
                self._new_pipeline(key, spec, where)
                continue
            existing = self.catalog.pipelines.get(key)
            if existing is None:
                self.problem(where, f"there is no pipeline {key!r}; give record_type to create it")
                continue
            self._pipeline_changes(existing, spec, where)

    def _new_pipeline(self, key, spec, where):
        record_type = spec["record_type"]
        if self.type_of(record_type) is None:
            self.problem(f"{where}.record_type", f"there is no record type {record_type!r}")
            return
        stages = spec["stages"]
        definition = {"key": key, "record_type": record_type, "label": spec["label"], "stages": stages}
        try:
            validate_definition(definition, f"pack {self.pack.name}")
        except ValueError as exc:
            self.problem(where, str(exc))
            return
        target = f"pipeline:{key}"
        default = not any(p.record_type == record_type and p.key != key for p in self.catalog.pipelines.values())
        desired = {**self.kept(target, "id"), "key": key, "record_type": record_type, "label": spec["label"],
                   "is_default": default, "origin": self.origin}
        self.declare("pipeline", target, desired, f"pipeline {key} ({spec['label']}) on {record_type}", where,
                     (f"type:{record_type}",))
        order = spec["order"] or [stage["key"] for stage in stages]
        for index, stage in enumerate(stages):
            self._stage(key, stage, order.index(stage["key"]), f"{where}.stages[{index}]", created=True)

    def _pipeline_changes(self, pipeline, spec, where):
        target = f"pipeline:{pipeline.key}"
        if spec["label"] is not None:
            desired = {**self.base(target), "label": spec["label"]}
            self.declare("pipeline", target, desired, f"pipeline {pipeline.key} ({spec['label']})", f"{where}.label")
        known = [s.key for s in pipeline.stages]
        given = [stage["key"] for stage in spec["stages"]]
        everything = known + [k for k in given if k not in known]
        order = spec["order"]
        if order is not None and sorted(order) != sorted(everything):
            missing = sorted(set(everything) - set(order))
            unknown = sorted(set(order) - set(everything))
            self.problem(f"{where}.order", "must list every stage of the pipeline once"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(unknown)}" if unknown else ""))
            return
        end = max((s.position for s in pipeline.stages), default=-1) + 1
        for index, stage in enumerate(spec["stages"]):
            strange = sorted(set(stage.get("allowed_next") or ()) - set(everything))
            if strange:
                self.problem(f"{where}.stages[{index}].allowed_next", f"names stages {pipeline.key} lacks: "
                                                                     f"{', '.join(strange)}")
                continue
            position = order.index(stage["key"]) if order is not None else None
            if position is None and stage["key"] not in known:
                position, end = end, end + 1
            self._stage(pipeline.key, stage, position, f"{where}.stages[{index}]", created=stage["key"] not in known)
        for key in order or ():
            if key not in given:
                self._stage(pipeline.key, {"key": key}, order.index(key), f"{where}.order", created=False)

    def _stage(self, pipeline_key, spec, position, where, created):
        """A stage the pack adds (``created``) or changes: only what it gives changes."""
        target = f"stage:{pipeline_key}.{spec['key']}"
        base = self.base(target)
        if created or base is None:
            base = {**self.kept(target, "id"), "pipeline": pipeline_key, "key": spec["key"], "label": spec["key"],
                    "position": 0, "probability": 0, "outcome": "open", "allowed_next": None, "reasons": None,
                    "origin": self.origin}
        desired = dict(base)
        for name in ("label", "probability", "outcome", "allowed_next", "reasons"):
            if name in spec:
                desired[name] = spec[name]
        if position is not None:
            desired["position"] = position
        self.declare("stage", target, desired, f"stage {pipeline_key}.{spec['key']} ({desired['label']}, "
                                               f"{desired['probability']}%)", where, (f"pipeline:{pipeline_key}",))

    # -- labels, choices, views, widgets, roles, help, rules

    def _terms(self, terms):
        for name, spec in terms.items():
            where = f"terms.{name}"
            target = term_target(name, set(self.probe.types))
            kind, _, rest = target.partition(":")
            first, _, second = rest.partition(".")
            rt = self.probe.type(first)
            if kind == "type" and rt is None:
                self.problem(where, f"there is no record type {first!r}")
                continue
            if kind == "field" and (rt is None or second not in rt.fields):
                self.problem(where, f"there is no field {rest!r}")
                continue
            if kind == "stage" and (first not in self.probe.pipelines or self.probe.pipelines[first].stage(second) is None):
                self.problem(where, f"there is no stage {rest!r} (pipeline.stage)")
                continue
            plural = spec.get("plural") if kind == "type" else None
            desired = {"target": target, "label": spec["label"], "plural_label": plural, "origin": self.origin}
            requires = (f"type:{first}",) if kind == "type" else (
                (f"type:{first}", f"field:{rest}") if kind == "field" else (f"pipeline:{first}", f"stage:{rest}"))
            describe = f"term {target}: {spec['label']!r}" + (f" / {plural!r}" if plural else "")
            self.declare("term", f"term:{target}", desired, describe, where, requires)

    def _picklists(self, picklists):
        for name, values in picklists.items():
            where = f"picklists.{name}"
            type_key, _, field_name = name.partition(".")
            rt = self.probe.type(type_key)
            f = rt.fields.get(field_name) if rt else None
            if f is None or f.kind not in CHOICE_KINDS:
                self.problem(where, f"{name!r} is not a choice field" if rt else f"there is no record type {type_key!r}")
                continue
            own = {row["key"] for t, row in self.live.items() if t.startswith(f"picklist:{name}.")}
            for index, value in enumerate(values):
                key = value["key"]
                if key in f.choice_keys and key not in own:
                    self.problem(f"{where}[{index}]", f"{name} already has the choice {key!r}")
                    continue
                desired = {**self.kept(f"picklist:{name}.{key}", "id"), "record_type": type_key, "field": field_name,
                           "key": key, "label": value["label"], "position": index, "origin": self.origin}
                self.declare("picklist", f"picklist:{name}.{key}", desired, f"choice {name}: {key} ({value['label']!r})",
                             f"{where}[{index}]", (f"type:{type_key}", f"field:{name}"))

    def _views(self, views):
        for index, view in enumerate(views):
            where = f"views[{index}]"
            rt = self.probe.type(view["record_type"])
            if rt is None:
                self.problem(f"{where}.record_type", f"there is no record type {view['record_type']!r}")
                continue
            reason = _query_problem(rt, view["query"], known_table=rt.key in self.catalog.types)
            if reason:
                self.problem(f"{where}.query", reason)
                continue
            target = f"view:{rt.key}.{view['name']}"
            desired = {**self.kept(target, "id", "created_at"), "user_id": None, "record_type": rt.key,
                       "name": view["name"], "query": view["query"], "origin": self.origin}
            self.declare("view", target, desired, f"view {rt.key}: {view['name']!r}", where, (f"type:{rt.key}",))

    def _widgets(self, widgets):
        for index, widget in enumerate(widgets):
            where = f"widgets[{index}]"
            rt = self.probe.type(widget["record_type"])
            if rt is None:
                self.problem(f"{where}.record_type", f"there is no record type {widget['record_type']!r}")
                continue
            summed, group_by = widget["field"], widget["group_by"]
            if widget["measure"] == "sum" and (summed not in rt.fields or rt.fields[summed].kind not in ("integer", "decimal")):
                self.problem(f"{where}.field", f"a sum adds up a number field (integer or decimal) of {rt.label}")
                continue
            if group_by == "stage" and "stage" not in rt.fields:
                self.problem(f"{where}.group_by", f"{rt.label} has no pipeline stage to group by")
                continue
            if group_by not in (None, "stage") and (group_by not in rt.fields or rt.fields[group_by].kind != "choice"):
                self.problem(f"{where}.group_by", f"group by stage or a choice field of {rt.label}")
                continue
            desired = {"key": widget["key"], "title": widget["title"], "record_type": rt.key, "measure": widget["measure"],
                       "field": summed, "group_by": group_by, "position": index, "origin": self.origin}
            self.declare("widget", f"widget:{widget['key']}", desired, f"widget {widget['key']} ({widget['title']!r})",
                         where, (f"type:{rt.key}",))

    def _roles(self, roles):
        from .permissions import parse_grants

        for index, role in enumerate(roles):
            where = f"roles[{index}]"
            try:
                parse_grants(role["grants"], self.probe)
            except RecordInvalid as exc:
                for name, reasons in exc.fields.items():
                    self.problem(f"{where}.{name}", " ".join(map(str, reasons)))
                continue
            target = f"role:{role['key']}"
            desired = {**self.kept(target, "created_at"), **role, "origin": self.origin}
            self.declare("role", target, desired, f"role {role['key']} ({role['label']!r})", where,
                         tuple(f"type:{t}" for t in role["grants"] if t != "*"))

    def _help(self, topics):
        for index, topic in enumerate(topics):
            desired = {**topic, "origin": self.origin}
            self.declare("help", f"help:{topic['key']}", desired, f"help {topic['key']} ({topic['title']!r})",
                         f"help[{index}]")

    def _rules(self, rules):
        from .automation import validate_rule

        for index, rule in enumerate(rules):
            where = f"rules[{index}]"
            spec = {k: v for k, v in rule.items() if v is not None}
            try:
                validate_rule(self.probe, spec)
            except RecordInvalid as exc:
                for name, reasons in exc.fields.items():
                    self.problem(where if name == "_schema" else f"{where}.{name}", " ".join(map(str, reasons)))
                continue
            target = f"rule:{spec['key']}"
            desired = {**self.kept(target, "id", "created_at", "updated_at"), "key": spec["key"],
                       "label": spec["label"].strip(), "record_type": spec["record_type"], "trigger": spec["trigger"],
                       "trigger_value": spec.get("stage") or spec.get("field"),
                       "conditions": spec.get("conditions", []), "actions": spec["actions"],
                       "enabled": spec.get("enabled", True), "origin": self.origin, "spec": spec}
            self.declare("rule", target, desired, f"rule {spec['key']} ({desired['label']!r})", where,
                         (f"type:{spec['record_type']}",))

    # -- page templates

    def _templates(self):
        """The pack's ``templates/`` folder, recorded with the names it holds: while the
        pack is applied its pages come before the plugins' and the core's."""
        target = f"templates:{self.pack.name}"
        current = self.ledger.templates.get(self.pack.name)
        wanted = None
        if self.pack.templates is not None:
            wanted = {"path": str(self.pack.templates), "names": template_names(self.pack.templates)}
        if wanted == current:
            if wanted is not None:
                self.plan.changes.append(Change("templates", target, current, wanted,
                                                f"= {_templates_words(wanted)}: in place", True))
            return
        sign = "+" if current is None else "-" if wanted is None else "~"
        self.plan.changes.append(Change("templates", target, current, wanted,
                                        f"{sign} {_templates_words(wanted or current)}"))

    # -- upgrades and stored values

    def _removals(self):
        """An upgrade: what the applied version made and this one drops goes back to how
        it was before the pack (objects the pack created are removed)."""
        for target, op in self.owned.items():
            if target in self.declared:
                continue
            stored = self.live.get(target)
            baseline = self.baseline.get(target)
            if stored is None and baseline is None:
                continue
            later = [other for other in self.ledger.others(target, self.pack.name)
                     if self.ledger.later(self.pack.name, target, other)]
            if later:
                self.conflict(target, f"{self.pack.name} {self.pack.version} drops {_words(target)}, but pack "
                                      f"{later[-1]} builds on it; revert {later[-1]} first")
                continue
            line = (f"- {_words(target)}" if baseline is None else
                    f"~ {_words(target)}: {_difference(stored, baseline, SECTIONS[op.kind])}")
            self.plan.changes.append(Change(op.kind, target, stored, baseline, line, False, op.requires))
        self.plan.held = holdings(self.session, [c.inverse() for c in self.plan.changes
                                                 if c.after is None and c.before is not None],
                                  {c.target: c.after for c in self.plan.changes})

    def _stored_values(self):
        """New fields must not bring up values stored under their names on existing types
        (one scan per type, whatever the number of fields)."""
        names = {}
        for change in self.plan.changes:
            if change.kind == "field" and change.before is None and not change.noop:
                names.setdefault(change.after["record_type"], []).append(change.after["name"])
        for type_key, fields in names.items():
            table = _table_name(self.session, type_key, self.catalog)
            if table is None:
                continue
            for name, count in values_held(self.session, table, fields).items():
                if count:
                    self.problem(f"fields.{type_key}", f"{_records(count)} of {type_key} already hold values under "
                                                      f"{name!r}; choose another name")


class _Probe:
    """The catalog with the pack's types, fields, pipelines and stages in it, for checks."""

    def __init__(self, catalog, types, pipelines):
        self._catalog = catalog
        self.types = types
        self.pipelines = pipelines
        self.by_plural = {rt.plural: rt for rt in types.values()}

    def type(self, key):
        return self.types.get(key) if isinstance(key, str) else None

    def type_for_plural(self, plural):
        return self.by_plural.get(plural)

    def __getattr__(self, name):
        return getattr(self._catalog, name)


def _query_problem(rt, query, known_table):
    """Why a saved view's list query does not fit ``rt``, or ``None``; types that exist
    already are checked by the list query builder itself."""
    from .query import RESERVED, build_list_query

    names = set(rt.fields) | {"id", "created_at", "updated_at", "created_by", "version"}
    args = MultiDict(parse_qsl(query, keep_blank_values=True))
    for param in args:
        if param == "sort":
            for part in args[param].split(","):
                if part.strip().lstrip("-+") not in names:
                    return f"cannot sort by {part.strip()!r}: {rt.label} has no such field"
        elif param not in RESERVED and param.partition("__")[0] not in names:
            return f"{param}: {rt.label} has no field {param.partition('__')[0]!r}"
    if known_table:
        try:
            build_list_query(rt, args, actor=SYSTEM)
        except (BadRequest, RecordInvalid) as exc:
            return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items()) or exc.message
    return None


def _same(columns, a, b):
    if a is None or b is None:
        return a is None and b is None
    return all(_norm(a.get(c)) == _norm(b.get(c)) for c in columns)


def _norm(value):
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _difference(current, desired, section):
    if current is None:
        return "new"
    parts = [f"{c} {_show(current.get(c))} → {_show(desired.get(c))}" for c in section.compared
             if _norm(current.get(c)) != _norm(desired.get(c))]
    return ", ".join(parts) or "no difference"


def _show(value):
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _words(target):
    kind, _, name = target.partition(":")
    return f"{kind} {name}"


def template_names(folder):
    """The templates under ``folder`` by the names pages look them up by (``records/list.html``)."""
    folder = Path(folder)
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def _templates_words(row):
    return f"templates {', '.join(row['names']) or '(none)'} (from {row['path']})"


def applied_templates(session):
    """The ``templates/`` folders of the applied packs, in lookup order: the pack applied
    last (the top of the stack) first. A folder no longer there is left out."""
    ledger = Ledger(session)
    first = {}
    for changeset in ledger.changesets:
        first.setdefault(changeset.pack, changeset.id)
    folders = []
    for name in sorted(first, key=first.get, reverse=True):
        row = ledger.templates.get(name)
        if row is not None and Path(row["path"]).is_dir():
            folders.append(row["path"])
    return tuple(folders)


def _records(count):
    return f"{count} record{'s' if count != 1 else ''}"


def _write_order(change):
    """Removals first (the reverse of the creation order), then the rest in :data:`ORDER`."""
    index = ORDER.index(change.kind)
    return (0, -index) if change.after is None else (1, index)


# Values held in fields and types ------------------------------------------------------------


def values_held(session, table_name, names):
    """``{name: rows of table_name holding a non-null value in custom field name}`` for
    all of ``names`` in one scan; rows whose ``custom`` cannot hold any of them are
    skipped before their JSON is read (``?|`` on PostgreSQL, a text search on SQLite)."""
    if not names:
        return {}
    dialect = session.get_bind().dialect.name
    counts = ", ".join(f"SUM(CASE WHEN {KINDS['text'].custom_expr(table_name, name, dialect)} IS NOT NULL "
                       f"THEN 1 ELSE 0 END)" for name in names)
    if dialect == "postgresql":
        keys = ", ".join(f"'{name}'" for name in names)
        where = f'"{table_name}".custom ?| array[{keys}]'
    else:
        where = " OR ".join(f"instr(\"{table_name}\".custom, '\"{name}\"') > 0" for name in names)
    row = session.execute(text(f'SELECT {counts} FROM "{table_name}" WHERE {where}')).one()
    return {name: int(row[index] or 0) for index, name in enumerate(names)}


def _table_name(session, type_key, catalog=None):
    rt = (catalog or current_accord().catalog()).type(type_key)
    if rt is not None and rt.table is not None:
        return rt.table.name
    row = session.get(RecordTypeDefinition, type_key)
    return row.table_name if row is not None else None


def holdings(session, created, after=None):
    """What dropping the objects ``created`` (changes that made them) would lose:
    ``[{"what", "kind", "type", "field", "table", "records"}]`` for each pack type with
    rows and each pack field with values (on a type that stays), then for each pack stage
    that records of a type that stays sit in (kind ``stage``, with ``pipeline``,
    ``stage``, where they would move, ``to_pipeline`` and ``to_stage``, and ``text``, see
    :mod:`accord.core.pack_stages`). ``after`` maps targets to their rows once done."""
    from .pack_stages import stage_holdings

    held, fields = [], {}
    dropped_types = {c.after["key"] for c in created if c.kind == "type" and c.after and not c.before and not c.noop}
    for change in created:
        if change.noop or change.after is None or change.before is not None:
            continue
        if change.kind == "type":
            table = _table_name(session, change.after["key"])
            count = session.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one() if table else 0
            if count:
                held.append({"what": f"type {change.after['key']}", "kind": "type", "type": change.after["key"],
                             "field": None, "table": table, "records": count})
        elif change.kind == "field" and change.after["record_type"] not in dropped_types:
            fields.setdefault(change.after["record_type"], []).append(change.after["name"])
    for type_key, names in fields.items():
        table = _table_name(session, type_key)
        if table is None:
            continue
        for name, count in values_held(session, table, names).items():
            if count:
                held.append({"what": f"field {type_key}.{name}", "kind": "field", "type": type_key, "field": name,
                             "table": table, "records": count})
    return held + stage_holdings(session, current_accord().catalog(), created, after or {}, dropped_types)


def held_text(held):
    return "; ".join(item["text"] if item["kind"] == "stage" else f"{item['what']} holds data in {_records(item['records'])}"
                     for item in held)


def _held_reason(item):
    if item["kind"] == "stage":
        return f"holds data: {item['text']}"
    return f"holds data in {_records(item['records'])}"


def export_holdings(session, pack_name, held, export_dir=None):
    """Write what ``held`` names to a new folder ``<pack>-<timestamp>`` under
    ``exports/verticals/`` of the instance folder (or under ``export_dir``), one JSON lines
    file per type: ``<type>.jsonl`` every row of a pack type (its fields spread out),
    ``<type>.fields.jsonl`` the ``id`` and the pack's field values of each record holding
    one, ``<type>.stages.jsonl`` each record in a stage that goes (see
    :func:`accord.core.pack_stages.export`); ``pack.json`` says what was held. Returns the folder."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    base = Path(export_dir) if export_dir else Path(current_accord().app.instance_path) / "exports" / "verticals"
    folder = base / f"{pack_name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=False)
    from .pack_stages import export as export_stages

    fields = {}
    for item in held:
        if item["kind"] == "type":
            rows = session.execute(text(f'SELECT * FROM "{item["table"]}" ORDER BY id')).mappings()
            _write_lines(folder / f"{item['type']}.jsonl", ({**_without_custom(row), **_loads(row["custom"])}
                                                             for row in rows))
        elif item["kind"] == "field":
            fields.setdefault((item["type"], item["table"]), []).append(item["field"])
    export_stages(session, folder, [item for item in held if item["kind"] == "stage"])
    for (type_key, table), names in fields.items():
        rows = session.execute(text(f'SELECT id, custom FROM "{table}" ORDER BY id'))
        _write_lines(folder / f"{type_key}.fields.jsonl", _held_values(rows, names))
    (folder / "pack.json").write_text(json.dumps({"pack": pack_name, "exported_at": stamp, "held": held}, indent=2),
                                      encoding="utf-8")
    return folder


def _held_values(rows, names):
    for row in rows:
        custom = _loads(row.custom)
        values = {name: custom[name] for name in names if custom.get(name) is not None}
        if values:
            yield {"id": row.id, **values}


def _without_custom(row):
    return {key: value for key, value in row.items() if key != "custom"}


def _loads(value):
    return json.loads(value) if isinstance(value, str) else (value or {})


def _write_lines(path, rows):
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, default=_jsonable, ensure_ascii=False) + "\n")


# Writing --------------------------------------------------------------------------------


class _Writer:
    """Brings each object from one state to another (JSON rows, ``None`` for absent) in
    the caller's transaction: forwards for apply, backwards for revert."""

    def __init__(self, session, actor, purge=()):
        self.session = session
        self.actor = actor
        self.purge = set(purge)
        self.catalog = current_accord().catalog()

    def write(self, change, current, wanted):
        if change.kind not in UNWRITTEN and not change.noop:
            getattr(self, f"_{change.kind}", self._row)(change.kind, current, wanted)

    def _pipeline_id(self, key):
        return self.session.execute(select(Pipeline.id).where(Pipeline.key == key)).scalar_one()

    def _where(self, kind, row):
        model = SECTIONS[kind].model
        conditions = [PipelineStage.pipeline_id == self._pipeline_id(row["pipeline"]) if column == "pipeline"
                      else getattr(model, column) == row[column] for column in SECTIONS[kind].key]
        if kind == "view":
            conditions.append(SavedView.user_id.is_(None))
        return conditions

    def _values(self, kind, row):
        values = {}
        for column in SECTIONS[kind].model.__table__.columns:
            if kind == "stage" and column.key == "pipeline_id":
                values["pipeline_id"] = self._pipeline_id(row["pipeline"])
            elif column.key in row:
                value = row[column.key]
                if isinstance(column.type, UTCDateTime) and isinstance(value, str):
                    value = datetime.fromisoformat(value)
                values[column.key] = value
        return values

    def _row(self, kind, current, wanted):
        model = SECTIONS[kind].model
        if wanted is None:
            self.session.execute(delete(model).where(*self._where(kind, current)))
        elif current is None:
            self.session.execute(insert(model).values(**self._values(kind, wanted)))
        else:
            values = self._values(kind, wanted)
            for name in (*SECTIONS[kind].key, "id", "pipeline_id"):
                values.pop(name, None)
            self.session.execute(update(model).where(*self._where(kind, current)).values(**values))

    def _field(self, kind, current, wanted):
        row = wanted or current
        table = _table_name(self.session, row["record_type"], self.catalog)
        rt = SimpleNamespace(table=SimpleNamespace(name=table))
        if current is not None and current["indexed"] and not current["removed_at"]:
            drop_index(self.session, rt, current["name"])
        if wanted is None and (row["record_type"], row["name"]) in self.purge:
            _purge_values(self.session, table, row["name"])
        if wanted is not None and current is None and wanted.get("created_by") is None and self.actor is not None:
            wanted = {**wanted, "created_by": self.actor.user_id}
        self._row(kind, current, wanted)
        if wanted is not None and wanted["indexed"] and not wanted["removed_at"]:
            create_index(self.session, rt, wanted["name"], wanted["kind"])

    def _type(self, kind, current, wanted):
        from .declared_types import declare_type, remove_type

        if wanted is None:
            remove_type(self.session, current["key"])
            return
        if current is None:
            spec = {name: wanted[name] for name in SECTIONS["type"].compared}
            declare_type(self.session, wanted["key"], spec, wanted["origin"])
        self._row(kind, {"key": wanted["key"]}, {k: v for k, v in wanted.items() if k != "table_name"})

    def _rule(self, kind, current, wanted):
        from .automation import add_rule, remove_rule

        if current is not None:
            remove_rule(self.session, current["key"])
        if wanted is None:
            return
        if "spec" in wanted:
            add_rule(self.session, wanted["spec"], wanted["origin"])
        else:
            self._row(kind, None, wanted)


def _purge_values(session, table, name):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"UPDATE \"{table}\" SET custom = custom - '{name}' WHERE custom ? '{name}'"))
    else:
        session.execute(text(f"UPDATE \"{table}\" SET custom = json_remove(custom, '$.{name}') "
                             f"WHERE json_extract(custom, '$.{name}') IS NOT NULL"))


def _as_written(session, changes):
    """Each change's ``after`` as stored (the ids and timestamps the database gave), so a
    revert finds and restores exactly those rows."""
    live = load_live(session)
    for change in changes:
        if change.kind not in UNWRITTEN and not change.noop and change.after is not None:
            change.after = live[change.target]


def _generation(session, lock=False):
    query = select(SchemaGeneration.value).where(SchemaGeneration.id == 1)
    return session.execute(query.with_for_update() if lock else query).scalar_one_or_none() or 0


def _still(session, generation):
    """Refuse when types, fields, pipelines or packs changed since the plan was made (the
    row is locked, so two changes cannot both pass)."""
    if _generation(session, lock=True) != generation:
        raise Conflict("The schema changed while this was being prepared (another change was made at the same "
                       "time); nothing was changed. Try again.")


def _by(actor):
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return f"{actor.source}:{actor.name or actor.user_id}"


# Apply and revert -----------------------------------------------------------------------


@dataclass
class Outcome:
    """What apply or revert did."""

    pack: str
    version: str
    status: str
    lines: list
    changesets: list
    export_path: str | None = None

    def to_json(self):
        return {"pack": self.pack, "version": self.version, "status": self.status, "lines": self.lines,
                "changesets": self.changesets, "export_path": self.export_path}


def apply(pack, actor=None, force=False, export_dir=None):
    """Apply ``pack``, or the difference from its applied version, in one transaction.

    Refuses with :class:`PackRefused`, changing nothing, when the plan has problems or
    conflicts, and when an upgrade would drop pack fields or types holding data, or stages
    records sit in, unless ``force`` (then that data is exported first and the records
    moved, as by :func:`revert`). Required plugins
    not enabled are enabled first, each in its own transaction. Returns an
    :class:`Outcome` whose status is ``applied``, ``upgraded`` or ``already applied``.
    """
    accord = current_accord()
    planned = plan(pack)
    _refuse(planned, "applied")
    if planned.status == "applied":
        return Outcome(pack.name, pack.version, "already applied", [], [])
    lines = planned.lines
    steps = [change.after["name"] for change in planned.changes if change.kind == "plugin"]
    if steps:
        from .lifecycle import enable

        for name in steps:
            enable(name, by=_by(actor))
        accord.forget_catalog()
        planned = plan(pack)
        _refuse(planned, "applied")
    if planned.held and not force:
        raise _data_refusal(pack.name, planned.held, "upgraded")
    user = None if isinstance(actor, str) else actor
    try:
        with write_unit() as session:
            _still(session, planned.generation)
            export_path = _clear_out(session, pack.name, planned.held, export_dir, actor,
                                     {"vertical": {"pack": pack.name, "version": pack.version, "action": "upgrade"}})
            writer = _Writer(session, user, purge={(h["type"], h["field"]) for h in planned.held if h["field"]})
            for change in planned.changes:
                writer.write(change, change.before, change.after)
            session.flush()
            _as_written(session, planned.changes)
            changeset = VerticalChangeset(pack=pack.name, version=pack.version, applied_by=_by(actor),
                                          operations=[c.to_json() for c in planned.changes], export_path=export_path)
            session.add(changeset)
            bump_generation(session)
            session.flush()
    except BaseException:
        accord.discard_cached_catalog()
        raise
    accord.forget_catalog()
    status = "upgraded" if planned.applied_version is not None else "applied"
    return Outcome(pack.name, pack.version, status, lines, [changeset.id], export_path)


def _refuse(planned, verb):
    problems = planned.problems + planned.conflicts
    if problems:
        raise PackRefused(f"Pack {planned.pack.name} cannot be {verb}: {len(problems)} problem"
                          f"{'s' if len(problems) != 1 else ''}; nothing was changed.", problems)


def _data_refusal(pack_name, held, verb):
    problems = [Problem(pack_name, item["what"], _held_reason(item)) for item in held]
    moves = ", and the records in dropped stages move as said" if any(i["kind"] == "stage" for i in held) else ""
    return PackRefused(f"Pack {pack_name} was not {verb}: {held_text(held)}. With force, that data is exported "
                       f"first, then dropped{moves}; nothing was changed.", problems)


def _clear_out(session, pack_name, held, export_dir, actor, details):
    """With force, in the apply's or revert's transaction: export what ``held`` names,
    then move the records out of the stages that go; returns the export folder or ``None``."""
    from . import pack_stages

    if not held:
        return None
    stages = [item for item in held if item["kind"] == "stage"]
    pack_stages.lock(session, stages)
    folder = export_holdings(session, pack_name, held, export_dir)
    acting = actor if isinstance(actor, Actor) else replace(SYSTEM, name=actor or SYSTEM.name)
    pack_stages.move(session, current_accord().catalog(), stages, acting, details)
    return str(folder)


@dataclass
class RevertPlan:
    """What reverting a pack would do: its active changesets newest first, the undo steps
    in order, the packs applied later that build on it, and what holds data."""

    pack: str
    version: str
    changesets: list
    changes: list
    blockers: list
    held: list
    generation: int = 0

    @property
    def lines(self):
        return [_undo_line(change) for change in self.changes]

    def to_json(self):
        return {"pack": self.pack, "version": self.version, "changesets": [c.id for c in self.changesets],
                "lines": self.lines, "blocked_by": self.blockers, "holds_data": self.held}


def _undo_line(change):
    if change.kind == "templates":
        sign = "-" if change.after is None else "+" if change.before is None else "~"
        return f"{sign} {_templates_words(change.after or change.before)}"
    if change.after is None:
        return f"- {_words(change.target)}"
    if change.before is None:
        return f"+ {_words(change.target)} (back)"
    return f"~ {_words(change.target)}: {_difference(change.before, change.after, SECTIONS[change.kind])}"


def revert_plan(name):
    """The :class:`RevertPlan` of pack ``name``; raises :class:`NotFound` when it is not applied."""
    session = db.session
    generation = _generation(session)
    ledger = Ledger(session)
    mine = ledger.of(name)
    if not mine:
        raise NotFound(f"Pack {name!r} is not applied here.")
    first = {}
    for changeset in mine:
        for op in changeset.operations:
            first.setdefault(op["target"], changeset.id)
    blockers = []
    for changeset in ledger.changesets:
        if changeset.pack == name or changeset.pack in blockers:
            continue
        for op in map(Change.from_json, changeset.operations):
            if any(target in first and changeset.id > first[target] for target in (op.target, *op.requires)):
                blockers.append(changeset.pack)
                break
    undo = [Change.from_json(op).inverse() for changeset in reversed(mine) for op in reversed(changeset.operations)]
    undo = [change for change in undo if change.kind != "plugin" and not change.noop]
    held = holdings(session, [change.inverse() for change in undo], {change.target: change.after for change in undo})
    return RevertPlan(name, mine[-1].version, list(reversed(mine)), undo, blockers, held, generation)


def revert(name, actor=None, force=False, export_dir=None):
    """Undo exactly the changesets of pack ``name``, newest first, in one transaction.

    Refused (:class:`PackRefused`, nothing changed) while a pack applied later builds on
    it (revert that one first), and, without ``force``, while its fields or types hold
    data or records sit in its stages; with ``force`` that data is first written to an
    export folder (kept in the changesets' ``export_path``), then dropped with them, and
    the records move to a stage that stays (:mod:`accord.core.pack_stages`). Objects of
    the local layer are never touched: a pack never owned one.
    """
    accord = current_accord()
    planned = revert_plan(name)
    if planned.blockers:
        order = " then ".join(reversed(planned.blockers))
        raise PackRefused(f"Pack {name} cannot be reverted: {', '.join(planned.blockers)} "
                          f"{'was' if len(planned.blockers) == 1 else 'were'} applied after it and "
                          f"build{'s' if len(planned.blockers) == 1 else ''} on it; revert {order} first.",
                          [Problem(name, "pack", f"pack {b} builds on it; revert {b} first") for b in planned.blockers])
    if planned.held and not force:
        raise _data_refusal(name, planned.held, "reverted")
    user = None if isinstance(actor, str) else actor
    try:
        with write_unit() as session:
            _still(session, planned.generation)
            export_path = _clear_out(session, name, planned.held, export_dir, actor,
                                     {"vertical": {"pack": name, "version": planned.version, "action": "revert",
                                                   "changesets": [c.id for c in planned.changesets]}})
            writer = _Writer(session, user, purge={(h["type"], h["field"]) for h in planned.held if h["field"]})
            for change in planned.changes:
                writer.write(change, change.before, change.after)
                session.flush()
            now = utcnow()
            for changeset in planned.changesets:
                session.execute(update(VerticalChangeset).where(VerticalChangeset.id == changeset.id).values(
                    reverted_at=now, reverted_by=_by(actor), export_path=export_path or changeset.export_path))
            bump_generation(session)
    except BaseException:
        accord.discard_cached_catalog()
        raise
    accord.forget_catalog()
    return Outcome(name, planned.version, "reverted", planned.lines, [c.id for c in planned.changesets], export_path)


# Reports --------------------------------------------------------------------------------


def pack_named(name):
    """The pack ``name`` found here, for the admin API and pages: :class:`NotFound` when
    there is none, :class:`RecordInvalid` naming each problem of a broken one."""
    from .verticals import PackInvalid, load_pack

    try:
        return load_pack(name)
    except LookupError:
        raise NotFound(f"There is no vertical pack {name!r}.") from None
    except PackInvalid as exc:
        fields = {}
        for problem in exc.problems:
            fields.setdefault(problem.key, []).append(problem.reason)
        raise RecordInvalid(fields, message=f"Vertical pack {name} is not valid: {len(exc.problems)} problem"
                                            f"{'s' if len(exc.problems) != 1 else ''}.") from None


def pack_report():
    """Every pack found here or applied here, for the CLI, the admin API and page:
    ``[{"name", "title", "summary", "version", "applied_version", "status", "problems",
    "source", "changesets"}]``; ``status`` is ``not applied``, ``applied``, ``upgrade
    available`` (another version is found), ``broken`` or ``missing`` (applied, no longer found)."""
    from .verticals import PackInvalid, available_packs

    found = available_packs()
    ledger = Ledger(db.session)
    applied = {c.pack: c for c in ledger.changesets}
    report = []
    for name in sorted(set(found) | set(applied)):
        pack = found.get(name)
        latest = applied.get(name)
        entry = {"name": name, "title": name, "summary": "", "version": None, "source": None, "problems": [],
                 "applied_version": latest.version if latest else None,
                 "applied_at": _jsonable(latest.applied_at) if latest else None,
                 "changesets": [c.id for c in ledger.of(name)]}
        if isinstance(pack, PackInvalid):
            entry.update(status="broken", problems=[problem_json(p) for p in pack.problems])
        elif pack is None:
            entry.update(status="missing")
        else:
            entry.update(title=pack.title, summary=pack.summary, version=pack.version, source=pack.source)
            if latest is None:
                entry["status"] = "not applied"
            else:
                entry["status"] = "applied" if latest.version == pack.version else "upgrade available"
        report.append(entry)
    return report


def history(name=None):
    """Every changeset, reverted ones too, oldest first, as JSON."""
    query = select(VerticalChangeset).order_by(VerticalChangeset.id)
    if name is not None:
        query = query.where(VerticalChangeset.pack == name)
    return [changeset_json(row) for row in db.session.execute(query).scalars()]


def changeset_json(row):
    return {"id": row.id, "pack": row.pack, "version": row.version, "applied_at": _jsonable(row.applied_at),
            "applied_by": row.applied_by, "reverted_at": _jsonable(row.reverted_at), "reverted_by": row.reverted_by,
            "export_path": row.export_path, "lines": [op["line"] for op in row.operations]}


def refusal_lines(exc):
    """The lines a CLI or a page shows for a refusal: one per problem."""
    if isinstance(exc, PackRefused):
        return [problem_line(p) for p in exc.problems]
    if isinstance(exc, AccordError):
        return [exc.message]
    return [str(exc)]
