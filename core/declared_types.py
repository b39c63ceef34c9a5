"""Record types, dashboard widgets and help topics declared as data, without code.

A declared type (a ``record_type_definition`` row, from a vertical pack or an admin) keeps
its records in a table of its own, ``rt_<key>``, that has the standard record columns
(its fields live in ``custom``) plus ``pipeline`` and ``stage``, used once the type moves
through a pipeline. The catalog builds a :class:`~accord.core.descriptors.RecordType` for
each row (:func:`load_types`), so the API, the web pages, search, import and export,
audit, permissions and privacy serve it as they serve contacts.

The tables are described by SQLAlchemy ``Table`` objects in :data:`DECLARED`, a metadata
of their own: they come and go at run time, so the migrations (compared against
``db.metadata``) know nothing of them. The objects are made once per table name and
process, and every process makes the same ones.
"""

import logging
import re
import threading

from flask import current_app
from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    or_,
    select,
    text,
)

from . import permissions
from .db import NAMING_CONVENTION, IdType, JsonType, UTCDateTime, db, utcnow
from .descriptors import Field, RecordType
from .errors import RecordInvalid
from .fields import FIELD_NAME
from .models import (
    LIVE,
    CustomField,
    DashboardWidgetDefinition,
    HelpTopicDefinition,
    PicklistValue,
    PipelineTotal,
    RecordTypeDefinition,
    SavedView,
    SearchEntry,
    StageHistory,
    Term,
    User,
    live_indexes,
)
from .registry import bump_generation, current_accord

log = logging.getLogger("accord")

TYPE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PLURAL = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
PIPELINE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TABLE_PREFIX = "rt_"
"""Declared tables are ``rt_<key>``: no core table and no plugin table (``<plugin>_...``,
plugin names cannot start with ``rt_`` and be a type key at once) has that form."""
SPEC_KEYS = {"label", "plural_label", "plural", "title_fields", "description", "pipeline", "timeline"}
MAX_LABEL = 120

DECLARED = MetaData(naming_convention=NAMING_CONVENTION)
"""The ``Table`` objects of declared types (not in ``db.metadata``: no migration makes them)."""
_tables_lock = threading.Lock()

OWNER = Field(name="owner_id", kind="reference", label="Owner", reference="user")


def table_name(key):
    return f"{TABLE_PREFIX}{key}"


def table_for(name):
    """The ``Table`` of a declared type's table ``name``, made once per process."""
    with _tables_lock:
        table = DECLARED.tables.get(name)
        if table is None:
            table = _define(name)
    return table


def _define(name):
    user_id = User.__table__.c.id
    return Table(
        name, DECLARED,
        Column("id", IdType, primary_key=True, autoincrement=True, info={"pii": False}),
        Column("created_at", UTCDateTime(), nullable=False, default=utcnow, info={"pii": False}),
        Column("updated_at", UTCDateTime(), nullable=False, default=utcnow, info={"pii": False}),
        Column("created_by", IdType, ForeignKey(user_id), nullable=True, info={"pii": False}),
        Column("owner_id", IdType, ForeignKey(user_id), nullable=True, info={"pii": False}),
        Column("version", Integer, nullable=False, default=1, info={"pii": False}),
        Column("deleted_at", UTCDateTime(), nullable=True, info={"pii": False}),
        Column("deleted_by", IdType, ForeignKey(user_id), nullable=True, info={"pii": False}),
        Column("custom", JsonType, nullable=False, default=dict, info={"pii": True}),
        Column("pipeline", String(64), nullable=True, info={"pii": False}),
        Column("stage", String(64), nullable=True, info={"pii": False}),
        *live_indexes(name),
        Index(f"ix_{name}_live_stage", "pipeline", "stage", "id", postgresql_where=LIVE, sqlite_where=LIVE),
    )


# Checking and writing definitions ---------------------------------------------------------


