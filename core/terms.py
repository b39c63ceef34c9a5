"""Words and choices changed as data: renamed terms and added picklist values.

A ``term`` row renames a label, never a key: ``type:<key>`` a record type's label and
plural label, ``field:<type>.<name>`` a field's label, ``stage:<pipeline>.<stage>`` a
stage's label. A ``picklist_value`` row adds a choice to a choice or multi-choice field,
after the field's own choices. Both are applied when the catalog loads (:func:`apply`),
so the UI, the API, the OpenAPI document, the board, the dashboard, validation and
error messages use them alike, in every worker once the schema generation moves.
"""

from dataclasses import replace

from sqlalchemy import select

from .descriptors import Choice
from .models import PicklistValue, Term

CHOICE_KINDS = ("choice", "multi_choice")


def apply(session, types, pipelines):
    """``(types, pipelines)`` with the stored picklist values and terms applied."""
    picklists = session.execute(
        select(PicklistValue).order_by(PicklistValue.record_type, PicklistValue.field, PicklistValue.position,
                                       PicklistValue.id)).scalars().all()
    terms = session.execute(select(Term)).scalars().all()
    return apply_terms(apply_picklists(types, picklists), pipelines, terms)


def apply_picklists(types, rows):
    """``types`` with each picklist value appended to its field's choices (in the order of
    ``rows``); values of unknown types or fields, of fields without choices, or whose key
    the field already has, are left out."""
    added = {}
    for row in rows:
        added.setdefault((row.record_type, row.field), []).append(Choice(row.key, row.label))
    result = dict(types)
    for (type_key, name), choices in added.items():
        rt = result.get(type_key)
        f = rt.fields.get(name) if rt is not None else None
        if f is None or f.kind not in CHOICE_KINDS:
            continue
        known = set(f.choice_keys)
        extra = tuple(c for c in choices if c.key not in known and not known.add(c.key))
        fields = {**rt.fields, name: replace(f, choices=f.choices + extra)}
        result[type_key] = replace(rt, fields=fields)
    return result


def apply_terms(types, pipelines, rows):
    """``(types, pipelines)`` with the labels the term ``rows`` rename; a term naming
    something that is not there is left unused."""
    types, pipelines = dict(types), dict(pipelines)
    for row in rows:
        kind, _, target = row.target.partition(":")
        if kind == "type" and target in types:
            rt = types[target]
            types[target] = replace(rt, label=row.label, plural_label=row.plural_label or rt.plural_label)
        elif kind == "field":
            type_key, _, name = target.partition(".")
            rt = types.get(type_key)
            if rt is not None and name in rt.fields:
                types[type_key] = replace(rt, fields={**rt.fields, name: replace(rt.fields[name], label=row.label)})
        elif kind == "stage":
            pipeline_key, _, stage_key = target.partition(".")
            pipeline = pipelines.get(pipeline_key)
            if pipeline is not None and pipeline.stage(stage_key) is not None:
                stages = tuple(replace(s, label=row.label) if s.key == stage_key else s for s in pipeline.stages)
                pipelines[pipeline_key] = replace(pipeline, stages=stages)
    return types, pipelines
