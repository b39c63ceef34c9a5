"""What a record's detail page shows, read from its type's descriptor: the filled-in fields
(references by their titles), the stage and its history, the records related to it both
ways, its activity timeline and its audit trail (who changed what, when).

Every list on the page is bounded and every lookup is one query per record type (titles of
the referenced records, related records through an index), so the page costs the same few
statements whether the record has two contacts or twenty thousand.
"""

from dataclasses import dataclass
from dataclasses import field as dataclass_field

from flask import abort, g
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import audit, permissions
from ..api.records import regarding
from ..db import db
from ..descriptors import Field
from ..errors import BadRequest
from ..fields import format_datetime
from ..models import StageHistory
from ..query import field_expression, run_list
from ..records import record_from_row
from . import forms, listing, present

TIMELINE_SIZE = 20
RELATED_SIZE = 20
HISTORY_SIZE = 50
TRAIL_SIZE = 50
EMPTY = "—"
TRAIL_ACTIONS = {"created": "Created", "updated": "Changed", "deleted": "Moved to the trash",
                 "restored": "Restored from the trash", "exported": "Exported",
                 "erased": "Personal data erased", "viewed": "Sensitive fields viewed"}
TRAIL_SOURCES = {"api": "the API", "web": "the web", "cli": "the command line", "import": "an import",
                 "system": "Accord"}
PIPELINE_FIELDS = ("pipeline", "stage")
REGARDING_FIELDS = ("related_type", "related_id")
LINKS = {"url": "{}", "email": "mailto:{}", "phone": "tel:{}"}
MOMENT = Field(name="at", kind="datetime")


def when(value):
    """A moment as people read it on these pages."""
    return present.show(MOMENT, value)


def iso(value):
    """A moment for a ``<time datetime>`` attribute."""
    return format_datetime(value) if value is not None else ""


@dataclass
class Page:
    """The detail page's parts; the templates under ``record_pages/`` draw them."""

    fields: list
    empty: list
    regarding: dict | None = None
    stage: dict | None = None
    history: list = dataclass_field(default_factory=list)
    related: list = dataclass_field(default_factory=list)
    timeline: dict | None = None
    trail: dict | None = None


def build(catalog, rt, record, timeline_cursor=None, trail_cursor=None):
    """Everything the detail page of ``record`` shows."""
    pipeline = catalog.pipeline_for(rt, record.get("pipeline")) if "stage" in rt.fields else None
    about = _regarding_of(catalog, record)
    placed = set(rt.title_fields)  # shown elsewhere on the page: the heading, the pipeline, "Regarding"
    placed.update(PIPELINE_FIELDS if pipeline else (), REGARDING_FIELDS if about[0] else ())
    shown = [f for name, f in rt.fields.items() if name not in placed]
    history = _history_rows(rt, record.id) if pipeline else []
    activities, next_cursor = None, None
    if rt.timeline and catalog.type("activity") is not None:
        activities, next_cursor = _timeline_rows(catalog, rt, record.id, timeline_cursor)
    wanted = {}
    for f in shown:
        if f.kind == "reference" and f.reference and record.get(f.name) is not None:
            wanted.setdefault(f.reference, set()).add(record.get(f.name))
    for key, record_id in [about] + [_regarding_of(catalog, a) for a in activities or ()]:
        if key is not None:
            wanted.setdefault(key, set()).add(record_id)
    wanted.setdefault("user", set()).update(h.changed_by for h in history if h.changed_by is not None)
    entries, older = _trail_rows(rt, record.id, trail_cursor)
    _trail_references(catalog, rt, record, entries, wanted)
    titles = listing.reference_titles(catalog, wanted, {})
    page = Page(*_fields(catalog, rt, record, shown, titles))
    page.regarding = _link(catalog, about, titles)
    if pipeline is not None:
        stage = pipeline.stage(record.get("stage"))
        page.stage = {"pipeline": pipeline.label, "label": stage.label if stage else record.get("stage"),
                      "probability": stage.probability if stage else None,
                      "outcome": stage.outcome if stage else "open"}
        page.history = [_history_entry(catalog, h, titles) for h in history]
    page.related = relation_sections(catalog, rt, record) + reference_sections(catalog, rt, record.id)
    if activities is not None:
        page.timeline = {
            "items": [_timeline_item(catalog, rt, record, a, titles) for a in activities],
            "older_url": f"{present.record_url(rt, record.id)}?timeline={next_cursor}#timeline" if next_cursor else None,
            "newest_url": f"{present.record_url(rt, record.id)}#timeline" if timeline_cursor else None,
        }
    page.trail = {
        "items": [_trail_item(catalog, rt, record, entry, titles) for entry in entries],
        "older_url": f"{present.record_url(rt, record.id)}?history={older}#history" if older else None,
        "newest_url": f"{present.record_url(rt, record.id)}#history" if trail_cursor else None,
    }
    return page