def validate_type_spec(catalog, key, spec):
    """``{spec key: [reason]}`` of what is wrong with declaring type ``key`` from ``spec``
    (the ``[types.<key>]`` table of a pack); empty when it can be declared. Keys and
    plurals must be free among every type: core, plugins and declared ones, including
    those declared earlier in the caller's transaction."""
    if not isinstance(spec, dict):
        return {"_schema": ["Expected a table of label, plural_label, plural, ..."]}
    errors = {name: [f"Unknown key; use {', '.join(sorted(SPEC_KEYS))}."] for name in spec if name not in SPEC_KEYS}
    declared = dict(db.session.execute(select(RecordTypeDefinition.key, RecordTypeDefinition.plural)).all())
    if not isinstance(key, str) or not TYPE_KEY.match(key):
        errors["key"] = ["Use 1-40 lower-case letters, digits or underscores, starting with a letter."]
    elif catalog.type(key) is not None or key in declared:
        errors["key"] = [f"There is already a record type {key!r}."]
    for name in ("label", "plural_label"):
        value = spec.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL:
            errors[name] = [f"Required: text of 1 to {MAX_LABEL} characters."]
    plural = spec.get("plural")
    if not isinstance(plural, str) or not PLURAL.match(plural):
        errors["plural"] = ["Required: 1-64 lower-case letters, digits, '_' or '-', starting with a letter."]
    else:
        owner = next((rt.key for rt in catalog.types.values() if rt.plural == plural), None)
        owner = owner or next((other for other, taken in declared.items() if taken == plural), None)
        if owner is not None:
            errors["plural"] = [f"{plural!r} is the plural of record type {owner!r}."]
        elif plural in reserved_plurals():
            errors["plural"] = [f"{plural!r} is taken by a page or endpoint of Accord."]
    title_fields = spec.get("title_fields", [])
    if not isinstance(title_fields, list) or not all(isinstance(n, str) and FIELD_NAME.match(n) for n in title_fields):
        errors["title_fields"] = ["Give a list of field names."]
    if not isinstance(spec.get("description", ""), str):
        errors["description"] = ["Must be text."]
    if not isinstance(spec.get("timeline", False), bool):
        errors["timeline"] = ["Must be true or false."]
    pipeline = spec.get("pipeline")
    if pipeline is not None and not (isinstance(pipeline, str) and PIPELINE_KEY.match(pipeline)):
        errors["pipeline"] = ["Give a pipeline key: lower-case letters, digits or underscores."]
    return errors


def reserved_plurals():
    """First path segments the app's own routes use (``search``, ``help``, ``admin``, ...)
    and the fixed ones under ``/api/v1`` (``types``, ``pipelines``, ...)."""
    taken = set()
    for rule in current_app.url_map.iter_rules():
        parts = rule.rule.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            parts = parts[2:]
        if parts and parts[0] and "<" not in parts[0]:
            taken.add(parts[0])
    return taken


def declare_type(session, key, spec, origin):
    """Declare record type ``key`` from ``spec`` in the caller's transaction: its row and
    its table. Refuses with :class:`RecordInvalid` what :func:`validate_type_spec`
    refuses. Returns the new row."""
    accord = current_accord()
    errors = validate_type_spec(accord.catalog(), key, spec)
    if errors:
        raise RecordInvalid(errors, message=f"Record type {key!r} cannot be declared.")
    name = table_name(key)
    row = RecordTypeDefinition(
        key=key, label=spec["label"].strip(), plural_label=spec["plural_label"].strip(), plural=spec["plural"],
        table_name=name, title_fields=list(spec.get("title_fields", [])), description=spec.get("description", ""),
        pipeline=spec.get("pipeline"), timeline=bool(spec.get("timeline", False)), origin=origin,
    )
    session.add(row)
    session.flush()
    table_for(name).create(session.connection())
    bump_generation(session)
    accord.forget_catalog()
    return row


def remove_type(session, key):
    """Remove declared type ``key`` in the caller's transaction: its table (and so its
    records and indexes), its row, and what belongs to it only: custom fields, search
    entries, saved views, picklist values, terms, widgets, stage history and pipeline
    totals. Audit entries stay, as they always do. The caller exports the data first."""
    row = session.get(RecordTypeDefinition, key)
    if row is None:
        raise RecordInvalid({"key": [f"There is no declared record type {key!r}."]})
    session.execute(text(f'DROP TABLE IF EXISTS "{row.table_name}"'))
    for model, column in ((CustomField, CustomField.record_type), (SearchEntry, SearchEntry.record_type),
                          (SavedView, SavedView.record_type), (PicklistValue, PicklistValue.record_type),
                          (DashboardWidgetDefinition, DashboardWidgetDefinition.record_type),
                          (StageHistory, StageHistory.record_type), (PipelineTotal, PipelineTotal.record_type)):
        session.execute(delete(model).where(column == key))
    session.execute(delete(Term).where(or_(Term.target == f"type:{key}", Term.target.startswith(f"field:{key}."))))
    session.delete(row)
    session.flush()
    bump_generation(session)
    current_accord().forget_catalog()


# The catalog -------------------------------------------------------------------------------


def load_types(session, taken, custom):
    """The :class:`RecordType` of every declared type, by key. ``taken`` are the code
    types (a declared type whose key or plural one of them now uses is left out, logged);
    ``custom`` the custom-field descriptors by type key."""
    types = {}
    plurals = {rt.plural for rt in taken.values()}
    for row in session.execute(select(RecordTypeDefinition).order_by(RecordTypeDefinition.key)).scalars():
        if row.key in taken or row.plural in plurals:
            log.warning("declared record type %r (%s) left out: a plugin's type has its key or plural",
                        row.key, row.plural)
            continue
        types[row.key] = record_type_of(row, custom.get(row.key, ()))
    return types


