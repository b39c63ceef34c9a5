"""What a list page shows, read from the record type's descriptor: its columns, its filter
controls, the words for the filters in use, and the titles of referenced records.

Every type (core, plugin, vertical, custom fields) gets the same treatment, so no list
page needs code of its own.
"""

from dataclasses import dataclass

from sqlalchemy import select

from ..db import db
from ..descriptors import Field
from ..fields import MAX_ID
from ..models import User
from . import present

MAX_FIELD_COLUMNS = 4
"""Built-in fields shown beside the title, the most telling first."""
MAX_CUSTOM_COLUMNS = 3
"""Custom fields shown after them, in the order the admin added them."""
MAX_USERS = 500
"""Active users offered as owners; more than this needs the search-backed picker of the forms."""

TELLING_KINDS = {"choice", "multi_choice", "reference", "date", "datetime", "money", "decimal", "boolean"}
TEXT_KINDS = {"text", "email", "phone", "url"}
NUMBER_KINDS = {"integer", "decimal", "money"}
OPERATOR_WORDS = {"eq": "is", "ne": "is not", "gte": "from", "lte": "up to", "gt": "after", "lt": "before",
                  "in": "is one of", "isnull": "is empty"}
CREATED = Field(name="created_at", kind="datetime", label="Created")
TRASHED = Field(name="deleted_at", kind="datetime", label="Moved to trash")


@dataclass(frozen=True)
class Column:
    """One table column: a field, and the sort key its header offers (``None``: not sortable)."""

    field: Field
    sort: str | None

    @property
    def label(self):
        return self.field.label or self.field.name


@dataclass(frozen=True)
class Control:
    """One filter control: ``select`` and ``input`` use ``param``; ``range`` uses
    ``param__gte`` and ``param__lte``."""

    kind: str
    param: str
    label: str
    input_type: str = "text"
    options: tuple = ()


def fast_sorts(rt, trashed=False):
    """Field names a list (or the trash) can be ordered by from an index, so a header click
    stays fast at any table size and page depth: an unindexed sort reads the whole table."""
    rows = "deleted_at IS NOT NULL" if trashed else "deleted_at IS NULL"
    names = {"id"}
    for index in rt.table.indexes:
        columns = list(index.columns)
        where = index.dialect_kwargs.get("postgresql_where")
        if columns and (where is None or str(where) == rows):
            names.add(columns[0].name)
    if not trashed:
        names.update(name for name, f in rt.custom_fields.items() if f.indexed)
    return names


def title_sort(rt, trashed=False):
    """The sort key of the title column: its first required title field (a contact's last
    name), when an index serves it."""
    fields = [rt.fields[name] for name in rt.title_fields if name in rt.fields]
    if not fields:
        return None
    name = next((f.name for f in fields if f.required), fields[0].name)
    return name if name in fast_sorts(rt, trashed) else None


def columns(rt, trashed=False):
    """The columns after the title: a handful of telling built-in fields, the custom
    fields, the owner, and on the trash page when each record went there."""
    fast = fast_sorts(rt, trashed)
    chosen = _telling_fields(rt)
    chosen += [f for f in rt.custom_fields.values() if f.kind != "long_text"][:MAX_CUSTOM_COLUMNS]
    if "owner_id" in rt.fields:
        chosen.append(rt.fields["owner_id"])
    if trashed:
        chosen.append(TRASHED)
    return [Column(f, f.name if _sortable(f) and f.name in fast else None) for f in chosen]


def _sortable(f):
    return f.sortable and f.kind != "reference"


def _telling_fields(rt):
    """Required fields and a pipeline's stage first, then searchable ones, then choices,
    references, dates and amounts; a second field of a kind already shown waits its turn."""
    candidates = []
    for position, f in enumerate(rt.fields.values()):
        if f.custom or f.name in rt.title_fields or f.name == "owner_id" or f.kind == "long_text":
            continue
        if f.required or (f.name == "stage" and rt.pipeline):
            rank = 0
        elif f.searchable:
            rank = 1
        elif f.kind in TELLING_KINDS:
            rank = 2
        else:
            rank = 3
        candidates.append((rank, position, f))
    seen = {}
    ordered = []
    for rank, position, f in sorted(candidates, key=lambda c: (c[0], c[1])):
        repeat = seen.get(f.kind, 0)
        seen[f.kind] = repeat + 1
        ordered.append((rank == 3, repeat, rank, position, f))
    return [entry[-1] for entry in sorted(ordered, key=lambda e: e[:4])][:MAX_FIELD_COLUMNS]


def controls(catalog, rt, shown, users):
    """The filter form: only filters the list query supports (exact values, ranges,
    empty or not), picked by kind. Text fields get an exact-match box only when they are
    columns; free text goes to ``q``."""
    shown = {column.field.name for column in shown}
    made = []
    pipeline = catalog.pipeline_for(rt) if "stage" in rt.fields else None
    for f in rt.fields.values():
        if f.name == "stage" and pipeline is not None:
            made.append(Control("select", "stage", f.label, options=tuple((s.key, s.label) for s in pipeline.stages)))
        elif f.name == "owner_id":
            made.append(Control("select", "owner_id", f.label, options=tuple((str(u.id), u.name) for u in users)))
        elif f.kind in ("choice", "multi_choice"):
            made.append(Control("select", f.name, f.label, options=tuple((c.key, c.label) for c in f.choices)))
        elif f.kind == "boolean":
            made.append(Control("select", f.name, f.label, options=(("true", "Yes"), ("false", "No"))))
        elif f.kind == "reference":
            made.append(Control("select", f"{f.name}__isnull", f.label, options=(("false", "Set"), ("true", "Empty"))))
        elif f.kind in ("date", "datetime"):
            made.append(Control("range", f.name, f.label, input_type=present.input_type(f)))
        elif f.kind in NUMBER_KINDS and f.name in shown:
            made.append(Control("range", f.name, f.label, input_type="number" if f.kind == "integer" else "text"))
        elif f.kind in TEXT_KINDS and f.name in shown:
            made.append(Control("input", f.name, f"{f.label} is", input_type=present.input_type(f)))
    made.append(Control("range", "created_at", CREATED.label, input_type="datetime-local"))
    return made