def _fields(catalog, rt, record, shown, titles):
    """``(filled, empty)``: items for the filled-in fields; labels of the empty ones."""
    filled, empty = [], []
    for f in shown:
        value = record.get(f.name)
        if value is None or value == "" or value == []:
            empty.append(f.label or f.name)
            continue
        text, url = display(catalog, rt, f, record.values, titles)
        filled.append({"name": f.name, "label": f.label or f.name, "text": text, "url": url, "kind": f.kind,
                       "external": f.kind == "url"})
    return filled, empty


def display(catalog, rt, f, values, titles):
    """``(text, url)`` of one value: references by title linking to the record, web
    addresses, emails and phone numbers as links, everything else as text."""
    text, url = listing.cell(catalog, rt, f, values, titles)
    value = values.get(f.name)
    if url is None and f.kind in LINKS and value:
        url = LINKS[f.kind].format(value if f.kind != "phone" else "".join(c for c in value if c in "+0123456789"))
    return text, url


# Pipeline -----------------------------------------------------------------------------------


def _history_rows(rt, record_id):
    """The latest stage changes, newest first (the full list is the API's stage-history)."""
    return db.session.execute(
        select(StageHistory).where(StageHistory.record_type == rt.key, StageHistory.record_id == record_id)
        .order_by(StageHistory.id.desc()).limit(HISTORY_SIZE)
    ).scalars().all()


def _history_entry(catalog, entry, titles):
    pipeline = catalog.pipelines.get(entry.pipeline)

    def label(key):
        stage = pipeline.stage(key) if pipeline and key else None
        return stage.label if stage else key

    return {
        "from": label(entry.from_stage), "to": label(entry.to_stage), "at": entry.changed_at,
        "by": titles.get(("user", entry.changed_by), ("—", False))[0] if entry.changed_by else "Accord",
        "in_previous": duration(entry.seconds_in_previous), "reason": entry.reason,
    }


def duration(seconds):
    """A time span in the largest whole unit a person would use."""
    if seconds is None:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * (2 if unit == "day" else 1):
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


# Related records ----------------------------------------------------------------------------


def relation_sections(catalog, rt, record):
    """The records linked both ways through relations: a deal's contacts, a contact's deals."""
    sections = []
    for relation in rt.relations:
        target = catalog.type(relation.target)
        link = relation.table
        linked = select(link.c[relation.remote_column]).where(link.c[relation.local_column] == record.id)
        sections.append(_section(target, target.table.c.id.in_(linked), relation.label or target.plural_label))
    for other in catalog.types.values():
        for relation in other.relations:
            if relation.target != rt.key:
                continue
            link = relation.table
            linked = select(link.c[relation.local_column]).where(link.c[relation.remote_column] == record.id)
            sections.append(_section(other, other.table.c.id.in_(linked), other.plural_label,
                                     list_url=f"/{other.plural}?{relation.name}={record.id}",
                                     new_url=f"/{other.plural}/new?{relation.name}={record.id}"))
    return sections


def reference_sections(catalog, rt, record_id):
    """Records of other types whose reference fields point here (an organization's contacts
    and deals), for the fields an index serves, so each is a quick lookup at any size."""
    sections = []
    dialect = db.session.get_bind().dialect.name
    for other in catalog.types.values():
        fast = listing.fast_sorts(other)
        pointing = [f for f in other.fields.values() if f.kind == "reference" and f.reference == rt.key and f.name in fast]
        for f in pointing:
            label = other.plural_label if len(pointing) == 1 else f"{other.plural_label} ({f.label})"
            expr = field_expression(other, f.name, dialect)[0]
            sections.append(_section(other, expr == record_id, label, list_url=f"/{other.plural}?{f.name}={record_id}",
                                     new_url=f"/{other.plural}/new?{f.name}={record_id}"))
    return sections


def _section(rt, condition, label, list_url=None, new_url=None):
    """Up to :data:`RELATED_SIZE` live records of ``rt``, newest first, and whether there are more."""
    found = forms.titled_records(rt, condition, limit=RELATED_SIZE + 1, newest_first=True, actor=g.accord_actor)
    return {"label": label, "type": rt, "items": [(present.record_url(rt, i), title) for i, title in found[:RELATED_SIZE]],
            "more": len(found) > RELATED_SIZE, "list_url": list_url, "new_url": new_url}


