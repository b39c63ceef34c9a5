"""Privacy: everything Accord holds about a person, exported or erased, and retention.

A person is a contact. What is held about them is the contact and every record of an
active type that refers to it, live or in the trash: through a ``reference`` field to
``contact`` (a column or a custom field), a relation to contacts (a deal's
``contact_ids``) or a ``related_type``/``related_id`` pair (an activity). Other contacts
are left out, as what they hold is about someone else. Plugins add what they keep
outside records through ``accord_privacy_handlers``. Everything is found through the
descriptors, so record types and fields that plugins, vertical packs and admins add are
covered without code.

Erasure empties every ``pii`` field of those records (``NULL``, or a placeholder where
the field is required) and keeps every other value, so counts, amounts and pipeline
totals stay as they were. It also removes the copies Accord made of those fields: in the
records' audit entries (through the trail's redaction permits), webhook delivery
bodies, job arguments, idempotency replay bodies and the search index, and it deletes
outbox messages to the person's email addresses. All of it happens in one transaction,
noted by one ``erased`` audit entry that names the fields emptied, and by an ``erased``
webhook event per record emptied, so the systems Accord sent copies to can erase theirs.

Retention (``RETENTION_INACTIVE_DAYS``; 0 turns it off) erases contacts that neither they
nor any record referring to them changed for that many days: a daily job, or
``accord privacy retention``.
"""

import json
import logging
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select

from . import audit, search, webhooks
from .db import db, utcnow
from .errors import NotFound
from .fields import MAX_ID, format_datetime
from .mail import OUTBOX
from .models import AuditEntry, IdempotencyRecord, Job, WebhookDelivery
from .query import field_expression, record_columns
from .records import Actor, record_from_row, write_unit
from .registry import current_accord

log = logging.getLogger("accord.privacy")

CONTACT = "contact"
ANONYMOUS = "Erased"
"""The value of a required personal text field after erasure."""
ANONYMOUS_EMAIL = "erased@invalid.invalid"
REDACTED = "[erased]"
"""What replaces a personal value in the copies: audit entries, webhook bodies, job
arguments, replay bodies."""
RETENTION_JOB = "accord.privacy_retention"
RETENTION_SCHEDULE = "25 3 * * *"
RETENTION_ACTOR = Actor(user_id=None, source="system", is_admin=True, name="retention")


def retention_jobs(app):
    """The retention job (registered by the core's ``accord_jobs``), scheduled daily only
    where ``RETENTION_INACTIVE_DAYS`` switches retention on."""
    schedule = RETENTION_SCHEDULE if app.config["ACCORD"]["RETENTION_INACTIVE_DAYS"] > 0 else None
    return [{"name": RETENTION_JOB, "run": run_retention_job, "schedule": schedule, "max_attempts": 3}]


# Finding ---------------------------------------------------------------------------------


def contact_record(contact_id):
    """The contact, live or in the trash; :class:`NotFound` otherwise."""
    rt = current_accord().catalog().type(CONTACT)
    table = rt.table
    row = None
    if isinstance(contact_id, int) and not isinstance(contact_id, bool) and 0 < contact_id <= MAX_ID:
        row = db.session.execute(select(*record_columns(rt)).where(table.c.id == contact_id)).mappings().first()
    if row is None:
        raise NotFound(f"Contact {contact_id} does not exist.")
    return record_from_row(rt, row)


def linked_records(contact_id):
    """Every record, live or trashed, of an active type other than ``contact`` that
    refers to the contact, by type key then id."""
    catalog = current_accord().catalog()
    dialect = db.session.get_bind().dialect.name
    found = []
    for rt in sorted(catalog.types.values(), key=lambda t: t.key):
        if rt.key == CONTACT:
            continue
        conditions = _referring(rt, contact_id, dialect)
        if conditions:
            rows = db.session.execute(
                select(*record_columns(rt)).where(or_(*conditions)).order_by(rt.table.c.id)
            ).mappings()
            found.extend(record_from_row(rt, row) for row in rows)
    return found


def _referring(rt, contact_id, dialect):
    """The SQL conditions under which a record of ``rt`` refers to the contact."""
    conditions = [field_expression(rt, f.name, dialect)[0] == contact_id for f in rt.fields.values()
                  if f.kind == "reference" and f.reference == CONTACT]
    for relation in rt.relations:
        if relation.target == CONTACT:
            link = relation.table
            conditions.append(rt.table.c.id.in_(
                select(link.c[relation.local_column]).where(link.c[relation.remote_column] == contact_id)))
    if {"related_type", "related_id"} <= set(rt.fields):
        conditions.append(and_(field_expression(rt, "related_type", dialect)[0] == CONTACT,
                               field_expression(rt, "related_id", dialect)[0] == contact_id))
    return conditions


def personal_fields(rt):
    return [f for f in rt.fields.values() if f.pii]


# Export ----------------------------------------------------------------------------------


