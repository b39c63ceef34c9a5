"""Custom fields added at run time: stored without DDL in each table's ``custom`` JSON
column, validated by the same schemas as code fields, and indexable on request with an
expression index.

A removed field keeps its data (hidden) so that adding it again with the same kind
brings it back; ``purge`` erases the data for good.
"""

from marshmallow import ValidationError
from sqlalchemy import exists, select, text, update

from .db import db, utcnow
from .descriptors import STANDARD_FIELDS, Choice, Field
from .errors import NotFound, RecordInvalid
from .fields import FIELD_NAME, KINDS
from .models import CustomField
from .records import write_unit
from .registry import bump_generation, current_accord

CHOICE_KINDS = {"choice", "multi_choice"}
RESERVED_NAMES = set(STANDARD_FIELDS) | {"deleted_at", "deleted_by", "custom", "type"}


def field_to_json(f):
    return {
        "name": f.name, "kind": f.kind, "label": f.label, "required": f.required,
        "choices": [{"key": c.key, "label": c.label} for c in f.choices] if f.kind in CHOICE_KINDS else None,
        "default": f.kind_impl.to_json(f.default) if f.default is not None and not f.custom else f.default,
        "pii": f.pii, "sensitive": f.sensitive, "indexed": f.indexed, "searchable": f.searchable, "help": f.help,
        "reference": f.reference, "read_only": f.read_only, "custom": f.custom, "origin": f.origin,
        "sortable": f.sortable,
    }


def add_field(record_type_key, spec, actor, origin="local"):
    """Add a custom field from a dict spec; returns the new :class:`Field`.

    Refuses with :class:`RecordInvalid` naming the offending key of ``spec``.
    """
    accord = current_accord()
    catalog = accord.catalog()
    rt = catalog.type(record_type_key)
    if rt is None:
        raise NotFound(f"There is no record type {record_type_key!r}.")
    definition = _validate_spec(catalog, rt, spec)
    name = definition["name"]
    with write_unit() as session:
        previous = session.execute(
            select(CustomField).where(CustomField.record_type == rt.key, CustomField.name == name)
        ).scalar_one_or_none()
        if previous is not None and previous.removed_at is None:
            raise RecordInvalid({"name": [f"{rt.label} already has a field {name!r}."]})
        if previous is not None and previous.kind != definition["kind"]:
            raise RecordInvalid({"kind": [
                f"Field {name!r} was removed earlier as a {previous.kind} field and its data is kept; "
                f"add it back as {previous.kind} or remove it with purge first."
            ]})
        if previous is None and _has_stored_values(session, rt, name):
            raise RecordInvalid({"name": [f"Records of {rt.label} already hold values under {name!r}; choose another name."]})
        position = session.execute(
            select(db.func.count()).select_from(CustomField).where(CustomField.record_type == rt.key)
        ).scalar_one()
        if previous is not None:
            session.delete(previous)
            session.flush()
        row = CustomField(
            record_type=rt.key, position=position, origin=origin,
            created_by=actor.user_id if actor else None, **definition,
        )
        session.add(row)
        if definition["indexed"]:
            create_index(session, rt, name, definition["kind"])
        bump_generation(session)
    accord.forget_catalog()
    return accord.catalog().type(rt.key).fields[name]


def remove_field(record_type_key, name, purge=False):
    """Remove a custom field; its data is kept (hidden) unless ``purge``. Purging a field
    removed earlier erases the data it left behind."""
    accord = current_accord()
    rt, f = _custom_field(accord, record_type_key, name, "removed")
    with write_unit() as session:
        row = session.execute(
            select(CustomField).where(CustomField.record_type == rt.key, CustomField.name == name)
        ).scalar_one_or_none()
        if row is None or (row.removed_at is not None and not purge):
            raise NotFound(f"{rt.label} has no custom field {name!r}.")
        drop_index(session, rt, name)
        if purge:
            session.execute(_purge_statement(session, rt, name))
            session.delete(row)
        else:
            row.removed_at = utcnow()
        bump_generation(session)
    accord.forget_catalog()


EDITABLE_KEYS = ("label", "help", "required", "choices")


