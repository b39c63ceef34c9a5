"""The OpenAPI 3.1 document, generated from the catalog, so custom fields and plugin
types appear the moment they exist."""

from .. import __version__
from .audit import ACTIONS as AUDIT_ACTIONS
from .query import MAX_LIMIT, DEFAULT_LIMIT

ERROR = {"$ref": "#/components/schemas/Error"}


def openapi_document(catalog):
    """The whole document for the current catalog (built once per schema generation)."""
    return catalog.memo("openapi", lambda: _build(catalog))


def _build(catalog):
    paths = {**_meta_paths()}
    for path, operations in _layer_paths().items():
        paths.setdefault(path, {}).update(operations)
    schemas = {"Error": _error_schema(), "SearchResult": _search_result_schema(), "AuditEntry": _audit_entry_schema()}
    for rt in sorted(catalog.types.values(), key=lambda t: t.key):
        name = _schema_name(rt)
        schemas[name] = _record_schema(rt)
        schemas[f"{name}Create"] = _write_schema(rt, create=True)
        schemas[f"{name}Update"] = _write_schema(rt, create=False)
        paths.update(_record_paths(rt, name))
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Accord CRM API", "version": __version__,
                 "description": "Records, pipelines and search of an Accord instance."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {code: {"description": text, "content": _json(ERROR)} for code, text in (
                ("400", "Malformed request"), ("401", "Missing or bad token"), ("403", "Not allowed"),
                ("404", "Not found"), ("409", "Conflict"), ("412", "Stale If-Match"),
                ("413", "Body too large"), ("422", "Validation failed"),
            )},
            "parameters": _shared_parameters(),
        },
    }
    return document


def _schema_name(rt):
    return "".join(part.capitalize() for part in rt.key.split("_"))


def _json(schema):
    return {"application/json": {"schema": schema}}


def _errors(*codes):
    return {code: {"$ref": f"#/components/responses/{code}"} for code in codes}


def _field_schema(f, nullable):
    schema = f.kind_impl.describe(f)
    if f.label:
        schema["title"] = f.label
    if f.help:
        schema["description"] = f.help
    if nullable:
        return {"anyOf": [schema, {"type": "null"}], **({"title": f.label} if f.label else {})}
    return schema


def _record_schema(rt):
    properties = {
        "id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "created_by": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "version": {"type": "integer", "minimum": 1},
        "deleted_at": {"type": "string", "format": "date-time"},
    }
    for name, f in rt.fields.items():
        properties[name] = _field_schema(f, nullable=True)
    for relation in rt.relations:
        properties[relation.name] = {"type": "array", "items": {"type": "integer"}}
    return {"type": "object", "properties": properties,
            "required": ["id", "created_at", "updated_at", "version"]}


def _write_schema(rt, create):
    properties = {}
    required = []
    for name, f in rt.writable_fields.items():
        properties[name] = _field_schema(f, nullable=not f.required)
        if create and f.required:
            required.append(name)
    for relation in rt.relations:
        properties[relation.name] = {"type": "array", "items": {"type": "integer", "minimum": 1}}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _list_parameters(rt):
    params = [{"$ref": f"#/components/parameters/{p}"} for p in ("limit", "cursor", "q", "trashed")]
    sortable = ["id", "created_at", "updated_at"] + [n for n, f in rt.fields.items() if f.sortable]
    params.append({
        "name": "sort", "in": "query", "required": False,
        "description": f"Comma-separated fields, '-' for descending. Sortable: {', '.join(sortable)}.",
        "schema": {"type": "string", "default": rt.default_sort},
    })
    for name, f in rt.fields.items():
        params.append({"name": name, "in": "query", "required": False,
                       "description": f"Equals (contains, for multi-choice). Also {name}__gte, __lte, __in, __isnull.",
                       "schema": {"type": "string"}})
    return params