def active_users():
    """Active users by name (owners to offer), at most :data:`MAX_USERS`."""
    return db.session.execute(
        select(User.id, User.name).where(User.is_active.is_(True), User.deleted_at.is_(None))
        .order_by(User.name, User.id).limit(MAX_USERS)
    ).all()


def referenced_ids(rt, shown, records, args):
    """``{type key: ids}`` that the page's reference cells and filters point at."""
    wanted = {}
    for column in shown:
        f = column.field
        if f.kind == "reference" and f.reference:
            ids = wanted.setdefault(f.reference, set())
            ids.update(record.get(f.name) for record in records if record.get(f.name) is not None)
    for param, value in args.items(multi=True):
        name, _, op = param.partition("__")
        f = rt.fields.get(name)
        if f is not None and f.kind == "reference" and f.reference and op in ("", "in"):
            wanted.setdefault(f.reference, set()).update(filter(None, map(as_id, value.split(","))))
    return wanted


def as_id(text):
    """``text`` as a record id, or ``None`` when it cannot be one."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def reference_titles(catalog, wanted, known):
    """``{(type key, id): (title, live)}``: one query per referenced type for the ids not
    already ``known`` (the owners among the active users), however many rows show them."""
    found = dict(known)
    for key, ids in wanted.items():
        target = catalog.type(key)
        ids = sorted(i for i in ids if (key, i) not in found)
        if target is None or not ids:
            continue
        table = target.table
        names = [n for n in target.title_fields if n in target.fields]
        custom = [n for n in names if target.fields[n].custom]
        selected = [table.c.id, table.c.deleted_at] + [table.c[n] for n in names if n not in custom]
        if custom:
            selected.append(table.c.custom)
        for row in db.session.execute(select(*selected).where(table.c.id.in_(ids))).mappings():
            stored = (row["custom"] or {}) if custom else {}
            values = {n: stored.get(n) if n in custom else row[n] for n in names}
            found[(key, row["id"])] = (target.title_of({**values, "id": row["id"]}), row["deleted_at"] is None)
    return found


def cell(catalog, rt, f, record, titles):
    """``(text, url)`` of one cell; ``url`` is ``None`` when the cell is not a link."""
    value = record.get(f.name)
    if value is None or value == "" or value == []:
        return present.show(f, None), None
    if f.kind == "reference":
        target = catalog.type(f.reference)
        title, live = titles.get((f.reference, value), (f"{target.label if target else f.reference} {value}", False))
        linked = live and target is not None and target.key != "user"
        return title, present.record_url(target, value) if linked else None
    if f.name == "stage" and rt.pipeline:
        pipeline = catalog.pipeline_for(rt, record.get("pipeline"))
        stage = pipeline.stage(value) if pipeline else None
        return (stage.label if stage else value), None
    if f.kind == "decimal" and "currency" in rt.fields and record.get("currency"):
        return f"{value:,.2f} {record.get('currency')}", None
    return present.show(f, value), None


def describe(catalog, rt, param, value, titles):
    """A filter in use, in words: ``Stage is Proposal``, ``Amount from 1000``."""
    if param == "q":
        return f"Matching “{value}”"
    name, _, op = param.partition("__")
    f = _field(rt, name)
    label = field_label(rt, name)
    if op == "isnull":
        return f"{label} is {'empty' if value.lower() in ('true', '1') else 'set'}"
    words = OPERATOR_WORDS.get(op or "eq", op)
    shown = ", ".join(_value_words(catalog, rt, f, part, titles) for part in value.split(",")) if op == "in" \
        else _value_words(catalog, rt, f, value, titles)
    return f"{label} {words} {shown}"


def _field(rt, name):
    return CREATED if name == "created_at" else rt.fields.get(name)


def field_label(rt, name):
    """How a page names a field, a relation or a standard column given in a list argument."""
    f = _field(rt, name)
    relation = next((r for r in rt.relations if r.name == name), None)
    return f.label if f else relation.label if relation else name


def _value_words(catalog, rt, f, raw, titles):
    if f is None:
        return raw
    if f.kind == "reference" and as_id(raw) is not None:
        return titles.get((f.reference, as_id(raw)), (f"{f.reference} {raw}", False))[0]
    if f.name == "stage" and rt.pipeline:
        pipeline = catalog.pipeline_for(rt)
        stage = pipeline.stage(raw) if pipeline else None
        return stage.label if stage else raw
    if f.kind == "boolean":
        return {"true": "Yes", "1": "Yes", "false": "No", "0": "No"}.get(raw.lower(), raw)
    if f.kind in ("choice", "multi_choice"):
        return present.show(f, raw) if f.kind == "choice" else present.show(f, [raw])
    return raw
