"""The service layer: the one path every write takes, whichever door it came in by.

API, UI, import and CLI all call :class:`RecordService`, so validation, hooks, stage
history, the search index and optimistic locking behave the same everywhere.
"""

import json
import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache

from marshmallow import ValidationError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from .db import db, utcnow
from .descriptors import STANDARD_FIELDS
from .fields import MAX_ID, format_datetime
from .errors import AccordError, HookFailed, NotFound, PreconditionFailed, Conflict, RecordInvalid
from .models import StageHistory
from .registry import current_accord
from . import audit, permissions, pipeline_totals, search

log = logging.getLogger("accord.records")

MAX_STALE_RETRIES = 5


@dataclass(frozen=True)
class Actor:
    """Who is acting, and through which door (``api``, ``ui``, ``import``, ``cli``, ``system``),
    with which role (a key; ``None``: administrator or user as ``is_admin`` says) and team,
    which :mod:`accord.core.permissions` reads."""

    user_id: int | None
    source: str = "api"
    is_admin: bool = False
    name: str = ""
    role: str | None = None
    team_id: int | None = None


SYSTEM = Actor(user_id=None, source="system", is_admin=True, name="system")


class Record:
    """A record as hooks and services see it: its type and its values, Python-typed."""

    __slots__ = ("type", "values", "stored_custom")

    def __init__(self, record_type, values, stored_custom=None):
        self.type = record_type
        self.values = values
        self.stored_custom = stored_custom or {}

    @property
    def id(self):
        return self.values.get("id")

    @property
    def version(self):
        return self.values.get("version")

    def __getitem__(self, name):
        return self.values[name]

    def __setitem__(self, name, value):
        self.values[name] = value

    def __contains__(self, name):
        return name in self.values

    def get(self, name, default=None):
        return self.values.get(name, default)

    @property
    def title(self):
        return self.type.title_of(self.values)

    @property
    def etag(self):
        return f'"{self.type.key}-{self.id}-{self.version}"'

    def to_json(self):
        """The record as the API answers it: one flat object."""
        values = self.values
        body = {"id": values.get("id"), "created_at": _json_datetime(values.get("created_at")),
                "updated_at": _json_datetime(values.get("updated_at")), "created_by": values.get("created_by"),
                "owner_id": values.get("owner_id"), "version": values.get("version")}
        if values.get("deleted_at") is not None:
            body["deleted_at"] = format_datetime(values["deleted_at"])
        for name, to_json in self.type.json_plan:
            body[name] = to_json(values.get(name))
        for relation in self.type.relations:
            body[relation.name] = sorted(self.values.get(relation.name) or ())
        return body

    def __repr__(self):
        return f"<Record {self.type.key} {self.id}>"


def _json_datetime(value):
    return None if value is None else format_datetime(value)


def record_from_row(record_type, row):
    """A :class:`Record` from a selected row (a mapping with the table's columns)."""
    values = {name: row[name] for name in STANDARD_FIELDS}
    values["deleted_at"] = row["deleted_at"]
    stored = row["custom"] or {}
    columns, custom = record_type.load_plan
    for name in columns:
        values[name] = row[name]
    for name, from_storage in custom:
        values[name] = from_storage(stored.get(name))
    for relation in record_type.relations:
        if relation.name in row:
            values[relation.name] = sorted(row[relation.name] or ())
    return Record(record_type, values, stored)


def row_json_maker(record_type, hidden=frozenset()):
    """A function from a selected row straight to the record's API JSON, as
    ``record_from_row(...).to_json()`` gives it with the ``hidden`` fields emptied: list
    pages and exports skip the :class:`Record` in between."""
    plan = record_type.row_json_plan
    relations = tuple(r.name for r in record_type.relations)
    hidden = tuple(hidden)

    def row_json(row):
        stored = row["custom"] or {}
        body = {"id": row["id"], "created_at": _json_datetime(row["created_at"]),
                "updated_at": _json_datetime(row["updated_at"]), "created_by": row["created_by"],
                "owner_id": row["owner_id"], "version": row["version"]}
        if row["deleted_at"] is not None:
            body["deleted_at"] = format_datetime(row["deleted_at"])
        for name, custom, convert in plan:
            value = stored.get(name) if custom else row[name]
            body[name] = value if convert is None or value is None else convert(value)
        for name in relations:
            body[name] = sorted(row.get(name) or ())
        for name in hidden:
            body[name] = None
        return body

    return row_json


