"""The instance's own layer: record types, labels, stages, choices and shared views that
administrators add through the API or the admin pages.

Everything here writes rows with origin ``"local"`` through the functions the changeset
engine uses (:func:`~accord.core.declared_types.declare_type`, the ``term``,
``picklist_value``, ``saved_view`` and ``pipeline_stage`` rows), so a pack applied later
never overwrites them (:mod:`accord.core.pack_plan` reports the conflict) and
:func:`accord.core.pack_export.export_local_layer` writes them out as a pack another
instance can apply.

Objects a pack made or changed belong to that pack: they are refused here, naming the
pack (change them in the pack, or revert it). Relabelling anything, a pack's or the
core's types, fields and stages included, is done by a local term: that is what terms are
for. Every change bumps the schema generation, so every worker sees it on its next request.
"""

import re
from contextlib import contextmanager
from sqlalchemy import delete, func, select, text

from .db import db
from .errors import Conflict, NotFound, RecordInvalid
from .models import (
    AutomationRule,
    CustomField,
    PicklistValue,
    Pipeline,
    PipelineStage,
    RecordTypeDefinition,
    SavedView,
    Term,
)
from .pipelines import OUTCOMES, validate_definition
from .records import write_unit
from .registry import bump_generation, current_accord

LOCAL = "local"
MAX_LABEL = 120
KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
TYPE_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
PLURAL = re.compile(r"[a-z][a-z0-9_-]{0,63}")
CHOICE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
TYPE_KEYS = ("key", "label", "plural_label", "plural", "title_fields", "description", "timeline", "pipeline")
TERM_KEYS = ("label", "plural_label")
STAGE_KEYS = ("key", "label", "probability", "outcome", "position", "after", "allowed_next")
STAGE_CHANGES = ("label", "probability", "position")
PIPELINE_KEYS = ("key", "record_type", "label", "stages")
CHOICE_KEYS = ("key", "label")
VIEW_KEYS = ("record_type", "name", "query")


@contextmanager
def _layer_change():
    """One write unit for a change to the catalog: the generation moves with it, and a
    failed one leaves no catalog built from what was rolled back."""
    accord = current_accord()
    try:
        with write_unit() as session:
            yield session
            bump_generation(session)
    except BaseException:
        accord.discard_cached_catalog()
        raise
    accord.forget_catalog()


def _object(body, keys):
    """``body`` when it is a JSON object of known keys; 422 naming each unknown key."""
    if not isinstance(body, dict):
        raise RecordInvalid({"_schema": ["Expected a JSON object."]})
    unknown = {name: [f"Unknown key; use {', '.join(keys)}."] for name in body if name not in keys}
    if unknown:
        raise RecordInvalid(unknown)
    return body