def export_contact(contact_id, actor):
    """Everything held about a contact as one JSON-serialisable dict: the contact, the
    records referring to it by type key, the audit entries of all of them, and what each
    plugin's privacy handler returns, by handler name. Noted as an ``exported`` entry."""
    app = current_app._get_current_object()
    contact = contact_record(contact_id)
    linked = linked_records(contact.id)
    records = {}
    for record in linked:
        records.setdefault(record.type.key, []).append(record.to_json())
    document = {
        "exported_at": format_datetime(utcnow()),
        "contact": contact.to_json(),
        "records": records,
        "audit": [audit.entry_json(row) for row in _audit_rows([contact, *linked])],
        "plugins": {handler["name"]: handler["export"](app, contact) for _, handler in _handlers()},
    }
    audit.record_privacy_export(contact.id, 1 + len(linked), actor)
    return document


def _handlers():
    return current_accord().catalog().registrations.privacy_handlers


def _audit_rows(records):
    table = AuditEntry.__table__
    by_type = {}
    for record in records:
        by_type.setdefault(record.type.key, []).append(record.id)
    condition = or_(*(and_(table.c.record_type == key, table.c.record_id.in_(ids)) for key, ids in by_type.items()))
    return db.session.execute(select(table).where(condition).order_by(table.c.id)).all()


# Erasure ---------------------------------------------------------------------------------


def erase_contact(contact_id, actor):
    """Erase a contact's personal data and that of every record referring to it, in one
    transaction; returns what was emptied: ``[{"record_type", "record_id", "fields"}]``."""
    with write_unit() as session:
        emptied, emails = _erase(session, contact_record(contact_id), actor)
        search.forget_removed_terms(session)
    _clear_outbox(emails)
    return emptied


def _erase(session, contact, actor):
    """The erasure of one contact in the current write unit: ``(emptied, email addresses)``.
    Plugin handlers run first, while the contact still holds the values they look for."""
    app = current_app._get_current_object()
    for _, handler in _handlers():
        handler["erase"](app, contact)
    held = [contact, *linked_records(contact.id)]
    records = current_accord().records
    emptied, emails, anonymised = [], set(), []
    for record in held:
        emails |= {record.get(f.name) for f in personal_fields(record.type) if f.kind == "email" and record.get(f.name)}
        values = anonymous_values(record)
        if values:
            anonymised.append((records.anonymise(record, values), values))
            emptied.append({"record_type": record.type.key, "record_id": record.id, "fields": sorted(values)})
    _redact_copies(session, held)
    audit.record_erasure(session, contact.id, emptied, actor)
    for record, values in anonymised:
        webhooks.record_erasure(session, record, values, actor)
    return emptied, emails


def anonymous_values(record):
    """``{field: anonymous value}`` for each personal field of ``record`` that still holds
    something else."""
    values = {}
    for f in personal_fields(record.type):
        anonymous = _anonymous(f) if f.required else None
        if record.get(f.name) not in (None, anonymous):
            values[f.name] = anonymous
    return values


def _anonymous(f):
    if f.kind == "email":
        return ANONYMOUS_EMAIL
    if f.kind in ("text", "long_text", "phone", "url"):
        return ANONYMOUS
    if f.kind == "choice" and f.default is None and f.choices:
        return f.choices[0].key
    return f.default


def _redact_copies(session, held):
    """Replace the personal fields' values, past ones included, wherever Accord copied
    records of ``held``: audit entries, webhook deliveries, job arguments, replay bodies."""
    names = {(r.type.key, r.id): {f.name for f in personal_fields(r.type)} for r in held}
    names = {key: fields for key, fields in names.items() if fields}
    if not names:
        return
    by_type = {}
    for key, record_id in names:
        by_type.setdefault(key, []).append(record_id)
    entries, deliveries = AuditEntry.__table__, WebhookDelivery.__table__
    redacted = {}
    for row in session.execute(select(entries.c.id, entries.c.record_type, entries.c.record_id, entries.c.changes)
                               .where(_about(entries.c.record_type, entries.c.record_id, by_type))):
        changes = _redact_pairs(row.changes or {}, names[(row.record_type, row.record_id)])
        if row.changes and changes != row.changes:
            redacted[row.id] = changes
    audit.redact(session, redacted)
    for row in session.execute(select(deliveries.c.id, deliveries.c.record_type, deliveries.c.record_id,
                                      deliveries.c.body)
                               .where(_about(deliveries.c.record_type, deliveries.c.record_id, by_type))):
        body = _redact_event(json.loads(row.body), names[(row.record_type, row.record_id)])
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        if raw != row.body:
            session.execute(deliveries.update().where(deliveries.c.id == row.id).values(body=raw))
    _redact_jobs(session, names, by_type)
    _redact_replays(session, names)


def _about(type_column, id_column, by_type):
    return or_(*(and_(type_column == key, id_column.in_(ids)) for key, ids in by_type.items()))


