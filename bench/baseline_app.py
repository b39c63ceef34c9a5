"""The baseline of ``bench/scale.py``: a plain Flask + Flask-SQLAlchemy app serving the two
contact endpoints of Accord's API that the benchmark loads, on Accord's own ``contact``
table, with nothing else: no authentication, validation, hooks, request id or access log.

* ``GET /api/v1/contacts?limit=50``: the keyset query Accord runs for a first page (the
  same columns, ``WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 51``)
  and the same JSON: ``{"data": [...], "next_cursor": ...}``, each row one flat object with
  the custom fields lifted out of the ``custom`` column, times as Accord writes them, and
  the same cursor text.
* ``POST /api/v1/contacts``: the writes Accord makes for a new contact, in one
  transaction: the columns (the body's fields, the ``custom`` JSON of the custom fields,
  both times, ``created_by``, ``owner_id`` and ``version``) in one ``INSERT ...
  RETURNING``, the contact's ``search_entry`` (title: first and last name; body: its
  other searchable fields) in the same ``INSERT ... ON CONFLICT DO UPDATE``, and its
  ``audit_entry`` (action ``created``, the values it was created with); 201 with the row as
  the same flat JSON object.

Served by gunicorn (``--chdir bench baseline_app:app``) with the environment variables
``BASELINE_DATABASE_URL`` (a SQLAlchemy URL) and ``BASELINE_USER_ID`` (the user new rows
are created by and owned by; Accord takes it from the token).
"""

import base64
import json
import os
from datetime import datetime, timezone

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.dialects.postgresql import JSONB, insert as upsert

from common import CONTACT_FIELDS

FIELDS = ("first_name", "last_name", "email", "phone", "mobile", "job_title", "organization_id", "street",
          "city", "postal_code", "country", "description")
CUSTOM = tuple(spec["name"] for spec in CONTACT_FIELDS)
LIMIT = 50

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URL"]
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}  # Accord's
db = SQLAlchemy(app)
USER_ID = int(os.environ["BASELINE_USER_ID"])

contact = Table(
    "contact", MetaData(),
    *(Column(name, String) for name in FIELDS if name not in ("organization_id", "description")),
    Column("organization_id", BigInteger), Column("description", Text),
    Column("id", BigInteger, primary_key=True), Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)), Column("created_by", BigInteger), Column("owner_id", BigInteger),
    Column("version", Integer), Column("deleted_at", DateTime(timezone=True)), Column("custom", JSONB),
)
search_entry = Table(
    "search_entry", MetaData(), Column("id", BigInteger, primary_key=True), Column("record_type", String),
    Column("record_id", BigInteger), Column("title", Text), Column("body", Text),
)
INDEX_ENTRY = upsert(search_entry)
INDEX_ENTRY = INDEX_ENTRY.on_conflict_do_update(
    index_elements=["record_type", "record_id"],
    set_={"title": INDEX_ENTRY.excluded.title, "body": INDEX_ENTRY.excluded.body})
audit_entry = Table(
    "audit_entry", MetaData(), Column("id", BigInteger, primary_key=True), Column("at", DateTime(timezone=True)),
    Column("actor_id", BigInteger), Column("actor_name", String), Column("source", String),
    Column("action", String), Column("record_type", String), Column("record_id", BigInteger),
    Column("changes", JSONB), Column("details", JSONB), Column("request_id", String),
)
SEARCHED = ("email", "phone", "mobile")  # a contact's searchable fields besides its title's
CHANGED = set(FIELDS) | set(CUSTOM) | {"owner_id"}  # what a creation's audit entry lists
COLUMNS = [contact.c[name] for name in FIELDS] + [contact.c[name] for name in (
    "id", "created_at", "updated_at", "created_by", "owner_id", "version", "deleted_at", "custom")]


def utc_text(value):
    """UTC with microseconds and ``Z``, as Accord writes times."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def row_json(row):
    body = {"id": row["id"], "created_at": utc_text(row["created_at"]), "updated_at": utc_text(row["updated_at"]),
            "created_by": row["created_by"], "owner_id": row["owner_id"], "version": row["version"]}
    body.update((name, row[name]) for name in FIELDS)
    custom = row["custom"] or {}
    body.update((name, custom.get(name)) for name in CUSTOM)
    return body


@app.get("/api/v1/contacts")
def list_contacts():
    limit = min(int(request.args.get("limit", LIMIT)), 200)
    rows = db.session.execute(
        select(*COLUMNS).where(contact.c.deleted_at.is_(None))
        .order_by(contact.c.created_at.desc(), contact.c.id.desc()).limit(limit + 1)
    ).mappings().all()
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        keys = {"s": "-created_at", "v": [utc_text(last["created_at"]), last["id"]]}
        payload = json.dumps(keys, separators=(",", ":"))
        cursor = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return {"data": [row_json(row) for row in rows], "next_cursor": cursor}


@app.post("/api/v1/contacts")
def create_contact():
    body = request.get_json()
    now = datetime.now(timezone.utc)
    values = {name: body.get(name) for name in FIELDS}
    values["custom"] = {name: body[name] for name in CUSTOM if body.get(name) is not None}
    row = db.session.execute(
        insert(contact).values(**values, created_at=now, updated_at=now, created_by=USER_ID, owner_id=USER_ID,
                               version=1).returning(*COLUMNS)
    ).mappings().one()
    title = " ".join(part for part in (row["first_name"], row["last_name"]) if part)
    db.session.execute(INDEX_ENTRY, {"record_type": "contact", "record_id": row["id"], "title": title,
                                     "body": " ".join(row[name] for name in SEARCHED if row[name])})
    body = row_json(row)
    db.session.execute(insert(audit_entry), {
        "at": now, "actor_id": USER_ID, "actor_name": "", "source": "api", "action": "created",
        "record_type": "contact", "record_id": row["id"],
        "changes": {name: [None, value] for name, value in body.items() if value is not None and name in CHANGED}})
    db.session.commit()
    return body, 201