class RecordService:
    """Create, read, update, trash and restore records of any type."""

    def __init__(self, app):
        self.app = app

    @property
    def accord(self):
        return current_accord(self.app)

    def catalog(self):
        return self.accord.catalog()

    def record_type(self, key):
        rt = self.catalog().type(key)
        if rt is None:
            raise NotFound(f"There is no record type {key!r}.")
        return rt

    # Reads ------------------------------------------------------------------------------

    def get(self, type_key, record_id, trashed=False, actor=SYSTEM):
        """The live record (or, with ``trashed``, the trashed one) if ``actor`` may read
        it; :class:`NotFound` otherwise, alike for a missing record and one outside the
        actor's scope."""
        rt = self.record_type(type_key)
        permissions.require(actor, rt, "read")
        record = self._load(rt, record_id, trashed=trashed, actor=actor)
        if record is None:
            raise NotFound(f"{rt.label} {record_id} does not exist.")
        return record

    def _load(self, rt, record_id, trashed=False, for_update=False, actor=SYSTEM):
        from .query import record_columns

        if not 0 < record_id <= MAX_ID:
            return None
        table = rt.table
        stmt = select(*record_columns(rt)).where(table.c.id == record_id)
        stmt = stmt.where(table.c.deleted_at.isnot(None) if trashed else table.c.deleted_at.is_(None))
        scope = permissions.visible(actor, rt)
        if scope is not None:
            stmt = stmt.where(scope)
        if for_update and db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=table)
        row = db.session.execute(stmt).mappings().first()
        return None if row is None else record_from_row(rt, row)

    # Writes -----------------------------------------------------------------------------

    def create(self, type_key, data, actor, before_commit=None):
        """Validate and store a new record; returns the committed :class:`Record`.

        :param before_commit: optional ``callable(record)`` run inside the transaction
            after the insert (the API stores its idempotency record there).
        """
        rt = self.record_type(type_key)
        values = self._check_allowed(rt, data, actor, "create")
        self._fill_defaults(rt, values)
        with write_unit() as session:
            catalog = self.catalog()
            self._check_references(rt, values)
            now = utcnow()
            record = Record(rt, {
                **values, "id": None, "created_at": now, "updated_at": now, "created_by": actor.user_id,
                "owner_id": values.get("owner_id", actor.user_id), "version": 1, "deleted_at": None,
            })
            stage_move = self._prepare_stage(catalog, record, None, actor)
            self._call_validate(rt, values, None, actor)
            changes = {name: (None, value) for name, value in values.items() if value is not None}
            self._call_guarded("accord_record_before_save", record=record, changes=changes, event="create", actor=actor)
            columns, custom = self._storage(rt, record.values)
            row = {**columns, "custom": custom, "created_at": now, "updated_at": now,
                   "created_by": actor.user_id, "version": 1}
            indexed = audited = session.get_bind().dialect.name == "postgresql"
            if audited:
                indexing = search.entry_params(record)
                indexed = indexing is not None
                params = {f"new_{name}": value for name, value in row.items()}
                params.update(audit.entry_params(audit.write_entry(record, "create", {}, actor)), **(indexing or {}))
                record.values["id"] = session.connection().execute(
                    _creating(rt.table, tuple(row), indexed), params).scalar_one()
            else:
                record.values["id"] = session.connection().execute(insert(rt.table), row).inserted_primary_key[0]
            self._write_relations(rt, record, values, new=True)
            if stage_move:
                self._write_stage_history(rt, record, stage_move, actor, now)
            if not indexed:
                search.index_record(session, record)
            pipeline_totals.track(session, rt, None, record.values)
            _record_events(session, record, "create", changes, stage_move, actor, audited=audited)
            if before_commit:
                before_commit(record)
            on_commit(lambda: self._after_commit(record, changes, "create", actor, stage_move))
        return record

    def check(self, type_key, data, actor):
        """Run every check a create would, without writing (imports check a whole file first)."""
        rt = self.record_type(type_key)
        values = self._check_allowed(rt, data, actor, "create")
        self._fill_defaults(rt, values)
        self._check_references(rt, values)
        self._call_validate(rt, values, None, actor)
        return values

    def create_many(self, type_key, rows, actor, labels=None):
        """Create several records in one transaction: all of them, or none.

        A refused row raises :class:`RecordInvalid` naming it by its label (default
        ``row N``; an import passes ``line N``) and its fields.
        """
        labels = labels or [f"row {position}" for position in range(1, len(rows) + 1)]
        created = []
        with write_unit():
            for label, data in zip(labels, rows):
                try:
                    created.append(self.create(type_key, data, actor))
                except AccordError as exc:
                    fields = {f"{label}: {name}": reasons for name, reasons in exc.fields.items()}
                    raise RecordInvalid(fields or {label: [exc.message]},
                                        message=f"{label} was refused, nothing was written: {exc.message}") from exc
        return created

    def update(self, type_key, record_id, data, actor, expected_version=None):
        """Apply a partial update. With ``expected_version`` a stale record answers 412;
        without it, a concurrent change is merged by retrying on the fresh version."""
        rt = self.record_type(type_key)
        values = self._check_allowed(rt, data, actor, "update")
        for attempt in range(MAX_STALE_RETRIES):
            try:
                return self._update_once(rt, record_id, values, actor, expected_version)
            except _StaleVersion:
                if expected_version is not None:
                    raise PreconditionFailed(
                        f"{rt.label} {record_id} was changed by someone else; reload it and try again."
                    ) from None
        raise Conflict(f"{rt.label} {record_id} is being changed by others; try again.")

    def _update_once(self, rt, record_id, values, actor, expected_version):
        with write_unit() as session:
            catalog = self.catalog()
            old = self._load(rt, record_id, for_update=True, actor=actor)
            if old is None:
                raise NotFound(f"{rt.label} {record_id} does not exist.")
            if expected_version is not None and old.version != expected_version:
                raise PreconditionFailed(f"{rt.label} {record_id} is at version {old.version}, not {expected_version}.")
            record = Record(rt, {**old.values, **values}, old.stored_custom)
            changes = {
                name: (old.get(name), value) for name, value in values.items()
                if _comparable(old.get(name)) != _comparable(value)
            }
            if not changes:
                return old
            self._check_references(rt, {k: v for k, v in values.items() if k in changes})
            stage_move = self._prepare_stage(catalog, record, old, actor)
            self._call_validate(rt, values, old, actor)
            record.values["updated_at"] = utcnow()
            record.values["version"] = old.version + 1
            changes = _diff(rt, old, record)
            self._call_guarded("accord_record_before_save", record=record, changes=changes, event="update", actor=actor)
            changes = _diff(rt, old, record)
            columns, custom = self._storage(rt, record.values, old.stored_custom)
            row = {**columns, "custom": custom, "version": old.version + 1, "updated_at": record.values["updated_at"]}
            table = rt.table
            audited = session.get_bind().dialect.name == "postgresql"
            params = {f"new_{name}": value for name, value in row.items()}
            params.update(old_id=old.id, old_version=old.version)
            if audited:
                params.update(audit.entry_params(audit.write_entry(record, "update", changes, actor)))
                changed = len(session.connection().execute(_updating(table, tuple(row)), params).all())
            else:
                changed = session.connection().execute(_versioned_update(table, tuple(row)), params).rowcount
            if changed != 1:
                raise _StaleVersion()
            self._write_relations(rt, record, values, new=False)
            if stage_move:
                self._write_stage_history(rt, record, stage_move, actor, record.values["updated_at"])
            if search.affects_index(rt, changes):
                search.index_record(session, record)
            pipeline_totals.track(session, rt, old.values, record.values)
            _record_events(session, record, "update", changes, stage_move, actor, audited=audited)
            on_commit(lambda: self._after_commit(record, changes, "update", actor, stage_move))
        return record

    def delete(self, type_key, record_id, actor, expected_version=None):
        """Move a record to the trash (restorable); it then answers 404 until restored."""
        return self._set_trashed(type_key, record_id, actor, expected_version, trash=True)

    def restore(self, type_key, record_id, actor, expected_version=None):
        """Bring a trashed record back."""
        return self._set_trashed(type_key, record_id, actor, expected_version, trash=False)

    def _set_trashed(self, type_key, record_id, actor, expected_version, trash):
        rt = self.record_type(type_key)
        permissions.require(actor, rt, "delete")
        event = "delete" if trash else "restore"
        with write_unit() as session:
            old = self._load(rt, record_id, trashed=not trash, for_update=True, actor=actor)
            if old is None:
                where = "" if trash else " in the trash"
                raise NotFound(f"{rt.label} {record_id} does not exist{where}.")
            if expected_version is not None and old.version != expected_version:
                raise PreconditionFailed(f"{rt.label} {record_id} is at version {old.version}, not {expected_version}.")
            now = utcnow()
            deleted_at = now if trash else None
            record = Record(rt, {**old.values, "deleted_at": deleted_at, "updated_at": now, "version": old.version + 1},
                            old.stored_custom)
            changes = {"deleted_at": (old.get("deleted_at"), deleted_at)}
            self._call_guarded("accord_record_before_save", record=record, changes=changes, event=event, actor=actor)
            table = rt.table
            result = session.execute(
                update(table).where(table.c.id == old.id, table.c.version == old.version).values(
                    deleted_at=deleted_at, deleted_by=actor.user_id if trash else None,
                    updated_at=now, version=old.version + 1,
                )
            )
            if result.rowcount != 1:
                raise PreconditionFailed(f"{rt.label} {record_id} was changed by someone else; reload it and try again.")
            if trash:
                search.unindex_record(session, record)
            else:
                search.index_record(session, record)
            pipeline_totals.track(session, rt, old.values, record.values)
            _record_events(session, record, event, changes, None, actor)
            on_commit(lambda: self._after_commit(record, changes, event, actor, None))
        return record

    def anonymise(self, record, values):
        """Overwrite fields of a stored record (live or trashed) with anonymous values, in
        the current write unit; the privacy erasure's write (:mod:`accord.core.privacy`).

        No validation, hooks, audit entry or webhook event: those would copy the personal
        values being removed, and the erasure writes one entry of its own. The version
        moves on (a client's stale copy gets 412), the search entry of a live record is
        refreshed and the pipeline totals follow (they never hold personal values)."""
        rt = record.type
        session = db.session()
        now = utcnow()
        new = Record(rt, {**record.values, **values, "updated_at": now, "version": record.version + 1},
                     record.stored_custom)
        columns, custom = self._storage(rt, new.values, record.stored_custom)
        table = rt.table
        session.execute(update(table).where(table.c.id == record.id)
                        .values(**columns, custom=custom, updated_at=now, version=new.version))
        if new.get("deleted_at") is None:
            search.index_record(session, new)
        pipeline_totals.track(session, rt, None if record.get("deleted_at") else record.values,
                              None if new.get("deleted_at") else new.values)
        return new

    # Steps ------------------------------------------------------------------------------

    def _check_allowed(self, rt, data, actor, verb):
        """The validated values of a write the actor's role allows: the verb on the type,
        no sensitive field it may not use, no owner outside its scope."""
        permissions.require(actor, rt, verb)
        values = self._validate(rt, data, partial=verb == "update")
        permissions.refuse_hidden(actor, rt, values)
        if "owner_id" in values:
            permissions.may_assign(actor, rt, values["owner_id"])
        return values

    def _validate(self, rt, data, partial):
        if not isinstance(data, dict):
            raise RecordInvalid({"_schema": ["Expected a JSON object."]})
        read_only = {name for name in data if name in STANDARD_FIELDS and name != "owner_id"}
        read_only |= {name for name in data if name in rt.fields and rt.fields[name].read_only}
        errors = {name: ["This field is read-only."] for name in read_only}
        try:
            values = self.catalog().schema(rt).load(
                {k: v for k, v in data.items() if k not in read_only}, partial=partial
            )
        except ValidationError as exc:
            errors.update(exc.normalized_messages())
            values = None
        if errors:
            raise RecordInvalid(errors)
        return values

    @staticmethod
    def _fill_defaults(rt, values):
        for name, f in rt.writable_fields.items():
            if name not in values and f.default is not None:
                default = f.default
                if f.kind in ("decimal", "money", "date", "datetime"):
                    default = rt.fields[name].kind_impl.marshmallow_field(f).deserialize(default)
                values[name] = default

    def _check_references(self, rt, values):
        """Every reference must point at a live record; refuse with 422 otherwise."""
        catalog = self.catalog()
        errors = {}
        for name, value in values.items():
            if value is None:
                continue
            f = rt.fields.get(name)
            if f is not None and f.kind == "reference":
                target = catalog.type(f.reference)
                if target is None or not live_ids(target, [value]):
                    errors[name] = [f"No live {target.label if target else f.reference} has id {value}."]
        for relation in rt.relations:
            ids = values.get(relation.name)
            if ids:
                target = catalog.type(relation.target)
                missing = sorted(set(ids) - live_ids(target, ids))
                if missing:
                    errors[relation.name] = [f"No live {target.label} has id {', '.join(map(str, missing))}."]
        if errors:
            raise RecordInvalid(errors)

    def _prepare_stage(self, catalog, record, old, actor):
        """Default, check and guard the stage of a pipelined record; the move, or ``None``."""
        rt = record.type
        if not rt.pipeline and "stage" not in rt.fields:
            return None
        if "stage" not in rt.fields or "pipeline" not in rt.fields:
            return None
        pipeline = catalog.pipeline_for(rt, record.get("pipeline"))
        if pipeline is None:
            raise RecordInvalid({"pipeline": [f"There is no pipeline {record.get('pipeline')!r} for {rt.plural_label.lower()}."]})
        record["pipeline"] = pipeline.key
        if record.get("stage") is None:
            record["stage"] = pipeline.first_stage.key
        from_stage = None if old is None else old.get("stage")
        if old is not None and old.get("pipeline") != pipeline.key:
            from_stage = None
        to_stage = record["stage"]
        if old is not None and from_stage == to_stage:
            return None
        reason = pipeline.refusal(from_stage, to_stage)
        reasons = [reason] if reason else []
        if not reasons:
            reasons = self._call_stage_guards(record, pipeline, from_stage, to_stage, actor)
        if reasons:
            raise RecordInvalid({"stage": reasons})
        stage = pipeline.stage(to_stage)
        if "closed_at" in rt.fields:
            previous = pipeline.stage(from_stage) if from_stage is not None else None
            if stage.outcome == "open":
                record["closed_at"] = None
            elif previous is None or previous.outcome == "open":
                record["closed_at"] = utcnow()
        return (pipeline, from_stage, to_stage)

    def _call_stage_guards(self, record, pipeline, from_stage, to_stage, actor):
        reasons = []
        for impl in self.accord.pm.hook.accord_stage_transition_guard.get_hookimpls():
            kwargs = dict(app=self.app, record=record, pipeline=pipeline, from_stage=from_stage,
                          to_stage=to_stage, actor=actor)
            try:
                reason = impl.function(*[kwargs[a] for a in impl.argnames])
            except AccordError:
                raise
            except Exception as exc:
                raise HookFailed(f"Plugin {impl.plugin_name!r} failed in accord_stage_transition_guard: {exc}") from exc
            if reason:
                reasons.append(str(reason))
        return reasons

    def _write_stage_history(self, rt, record, move, actor, when):
        pipeline, from_stage, to_stage = move
        session = db.session
        seconds = None
        if from_stage is not None:
            last = session.execute(
                select(StageHistory.changed_at)
                .where(StageHistory.record_type == rt.key, StageHistory.record_id == record.id)
                .order_by(StageHistory.id.desc()).limit(1)
            ).scalar_one_or_none()
            if last is not None:
                seconds = int((when - last).total_seconds())
        session.execute(insert(StageHistory).values(
            record_type=rt.key, record_id=record.id, pipeline=pipeline.key, from_stage=from_stage,
            to_stage=to_stage, changed_at=when, changed_by=actor.user_id, seconds_in_previous=seconds,
            reason=record.get("close_reason") if pipeline.stage(to_stage).outcome != "open" else None,
        ))

    def _write_relations(self, rt, record, values, new):
        session = db.session
        for relation in rt.relations:
            if relation.name not in values:
                continue
            ids = sorted(set(values[relation.name] or ()))
            table = relation.table
            if not new:
                session.execute(delete(table).where(table.c[relation.local_column] == record.id))
            if ids:
                session.execute(insert(table), [
                    {relation.local_column: record.id, relation.remote_column: i} for i in ids
                ])
            record.values[relation.name] = ids

    def _storage(self, rt, values, stored_custom=None):
        """Split values into table columns and the ``custom`` JSON object. Values under
        keys the type no longer declares (a removed field's) are carried over untouched."""
        columns = {}
        custom = dict(stored_custom or {})
        for name, f in rt.fields.items():
            value = values.get(name)
            if f.custom:
                if value is None:
                    custom.pop(name, None)
                else:
                    custom[name] = f.kind_impl.to_storage(value)
            else:
                columns[name] = value
        return columns, custom

    # Hooks ------------------------------------------------------------------------------

    def _call_validate(self, rt, values, old, actor):
        self._call_guarded("accord_record_validate", record_type=rt, values=values, record=old, actor=actor)

    def _call_guarded(self, hook_name, **kwargs):
        """Run an in-transaction hook; any error aborts the write, naming the plugin."""
        kwargs["app"] = self.app
        for impl in getattr(self.accord.pm.hook, hook_name).get_hookimpls():
            try:
                impl.function(*[kwargs[a] for a in impl.argnames])
            except AccordError:
                raise
            except Exception as exc:
                raise HookFailed(f"Plugin {impl.plugin_name!r} failed in {hook_name}: {exc}") from exc

    def _after_commit(self, record, changes, event, actor, stage_move):
        """Run after-commit hooks, each isolated: a failure is logged and never undoes the write."""
        hook = self.accord.pm.hook
        calls = [("accord_record_after_commit", dict(record=record, changes=changes, event=event, actor=actor))]
        if stage_move:
            pipeline, from_stage, to_stage = stage_move
            calls.append(("accord_stage_changed", dict(record=record, pipeline=pipeline, from_stage=from_stage,
                                                      to_stage=to_stage, actor=actor)))
        for hook_name, kwargs in calls:
            kwargs["app"] = self.app
            for impl in getattr(hook, hook_name).get_hookimpls():
                try:
                    impl.function(*[kwargs[a] for a in impl.argnames])
                except Exception:
                    log.exception("plugin %r failed in %s for %s %s (the %s is committed; retrying as a job)",
                                  impl.plugin_name, hook_name, record.type.key, record.id, event)
                    self._retry_later(impl.plugin_name, hook_name, record, changes, event, actor, stage_move)

    def _retry_later(self, plugin, hook_name, record, changes, event, actor, stage_move):
        from . import jobs

        try:
            jobs.enqueue(AFTER_COMMIT_JOB, plugin=plugin, hook=hook_name, record_type=record.type.key,
                         record_id=record.id, event=event, actor=asdict(actor),
                         changes=json.loads(json.dumps(changes, default=str)),
                         stages=list(stage_move[1:]) if stage_move else None,
                         pipeline=stage_move[0].key if stage_move else None)
        except Exception:  # noqa: BLE001 - the write is committed whatever happens here
            log.exception("could not queue the retry of %s of plugin %r for %s %s",
                          hook_name, plugin, record.type.key, record.id)

    def run_after_commit_hook(self, plugin, hook, record_type, record_id, event, actor, changes, stages, pipeline):
        """Call one plugin's after-commit hook again for a committed record (the job a
        failed call becomes); a plugin that is no longer active has nothing to redo."""
        impls = [impl for impl in getattr(self.accord.pm.hook, hook).get_hookimpls() if impl.plugin_name == plugin]
        rt = self.catalog().type(record_type)
        if not impls or rt is None:
            log.info("not retrying %s of plugin %r for %s %s: no longer active", hook, plugin, record_type, record_id)
            return
        record = self._load(rt, record_id) or self._load(rt, record_id, trashed=True)
        if record is None:
            raise NotFound(f"{rt.label} {record_id} is gone; {hook} of plugin {plugin!r} cannot run for it.")
        kwargs = {"app": self.app, "record": record, "event": event, "actor": Actor(**actor),
                  "changes": {name: tuple(pair) for name, pair in changes.items()}}
        if stages is not None:
            kwargs.update(pipeline=self.catalog().pipelines.get(pipeline), from_stage=stages[0], to_stage=stages[1])
        for impl in impls:
            impl.function(*[kwargs[a] for a in impl.argnames])