# Timeline -----------------------------------------------------------------------------------


def _timeline_rows(catalog, rt, record_id, cursor):
    """A page of the activities regarding the record, newest first (as the API's timeline)."""
    activity = catalog.type("activity")
    args = MultiDict({"sort": "-occurred_at", "limit": str(TIMELINE_SIZE)})
    if cursor:
        args["cursor"] = cursor
    try:
        rows, next_cursor = run_list(activity, args, extra=[regarding(catalog, rt, record_id)], actor=g.accord_actor)
    except BadRequest:
        abort(400, description="This link to older activities is out of date; open the record again.")
    conceal = permissions.concealer(g.accord_actor, activity)
    return [conceal(record_from_row(activity, row)) for row in rows], next_cursor


def _timeline_item(catalog, rt, record, activity, titles):
    fields = activity.type.fields
    about = _regarding_of(catalog, activity)
    elsewhere = about != (None, None) and about != (rt.key, record.id)
    return {
        "id": activity.id, "url": present.record_url(activity.type, activity.id), "subject": activity.title,
        "kind": activity.get("kind"), "kind_label": present.show(fields["kind"], activity.get("kind")),
        "body": activity.get("body"), "at": activity.get("occurred_at"), "due": activity.get("due_at"),
        "is_task": activity.get("kind") == "task", "done": bool(activity.get("done")),
        "regarding": _link(catalog, about, titles) if elsewhere else None,
    }


def _regarding_of(catalog, record):
    """``(type key, id)`` of the record an activity regards, or ``(None, None)``."""
    key, record_id = record.get("related_type"), record.get("related_id")
    if key is None or record_id is None or catalog.type(key) is None:
        return None, None
    return key, record_id


def _link(catalog, about, titles):
    key, record_id = about
    if key is None:
        return None
    target = catalog.type(key)
    title, live = titles.get((key, record_id), (f"{target.label} {record_id}", False))
    return {"label": target.label, "title": title, "url": present.record_url(target, record_id) if live else None}


# Audit trail -------------------------------------------------------------------------------


def _trail_rows(rt, record_id, cursor):
    """A page of the record's audit entries, newest first (as the API's ``.../audit``)."""
    args = MultiDict({"limit": str(TRAIL_SIZE)})
    if cursor:
        args["cursor"] = cursor
    try:
        return audit.listing(args, record_type=rt.key, record_id=record_id)
    except BadRequest:
        abort(400, description="This link to older history is out of date; open the record again.")


def _trail_references(catalog, rt, record, entries, wanted):
    """Add the actors and the records that changed references name to ``wanted``, so
    their titles come with the page's one lookup per type."""
    relations = {relation.name: relation.target for relation in rt.relations}
    for entry in entries:
        if entry.actor_id is not None:
            wanted.setdefault("user", set()).add(entry.actor_id)
        for name, pair in _trail_pairs(rt, record, entry):
            f = rt.fields.get(name)
            if name == REGARDING_FIELDS:
                for key, record_id in pair:
                    if catalog.type(key) is not None and isinstance(record_id, int):
                        wanted.setdefault(key, set()).add(record_id)
            elif f is not None and f.kind == "reference" and f.reference:
                wanted.setdefault(f.reference, set()).update(v for v in pair if isinstance(v, int))
            elif name in relations:
                wanted.setdefault(relations[name], set()).update(
                    i for v in pair if isinstance(v, list) for i in v if isinstance(i, int))


def _trail_pairs(rt, record, entry):
    """The entry's ``(field, [before, after])`` in the type's field order. The record an
    activity regards (two fields) is one pair of ``(type key, id)`` named
    :data:`REGARDING_FIELDS`, as the page shows it; a half that did not change is the
    record's current one."""
    hidden = permissions.hidden_fields(g.accord_actor, rt)
    changes = {name: pair for name, pair in (entry.changes or {}).items() if name not in hidden}
    names = list(rt.fields) + [relation.name for relation in rt.relations]
    if all(name in rt.fields for name in REGARDING_FIELDS) and any(name in changes for name in REGARDING_FIELDS):
        before = tuple(changes[n][0] if n in changes else record.get(n) for n in REGARDING_FIELDS)
        after = tuple(changes[n][1] if n in changes else record.get(n) for n in REGARDING_FIELDS)
        for name in REGARDING_FIELDS:
            changes.pop(name, None)
        changes[REGARDING_FIELDS] = [(None, None) if entry.action == "created" else before, after]
    order = {name: position for position, name in enumerate(names)}
    order[REGARDING_FIELDS] = order.get(REGARDING_FIELDS[0], len(names))
    return sorted(changes.items(), key=lambda item: (order.get(item[0], len(names)), str(item[0])))


