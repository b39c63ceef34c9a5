"""The audit trail: who created, changed, trashed, restored or exported what, and when.

Every write of the service layer has one entry, written in its transaction: a write that
rolls back leaves no entry, a committed one always has its entry. On PostgreSQL a create's
or an update's entry is inserted by the write's own statement (a data-modifying CTE, see
:func:`entry_per_row`), so it costs no round trip; otherwise the write notes its entry
(:func:`record_write`) and :func:`~accord.core.records.write_unit` inserts the unit's
entries together, in one statement, just before it commits (an import of ten thousand
rows costs one more statement, not ten thousand). Record types of plugins, vertical packs and custom fields are audited
the same way, since they are written through the same service layer.

An entry of a write holds ``changes``, ``{field: [before, after]}`` in the API's JSON
form: for ``created`` every field given a value (``before`` is ``null``), so the trail
alone tells every version of a record; for ``updated`` the fields that changed; nothing
for ``deleted`` and ``restored``. An export notes one ``exported`` entry with
``details`` (format, count, whether it was the trash) and no record id.

The trail is append-only: triggers refuse ``UPDATE`` and ``DELETE`` on the table (SQLite
and PostgreSQL alike). The one exception is :func:`redact`, the erasure of a person's data
(:mod:`accord.core.privacy`): it may rewrite only the ``changes`` of entries for which its
own transaction holds a permit in ``audit_redaction``; who did what, and when, stays. Entries do not point at their records with a foreign key, so purging
a record, a field or a plugin's tables leaves the entries about them in place.
"""

import base64
import binascii
import json

from sqlalchemy import bindparam, delete, insert, select, update

from .db import db, utcnow
from .errors import BadRequest
from .fields import MAX_ID, format_datetime, parse_datetime
from .logs import current_request_id
from .models import AUDIT_ACTIONS as ACTIONS, AuditEntry, AuditRedaction

SERVICE_ACTIONS = {"create": "created", "update": "updated", "delete": "deleted", "restore": "restored"}
PENDING = "accord_audit"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
FILTERS = ("record_type", "record_id", "actor", "source", "action", "since", "until")
PAGING = ("limit", "cursor")
NAME_CHARS = 120
SOURCE_CHARS = 32


# Recording ------------------------------------------------------------------------------


def record_write(session, record, event, changes, actor):
    """Note the entry of one service write (``event``: ``create``, ``update``, ``delete``
    or ``restore``) in its transaction; inserted with the unit's others at commit."""
    session.info.setdefault(PENDING, []).append(write_entry(record, event, changes, actor))


def write_entry(record, event, changes, actor):
    """The row of a service write's entry (see :func:`record_write`)."""
    if event == "create":
        names = list(record.type.fields) + [relation.name for relation in record.type.relations]
        diff = {name: [None, _json_value(record.type, name, record.get(name))] for name in names
                if record.get(name) is not None and record.get(name) != []}
    elif event == "update":
        diff = {name: [_json_value(record.type, name, old), _json_value(record.type, name, new)]
                for name, (old, new) in changes.items()}
    else:
        diff = None
    return _entry(SERVICE_ACTIONS[event], record.type.key, actor, record_id=record.id, changes=diff,
                  at=record.values["updated_at"])


def inserting_entry(statement):
    """``statement`` (an ``UPDATE`` of one record) made to insert the write's entry too,
    once per row it changes, in the same statement, answering the ids of the entries: one
    row per row changed. The entry's values are bound by name (:func:`entry_params`), so
    the statement is built once and reused. PostgreSQL only: the entry then costs the
    write no round trip of its own."""
    changed = statement.returning(statement.table.c.id).cte("changed")
    return entry_per_row(changed).returning(AuditEntry.__table__.c.id)


ENTRY_COLUMNS = ("at", "actor_id", "actor_name", "source", "action", "record_type", "changes", "details",
                 "request_id")