AFTER_COMMIT_JOB = "accord.after_commit"
"""The job a failed after-commit or stage-changed hook call becomes."""


def run_after_commit_hook(app, **arguments):
    """The :data:`AFTER_COMMIT_JOB`: see :meth:`RecordService.run_after_commit_hook`."""
    current_accord(app).records.run_after_commit_hook(**arguments)


@lru_cache(maxsize=512)
def _creating(table, columns, indexed):
    """The ``INSERT`` of a new record (``columns`` bound as ``new_<column>``) that also
    inserts its audit entry and, when ``indexed``, its search entry, in one statement
    answering the new id (PostgreSQL's data-modifying CTEs). Built once per table and
    column set, so a create pays no statement building."""
    created = insert(table).values(
        {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns}
    ).returning(table.c.id).cte("created")
    statement = select(created.c.id).add_cte(audit.entry_per_row(created).cte("audited"))
    if indexed:
        statement = statement.add_cte(search.entry_per_row(created).cte("indexed"))
    return statement


@lru_cache(maxsize=512)
def _versioned_update(table, columns):
    """The ``UPDATE`` of one live record at its version, bound as ``old_id``,
    ``old_version`` and ``new_<column>``; built once per table and column set."""
    return (
        update(table)
        .where(table.c.id == bindparam("old_id"), table.c.version == bindparam("old_version"),
               table.c.deleted_at.is_(None))
        .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns})
    )


