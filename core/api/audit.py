"""``/api/v1/audit``: the whole audit trail, filtered (administrators only), and
``/api/v1/<plural>/<id>/audit``: one record's history (whoever can read the record, in
the trash too). Read-only: the trail has no route that changes it, so any other method
answers 405."""

from flask import request

from .. import audit, permissions
from ..errors import Forbidden, NotFound
from ..registry import current_accord
from . import api, current_actor, json_response


@api.get("/audit")
def audit_trail():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators read the whole audit trail; a record's own is at /<plural>/<id>/audit.")
    return _page(audit.listing(request.args))


@api.get("/<plural>/<int:record_id>/audit")
def record_audit(plural, record_id):
    rt = current_accord().catalog().type_for_plural(plural)
    if rt is None:
        raise NotFound(f"There is no record type at /api/v1/{plural}.")
    records, actor = current_accord().records, current_actor()
    try:
        records.get(rt.key, record_id, actor=actor)
    except NotFound:
        records.get(rt.key, record_id, trashed=True, actor=actor)
    return _page(audit.listing(request.args, record_type=rt.key, record_id=record_id),
                 permissions.hidden_fields(actor, rt))


def _page(found, hidden=frozenset()):
    rows, next_cursor = found
    return json_response({"data": [audit.entry_json(row, hidden) for row in rows], "next_cursor": next_cursor})
