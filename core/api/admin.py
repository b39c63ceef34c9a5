"""``/api/v1/admin/plugins``: what is installed, switching plugins on and off, settings.
Administrators only; every change reaches all workers on their next request."""

from flask import request

from .. import lifecycle
from ..errors import BadRequest, Forbidden
from . import api, current_actor, json_response, request_json


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators manage plugins.")


def _by():
    actor = current_actor()
    return f"api:{actor.name or actor.user_id}"


def _flag(name):
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false.", {name: ["Must be true or false."]})
    return raw in ("true", "1")


@api.get("/admin/plugins")
def list_plugins():
    _require_admin()
    return json_response({"data": lifecycle.plugin_report()})


@api.get("/admin/plugins/<name>")
def plugin_info(name):
    _require_admin()
    return json_response(lifecycle.plugin_report(name)[0])


@api.post("/admin/plugins/<name>/enable")
def enable_plugin(name):
    _require_admin()
    enabled = lifecycle.enable(name, by=_by())
    return json_response({"enabled": enabled, "plugin": lifecycle.plugin_report(name)[0]})


@api.post("/admin/plugins/<name>/disable")
def disable_plugin(name):
    _require_admin()
    disabled = lifecycle.disable(name, cascade=_flag("cascade"), by=_by())
    return json_response({"disabled": disabled, "plugin": lifecycle.plugin_report(name)[0]})


@api.get("/admin/plugins/<name>/settings")
def plugin_settings(name):
    _require_admin()
    report = lifecycle.plugin_report(name)[0]
    return json_response({key: spec["value"] for key, spec in report.get("settings", {}).items()})


@api.route("/admin/plugins/<name>/settings", methods=["PATCH", "PUT"])
def update_plugin_settings(name):
    _require_admin()
    return json_response(lifecycle.update_settings(name, request_json(), by=_by()))
