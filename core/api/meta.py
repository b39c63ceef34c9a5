"""Endpoints about the schema rather than one record: types, custom fields, pipelines,
forecast, global search and the OpenAPI document."""

from flask import request

from .. import permissions, search as search_index
from ..models import SearchEntry
from ..customfields import add_field, field_to_json, remove_field
from ..db import db
from ..errors import BadRequest, Forbidden, NotFound
from ..forecast import GROUPS, forecast, parse_month_bound
from ..openapi import openapi_document
from ..registry import current_accord
from . import api, current_actor, json_response, request_json

MAX_SEARCH_LIMIT = 100


def type_to_json(rt, catalog):
    pipeline = catalog.pipeline_for(rt) if rt.pipeline else None
    return {
        "key": rt.key, "label": rt.label, "plural_label": rt.plural_label, "plural": rt.plural,
        "description": rt.description, "origin": rt.origin, "title_fields": list(rt.title_fields),
        "default_sort": rt.default_sort, "pipeline": pipeline.key if pipeline else None,
        "timeline": rt.timeline,
        "fields": [field_to_json(f) for f in rt.fields.values()],
        "relations": [{"name": r.name, "target": r.target, "label": r.label} for r in rt.relations],
    }


@api.get("/types")
def list_types():
    catalog = current_accord().catalog()
    return json_response({"data": [type_to_json(rt, catalog) for rt in catalog.types.values()]})


@api.get("/types/<type_key>")
def get_type(type_key):
    catalog = current_accord().catalog()
    rt = catalog.type(type_key)
    if rt is None:
        raise NotFound(f"There is no record type {type_key!r}.")
    return json_response(type_to_json(rt, catalog))


def _require_admin():
    """Changing the schema is an administrator's job (finer roles arrive with accounts)."""
    if not current_actor().is_admin:
        raise Forbidden("Only administrators add or remove fields.")


@api.post("/types/<type_key>/fields")
def create_field(type_key):
    _require_admin()
    f = add_field(type_key, request_json(), current_actor())
    return json_response(field_to_json(f), 201)


@api.delete("/types/<type_key>/fields/<name>")
def delete_field(type_key, name):
    _require_admin()
    purge = request.args.get("purge", "false").lower() in {"1", "true"}
    remove_field(type_key, name, purge=purge)
    return "", 204


@api.get("/pipelines")
def list_pipelines():
    catalog = current_accord().catalog()
    return json_response({"data": [p.to_json() for p in catalog.pipelines.values()]})


@api.get("/pipelines/<key>")
def get_pipeline(key):
    pipeline = current_accord().catalog().pipelines.get(key)
    if pipeline is None:
        raise NotFound(f"There is no pipeline {key!r}.")
    return json_response(pipeline.to_json())


@api.get("/forecast")
def get_forecast():
    raw_groups = request.args.get("group_by")
    groups = tuple(g.strip() for g in raw_groups.split(",") if g.strip()) if raw_groups else GROUPS
    result = forecast(
        current_accord().catalog(), current_actor(),
        pipeline_key=request.args.get("pipeline"),
        group_by=groups,
        start=parse_month_bound(request.args.get("from"), "from"),
        end=parse_month_bound(request.args.get("to"), "to", end=True),
    )
    return json_response(result)


@api.get("/search")
def global_search():
    query = request.args.get("q", "")
    try:
        limit = int(request.args.get("limit", 20))
    except ValueError:
        raise BadRequest("limit must be a whole number.", {"limit": ["Not a whole number."]}) from None
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_SEARCH_LIMIT}.", {"limit": ["Out of range."]})
    accord = current_accord()
    catalog = accord.catalog()
    types = [t for t in request.args.get("type", "").split(",") if t]
    unknown = [t for t in types if catalog.type(t) is None]
    if unknown:
        raise BadRequest("Unknown record type.", {"type": [f"No record type {unknown[0]!r}."]})
    visible = permissions.visible_entries(current_actor(), catalog, SearchEntry.__table__)
    results = search_index.search(db.session, query, limit=limit, record_types=types or list(catalog.types),
                                  visible=visible)
    for plugin_name, provider in catalog.registrations.search_providers:
        results.extend(permissions.only_readable(current_actor(), catalog, list(provider(accord.app, query, limit))))
    results.sort(key=lambda r: -r["score"])
    for result in results:
        rt = catalog.type(result["type"])
        result["label"] = rt.label if rt else result["type"]
        result["url"] = f"/api/v1/{rt.plural}/{result['id']}" if rt else None
    return json_response({"data": results[:limit], "query": query})


@api.get("/openapi.json")
def openapi():
    return json_response(openapi_document(current_accord().catalog()))