def _label(value, required=True):
    """The reason ``value`` is not a label, or ``None``."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL or not value.isprintable():
        return f"Required: text of 1 to {MAX_LABEL} characters." if required else f"Text of 1 to {MAX_LABEL} characters."
    return None


def pack_owner(session, target, origin=None):
    """The pack that owns ``target`` (a changeset target such as ``stage:sales.won``): the
    one named by ``origin`` (``pack:<name>``), else the newest active changeset that
    changed it; ``None`` when no pack does."""
    from .pack_ledger import Ledger

    if origin and origin.startswith("pack:"):
        return origin[5:]
    for name, _, change in reversed(Ledger(session).touches.get(target, ())):
        if not change.noop:
            return name
    return None


def _findable(value):
    """Whether ``value`` (from a URL) can be looked up at all: no database stores NUL or a
    lone surrogate, and PostgreSQL refuses a query that carries one."""
    return not UNSTORABLE.search(value)


def _refuse_pack(what, pack, hint):
    raise Conflict(f"{what} belongs to vertical pack {pack}; {hint}", {"pack": [pack]})


# Record types ------------------------------------------------------------------------------


def declare_local_type(body):
    """Declare a record type from ``body`` (``key`` and the ``[types.<key>]`` keys of a pack);
    returns its descriptor. Its fields are then added as custom fields."""
    from .declared_types import declare_type, validate_type_spec

    body = _object(body, TYPE_KEYS)
    spec = {name: value for name, value in body.items() if name != "key"}
    key = body.get("key")
    catalog = current_accord().catalog()
    errors = validate_type_spec(catalog, key, spec)
    if isinstance(key, str) and not TYPE_KEY.fullmatch(key):
        errors["key"] = ["Use 1-40 lower-case letters, digits or underscores, starting with a letter."]
    if isinstance(spec.get("plural"), str) and not PLURAL.fullmatch(spec["plural"]):
        errors["plural"] = ["Required: 1-64 lower-case letters, digits, '_' or '-', starting with a letter."]
    pipeline = catalog.pipelines.get(spec.get("pipeline")) if isinstance(spec.get("pipeline"), str) else None
    if pipeline is not None and pipeline.record_type != key:
        errors["pipeline"] = [f"Pipeline {pipeline.key!r} is the pipeline of {pipeline.record_type!r}."]
    if errors:
        raise RecordInvalid(errors, message=f"Record type {key!r} cannot be declared.")
    with _layer_change() as session:
        declare_type(session, key, spec, LOCAL)
    return current_accord().catalog().type(key)


def remove_local_type(key, purge=False):
    """Remove a record type declared here, with its table, fields, labels, views and its
    own pipelines. Refused (409) while it holds records unless ``purge``, while a pack or
    an automation rule builds on it; a code or pack type is never removed here."""
    from .pack_ledger import Ledger
    from .declared_types import remove_type

    rt = current_accord().catalog().type(key)
    if rt is None:
        raise NotFound(f"There is no record type {key!r}.")
    row = db.session.get(RecordTypeDefinition, key)
    if row is None:
        raise Conflict(f"{rt.label} comes with {rt.origin}, not from this instance's layer; it cannot be removed here.",
                       {"key": [f"Comes with {rt.origin}."]})
    if row.origin != LOCAL:
        _refuse_pack(f"Record type {key!r}", row.origin.removeprefix("pack:"), "revert the pack to remove it.")
    with _layer_change() as session:
        builders = sorted({changeset.pack for changeset in Ledger(session).changesets for op in changeset.operations
                           if f"type:{key}" in op.get("requires", ())})
        if builders:
            raise Conflict(f"Vertical pack {', '.join(builders)} builds on {row.label}; revert it first.",
                           {"pack": builders})
        rules = session.execute(select(AutomationRule.key).where(AutomationRule.record_type == key)
                                .order_by(AutomationRule.key)).scalars().all()
        if rules:
            raise Conflict(f"Automation rules act on {row.plural_label}: {', '.join(rules)}; remove them first.",
                           {"rules": rules})
        referring = session.execute(select(CustomField.record_type, CustomField.name).where(
            CustomField.reference == key, CustomField.record_type != key, CustomField.removed_at.is_(None))).all()
        if referring:
            names = [f"{t}.{n}" for t, n in referring]
            raise Conflict(f"Fields link to {row.plural_label}: {', '.join(names)}; remove them first.", {"fields": names})
        count = session.execute(text(f'SELECT COUNT(*) FROM "{row.table_name}"')).scalar_one()
        if count and not purge:
            raise Conflict(f"{row.plural_label} hold {count} record{'s' if count != 1 else ''} (trash included); export "
                           f"them, then remove the type with purge=true to erase them.", {"records": [str(count)]})
        for pipeline_id, pipeline_key in session.execute(
                select(Pipeline.id, Pipeline.key).where(Pipeline.record_type == key)).all():
            session.execute(delete(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id))
            session.execute(delete(Pipeline).where(Pipeline.id == pipeline_id))
            session.execute(delete(Term).where(Term.target.startswith(f"stage:{pipeline_key}.")))
        remove_type(session, key)


# Terms ---------------------------------------------------------------------------------------


def list_terms():
    return db.session.execute(select(Term).order_by(Term.target)).scalars().all()


def term_json(row):
    return {"target": row.target, "label": row.label, "plural_label": row.plural_label, "origin": row.origin}


def term_subject(catalog, target):
    """What ``target`` names, for a message (``"field deal.amount"``); 422 when it names
    nothing that exists."""
    kind, _, rest = target.partition(":")
    first, _, second = rest.partition(".")
    if kind == "type" and catalog.type(rest) is not None:
        return f"record type {rest}"
    if kind == "field" and catalog.type(first) is not None and second in catalog.type(first).fields:
        return f"field {rest}"
    if kind == "stage" and first in catalog.pipelines and catalog.pipelines[first].stage(second) is not None:
        return f"stage {rest}"
    raise RecordInvalid({"target": [f"{target!r} names nothing here; use type:<key>, field:<type>.<name> or "
                                    f"stage:<pipeline>.<stage> of something that exists."]})


def set_term(target, body):
    """Rename what ``target`` names: ``label`` (and ``plural_label`` for a type). A term a
    pack set is refused (409): change it in the pack."""
    body = _object(body, TERM_KEYS)
    catalog = current_accord().catalog()
    subject = term_subject(catalog, target)
    errors = {}
    if _label(body.get("label")):
        errors["label"] = [_label(body.get("label"))]
    plural = body.get("plural_label")
    if plural is not None and not target.startswith("type:"):
        errors["plural_label"] = ["Only a record type has a plural label."]
    elif _label(plural, required=False):
        errors["plural_label"] = [_label(plural, required=False)]
    if errors:
        raise RecordInvalid(errors, message=f"The label of {subject} cannot be set.")
    with _layer_change() as session:
        row = session.get(Term, target)
        owner = pack_owner(session, f"term:{target}", row.origin if row is not None else None)
        if owner is not None:
            _refuse_pack(f"The label of {subject}", owner, "change it in the pack.")
        if row is None:
            row = Term(target=target, origin=LOCAL)
            session.add(row)
        row.label = body["label"].strip()
        row.plural_label = plural.strip() if plural else None
        session.flush()
    return row


def delete_term(target):
    """Remove a local term: the label goes back to the one below it."""
    if not _findable(target):
        raise NotFound(f"There is no term {target!r}.")
    with _layer_change() as session:
        row = session.get(Term, target)
        if row is None:
            raise NotFound(f"There is no term {target!r}.")
        owner = pack_owner(session, f"term:{target}", row.origin)
        if owner is not None or row.origin != LOCAL:
            _refuse_pack(f"The term {target!r}", owner or row.origin, "revert the pack to remove it.")
        session.delete(row)


# Pipelines and stages ------------------------------------------------------------------------


def _pipeline(catalog, key):
    pipeline = catalog.pipelines.get(key)
    if pipeline is None:
        raise NotFound(f"There is no pipeline {key!r}.")
    return pipeline


def _probability(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        return "A whole number from 0 to 100."
    return None


def create_local_pipeline(body):
    """A new pipeline on a record type that has stages (a code type with a stage field,
    or a type declared here, which then gets its stage fields): ``key``, ``record_type``,
    ``label`` and ``stages`` (``key``, ``label``, ``probability``, ``outcome``, ``allowed_next``)."""
    body = _object(body, PIPELINE_KEYS)
    catalog = current_accord().catalog()
    errors = {}
    key = body.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        errors["key"] = ["Use 1-64 lower-case letters, digits or underscores, starting with a letter."]
    elif key in catalog.pipelines:
        errors["key"] = [f"There is already a pipeline {key!r}."]
    rt = catalog.type(body.get("record_type")) if isinstance(body.get("record_type"), str) else None
    declared = db.session.get(RecordTypeDefinition, rt.key) if rt is not None else None
    if rt is None:
        errors["record_type"] = [f"There is no record type {body.get('record_type')!r}."]
    elif "stage" not in rt.fields and (declared is None or declared.origin != LOCAL):
        errors["record_type"] = [f"{rt.plural_label} have no stages; only types with a stage field, or declared here, "
                                 f"take a pipeline."]
    if _label(body.get("label")):
        errors["label"] = [_label(body.get("label"))]
    stages = body.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        errors["stages"] = ["Give a non-empty list of stages ({key, label, probability, outcome})."]
    else:
        for index, stage in enumerate(stages):
            for name, reasons in _stage_errors(stage, set(), creating=True).items():
                errors[f"stages.{index}.{name}"] = reasons
    if not errors:
        try:
            validate_definition({**body, "record_type": rt.key}, "this instance")
        except ValueError as exc:
            errors["stages"] = [str(exc)]
    if errors:
        raise RecordInvalid(errors, message="The pipeline cannot be added.")
    with _layer_change() as session:
        default = not any(p.record_type == rt.key for p in catalog.pipelines.values())
        pipeline = Pipeline(key=key, record_type=rt.key, label=body["label"].strip(), is_default=default, origin=LOCAL)
        session.add(pipeline)
        session.flush()
        for position, stage in enumerate(stages):
            session.add(_stage_row(pipeline.id, stage, position))
        if declared is not None and declared.pipeline is None:
            declared.pipeline = key
        session.flush()
    return current_accord().catalog().pipelines[key]


def _stage_errors(stage, taken, creating):
    errors = {}
    for name in stage:
        if name not in (STAGE_KEYS if creating else STAGE_CHANGES):
            errors[name] = [f"Unknown key; use {', '.join(STAGE_KEYS if creating else STAGE_CHANGES)}."]
    if creating:
        key = stage.get("key")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            errors["key"] = ["Use 1-64 lower-case letters, digits or underscores, starting with a letter."]
        elif key in taken:
            errors["key"] = [f"The pipeline already has a stage {key!r}."]
        if stage.get("outcome", "open") not in OUTCOMES:
            errors["outcome"] = [f"Use one of {', '.join(OUTCOMES)}."]
        allowed = stage.get("allowed_next")
        if allowed is not None and (not isinstance(allowed, list) or not all(isinstance(k, str) for k in allowed)):
            errors["allowed_next"] = ["Give a list of stage keys."]
    if (creating or "label" in stage) and _label(stage.get("label")):
        errors["label"] = [_label(stage.get("label"))]
    if _probability(stage.get("probability")):
        errors["probability"] = [_probability(stage.get("probability"))]
    position = stage.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        errors["position"] = ["A whole number from 0 (first)."]
    return errors


def _stage_row(pipeline_id, stage, position):
    return PipelineStage(pipeline_id=pipeline_id, key=stage["key"], label=stage["label"].strip(), position=position,
                         probability=stage.get("probability") or 0, outcome=stage.get("outcome", "open"),
                         allowed_next=stage.get("allowed_next"), origin=LOCAL)


def add_stage(pipeline_key, body):
    """Add a local stage to a pipeline at ``position`` (0 is first) or ``after`` a stage
    (default: last). Other stages keep their positions wherever room allows."""
    body = _object(body, STAGE_KEYS)
    pipeline = _pipeline(current_accord().catalog(), pipeline_key)
    keys = [s.key for s in pipeline.stages]
    errors = _stage_errors(body, set(keys), creating=True)
    after = body.get("after")
    if after is not None and "position" in body:
        errors["after"] = ["Give position or after, not both."]
    elif after is not None and after not in keys:
        errors["after"] = [f"{pipeline.label} has no stage {after!r}; stages: {', '.join(keys)}."]
    unknown = sorted(set(body.get("allowed_next") or ()) - set(keys) - {body.get("key")}) \
        if isinstance(body.get("allowed_next"), list) else []
    if unknown:
        errors["allowed_next"] = [f"{pipeline.label} has no stage {', '.join(map(repr, unknown))}."]
    if errors:
        raise RecordInvalid(errors, message=f"The stage cannot be added to {pipeline.label}.")
    index = keys.index(after) + 1 if after is not None else min(body.get("position", len(keys)), len(keys))
    with _layer_change() as session:
        pipeline_id, origin = session.execute(select(Pipeline.id, Pipeline.origin).where(Pipeline.key == pipeline_key)).one()
        if origin.startswith("pack:"):
            _refuse_pack(f"Pipeline {pipeline_key!r}", origin[5:], "add the stage in the pack, so that reverting it "
                                                                     "never takes this instance's stage along.")
        rows = _stage_rows(session, pipeline_id)
        session.add(_stage_row(pipeline_id, body, _room(session, rows, index)))
        session.flush()
    return current_accord().catalog().pipelines[pipeline_key].stage(body["key"])


def _pipeline_id(session, key):
    return session.execute(select(Pipeline.id).where(Pipeline.key == key)).scalar_one()


def _stage_rows(session, pipeline_id):
    return session.execute(select(PipelineStage).where(PipelineStage.pipeline_id == pipeline_id)
                           .order_by(PipelineStage.position, PipelineStage.id)).scalars().all()


def _room(session, rows, index):
    """The position that puts a new stage (a higher id than any) at ``index`` among
    ``rows``: a free one where there is one, else the stages from ``index`` on move one
    down (a pack's stage moved so is a change the pack's next upgrade reports)."""
    if not rows:
        return 0
    if index >= len(rows):
        return rows[-1].position + 1
    before = rows[index - 1].position if index > 0 else None
    after = rows[index].position
    if before is not None and before < after:
        return before
    if before is None and after > 0:
        return after - 1
    for row in rows[index:]:
        row.position += 1
    session.flush()
    return after


def change_stage(pipeline_key, stage_key, body):
    """Change a stage's ``probability`` and ``position``, and a local stage's ``label`` (the
    label of any other is set by a term). A core or plugin stage changed here joins the
    instance's layer (origin ``local``); a pack's stage is refused: change it in the pack."""
    body = _object(body, STAGE_CHANGES)
    catalog = current_accord().catalog()
    pipeline = _pipeline(catalog, pipeline_key)
    stage = pipeline.stage(stage_key)
    if stage is None:
        raise NotFound(f"{pipeline.label} has no stage {stage_key!r}.")
    errors = _stage_errors(body, set(), creating=False)
    if errors:
        raise RecordInvalid(errors, message=f"Stage {stage_key!r} cannot be changed.")
    with _layer_change() as session:
        rows = _stage_rows(session, _pipeline_id(session, pipeline_key))
        row = next(r for r in rows if r.key == stage_key)
        owner = pack_owner(session, f"stage:{pipeline_key}.{stage_key}", row.origin)
        if owner is not None:
            _refuse_pack(f"Stage {pipeline_key}.{stage_key}", owner, "change it in the pack, or relabel it with a term.")
        declared_by = _declared_by(catalog, pipeline_key, stage_key)
        if "label" in body and (row.origin != LOCAL or declared_by is not None):
            raise RecordInvalid({"label": [f"Stage {stage_key!r} comes with {declared_by or row.origin}; rename it with a term "
                                           f"(PUT /api/v1/terms/stage:{pipeline_key}.{stage_key})."]})
        if "label" in body:
            row.label = body["label"].strip()
        if body.get("probability") is not None:
            row.probability = body["probability"]
        if body.get("position") is not None:
            others = [r for r in rows if r is not row]
            index = min(body["position"], len(others))
            for position, other in enumerate(others[:index] + [row] + others[index:]):
                other.position = position
        row.origin = LOCAL
        session.flush()
    return current_accord().catalog().pipelines[pipeline_key].stage(stage_key)


def _declared_by(catalog, pipeline_key, stage_key):
    """The core or plugin that declares stage ``stage_key`` of ``pipeline_key`` in code, or ``None``."""
    return next((origin for origin, definition in catalog.registrations.pipeline_definitions
                 if definition["key"] == pipeline_key and any(s["key"] == stage_key for s in definition["stages"])), None)


def remove_stage(pipeline_key, stage_key):
    """Remove a stage added here. Refused (409) while records sit in it, naming how many,
    and for a stage that comes with the core, a plugin or a pack."""
    catalog = current_accord().catalog()
    pipeline = _pipeline(catalog, pipeline_key)
    if pipeline.stage(stage_key) is None:
        raise NotFound(f"{pipeline.label} has no stage {stage_key!r}.")
    declared_by = _declared_by(catalog, pipeline_key, stage_key)
    with _layer_change() as session:
        rows = _stage_rows(session, _pipeline_id(session, pipeline_key))
        row = next(r for r in rows if r.key == stage_key)
        owner = pack_owner(session, f"stage:{pipeline_key}.{stage_key}", row.origin)
        if owner is not None:
            _refuse_pack(f"Stage {pipeline_key}.{stage_key}", owner, "revert the pack to remove it.")
        if row.origin != LOCAL or declared_by is not None:
            raise Conflict(f"Stage {pipeline_key}.{stage_key} comes with {declared_by or row.origin}; it cannot be "
                           f"removed here.", {"stage": [f"Comes with {declared_by or row.origin}."]})
        if len(rows) == 1:
            raise Conflict(f"{stage_key!r} is the only stage of {pipeline.label}; a pipeline keeps at least one.")
        rt = catalog.type(pipeline.record_type)
        if rt is not None and "stage" in rt.table.c:
            count = session.execute(select(func.count()).select_from(rt.table).where(
                rt.table.c.pipeline == pipeline_key, rt.table.c.stage == stage_key)).scalar_one()
            if count:
                raise Conflict(f"{count} {rt.label.lower() if count == 1 else rt.plural_label.lower()} (trash included) "
                               f"sit in stage {stage_key!r}; move {'it' if count == 1 else 'them'} first.",
                               {"records": [str(count)]})
        for other in rows:
            if other.allowed_next and stage_key in other.allowed_next:
                if other.origin != LOCAL:
                    raise Conflict(f"Stage {other.key!r} ({other.origin}) leads to {stage_key!r}; it cannot be removed.")
                other.allowed_next = [k for k in other.allowed_next if k != stage_key]
        session.delete(row)
        session.execute(delete(Term).where(Term.target == f"stage:{pipeline_key}.{stage_key}", Term.origin == LOCAL))


# Choices -------------------------------------------------------------------------------------


def _choice_field(type_key, name):
    rt = current_accord().catalog().type(type_key)
    if rt is None:
        raise NotFound(f"There is no record type {type_key!r}.")
    f = rt.fields.get(name)
    if f is None:
        raise NotFound(f"{rt.label} has no field {name!r}.")
    if f.kind not in ("choice", "multi_choice"):
        raise RecordInvalid({"field": [f"{f.label} is a {f.kind} field; only choice fields take choices."]})
    return rt, f


def add_choice(type_key, name, body):
    """Add a choice (``key``, ``label``) to a choice field of any type, after its others."""
    body = _object(body, CHOICE_KEYS)
    rt, f = _choice_field(type_key, name)
    errors = {}
    key = body.get("key")
    if not isinstance(key, str) or not CHOICE_KEY.fullmatch(key):
        errors["key"] = ["Use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit."]
    elif key in f.choice_keys:
        errors["key"] = [f"{f.label} already has the choice {key!r}."]
    label = body.get("label")
    if label is None and isinstance(key, str):
        label = key.replace("_", " ").capitalize()
    if _label(label):
        errors["label"] = [_label(label)]
    if errors:
        raise RecordInvalid(errors, message=f"The choice cannot be added to {f.label}.")
    with _layer_change() as session:
        position = session.execute(select(func.count()).select_from(PicklistValue).where(
            PicklistValue.record_type == rt.key, PicklistValue.field == name)).scalar_one()
        row = PicklistValue(record_type=rt.key, field=name, key=key, label=label.strip(), position=position, origin=LOCAL)
        session.add(row)
        session.flush()
    return row


def remove_choice(type_key, name, key):
    """Remove a choice added here; refused (409) while records hold it, naming how many."""
    from .customfields import _records_holding

    rt, f = _choice_field(type_key, name)
    if not _findable(key):
        raise NotFound(f"{f.label} has no choice {key!r}.")
    with _layer_change() as session:
        row = session.execute(select(PicklistValue).where(
            PicklistValue.record_type == rt.key, PicklistValue.field == name, PicklistValue.key == key)).scalar_one_or_none()
        if row is None:
            if key in f.choice_keys:
                raise Conflict(f"The choice {key!r} is part of the field {f.label} ({f.origin}); it cannot be removed here.")
            raise NotFound(f"{f.label} has no choice {key!r}.")
        owner = pack_owner(session, f"picklist:{rt.key}.{name}.{key}", row.origin)
        if owner is not None:
            _refuse_pack(f"The choice {key!r} of {f.label}", owner, "revert the pack to remove it.")
        if f.custom:
            count = _records_holding(session, rt, f, key)
        else:
            count = session.execute(select(func.count()).select_from(rt.table).where(rt.table.c[name] == key)).scalar_one()
        if count:
            raise Conflict(f"The choice {key!r} is held by {count} record{'s' if count != 1 else ''} (trash included); "
                           f"change {'it' if count == 1 else 'them'} first.", {"records": [str(count)]})
        session.delete(row)


def choice_json(row):
    return {"record_type": row.record_type, "field": row.field, "key": row.key, "label": row.label,
            "position": row.position, "origin": row.origin}


# Shared views --------------------------------------------------------------------------------


def list_shared_views(record_type=None):
    query = select(SavedView).where(SavedView.user_id.is_(None))
    if record_type is not None:
        query = query.where(SavedView.record_type == record_type)
    return db.session.execute(query.order_by(SavedView.record_type, SavedView.name)).scalars().all()


def view_json(row):
    from .fields import format_datetime

    return {"id": row.id, "record_type": row.record_type, "name": row.name, "query": row.query, "origin": row.origin,
            "created_at": format_datetime(row.created_at)}


def view_query_problem(rt, query):
    """Why ``query`` cannot be a shared view's list query of ``rt``, or ``None``: the
    checks a pack's ``[[views]]`` get (so the view exports), then the list API's own."""
    from .pack_plan import _query_problem
    from .pack_schema import _check_query, _Reader

    reader = _Reader("query")
    _check_query(reader, query, "query")
    if reader.problems:
        return "; ".join(problem.reason for problem in reader.problems)
    return _query_problem(rt, query, known_table=True)


def add_shared_view(body):
    """A saved view everyone sees (no user, origin ``local``): ``record_type``, ``name``,
    ``query`` (a list query string such as ``stage=won&sort=-amount``)."""
    body = _object(body, VIEW_KEYS)
    catalog = current_accord().catalog()
    errors = {}
    rt = catalog.type(body.get("record_type")) if isinstance(body.get("record_type"), str) else None
    if rt is None:
        errors["record_type"] = [f"There is no record type {body.get('record_type')!r}."]
    name = body.get("name")
    if _label(name):
        errors["name"] = [_label(name)]
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        errors["query"] = ["Give the list's query string, e.g. stage=won&sort=-amount."]
    elif rt is not None:
        query = query.strip().lstrip("?")
        problem = view_query_problem(rt, query)
        if problem:
            errors["query"] = [problem]
    if errors:
        raise RecordInvalid(errors, message="The view cannot be shared.")
    with _layer_change() as session:
        taken = session.execute(select(SavedView).where(SavedView.user_id.is_(None), SavedView.record_type == rt.key,
                                                        SavedView.name == name.strip())).scalar_one_or_none()
        if taken is not None:
            raise RecordInvalid({"name": [f"There is already a shared view of {rt.plural_label} called {name.strip()!r}."]})
        row = SavedView(user_id=None, record_type=rt.key, name=name.strip(), query=query, origin=LOCAL)
        session.add(row)
        session.flush()
    return row


def remove_shared_view(view_id):
    from .fields import MAX_ID

    with _layer_change() as session:
        row = session.get(SavedView, view_id) if 0 < view_id <= MAX_ID else None
        if row is None or row.user_id is not None:
            raise NotFound(f"There is no shared view {view_id}.")
        owner = pack_owner(session, f"view:{row.record_type}.{row.name}", row.origin)
        if owner is not None:
            _refuse_pack(f"The view {row.name!r}", owner, "revert the pack to remove it.")
        session.delete(row)


# The whole layer -----------------------------------------------------------------------------


def local_objects():
    """Every object of this instance's layer by kind, for the admin page: ``types``,
    ``fields``, ``terms``, ``pipelines``, ``stages``, ``choices``, ``views``, ``rules``."""
    session = db.session

    def rows(model, *order, where=()):
        return session.execute(select(model).where(model.origin == LOCAL, *where).order_by(*order)).scalars().all()

    keys = dict(session.execute(select(Pipeline.id, Pipeline.key)).all())
    stages = [{"pipeline": keys[row.pipeline_id], "row": row}
              for row in rows(PipelineStage, PipelineStage.pipeline_id, PipelineStage.position, PipelineStage.id)]
    return {
        "types": rows(RecordTypeDefinition, RecordTypeDefinition.key),
        "fields": rows(CustomField, CustomField.record_type, CustomField.position, where=(CustomField.removed_at.is_(None),)),
        "terms": rows(Term, Term.target),
        "pipelines": rows(Pipeline, Pipeline.key),
        "stages": stages,
        "choices": rows(PicklistValue, PicklistValue.record_type, PicklistValue.field, PicklistValue.position),
        "views": rows(SavedView, SavedView.record_type, SavedView.name, where=(SavedView.user_id.is_(None),)),
        "rules": rows(AutomationRule, AutomationRule.key),
    }
