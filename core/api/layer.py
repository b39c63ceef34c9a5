"""The instance's own layer through the API (:mod:`accord.core.local_layer`): declared
record types, terms, pipelines and stages, choices and shared views. Administrators only;
everything made here has origin ``local`` and is refused where it belongs to a pack."""

from flask import Response, request

from .. import local_layer
from ..errors import BadRequest, Forbidden
from ..registry import current_accord
from . import api, current_actor, json_response, request_json
from .meta import type_to_json


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators change this instance's types, labels, stages, choices and shared views.")


def _flag(name):
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false.", {name: ["Give true or false."]})
    return raw in ("true", "1")


@api.post("/types")
def declare_type():
    _require_admin()
    rt = local_layer.declare_local_type(request_json())
    return json_response(type_to_json(rt, current_accord().catalog()), 201, {"Location": f"{api.url_prefix}/types/{rt.key}"})


@api.delete("/types/<type_key>")
def remove_type(type_key):
    _require_admin()
    local_layer.remove_local_type(type_key, purge=_flag("purge"))
    return Response(status=204)


@api.get("/terms")
def list_terms():
    _require_admin()
    return json_response({"data": [local_layer.term_json(row) for row in local_layer.list_terms()]})


@api.put("/terms/<path:target>")
def set_term(target):
    _require_admin()
    return json_response(local_layer.term_json(local_layer.set_term(target, request_json())))


@api.delete("/terms/<path:target>")
def delete_term(target):
    _require_admin()
    local_layer.delete_term(target)
    return Response(status=204)


@api.post("/pipelines")
def create_pipeline():
    _require_admin()
    pipeline = local_layer.create_local_pipeline(request_json())
    return json_response(pipeline.to_json(), 201, {"Location": f"{api.url_prefix}/pipelines/{pipeline.key}"})


@api.post("/pipelines/<key>/stages")
def add_stage(key):
    _require_admin()
    return json_response(local_layer.add_stage(key, request_json()).to_json(), 201)


@api.patch("/pipelines/<key>/stages/<stage>")
def change_stage(key, stage):
    _require_admin()
    return json_response(local_layer.change_stage(key, stage, request_json()).to_json())


@api.delete("/pipelines/<key>/stages/<stage>")
def remove_stage(key, stage):
    _require_admin()
    local_layer.remove_stage(key, stage)
    return Response(status=204)


@api.post("/types/<type_key>/fields/<name>/choices")
def add_choice(type_key, name):
    _require_admin()
    return json_response(local_layer.choice_json(local_layer.add_choice(type_key, name, request_json())), 201)


@api.delete("/types/<type_key>/fields/<name>/choices/<key>")
def remove_choice(type_key, name, key):
    _require_admin()
    local_layer.remove_choice(type_key, name, key)
    return Response(status=204)


@api.get("/views")
def list_views():
    _require_admin()
    record_type = request.args.get("record_type")
    if record_type is not None and current_accord().catalog().type(record_type) is None:
        return json_response({"data": []})
    return json_response({"data": [local_layer.view_json(row) for row in local_layer.list_shared_views(record_type)]})


@api.post("/views")
def add_view():
    _require_admin()
    row = local_layer.add_shared_view(request_json())
    return json_response(local_layer.view_json(row), 201)


@api.delete("/views/<int:view_id>")
def remove_view(view_id):
    _require_admin()
    local_layer.remove_shared_view(view_id)
    return Response(status=204)