def update_field(record_type_key, name, changes, actor):
    """Change what can change of a custom field without touching stored values: its label,
    help, whether it is required (checked on new records and on edits that send it), and
    its choices (add, relabel, reorder). Refuses with :class:`RecordInvalid`, changing
    nothing, to drop a choice that records still hold, naming how many do; returns the
    updated :class:`Field`.
    """
    accord = current_accord()
    rt, f = _custom_field(accord, record_type_key, name, "edited")
    if f is None:
        raise NotFound(f"{rt.label} has no custom field {name!r}.")
    if not isinstance(changes, dict):
        raise RecordInvalid({"_schema": ["Expected a JSON object."]})
    errors = {key: [f"Cannot be changed (editable: {', '.join(EDITABLE_KEYS)})."] for key in changes
              if key not in EDITABLE_KEYS}
    label = changes.get("label", f.label)
    if not isinstance(label, str) or not label.strip() or len(label) > 120:
        errors["label"] = ["Must be text of 1 to 120 characters."]
    help_text = changes.get("help", f.help)
    if not isinstance(help_text, str):
        errors["help"] = ["Must be text."]
    required = changes.get("required", f.required)
    if not isinstance(required, bool):
        errors["required"] = ["Must be true or false."]
    choices = f.choices
    if "choices" in changes:
        if f.kind not in CHOICE_KINDS:
            errors["choices"] = ["Only choice and multi_choice fields have choices."]
        else:
            choices, choice_error = _parse_choices(changes["choices"])
            if choice_error:
                errors["choices"] = [choice_error]
    if errors:
        raise RecordInvalid(errors)
    with write_unit() as session:
        row = session.execute(select(CustomField).where(
            CustomField.record_type == rt.key, CustomField.name == name, CustomField.removed_at.is_(None))
        ).scalar_one()
        dropped = [key for key in f.choice_keys if key not in {c.key for c in choices}]
        in_use = [(key, _records_holding(session, rt, f, key)) for key in dropped]
        in_use = [f"{key!r} is held by {count} record{'s' if count != 1 else ''} (trash included); "
                  f"change {'it' if count == 1 else 'them'} first" for key, count in in_use if count]
        if in_use:
            raise RecordInvalid({"choices": [f"Cannot remove choice {reason}." for reason in in_use]})
        row.label = label.strip()
        row.help = help_text
        row.required = required
        if "choices" in changes:  # the catalog's choices include picklist values, kept in their own rows
            row.choices = [{"key": c.key, "label": c.label} for c in choices]
        bump_generation(session)
    accord.forget_catalog()
    return accord.catalog().type(rt.key).fields[name]


def _records_holding(session, rt, f, key):
    """How many records of ``rt`` (trashed ones too) hold choice ``key`` in field ``f``."""
    table = rt.table.name
    if session.get_bind().dialect.name == "postgresql":
        condition = (f"custom -> '{f.name}' @> to_jsonb(CAST(:key AS text))" if f.kind == "multi_choice"
                     else f"custom ->> '{f.name}' = :key")
    elif f.kind == "multi_choice":
        condition = f"EXISTS (SELECT 1 FROM json_each({table}.custom, '$.{f.name}') WHERE json_each.value = :key)"
    else:
        condition = f"json_extract(custom, '$.{f.name}') = :key"
    return session.execute(text(f'SELECT COUNT(*) FROM "{table}" WHERE {condition}'), {"key": key}).scalar_one()


def _custom_field(accord, record_type_key, name, verb):
    """The type and its field ``name`` (``None`` when it has none), refusing a built-in one."""
    rt = accord.catalog().type(record_type_key)
    if rt is None:
        raise NotFound(f"There is no record type {record_type_key!r}.")
    f = rt.fields.get(name)
    if f is not None and not f.custom:
        raise RecordInvalid({"name": [f"{name!r} is a built-in field of {rt.label} and cannot be {verb}."]})
    return rt, f


def index_name(rt, name):
    return f"ix_cf_{rt.table.name}_{name}"[:63]


def create_index(session, rt, name, kind):
    """An expression index over live rows, led by the field so filters and sorts on it
    are served; ``created_at, id`` follow for the default keyset order."""
    dialect = session.get_bind().dialect.name
    expr = KINDS[kind].custom_expr(None, name, dialect)
    live = "deleted_at IS NULL"
    session.execute(text(
        f'CREATE INDEX IF NOT EXISTS {index_name(rt, name)} ON "{rt.table.name}" ({expr}, created_at, id) WHERE {live}'
    ))


def drop_index(session, rt, name):
    session.execute(text(f"DROP INDEX IF EXISTS {index_name(rt, name)}"))


