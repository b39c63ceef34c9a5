"""The plan (the diff) of applying a vertical pack: :func:`plan`.

A plan compares what a pack declares with the live instance and lists every change apply
would make, each with the state it replaces, plus the problems (a field clashing with one
of another kind, a stage in an unknown pipeline, an invalid rule...) and the conflicts with
packs applied earlier or with the instance's own layer (origin ``local``).

Packs stack in changeset order. A definition identical to one already in place is shared:
the pack records it as a no-op, which makes it depend on the pack that made it, so that
pack cannot be reverted first. Planning a newer version of an applied pack gives only the
difference, with what the applied version made and this one drops.

Plugins a pack requires must be installed at a matching version; those not enabled yet
are listed in the diff as steps of their own (``enable plugin``).
"""

import json
from dataclasses import dataclass, field as dc_field, replace
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from werkzeug.datastructures import MultiDict

from .. import __version__
from .customfields import CHOICE_KINDS, _validate_spec
from .db import db
from .errors import BadRequest, RecordInvalid
from .pack_data import _records, _table_name, holdings, values_held
from .pack_ledger import ORDER, SECTIONS, Change, Ledger, _generation, load_live, template_names
from .pipelines import PipelineDef, StageDef, validate_definition
from .records import SYSTEM
from .registry import current_accord, custom_field_descriptor
from .verticals import Problem, term_target


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



def _templates_words(row):
    return f"templates {', '.join(row['names']) or '(none)'} (from {row['path']})"



def _write_order(change):
    """Removals first (the reverse of the creation order), then the rest in :data:`ORDER`."""
    index = ORDER.index(change.kind)
    return (0, -index) if change.after is None else (1, index)