def entry_per_row(rows):
    """An ``INSERT`` of one entry per row of ``rows`` (a CTE answering ``id``), naming that
    id as its record, with the values of :func:`entry_params`: a write's entry made by the
    write's own statement."""
    table = AuditEntry.__table__
    return insert(table).from_select(
        [*ENTRY_COLUMNS, "record_id"],
        select(*(bindparam(f"entry_{name}", type_=table.c[name].type) for name in ENTRY_COLUMNS), rows.c.id),
    )


def entry_params(entry):
    """The bound values of :func:`entry_per_row` for ``entry`` (from :func:`write_entry`)."""
    return {f"entry_{name}": entry[name] for name in ENTRY_COLUMNS}


def record_export(record_type, fmt, count, actor, trashed=False):
    """Store the one ``exported`` entry of an export of ``count`` records of a type, in a
    write unit of its own (an export itself only reads)."""
    from .records import write_unit

    with write_unit() as session:
        _note(session, "exported", record_type.key, actor,
             details={"format": fmt, "count": count, "trashed": bool(trashed)})


def record_view(record, actor):
    """Note that ``actor`` was shown the sensitive values of ``record`` (one record's page
    or API answer), naming the fields, never their values; nothing when it holds none."""
    from .records import write_unit

    shown = sorted(name for name, f in record.type.fields.items()
                   if f.sensitive and record.get(name) not in (None, "", [], {}))
    if not shown:
        return
    with write_unit() as session:
        _note(session, "viewed", record.type.key, actor, record_id=record.id, details={"fields": shown})


def record_privacy_export(contact_id, count, actor):
    """Store the ``exported`` entry of a privacy export of one contact (``count``: the
    records it held), in a write unit of its own."""
    from .records import write_unit

    with write_unit() as session:
        _note(session, "exported", "contact", actor, record_id=contact_id,
              details={"format": "privacy", "count": count})


def record_erasure(session, contact_id, erased, actor):
    """Note the one ``erased`` entry of an erasure: ``erased`` lists
    ``{"record_type", "record_id", "fields"}`` of each record it emptied fields of, by
    name only; the entry holds no value."""
    _note(session, "erased", "contact", actor, record_id=contact_id, details={"records": erased})


def redact(session, changes_by_entry):
    """Replace the ``changes`` of entries (``{entry id: changes}``) in the current
    transaction: the permits the triggers ask for are written, used and removed, so none
    outlives it."""
    if not changes_by_entry:
        return
    permits = AuditRedaction.__table__
    table = AuditEntry.__table__
    session.execute(insert(permits), [{"entry_id": entry_id} for entry_id in changes_by_entry])
    for entry_id, changes in changes_by_entry.items():
        session.execute(update(table).where(table.c.id == entry_id).values(changes=changes))
    session.execute(delete(permits).where(permits.c.entry_id.in_(list(changes_by_entry))))


def _note(session, action, record_type, actor, record_id=None, changes=None, details=None, at=None):
    """Note one entry in the current write unit; see :func:`record_write`."""
    session.info.setdefault(PENDING, []).append(
        _entry(action, record_type, actor, record_id=record_id, changes=changes, details=details, at=at))


def _entry(action, record_type, actor, record_id=None, changes=None, details=None, at=None):
    return {
        "at": at or utcnow(), "actor_id": actor.user_id, "actor_name": (actor.name or "")[:NAME_CHARS],
        "source": (actor.source or "")[:SOURCE_CHARS], "action": action, "record_type": record_type,
        "record_id": record_id, "changes": changes, "details": details, "request_id": current_request_id(),
    }


def flush(session):
    """Insert the entries the unit noted, all in one statement (called by ``write_unit``)."""
    pending = session.info.pop(PENDING, None)
    if pending:
        session.execute(insert(AuditEntry.__table__), pending)


def discard(session):
    """Forget the entries of a unit that rolled back."""
    session.info.pop(PENDING, None)


