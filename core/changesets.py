"""Vertical packs applied as recorded changesets: apply, upgrade, revert.

Apply refuses with every problem and conflict of the plan (:func:`accord.core.pack_plan.plan`)
before changing anything; otherwise it writes every change and one ``vertical_changeset``
row in one transaction, so a revert restores exactly what was there.

Packs stack in changeset order: a pack that shares a definition made by another depends on
it, so that one cannot be reverted first. Applying a newer version of an applied pack
records a changeset with only the difference; the same version is "already applied".

Plugins a pack requires that are not enabled are switched on through the plugin lifecycle
as a step of their own, listed in the diff, before the pack's transaction (each enable runs
its migrations in its own transaction). A revert leaves them on: other packs, or data, may
use them.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import delete, insert, select, update

from .customfields import create_index, drop_index
from .db import UTCDateTime, db, utcnow
from .errors import AccordError, Conflict, NotFound, RecordInvalid
from .models import Pipeline, PipelineStage, SavedView, VerticalChangeset
from .pack_data import _held_reason, _purge_values, _table_name, export_holdings, held_text, holdings
from .pack_ledger import SECTIONS, UNWRITTEN, Change, Ledger, _generation, _jsonable, load_live
from .pack_plan import _difference, _templates_words, _words, plan, problem_json, problem_line
from .records import SYSTEM, Actor, write_unit
from .registry import bump_generation, current_accord
from .verticals import Problem


class PackRefused(Conflict):
    """A pack that cannot be applied or reverted as asked; ``problems`` lists every reason.
    Nothing was changed."""

    def __init__(self, message, problems):
        fields = {}
        for problem in problems:
            fields.setdefault(problem.key or "pack", []).append(problem.reason)
        super().__init__(message, fields)
        self.problems = list(problems)


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



def _as_written(session, changes):
    """Each change's ``after`` as stored (the ids and timestamps the database gave), so a
    revert finds and restores exactly those rows."""
    live = load_live(session)
    for change in changes:
        if change.kind not in UNWRITTEN and not change.noop and change.after is not None:
            change.after = live[change.target]



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