def _trail_item(catalog, rt, record, entry, titles):
    if entry.actor_id is not None:
        who = titles.get(("user", entry.actor_id), (entry.actor_name or f"User {entry.actor_id}", False))[0]
    else:
        who = entry.actor_name or "Accord"
    return {
        "action": TRAIL_ACTIONS.get(entry.action, entry.action), "created": entry.action == "created",
        "at": entry.at, "who": who, "source": TRAIL_SOURCES.get(entry.source, entry.source),
        "changes": [_trail_change(catalog, rt, record, name, pair, titles)
                    for name, pair in _trail_pairs(rt, record, entry)],
    }


def _trail_change(catalog, rt, record, name, pair, titles):
    """``{"label", "before", "after"}`` of one field change, as the field shows elsewhere."""
    relation = next((r for r in rt.relations if r.name == name), None)
    if name == REGARDING_FIELDS:
        label = "Regarding"
        texts = [_regarding_text(catalog, key, record_id, titles) for key, record_id in pair]
    elif relation is not None:
        target = catalog.type(relation.target)
        label = relation.label or (target.plural_label if target else name)
        texts = [_titles(target, relation.target, ids, titles) for ids in pair]
    elif name in rt.fields:
        f = rt.fields[name]
        label = f.label or name
        texts = [_trail_value(catalog, rt, record, f, value, titles) for value in pair]
    else:
        label = name
        texts = [EMPTY if value is None else str(value) for value in pair]
    return {"label": label, "before": texts[0], "after": texts[1]}


def _regarding_text(catalog, key, record_id, titles):
    if key is None or record_id is None:
        return EMPTY
    target = catalog.type(key)
    if target is None:
        return f"{key} {record_id}"
    return f"{titles.get((key, record_id), (f'{target.label} {record_id}', False))[0]} ({target.label})"


def _trail_value(catalog, rt, record, f, value, titles):
    """A stored JSON value as text; one from before a field changed kind shows as it was stored."""
    try:
        typed = f.kind_impl.from_storage(value)
    except (ValueError, TypeError, KeyError, ArithmeticError):
        return str(value)
    values = {"pipeline": record.get("pipeline"), "currency": record.get("currency"), f.name: typed}
    return display(catalog, rt, f, values, titles)[0]


def _titles(target, key, ids, titles):
    if not ids:
        return EMPTY
    label = target.label if target else key
    return ", ".join(titles.get((key, i), (f"{label} {i}", False))[0] for i in ids)


# Comparing an edit with the stored record -------------------------------------------------------


def same(mine, theirs):
    """Whether two values of a field are equal (lists in any order)."""
    if isinstance(mine, list) and isinstance(theirs, list):
        return sorted(mine, key=str) == sorted(theirs, key=str)
    return mine == theirs


def compare(catalog, rt, names, mine, theirs):
    """Rows of ``(label, my text, their text)`` for the fields named, as people read them."""
    fields = dict(rt.fields)
    relations = {relation.name: relation for relation in rt.relations}
    wanted = {}
    for name in names:
        f = fields.get(name)
        if f is not None and f.kind == "reference" and f.reference:
            wanted.setdefault(f.reference, set()).update(v for v in (mine.get(name), theirs.get(name)) if v is not None)
        elif name in relations:
            wanted.setdefault(relations[name].target, set()).update(list(mine.get(name) or ()) + list(theirs.get(name) or ()))
    titles = listing.reference_titles(catalog, wanted, {})

    def listed(target, ids):
        shown = [titles.get((target.key, i), (f"{target.label} {i}", False))[0] for i in sorted(ids or ())]
        return ", ".join(shown) or "—"

    rows = []
    for name in names:
        if name in relations:
            target = catalog.type(relations[name].target)
            rows.append((relations[name].label or target.plural_label, listed(target, mine.get(name)),
                         listed(target, theirs.get(name))))
        elif name in fields:
            f = fields[name]
            rows.append((f.label or name, display(catalog, rt, f, mine, titles)[0],
                         display(catalog, rt, f, theirs, titles)[0]))
    return rows