def _record_paths(rt, name):
    ref = {"$ref": f"#/components/schemas/{name}"}
    item_params = [{"name": "record_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    list_body = {"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": ref},
        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }}
    tag = [rt.plural_label]
    paths = {
        f"/api/v1/{rt.plural}": {
            "get": {"tags": tag, "operationId": f"list_{rt.plural}", "summary": f"List {rt.plural_label.lower()}",
                    "parameters": _list_parameters(rt),
                    "responses": {"200": {"description": "A page", "content": _json(list_body)}, **_errors("400", "401")}},
            "post": {"tags": tag, "operationId": f"create_{rt.key}", "summary": f"Create a {rt.label.lower()}",
                     "parameters": [{"$ref": "#/components/parameters/idempotency"}],
                     "requestBody": {"required": True, "content": _json({"$ref": f"#/components/schemas/{name}Create"})},
                     "responses": {"201": {"description": "Created", "content": _json(ref)},
                                   **_errors("400", "401", "403", "409", "413", "422")}},
        },
        f"/api/v1/{rt.plural}/{{record_id}}": {
            "parameters": item_params,
            "get": {"tags": tag, "operationId": f"get_{rt.key}", "summary": f"Read a {rt.label.lower()}",
                    "responses": {"200": {"description": "The record", "content": _json(ref)}, **_errors("401", "404")}},
            "patch": {"tags": tag, "operationId": f"update_{rt.key}", "summary": f"Change a {rt.label.lower()}",
                      "parameters": [{"$ref": "#/components/parameters/ifMatch"}],
                      "requestBody": {"required": True, "content": _json({"$ref": f"#/components/schemas/{name}Update"})},
                      "responses": {"200": {"description": "Updated", "content": _json(ref)},
                                    **_errors("400", "401", "403", "404", "409", "412", "413", "422")}},
            "delete": {"tags": tag, "operationId": f"delete_{rt.key}", "summary": f"Move a {rt.label.lower()} to the trash",
                       "parameters": [{"$ref": "#/components/parameters/ifMatch"}],
                       "responses": {"204": {"description": "In the trash"}, **_errors("401", "403", "404", "412")}},
        },
        f"/api/v1/{rt.plural}/{{record_id}}/restore": {
            "parameters": item_params,
            "post": {"tags": tag, "operationId": f"restore_{rt.key}", "summary": "Restore from the trash",
                     "responses": {"200": {"description": "Restored", "content": _json(ref)}, **_errors("401", "404", "412")}},
        },
        f"/api/v1/{rt.plural}/{{record_id}}/timeline": {
            "parameters": item_params,
            "get": {"tags": tag, "operationId": f"timeline_{rt.key}", "summary": "Activities on this record",
                    "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
                    "responses": {"200": {"description": "A page of activities", "content": _json({
                        "type": "object", "properties": {
                            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Activity"}},
                            "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]}}})},
                        **_errors("400", "401", "404")}},
        },
    }
    paths[f"/api/v1/{rt.plural}/{{record_id}}/audit"] = {
        "parameters": item_params,
        "get": {"tags": tag, "operationId": f"audit_{rt.key}", "summary": "This record's audit trail, newest first",
                "parameters": _audit_parameters(one_record=True),
                "responses": {"200": {"description": "A page of audit entries", "content": _json(_audit_page())},
                              **_errors("400", "401", "403", "404")}},
    }
    if rt.pipeline:
        paths[f"/api/v1/{rt.plural}/{{record_id}}/stage-history"] = {
            "parameters": item_params,
            "get": {"tags": tag, "operationId": f"stage_history_{rt.key}", "summary": "Stage changes, oldest first",
                    "responses": {"200": {"description": "History", "content": _json({"type": "object"})}, **_errors("401", "404")}},
        }
    return paths


def _meta_paths():
    obj = {"type": "object"}
    return {
        "/api/v1/types": {"get": {"tags": ["Schema"], "operationId": "list_types", "summary": "Every record type with its fields",
                                  "responses": {"200": {"description": "Types", "content": _json(obj)}, **_errors("401")}}},
        "/api/v1/types/{type_key}": {"get": {"tags": ["Schema"], "operationId": "get_type", "summary": "One record type",
                                             "parameters": [{"name": "type_key", "in": "path", "required": True, "schema": {"type": "string"}}],
                                             "responses": {"200": {"description": "Type", "content": _json(obj)}, **_errors("401", "404")}}},
        "/api/v1/types/{type_key}/fields": {"post": {
            "tags": ["Schema"], "operationId": "add_field", "summary": "Add a custom field",
            "parameters": [{"name": "type_key", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": _json(_field_spec_schema())},
            "responses": {"201": {"description": "The field", "content": _json(obj)}, **_errors("400", "401", "404", "422")}}},
        "/api/v1/types/{type_key}/fields/{name}": {"delete": {
            "tags": ["Schema"], "operationId": "remove_field", "summary": "Remove a custom field (data kept unless purge=true)",
            "parameters": [{"name": "type_key", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "purge", "in": "query", "required": False, "schema": {"type": "boolean"}}],
            "responses": {"204": {"description": "Removed"}, **_errors("401", "404", "422")}}},
        "/api/v1/pipelines": {"get": {"tags": ["Pipelines"], "operationId": "list_pipelines", "summary": "Pipelines and stages",
                                      "responses": {"200": {"description": "Pipelines", "content": _json(obj)}, **_errors("401")}}},
        "/api/v1/pipelines/{key}": {"get": {"tags": ["Pipelines"], "operationId": "get_pipeline", "summary": "One pipeline",
                                            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                                            "responses": {"200": {"description": "Pipeline", "content": _json(obj)}, **_errors("401", "404")}}},
        "/api/v1/forecast": {"get": {
            "tags": ["Pipelines"], "operationId": "forecast", "summary": "Weighted forecast of deals",
            "parameters": [
                {"name": "pipeline", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "group_by", "in": "query", "required": False, "schema": {"type": "string", "default": "month,owner,territory"}},
                {"name": "from", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "to", "in": "query", "required": False, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Forecast rows", "content": _json(obj)}, **_errors("400", "401")}}},
        "/api/v1/search": {"get": {
            "tags": ["Search"], "operationId": "search", "summary": "Ranked search across every type, prefix-matching",
            "parameters": [
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "Words to find; without any, the answer is empty"},
                {"name": "type", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
            "responses": {"200": {"description": "Results", "content": _json({
                "type": "object", "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/SearchResult"}},
                                                 "query": {"type": "string"}}})}, **_errors("400", "401")}}},
        "/api/v1/audit": {"get": {
            "tags": ["Audit"], "operationId": "audit_trail",
            "summary": "Who created, changed, trashed, restored or exported what, newest first (administrators)",
            "parameters": _audit_parameters(one_record=False),
            "responses": {"200": {"description": "A page of audit entries", "content": _json(_audit_page())},
                          **_errors("400", "401", "403")}}},
        **_privacy_paths(),
        **_vertical_paths(),
        **_automation_paths(),
        "/api/v1/openapi.json": {"get": {"tags": ["Schema"], "operationId": "openapi", "summary": "This document", "security": [],
                                         "responses": {"200": {"description": "OpenAPI document", "content": _json(obj)}}}},
    }


def _privacy_paths():
    """A person's data exported or erased (administrators; :mod:`accord.core.privacy`)."""
    contact_id = [{"name": "contact_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    export = {"type": "object", "required": ["exported_at", "contact", "records", "audit", "plugins"], "properties": {
        "exported_at": {"type": "string", "format": "date-time"},
        "contact": {"$ref": "#/components/schemas/Contact"},
        "records": {"type": "object", "description": "Records referring to the contact, by record type key",
                    "additionalProperties": {"type": "array", "items": {"type": "object"}}},
        "audit": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
        "plugins": {"type": "object", "description": "What each plugin's privacy handler holds, by handler name",
                    "additionalProperties": {}},
    }}
    erased = {"type": "object", "required": ["contact_id", "erased"], "properties": {
        "contact_id": {"type": "integer"},
        "erased": {"type": "array", "items": {
            "type": "object", "required": ["record_type", "record_id", "fields"], "properties": {
                "record_type": {"type": "string"}, "record_id": {"type": "integer"},
                "fields": {"type": "array", "items": {"type": "string"}}}}},
    }}
    return {
        "/api/v1/contacts/{contact_id}/privacy-export": {"parameters": contact_id, "get": {
            "tags": ["Privacy"], "operationId": "privacy_export",
            "summary": "Everything held about a contact, across core and plugins (administrators)",
            "responses": {"200": {"description": "The export", "content": _json(export)},
                          **_errors("401", "403", "404")}}},
        "/api/v1/contacts/{contact_id}/erase": {"parameters": contact_id, "post": {
            "tags": ["Privacy"], "operationId": "privacy_erase",
            "summary": "Erase a contact's personal data and that of records referring to it (administrators)",
            "responses": {"200": {"description": "The fields emptied, by record", "content": _json(erased)},
                          **_errors("401", "403", "404")}}},
    }


def _automation_paths():
    """Automation rules and their runs (administrators; :mod:`accord.core.automation`)."""
    from .automation import ACTION_KEYS, OPS, TRIGGERS

    nullable_text = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    condition = {"type": "object", "required": ["field", "op"], "properties": {
        "field": {"type": "string"}, "op": {"type": "string", "enum": list(OPS)}, "value": {}}}
    action = {"type": "object", "required": ["do"], "properties": {"do": {"type": "string", "enum": list(ACTION_KEYS)}}}
    definition = {
        "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
        "label": {"type": "string", "minLength": 1, "maxLength": 200},
        "record_type": {"type": "string"}, "trigger": {"type": "string", "enum": list(TRIGGERS)},
        "stage": {"type": "string", "description": "For trigger stage_entered"},
        "field": {"type": "string", "description": "For trigger field_changed"},
        "conditions": {"type": "array", "items": condition}, "actions": {"type": "array", "minItems": 1, "items": action},
        "enabled": {"type": "boolean"},
    }
    write = {"type": "object", "additionalProperties": False, "properties": definition}
    rule = {"type": "object", "required": ["key", "label", "record_type", "trigger", "stage", "field", "conditions",
                                           "actions", "enabled", "origin", "created_at", "updated_at"],
            "properties": {**definition, "label": {"type": "string"}, "stage": nullable_text, "field": nullable_text,
                           "conditions": {"type": "array", "items": {"type": "object"}},
                           "actions": {"type": "array", "items": {"type": "object"}},
                           "origin": {"type": "string", "description": "local, or pack:<name>"},
                           "created_at": {"type": "string", "format": "date-time"},
                           "updated_at": {"type": "string", "format": "date-time"}}}
    run = {"type": "object", "required": ["id", "rule", "record_type", "record_id", "status", "detail", "at"],
           "properties": {"id": {"type": "integer"}, "rule": {"type": "string"}, "record_type": {"type": "string"},
                          "record_id": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                          "status": {"type": "string", "enum": ["ok", "failed"]}, "detail": {"type": "string"},
                          "at": {"type": "string", "format": "date-time"}}}
    tag = ["Automation"]
    key = [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/api/v1/automation/rules": {
            "get": {"tags": tag, "operationId": "list_automation_rules", "summary": "Every automation rule (administrators)",
                    "responses": {"200": {"description": "Rules", "content": _json({
                        "type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": rule}}})},
                        **_errors("401", "403")}},
            "post": {"tags": tag, "operationId": "create_automation_rule", "summary": "Add a local automation rule",
                     "requestBody": {"required": True, "content": _json({
                         **write, "required": ["key", "label", "record_type", "trigger", "actions"]})},
                     "responses": {"201": {"description": "The rule", "content": _json(rule)},
                                   **_errors("400", "401", "403", "409", "413", "422")}},
        },
        "/api/v1/automation/rules/{key}": {
            "parameters": key,
            "get": {"tags": tag, "operationId": "get_automation_rule", "summary": "One automation rule",
                    "responses": {"200": {"description": "The rule", "content": _json(rule)}, **_errors("401", "403", "404")}},
            "patch": {"tags": tag, "operationId": "update_automation_rule",
                      "summary": "Switch a rule on or off, or change a local rule's definition",
                      "requestBody": {"required": True, "content": _json(write)},
                      "responses": {"200": {"description": "The rule", "content": _json(rule)},
                                    **_errors("400", "401", "403", "404", "409", "413", "422")}},
            "delete": {"tags": tag, "operationId": "delete_automation_rule", "summary": "Remove a rule (its runs stay)",
                       "responses": {"204": {"description": "Removed"}, **_errors("401", "403", "404")}},
        },
        "/api/v1/automation/runs": {"get": {
            "tags": tag, "operationId": "list_automation_runs", "summary": "What rules did, newest first",
            "parameters": [
                {"name": "rule", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": ["ok", "failed"]}},
                {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
            "responses": {"200": {"description": "A page of runs", "content": _json({
                "type": "object", "required": ["data", "next_cursor"], "properties": {
                    "data": {"type": "array", "items": run},
                    "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]}}})},
                **_errors("400", "401", "403")}}},
    }


def _vertical_paths():
    """Vertical packs: listed, diffed, applied and reverted (administrators;
    :mod:`accord.core.changesets`)."""
    name = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    force = {"name": "force", "in": "query", "required": False, "schema": {"type": "boolean"},
             "description": "Go ahead where pack fields or types hold data: export it first, then drop it"}
    text = {"type": "string"}
    nullable_text = {"anyOf": [text, {"type": "null"}]}
    lines = {"type": "array", "items": text}
    problem = {"type": "object", "required": ["file", "key", "reason"],
               "properties": {"file": text, "key": text, "reason": text}}
    entry = {"type": "object", "required": ["name", "status"], "properties": {
        "name": text, "title": text, "summary": text, "version": nullable_text, "applied_version": nullable_text,
        "status": {"type": "string", "enum": ["not applied", "applied", "upgrade available", "broken", "missing"]},
        "source": nullable_text, "problems": {"type": "array", "items": problem},
        "changesets": {"type": "array", "items": {"type": "integer"}}}}
    plan = {"type": "object", "required": ["pack", "version", "status", "ok", "lines", "changes", "problems", "conflicts"],
            "properties": {
                "pack": text, "version": text, "applied_version": nullable_text,
                "status": {"type": "string", "enum": ["new", "applied", "upgrade"]}, "ok": {"type": "boolean"},
                "lines": lines, "problems": {"type": "array", "items": problem},
                "conflicts": {"type": "array", "items": problem},
                "holds_data": {"type": "array", "items": {"type": "object"}},
                "changes": {"type": "array", "items": {"type": "object", "required": ["kind", "target", "line"], "properties": {
                    "kind": text, "target": text, "line": text, "noop": {"type": "boolean"},
                    "before": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                    "after": {"anyOf": [{"type": "object"}, {"type": "null"}]}}}}}}
    outcome = {"type": "object", "required": ["pack", "version", "status", "lines", "changesets"], "properties": {
        "pack": text, "version": text, "status": {"type": "string", "enum": ["applied", "upgraded", "already applied",
                                                                           "reverted"]},
        "lines": lines, "changesets": {"type": "array", "items": {"type": "integer"}}, "export_path": nullable_text}}
    tag = ["Verticals"]
    return {
        "/api/v1/admin/verticals": {"get": {
            "tags": tag, "operationId": "list_verticals", "summary": "Vertical packs found or applied here (administrators)",
            "responses": {"200": {"description": "Packs", "content": _json({
                "type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": entry}}})},
                **_errors("401", "403")}}},
        "/api/v1/admin/verticals/{name}/diff": {"parameters": name, "get": {
            "tags": tag, "operationId": "diff_vertical",
            "summary": "What applying a pack would change, its problems and conflicts (administrators)",
            "responses": {"200": {"description": "The plan", "content": _json(plan)},
                          **_errors("401", "403", "404", "422")}}},
        "/api/v1/admin/verticals/{name}/apply": {"parameters": name, "post": {
            "tags": tag, "operationId": "apply_vertical", "parameters": [force],
            "summary": "Apply a pack or upgrade it, in one transaction; 409 lists every problem (administrators)",
            "responses": {"200": {"description": "What was done", "content": _json(outcome)},
                          **_errors("400", "401", "403", "404", "409", "422")}}},
        "/api/v1/admin/verticals/{name}/revert": {"parameters": name, "post": {
            "tags": tag, "operationId": "revert_vertical", "parameters": [force],
            "summary": "Undo exactly what a pack changed; 409 when a later pack builds on it or data needs force "
                       "(administrators)",
            "responses": {"200": {"description": "What was undone", "content": _json(outcome)},
                          **_errors("400", "401", "403", "404", "409")}}},
    }


def _layer_paths():
    """The instance's own layer: declared types, terms, pipelines and stages, choices and
    shared views (administrators; :mod:`accord.core.local_layer`)."""
    obj = {"type": "object"}
    text = {"type": "string"}
    nullable_text = {"anyOf": [text, {"type": "null"}]}
    writes = ("400", "401", "403", "404", "409", "413", "422")
    term = {"type": "object", "required": ["target", "label", "plural_label", "origin"], "properties": {
        "target": text, "label": text, "plural_label": nullable_text, "origin": text}}
    view = {"type": "object", "required": ["id", "record_type", "name", "query", "origin"], "properties": {
        "id": {"type": "integer"}, "record_type": text, "name": text, "query": text, "origin": nullable_text,
        "created_at": text}}
    choice = {"type": "object", "required": ["record_type", "field", "key", "label", "origin"], "properties": {
        "record_type": text, "field": text, "key": text, "label": text, "position": {"type": "integer"}, "origin": text}}
    stage_body = {"key": text, "label": text, "probability": {"type": "integer"},
                  "outcome": {"type": "string", "enum": ["open", "won", "lost"]}, "position": {"type": "integer"},
                  "after": text, "allowed_next": {"type": "array", "items": text}}

    def path(*names):
        return [{"name": name, "in": "path", "required": True, "schema": text} for name in names]

    def body(properties, required=()):
        return {"required": True, "content": _json({"type": "object", "properties": properties,
                                                    **({"required": list(required)} if required else {})})}

    def answer(code, description, schema=obj):
        return {code: {"description": description, "content": _json(schema)}}

    removed = {"204": {"description": "Removed"}}
    return {
        "/api/v1/types": {"post": {
            "tags": ["Schema"], "operationId": "declare_type",
            "summary": "Declare a record type without code, in this instance's layer (administrators)",
            "requestBody": body({"key": text, "label": text, "plural_label": text, "plural": text,
                                 "title_fields": {"type": "array", "items": text}, "description": text,
                                 "timeline": {"type": "boolean"}, "pipeline": text},
                                ("key", "label", "plural_label", "plural")),
            "responses": {**answer("201", "The type, as GET /types/{type_key} shows it"), **_errors(*writes)}}},
        "/api/v1/types/{type_key}": {"delete": {
            "tags": ["Schema"], "operationId": "remove_type",
            "summary": "Remove a type declared here (409 while it holds records, unless purge=true)",
            "parameters": path("type_key") + [{"name": "purge", "in": "query", "required": False,
                                               "schema": {"type": "boolean"}}],
            "responses": {**removed, **_errors("400", "401", "403", "404", "409")}}},
        "/api/v1/terms": {"get": {
            "tags": ["Schema"], "operationId": "list_terms", "summary": "Renamed labels (administrators)",
            "responses": {**answer("200", "Terms", {"type": "object", "required": ["data"], "properties": {
                "data": {"type": "array", "items": term}}}), **_errors("401", "403")}}},
        "/api/v1/terms/{target}": {
            "parameters": [{"name": "target", "in": "path", "required": True, "schema": text,
                            "description": "type:<key>, field:<type>.<name> or stage:<pipeline>.<stage>"}],
            "put": {"tags": ["Schema"], "operationId": "set_term",
                    "summary": "Rename a type, field or stage (its key never changes)",
                    "requestBody": body({"label": text, "plural_label": text}, ("label",)),
                    "responses": {**answer("200", "The term", term), **_errors(*writes)}},
            "delete": {"tags": ["Schema"], "operationId": "delete_term", "summary": "Remove a local term",
                       "responses": {**removed, **_errors("401", "403", "404", "409")}}},
        "/api/v1/pipelines": {"post": {
            "tags": ["Pipelines"], "operationId": "create_pipeline", "summary": "Add a local pipeline on a record type",
            "requestBody": body({"key": text, "record_type": text, "label": text,
                                 "stages": {"type": "array", "items": {"type": "object", "properties": stage_body}}},
                                ("key", "record_type", "label", "stages")),
            "responses": {**answer("201", "The pipeline"), **_errors(*writes)}}},
        "/api/v1/pipelines/{key}/stages": {"parameters": path("key"), "post": {
            "tags": ["Pipelines"], "operationId": "add_stage",
            "summary": "Add a local stage at a position (0 first) or after a stage (default last)",
            "requestBody": body(stage_body, ("key", "label")),
            "responses": {**answer("201", "The stage"), **_errors(*writes)}}},
        "/api/v1/pipelines/{key}/stages/{stage}": {
            "parameters": path("key", "stage"),
            "patch": {"tags": ["Pipelines"], "operationId": "change_stage",
                      "summary": "Change a stage's probability or position, a local stage's label",
                      "requestBody": body({"label": text, "probability": {"type": "integer"},
                                           "position": {"type": "integer"}}),
                      "responses": {**answer("200", "The stage"), **_errors(*writes)}},
            "delete": {"tags": ["Pipelines"], "operationId": "remove_stage",
                       "summary": "Remove a local stage (409 while records sit in it)",
                       "responses": {**removed, **_errors("401", "403", "404", "409")}}},
        "/api/v1/types/{type_key}/fields/{name}/choices": {"parameters": path("type_key", "name"), "post": {
            "tags": ["Schema"], "operationId": "add_choice", "summary": "Add a choice to a choice field",
            "requestBody": body({"key": text, "label": text}, ("key",)),
            "responses": {**answer("201", "The choice", choice), **_errors(*writes)}}},
        "/api/v1/types/{type_key}/fields/{name}/choices/{key}": {"parameters": path("type_key", "name", "key"), "delete": {
            "tags": ["Schema"], "operationId": "remove_choice",
            "summary": "Remove a choice added here (409 while records hold it)",
            "responses": {**removed, **_errors("401", "403", "404", "409", "422")}}},
        "/api/v1/views": {
            "get": {"tags": ["Schema"], "operationId": "list_views", "summary": "Views shared with everyone",
                    "parameters": [{"name": "record_type", "in": "query", "required": False, "schema": text}],
                    "responses": {**answer("200", "Shared views", {"type": "object", "required": ["data"], "properties": {
                        "data": {"type": "array", "items": view}}}), **_errors("401", "403")}},
            "post": {"tags": ["Schema"], "operationId": "add_view",
                     "summary": "Share a list view (a list query string) with everyone",
                     "requestBody": body({"record_type": text, "name": text, "query": text},
                                         ("record_type", "name", "query")),
                     "responses": {**answer("201", "The view", view), **_errors(*writes)}}},
        "/api/v1/views/{view_id}": {
            "parameters": [{"name": "view_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "delete": {"tags": ["Schema"], "operationId": "remove_view", "summary": "Remove a local shared view",
                       "responses": {**removed, **_errors("401", "403", "404", "409")}}},
    }


def _field_spec_schema():
    from .fields import KINDS

    return {"type": "object", "required": ["name", "kind"], "additionalProperties": False, "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "label": {"type": "string", "maxLength": 120},
        "required": {"type": "boolean"}, "pii": {"type": "boolean"}, "sensitive": {"type": "boolean"},
        "indexed": {"type": "boolean"},
        "searchable": {"type": "boolean"}, "help": {"type": "string"},
        "choices": {"type": "array"}, "default": {}, "reference": {"type": "string"},
    }}


def _shared_parameters():
    return {
        "limit": {"name": "limit", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "cursor": {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": "next_cursor from the previous page"},
        "q": {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
              "description": "Full-text filter over searchable fields (prefix match)"},
        "trashed": {"name": "trashed", "in": "query", "required": False, "schema": {"type": "boolean"},
                    "description": "List the trash instead of live records"},
        "ifMatch": {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                    "description": "ETag of the version you read; 412 when it is stale"},
        "idempotency": {"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "maxLength": 255},
                        "description": "Retry-safe create: the same key and body answer the first response again"},
    }


def _audit_parameters(one_record):
    """The audit trail's filters; a record's own trail has no record_type and record_id."""

    def query(name, description, schema=None):
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema or {"type": "string"}}

    params = [] if one_record else [
        query("record_type", "Key of a record type (kept after the type is gone)"),
        query("record_id", "Id of one record; needs record_type", {"type": "integer", "minimum": 1}),
    ]
    return params + [
        query("actor", "Id of the user who acted", {"type": "integer", "minimum": 1}),
        query("source", "The door they came in by: api, web, import, cli, system..."),
        query("action", f"One or more (comma-separated) of {', '.join(AUDIT_ACTIONS)}"),
        query("since", "Entries at or after this moment", {"type": "string", "format": "date-time"}),
        query("until", "Entries at or before this moment", {"type": "string", "format": "date-time"}),
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"},
    ]


def _audit_page():
    return {"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }}


def _audit_entry_schema():
    nullable_id = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    nullable_object = {"anyOf": [{"type": "object"}, {"type": "null"}]}
    return {"type": "object", "required": ["id", "at", "actor_id", "source", "action", "record_type", "record_id"],
            "properties": {
                "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                "actor_id": nullable_id, "actor_name": {"type": "string"}, "source": {"type": "string"},
                "action": {"type": "string", "enum": list(AUDIT_ACTIONS)}, "record_type": {"type": "string"},
                "record_id": nullable_id,
                "changes": {"anyOf": [{"type": "object", "additionalProperties": {
                    "type": "array", "minItems": 2, "maxItems": 2,
                    "description": "[before, after] in the API's JSON form"}}, {"type": "null"}]},
                "details": nullable_object,
                "request_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            }}


def _error_schema():
    return {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "array"}},
        }}}}


def _search_result_schema():
    return {"type": "object", "required": ["type", "id", "title", "score"], "properties": {
        "type": {"type": "string"}, "id": {"type": "integer"}, "title": {"type": "string"},
        "score": {"type": "number"}, "label": {"type": "string"},
        "url": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    }}
