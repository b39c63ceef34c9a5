"""Generic record endpoints: one set of routes serves every record type by its plural."""

import hashlib
import json
from datetime import timedelta

from flask import request
from sqlalchemy import select

from .. import audit, permissions, search
from ..db import db, utcnow
from ..errors import BadRequest, Conflict, NotFound, PreconditionFailed, RecordInvalid
from ..models import IdempotencyRecord, StageHistory
from ..query import run_list
from ..registry import current_accord
from ..fields import format_datetime
from . import api, current_actor, json_response, request_json, require_record_type

MAX_IDEMPOTENCY_KEY = 255


def _type_for(plural):
    rt = current_accord().catalog().type_for_plural(plural)
    if rt is None:
        raise NotFound(f"There is no record type at /api/v1/{plural}.")
    return rt


def _records():
    return current_accord().records


@api.get("/<plural>")
def list_records(plural):
    rt = _type_for(plural)
    search_ids = None
    if request.args.get("q"):
        search_ids = search.matching_ids(db.session, rt.key, request.args["q"])
    actor = current_actor()
    rows, next_cursor = run_list(rt, request.args, search_ids, actor=actor)
    present = permissions.presenter(actor, rt)
    data = [present(row) for row in rows]
    return json_response({"data": data, "next_cursor": next_cursor})


@api.post("/<plural>")
def create_record(plural):
    rt = _type_for(plural)
    body = request_json()
    key = request.headers.get("Idempotency-Key")
    if key is None:
        record = _records().create(rt.key, body, current_actor())
        return _created(record)
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest("Idempotency-Key must be 1-255 characters.", {"Idempotency-Key": ["Must be 1-255 characters."]})
    fingerprint = hashlib.sha256(
        json.dumps([request.method, request.path, body], sort_keys=True, default=str).encode()
    ).hexdigest()
    replay = _replay(key, fingerprint)
    if replay is not None:
        return replay

    def remember(record):
        response_body = json.dumps(permissions.present(current_actor(), record), separators=(",", ":"), ensure_ascii=False)
        db.session.add(IdempotencyRecord(
            user_id=current_actor().user_id, key=key, request_hash=fingerprint, status_code=201,
            response_body=response_body, response_headers=_created_headers(record),
        ))

    try:
        record = _records().create(rt.key, body, current_actor(), before_commit=remember)
    except Conflict:
        replay = _replay(key, fingerprint)
        if replay is not None:
            return replay
        raise
    return _created(record)


def _replay(key, fingerprint):
    stored = db.session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == current_actor().user_id, IdempotencyRecord.key == key
        )
    ).scalar_one_or_none()
    if stored is None:
        return None
    ttl = timedelta(hours=current_accord().settings["IDEMPOTENCY_TTL_HOURS"])
    if stored.created_at < utcnow() - ttl:
        db.session.delete(stored)
        db.session.commit()
        return None
    if stored.request_hash != fingerprint:
        raise RecordInvalid(
            {"Idempotency-Key": ["This key was already used with a different request."]},
            message="Idempotency-Key reused with a different request.",
        )
    headers = dict(stored.response_headers or {})
    headers["Idempotent-Replayed"] = "true"
    from flask import Response

    return Response(stored.response_body, status=stored.status_code, headers=headers, mimetype="application/json")


def _created_headers(record):
    return {"Location": f"{api.url_prefix}/{record.type.plural}/{record.id}", "ETag": record.etag}


def _created(record):
    return json_response(permissions.present(current_actor(), record), 201, _created_headers(record))


@api.get("/<plural>/<int:record_id>")
def get_record(plural, record_id):
    rt = _type_for(plural)
    actor = current_actor()
    record = permissions.conceal(actor, _records().get(rt.key, record_id, actor=actor))
    audit.record_view(record, actor)
    return json_response(record.to_json(), headers={"ETag": record.etag})


@api.patch("/<plural>/<int:record_id>")
def update_record(plural, record_id):
    rt = _type_for(plural)
    body = request_json()
    expected = _expected_version(rt, record_id)
    record = _records().update(rt.key, record_id, body, current_actor(), expected_version=expected)
    return json_response(permissions.present(current_actor(), record), headers={"ETag": record.etag})


@api.delete("/<plural>/<int:record_id>")
def delete_record(plural, record_id):
    rt = _type_for(plural)
    expected = _expected_version(rt, record_id)
    _records().delete(rt.key, record_id, current_actor(), expected_version=expected)
    return "", 204


@api.post("/<plural>/<int:record_id>/restore")
def restore_record(plural, record_id):
    rt = _type_for(plural)
    expected = _expected_version(rt, record_id)
    record = _records().restore(rt.key, record_id, current_actor(), expected_version=expected)
    return json_response(permissions.present(current_actor(), record), headers={"ETag": record.etag})


@api.get("/<plural>/<int:record_id>/timeline")
def timeline(plural, record_id):
    """Activities regarding this record (for an organization, also its contacts' and deals')."""
    rt = _type_for(plural)
    require_record_type("activity")
    actor = current_actor()
    _records().get(rt.key, record_id, actor=actor)
    catalog = current_accord().catalog()
    activity = catalog.type("activity")
    args = request.args.copy()
    args.setdefault("sort", "-occurred_at")
    rows, next_cursor = run_list(activity, args, search_ids=None, extra=[regarding(catalog, rt, record_id)],
                                 actor=actor)
    present = permissions.presenter(actor, activity)
    data = [present(row) for row in rows]
    return json_response({"data": data, "next_cursor": next_cursor})


def regarding(catalog, rt, record_id):
    """The condition on activities that belong on a record's timeline: those about it and,
    for an organization, those about its live contacts and deals (API and web UI alike)."""
    from sqlalchemy import and_, or_

    table = catalog.type("activity").table
    condition = and_(table.c.related_type == rt.key, table.c.related_id == record_id)
    if rt.key != "organization":
        return condition
    members = []
    for key in ("contact", "deal"):
        member = catalog.type(key).table
        members.append(and_(table.c.related_type == key, table.c.related_id.in_(
            select(member.c.id).where(member.c.organization_id == record_id, member.c.deleted_at.is_(None))
        )))
    return or_(condition, *members)


@api.get("/<plural>/<int:record_id>/stage-history")
def stage_history(plural, record_id):
    rt = _type_for(plural)
    _records().get(rt.key, record_id, actor=current_actor())
    rows = db.session.execute(
        select(StageHistory).where(StageHistory.record_type == rt.key, StageHistory.record_id == record_id)
        .order_by(StageHistory.id)
    ).scalars()
    data = [{
        "pipeline": h.pipeline, "from": h.from_stage, "to": h.to_stage,
        "at": format_datetime(h.changed_at), "by": h.changed_by,
        "seconds_in_previous": h.seconds_in_previous, "reason": h.reason,
    } for h in rows]
    return json_response({"data": data})


def _expected_version(rt, record_id):
    """The version named by ``If-Match`` (``None`` when absent or ``*``); 412 when it names another record."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.split(",")[0].strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    tag = tag.strip('"')
    prefix = f"{rt.key}-{record_id}-"
    if not tag.startswith(prefix) or not tag[len(prefix):].isdigit():
        raise PreconditionFailed(f"If-Match {header!r} does not name a version of {rt.label} {record_id}.")
    return int(tag[len(prefix):])