def record_type_of(row, custom_fields):
    """The descriptor of a declared type's row with its custom fields."""
    fields = {"owner_id": OWNER}
    if row.pipeline:
        fields["pipeline"] = Field(name="pipeline", kind="text", label="Pipeline", max_length=64, origin=row.origin,
                                   help="Pipeline key; the type's default when omitted.")
        fields["stage"] = Field(name="stage", kind="text", label="Stage", max_length=64, origin=row.origin,
                                help="Stage key within the pipeline.")
    fields.update((f.name, f) for f in custom_fields)
    return RecordType(
        key=row.key, label=row.label, plural_label=row.plural_label, plural=row.plural,
        table=table_for(row.table_name), fields=fields, title_fields=tuple(row.title_fields or ()),
        description=row.description or "", pipeline=row.pipeline, timeline=bool(row.timeline), origin=row.origin,
    )


def load_widgets(session):
    """The dashboard widgets declared as data, in position order, as plain dicts."""
    rows = session.execute(select(DashboardWidgetDefinition).order_by(
        DashboardWidgetDefinition.position, DashboardWidgetDefinition.key)).scalars()
    return tuple({"key": r.key, "title": r.title, "record_type": r.record_type, "measure": r.measure,
                  "field": r.field, "group_by": r.group_by, "origin": r.origin} for r in rows)


def load_help_topics(session):
    """The help topics declared as data, as the ``accord_help_topics`` hook gives them."""
    rows = session.execute(select(HelpTopicDefinition).order_by(HelpTopicDefinition.key)).scalars()
    return tuple({"key": r.key, "title": r.title, "body": r.body, "pages": list(r.pages or ()),
                  "group": r.group or _origin_title(r.origin)} for r in rows)


def _origin_title(origin):
    """Where a topic without a group is listed: under its pack's name, else "Accord"."""
    if origin and origin.startswith("pack:"):
        return origin[5:].replace("_", " ").capitalize()
    return "Accord"


# Widgets -----------------------------------------------------------------------------------


def widget_rows(catalog, widget, actor):
    """What a declared widget shows to ``actor``: ``[{"key", "label", "count" or "total"}]``,
    one per group (every choice or stage in order, then other stored values), over the
    live records ``actor`` may read. ``None`` when the actor reads none of the type."""
    from .query import field_expression

    rt = catalog.type(widget["record_type"])
    if rt is None or not permissions.allows(actor, rt, "read"):
        return None
    dialect = db.session.get_bind().dialect.name
    table = rt.table
    summed = widget["measure"] == "sum"
    if summed:
        found = field_expression(rt, widget["field"] or "", dialect)
        if found is None or found[1] not in ("integer", "decimal"):
            raise ValueError(f"widget {widget['key']!r}: {widget['field']!r} is not a number field of {rt.key}")
        measure = func.coalesce(func.sum(found[0]), 0)
    else:
        measure = func.count()
    conditions = [table.c.deleted_at.is_(None)]
    scope = permissions.visible(actor, rt)
    if scope is not None:
        conditions.append(scope)
    name = "total" if summed else "count"
    group_by = widget["group_by"]
    if not group_by:
        value = db.session.execute(select(measure).select_from(table).where(*conditions)).scalar_one()
        return [{"key": None, "label": rt.plural_label, name: value}]
    labels = _group_labels(catalog, rt, group_by)
    found = field_expression(rt, group_by, dialect)
    if found is None or labels is None:
        raise ValueError(f"widget {widget['key']!r}: {group_by!r} is not a choice field or stage of {rt.key}")
    counted = dict(db.session.execute(select(found[0], measure).where(*conditions).group_by(found[0])).all())
    keys = list(labels) + sorted((k for k in counted if k not in labels and k is not None), key=str)
    rows = [{"key": k, "label": labels.get(k, k), name: counted.get(k, 0)} for k in keys]
    if None in counted:
        rows.append({"key": None, "label": "(none)", name: counted[None]})
    return rows


def _group_labels(catalog, rt, group_by):
    """``{key: label}`` of the groups of ``group_by`` in their order, or ``None`` when it
    is neither ``"stage"`` nor a choice field."""
    if group_by == "stage":
        if "stage" not in rt.fields:
            return None
        labels = {}
        ordered = sorted((p for p in catalog.pipelines.values() if p.record_type == rt.key),
                         key=lambda p: (not p.is_default, p.key))
        for pipeline in ordered:
            for stage in pipeline.stages:
                labels.setdefault(stage.key, stage.label)
        return labels
    f = rt.fields.get(group_by)
    if f is None or f.kind != "choice":
        return None
    return {choice.key: choice.label for choice in f.choices}