def _json_value(record_type, name, value):
    """A value as the API answers it (relations: their sorted ids)."""
    f = record_type.fields.get(name)
    if value is None or f is None:
        return sorted(value) if isinstance(value, (list, set, tuple)) else value
    return f.kind_impl.to_json(value)


# Reading --------------------------------------------------------------------------------


def listing(args, record_type=None, record_id=None):
    """A page of entries, newest first: ``(rows, next_cursor)``.

    ``args`` is a multidict of the query parameters (:data:`FILTERS`, ``limit``,
    ``cursor``); a malformed or unknown one raises :class:`BadRequest` naming it. With
    ``record_type`` and ``record_id`` the page is that one record's history, and those
    two are not parameters.
    """
    one_record = record_type is not None
    allowed = [name for name in FILTERS + PAGING if not (one_record and name.startswith("record_"))]
    errors = {name: [f"Unknown parameter; use one of {', '.join(allowed)}."] for name in args if name not in allowed}
    if not one_record:
        record_type = args.get("record_type") or None
        record_id = _whole(args, "record_id", errors)
        if record_type is not None and len(record_type) > 64:
            errors["record_type"] = ["At most 64 characters."]
        if record_id is not None and record_type is None:
            errors["record_id"] = ["Give record_type too: ids are numbered per record type."]
    table = AuditEntry.__table__
    conditions = []
    if record_type is not None:
        conditions.append(table.c.record_type == record_type)
    if record_id is not None:
        conditions.append(table.c.record_id == record_id)
    actor = _whole(args, "actor", errors)
    if actor is not None:
        conditions.append(table.c.actor_id == actor)
    if args.get("source"):
        conditions.append(table.c.source == args["source"])
    if args.get("action"):
        actions = [a.strip() for a in args["action"].split(",") if a.strip()]
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown:
            errors["action"] = [f"Unknown action {', '.join(unknown)}; use one of {', '.join(ACTIONS)}."]
        conditions.append(table.c.action.in_(actions))
    since, until = _moment(args, "since", errors), _moment(args, "until", errors)
    if since is not None:
        conditions.append(table.c.at >= since)
    if until is not None:
        conditions.append(table.c.at <= until)
    limit = _limit(args.get("limit"), errors)
    before = _cursor(args.get("cursor"), errors)
    if before is not None:
        conditions.append(table.c.id < before)
    if errors:
        raise BadRequest("Some audit parameters are not valid.", errors)
    rows = db.session.execute(select(table).where(*conditions).order_by(table.c.id.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def entry_json(row, hidden=frozenset()):
    """One entry as the API answers it, without the changes of the ``hidden`` fields (the
    sensitive ones the reader may not see)."""
    changes = row.changes
    if hidden and changes:
        changes = {name: pair for name, pair in changes.items() if name not in hidden}
    return {
        "id": row.id, "at": format_datetime(row.at), "actor_id": row.actor_id, "actor_name": row.actor_name,
        "source": row.source, "action": row.action, "record_type": row.record_type, "record_id": row.record_id,
        "changes": changes, "details": row.details, "request_id": row.request_id,
    }


def encode_cursor(entry_id):
    payload = json.dumps({"before": entry_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _cursor(raw, errors):
    if not raw:
        return None
    try:
        before = json.loads(base64.urlsafe_b64decode((raw + "=" * (-len(raw) % 4)).encode()))["before"]
        if isinstance(before, bool) or not isinstance(before, int) or not 0 < before <= MAX_ID:
            raise ValueError
        return before
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        errors["cursor"] = ["Not a cursor this API gave out."]
        return None


def _whole(args, name, errors):
    raw = args.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        errors[name] = ["Not an id (a whole number from 1)."]
        return None
    return int(raw)


def _moment(args, name, errors):
    raw = args.get(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        errors[name] = ["Not a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z)."]
        return None


def _limit(raw, errors):
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        errors["limit"] = [f"Must be a whole number between 1 and {MAX_LIMIT}."]
        return DEFAULT_LIMIT
    return int(raw)
