"""``/api/v1/admin/plugins``: what is installed, switching plugins on and off, settings
(every change reaches all workers on their next request); ``/api/v1/admin/jobs``: the
background jobs, retried and purged; ``/api/v1/admin/roles``: the roles and their grants;
``/api/v1/admin/verticals``: vertical packs, their diff, apply and revert. Administrators only."""

from flask import current_app, request

from .. import changesets, jobs, lifecycle, pack_plan
from ..accounts import define_role, remove_role, roles
from ..errors import BadRequest, Forbidden, RecordInvalid
from . import api, current_actor, json_response, request_json


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators manage plugins and jobs.")


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


@api.get("/admin/jobs")
def list_jobs():
    _require_admin()
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise BadRequest("limit must be a whole number.", {"limit": ["Not a whole number."]}) from None
    if not 1 <= limit <= 500:
        raise BadRequest("limit must be between 1 and 500.", {"limit": ["Out of range."]})
    rows = jobs.listing(request.args.get("state"), request.args.get("name"), limit)
    return json_response({"data": [jobs.job_json(row) for row in rows], "counts": jobs.counts()})


@api.get("/admin/jobs/<int:job_id>")
def job_info(job_id):
    _require_admin()
    return json_response(jobs.job_json(jobs.get(job_id)))


@api.post("/admin/jobs/<int:job_id>/retry")
def retry_job(job_id):
    _require_admin()
    return json_response(jobs.job_json(jobs.retry(current_app._get_current_object(), job_id)))


@api.post("/admin/jobs/purge")
def purge_jobs():
    _require_admin()
    body = request_json()
    states = body.get("states", ["succeeded"])
    days = body.get("older_than_days", 7)
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
        raise BadRequest("states must be a list of states.", {"states": ["Not a list of strings."]})
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise BadRequest("older_than_days must be a whole number of days.", {"older_than_days": ["Not a whole number >= 0."]})
    return json_response({"purged": jobs.purge(tuple(states), days)})


@api.get("/admin/roles")
def list_roles():
    """Every role, built-in and custom, with its grants."""
    _require_admin()
    return json_response({"data": [role.to_json() for role in roles().values()]})


@api.put("/admin/roles/<key>")
def put_role(key):
    """Add or change the custom role ``key``: ``{"label", "grants", "description", "sensitive"}``."""
    _require_admin()
    body = request_json()
    unknown = sorted(set(body) - {"label", "grants", "description", "sensitive"})
    if unknown:
        raise RecordInvalid({name: ["Unknown field."] for name in unknown})
    role, created = define_role(key, body.get("label"), body.get("grants"), body.get("description", ""),
                                body.get("sensitive", False))
    return json_response(role.to_json(), 201 if created else 200)


@api.delete("/admin/roles/<key>")
def delete_role(key):
    _require_admin()
    remove_role(key)
    return "", 204


@api.get("/admin/verticals")
def list_verticals():
    """Every vertical pack found or applied here, with its status."""
    _require_admin()
    return json_response({"data": changesets.pack_report()})


@api.get("/admin/verticals/<name>/diff")
def vertical_diff(name):
    """What applying the pack would change, its problems and conflicts (nothing changes)."""
    _require_admin()
    return json_response(pack_plan.plan(changesets.pack_named(name)).to_json())


@api.post("/admin/verticals/<name>/apply")
def apply_vertical(name):
    """Apply the pack (or upgrade it); ``force=true`` lets an upgrade drop pack fields or
    types holding data, exported first. 409 with every problem, nothing changed."""
    _require_admin()
    pack = changesets.pack_named(name)
    return json_response(changesets.apply(pack, current_actor(), force=_flag("force")).to_json())


@api.post("/admin/verticals/<name>/revert")
def revert_vertical(name):
    """Undo the pack exactly; ``force=true`` when its fields or types hold data (exported first)."""
    _require_admin()
    return json_response(changesets.revert(name, current_actor(), force=_flag("force")).to_json())