@lru_cache(maxsize=512)
def _updating(table, columns):
    """:func:`_versioned_update` inserting the write's audit entry too, answering one row
    per row changed (PostgreSQL)."""
    return audit.inserting_entry(_versioned_update(table, columns))


def _record_events(session, record, event, changes, stage_move, actor, audited=False):
    """Store what must be committed with a write, or not at all: its audit entry (unless
    the write's own statement ``audited`` it), its webhook deliveries, and what the
    automation rules it triggered did (:mod:`accord.core.automation`)."""
    from . import automation, webhooks

    if not audited:
        audit.record_write(session, record, event, changes, actor)
    webhooks.record_events(session, record, event, changes, stage_move, actor)
    automation.run_planned(session, record, changes)


class _StaleVersion(Exception):
    """The row changed between read and write."""


@contextmanager
def write_unit():
    """One write transaction; nested units join the outermost, so a batch (an import)
    commits or rolls back whole. Callbacks given to :func:`on_commit` run after the
    outermost commit, never after a rollback; the pipeline totals the unit's writes
    changed and their audit entries are written just before it commits.

    On SQLite the transaction starts ``IMMEDIATE`` (after ending any read transaction) so
    concurrent writers queue instead of failing on a stale snapshot.
    """
    session = db.session()
    if "accord_after_commit" in session.info:
        yield session
        return
    begin_write()
    session.info["accord_after_commit"] = []
    try:
        yield session
        pipeline_totals.flush(session)
        audit.flush(session)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"The write conflicts with stored data: {exc.orig}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        pipeline_totals.discard(session)
        audit.discard(session)
        session.info.pop("accord_commit_batches", None)
        pending = session.info.pop("accord_after_commit")
    for callback in pending:
        callback()


