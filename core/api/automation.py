"""``/api/v1/automation``: the automation rules (:mod:`accord.core.automation`) and their
runs. Administrators only. Rules made here have origin ``local``; a pack's rule can be
switched on or off here, its definition only in its pack."""

from flask import Response, request

from .. import automation
from ..errors import BadRequest, Forbidden
from ..query import MAX_LIMIT
from . import api, current_actor, json_response, request_json

RUN_STATUSES = ("ok", "failed")


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators manage automation rules.")


@api.get("/automation/rules")
def list_automation_rules():
    _require_admin()
    return json_response({"data": [automation.rule_json(row) for row in automation.list_rules()]})


@api.post("/automation/rules")
def create_automation_rule():
    _require_admin()
    row = automation.create_local_rule(request_json())
    return json_response(automation.rule_json(row), 201, {"Location": f"{api.url_prefix}/automation/rules/{row.key}"})


@api.get("/automation/rules/<key>")
def automation_rule(key):
    _require_admin()
    return json_response(automation.rule_json(automation.get_rule(key)))


@api.patch("/automation/rules/<key>")
def update_automation_rule(key):
    _require_admin()
    return json_response(automation.rule_json(automation.change_rule(key, request_json())))


@api.delete("/automation/rules/<key>")
def delete_automation_rule(key):
    _require_admin()
    automation.delete_rule(key)
    return Response(status=204)


@api.get("/automation/runs")
def list_automation_runs():
    """Newest first; ``rule``, ``status``, ``limit`` and ``cursor`` (from ``next_cursor``)."""
    _require_admin()
    status = request.args.get("status")
    if status is not None and status not in RUN_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}.", {"status": ["Unknown status."]})
    limit = _whole_number("limit", 50, 1, MAX_LIMIT)
    before = _whole_number("cursor", None, 1, 2**63 - 1)
    rows = automation.runs(request.args.get("rule"), limit + 1, before, status)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response({"data": [automation.run_json(row) for row in rows],
                          "next_cursor": str(rows[-1].id) if more else None})


def _whole_number(name, default, low, high):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number.", {name: ["Not a whole number."]}) from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}.", {name: ["Out of range."]})
    return value