def _has_stored_values(session, rt, name):
    dialect = session.get_bind().dialect.name
    expr = KINDS["text"].custom_expr(rt.table.name, name, dialect)
    return session.execute(select(exists().where(text(f"{expr} IS NOT NULL")).select_from(rt.table))).scalar()


def _purge_statement(session, rt, name):
    table = rt.table
    if session.get_bind().dialect.name == "postgresql":
        return update(table).values(custom=text(f"custom - '{name}'")).where(text(f"(custom -> '{name}') IS NOT NULL"))
    return update(table).values(custom=text(f"json_remove(custom, '$.{name}')")).where(
        text(f"json_extract(custom, '$.{name}') IS NOT NULL")
    )


SPEC_KEYS = {"name", "label", "kind", "required", "choices", "default", "reference", "pii", "sensitive", "indexed",
             "searchable", "help"}


def _validate_spec(catalog, rt, spec):
    if not isinstance(spec, dict):
        raise RecordInvalid({"_schema": ["Expected a JSON object."]})
    errors = {key: ["Unknown field."] for key in spec if key not in SPEC_KEYS}
    name = spec.get("name")
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        errors["name"] = ["Use 1-63 lower-case letters, digits or underscores, starting with a letter."]
    elif name in rt.fields or name in RESERVED_NAMES or any(r.name == name for r in rt.relations):
        errors["name"] = [f"{rt.label} already has a field {name!r}."]
    kind = spec.get("kind")
    if kind not in KINDS:
        errors["kind"] = [f"Must be one of: {', '.join(KINDS)}."]
    label = spec.get("label") or (name.replace("_", " ").capitalize() if isinstance(name, str) else "")
    if not isinstance(label, str) or len(label) > 120:
        errors["label"] = ["Must be text of at most 120 characters."]
    for flag in ("required", "pii", "sensitive", "indexed", "searchable"):
        if flag in spec and not isinstance(spec[flag], bool):
            errors[flag] = ["Must be true or false."]
    help_text = spec.get("help", "")
    if not isinstance(help_text, str):
        errors["help"] = ["Must be text."]
    choices = ()
    if kind in CHOICE_KINDS:
        choices, choice_error = _parse_choices(spec.get("choices"))
        if choice_error:
            errors["choices"] = [choice_error]
    elif spec.get("choices"):
        errors["choices"] = ["Only choice and multi_choice fields have choices."]
    reference = spec.get("reference")
    if kind == "reference":
        if catalog.type(reference) is None:
            errors["reference"] = [f"Must name a record type: {', '.join(sorted(catalog.types))}."]
    elif reference is not None:
        errors["reference"] = ["Only reference fields point at a record type."]
    if spec.get("indexed") and kind in KINDS and not KINDS[kind].sortable:
        errors["indexed"] = [f"{kind} fields cannot be indexed."]
    default = spec.get("default")
    if default is not None and not errors:
        probe = Field(name=name, kind=kind, choices=choices)
        try:
            default = KINDS[kind].to_storage(KINDS[kind].marshmallow_field(probe).deserialize(default))
        except ValidationError as exc:
            errors["default"] = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
    if errors:
        raise RecordInvalid(errors)
    return {
        "name": name, "label": label, "kind": kind, "required": bool(spec.get("required", False)),
        "choices": [{"key": c.key, "label": c.label} for c in choices] or None,
        "default": default, "reference": reference if kind == "reference" else None,
        "pii": bool(spec.get("pii", False)), "sensitive": bool(spec.get("sensitive", False)), "indexed": bool(spec.get("indexed", False)),
        "searchable": bool(spec.get("searchable", False)), "help": help_text,
    }


def _parse_choices(raw):
    if not isinstance(raw, list) or not raw:
        return (), "Give a non-empty list of choices (strings or {key, label} objects)."
    choices = []
    for item in raw:
        if isinstance(item, str) and item:
            choices.append(Choice(item, item.replace("_", " ").capitalize()))
        elif isinstance(item, dict) and isinstance(item.get("key"), str) and item["key"]:
            choices.append(Choice(item["key"], str(item.get("label") or item["key"])))
        else:
            return (), f"Not a valid choice: {item!r}."
    keys = [c.key for c in choices]
    if len(set(keys)) != len(keys):
        return (), "Choice keys must be unique."
    return tuple(choices), None