def begin_write():
    """Make the session's transaction a write transaction. SQLite: end a read transaction
    first, then ``BEGIN IMMEDIATE``; a write request calls this before its first read, so
    it takes the lock once. PostgreSQL needs nothing."""
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.connection().get_execution_options().get("accord_write"):
            return
        session.commit()
    session.connection(execution_options={"accord_write": True})


def on_commit(callback):
    """Run ``callback()`` once the current write unit has committed."""
    db.session().info["accord_after_commit"].append(callback)


def on_commit_together(key, item, callback):
    """Add ``item`` to the current write unit's batch ``key``; once the unit has
    committed, ``callback(items)`` runs once with the whole batch (the jobs a unit queued
    go to the broker together)."""
    batches = db.session().info.setdefault("accord_commit_batches", {})
    items = batches.get(key)
    if items is None:
        items = batches[key] = []
        on_commit(lambda: callback(items))
    items.append(item)


def live_ids(rt, ids):
    """The ids among ``ids`` of records of ``rt`` that exist and are not trashed."""
    table = rt.table
    return set(db.session.execute(
        select(table.c.id).where(table.c.id.in_(list(ids)), table.c.deleted_at.is_(None))
    ).scalars())


def _diff(rt, old, record):
    """``{field: (old, new)}`` over the type's fields and relations, after every adjustment."""
    names = list(rt.fields) + [relation.name for relation in rt.relations]
    return {
        name: (old.get(name), record.get(name)) for name in names
        if _comparable(old.get(name)) != _comparable(record.get(name))
    }


def _comparable(value):
    if isinstance(value, list):
        return sorted(value, key=str)
    return value
