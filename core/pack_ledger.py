"""The record of the vertical packs applied here and the live state packs change.

Each pack applied is recorded as ``vertical_changeset`` rows whose operations are
:class:`Change` objects; :class:`Ledger` reads the active (not reverted) ones in stack
order. :data:`SECTIONS` says how each kind of object a pack can change is stored, and
:func:`load_live` reads every such object as it is now, for the planner
(:mod:`accord.core.pack_plan`) to compare with and the writer
(:mod:`accord.core.changesets`) to restore.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from .models import (
    AutomationRule, CustomField, DashboardWidgetDefinition, HelpTopicDefinition, Pipeline, PipelineStage,
    PicklistValue, RecordTypeDefinition, Role, SavedView, SchemaGeneration, Term, VerticalChangeset,
)

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



def template_names(folder):
    """The templates under ``folder`` by the names pages look them up by (``records/list.html``)."""
    folder = Path(folder)
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())



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


def _generation(session, lock=False):
    query = select(SchemaGeneration.value).where(SchemaGeneration.id == 1)
    return session.execute(query.with_for_update() if lock else query).scalar_one_or_none() or 0
