"""``/api/v1/automation``: the automation rules (:mod:`accord.core.automation`) and their
runs. Administrators only. Rules made here have origin ``local``; a pack's rule can be
switched on or off here, its definition only in its pack."""

from flask import Response, request

from .. import automation
from ..errors import BadRequest, Forbidden
from . import api, current_actor, json_response, newest_first_page, request_json

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
    return newest_first_page(lambda limit, before: automation.runs(request.args.get("rule"), limit, before, status),
                             automation.run_json)