def _redact_pairs(changes, fields):
    """``{field: [before, after]}`` with the values of ``fields`` replaced."""
    return {name: [None if value is None else REDACTED for value in pair] if name in fields else pair
            for name, pair in changes.items()}


def _redact_values(values, fields):
    """A flat record (``{field: value}``) with the values of ``fields`` replaced."""
    return {name: REDACTED if name in fields and value is not None else value for name, value in values.items()}


def _redact_event(body, fields):
    """A webhook event body: its ``record`` and its ``changes`` (``{from, to}`` pairs)."""
    if isinstance(body.get("record"), dict):
        body["record"] = _redact_values(body["record"], fields)
    if isinstance(body.get("changes"), dict):
        body["changes"] = {name: _redact_values(pair, ("from", "to")) if name in fields else pair
                           for name, pair in body["changes"].items()}
    return body


def _redact_jobs(session, names, by_type):
    """Jobs about a held record (``record_type`` and ``record_id`` arguments, like the
    retry of an after-commit hook): their ``changes`` and any argument named like a
    personal field."""
    table = Job.__table__
    arguments = table.c.arguments
    rows = session.execute(select(table.c.id, arguments).where(
        _about(arguments["record_type"].as_string(), arguments["record_id"].as_integer(), by_type)))
    for row in rows:
        fields = names[(row.arguments["record_type"], row.arguments["record_id"])]
        redacted = _redact_values(row.arguments, fields)
        if isinstance(redacted.get("changes"), dict):
            redacted["changes"] = _redact_pairs(redacted["changes"], fields)
        if redacted != row.arguments:
            session.execute(table.update().where(table.c.id == row.id).values(arguments=redacted))


def _redact_replays(session, names):
    """Idempotency records whose replay is the creation of a held record (its
    ``Location``)."""
    catalog = current_accord().catalog()
    locations = {f"/api/v1/{catalog.type(key).plural}/{record_id}": fields
                 for (key, record_id), fields in names.items()}
    table = IdempotencyRecord.__table__
    rows = session.execute(select(table.c.id, table.c.response_headers, table.c.response_body)
                           .where(table.c.response_headers["Location"].as_string().in_(list(locations))))
    for row in rows:
        body = _redact_values(json.loads(row.response_body), locations[row.response_headers["Location"]])
        session.execute(table.update().where(table.c.id == row.id).values(
            response_body=json.dumps(body, separators=(",", ":"), ensure_ascii=False)))


def _clear_outbox(emails):
    """Delete the outbox messages to or about the erased addresses (after the commit:
    files are not transactional)."""
    folder = Path(current_app.instance_path) / OUTBOX
    wanted = [email.lower().encode() for email in emails]
    if not wanted or not folder.is_dir():
        return
    for path in folder.glob("*.eml"):
        content = path.read_bytes().lower()
        if any(email in content for email in wanted):
            path.unlink(missing_ok=True)


# Retention -------------------------------------------------------------------------------


def retention_candidates(days, now=None):
    """Ids of the contacts, live or trashed, still holding personal data, that neither
    they nor any record referring to them changed in the last ``days`` days."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    rt = current_accord().catalog().type(CONTACT)
    table = rt.table
    dialect = db.session.get_bind().dialect.name
    holding = [_holds_value(field_expression(rt, f.name, dialect)[0], f) for f in personal_fields(rt)]
    if not holding:
        return []
    ids = db.session.execute(select(table.c.id).where(table.c.updated_at < cutoff, or_(*holding))
                             .order_by(table.c.id)).scalars().all()
    return [contact_id for contact_id in ids
            if all(record.values["updated_at"] < cutoff for record in linked_records(contact_id))]


def _holds_value(expression, f):
    anonymous = _anonymous(f) if f.required else None
    held = expression.isnot(None)
    return held if anonymous is None else and_(held, expression != anonymous)


def run_retention(actor=RETENTION_ACTOR, dry_run=False, days=None):
    """Erase the contacts that :func:`retention_candidates` finds for ``days`` (default:
    ``RETENTION_INACTIVE_DAYS``), each in a transaction of its own; returns their ids.
    Nothing happens when the setting is 0; ``dry_run`` only finds them."""
    days = current_accord().settings["RETENTION_INACTIVE_DAYS"] if days is None else days
    if days <= 0:
        return []
    found = retention_candidates(days)
    if dry_run or not found:
        return found
    emails = set()
    for contact_id in found:
        with write_unit() as session:
            emails |= _erase(session, contact_record(contact_id), actor)[1]
    with write_unit() as session:
        search.forget_removed_terms(session)
    _clear_outbox(emails)
    log.info("retention erased %d contact(s) inactive for %d days", len(found), days)
    return found


def run_retention_job(app):
    """The :data:`RETENTION_JOB`: :func:`run_retention` with the instance's setting."""
    with app.app_context():
        run_retention()
