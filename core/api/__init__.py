"""The REST API under ``/api/v1``: JSON in and out, bearer-token authentication, and the
error shape ``{"error": {"code", "message", "fields"}}`` for every failure."""

import json
import logging
import re

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import HTTPException

from .. import jsoncodec
from ..errors import AccordError, BadRequest, Forbidden, HookFailed, Unauthorized
from ..query import MAX_LIMIT
from ..records import Actor, begin_write
from ..registry import current_accord
from ..tokens import authenticate

log = logging.getLogger("accord.api")

api = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
TYPE_NEUTRAL_ENDPOINTS = {"api.list_types", "api.list_pipelines", "api.get_pipeline"}
HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
    413: "payload_too_large", 415: "unsupported_media_type", 422: "validation_failed",
    429: "too_many_requests",
}


def json_response(body, status=200, headers=None):
    """A JSON response serialised once, compactly."""
    return Response(jsoncodec.dumps(body), status=status, headers=headers, mimetype="application/json")


def newest_first_page(fetch, to_json):
    """A page of a log newest first (webhook deliveries, rule runs): ``limit`` (1 to
    ``MAX_LIMIT``, default 50) and ``cursor`` (the ``next_cursor`` of the page before) come
    from the query string; ``fetch(limit, before_id)`` returns up to ``limit`` rows by
    descending id, ``before_id`` ``None`` for the first page."""
    limit = _whole_number_arg("limit", 50, 1, MAX_LIMIT)
    before = _whole_number_arg("cursor", None, 1, 2**63 - 1)
    rows = fetch(limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response({"data": [to_json(row) for row in rows], "next_cursor": str(rows[-1].id) if more else None})


def _whole_number_arg(name, default, low, high):
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


def request_json():
    """The request body as a JSON object; 400 when it is not one."""
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("The request needs a JSON object body.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise BadRequest("The body nests too deeply.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    unstorable = {key: ["Contains a character that cannot be stored (NUL or a lone surrogate)."]
                  for key, value in body.items() if not _storable(value)}
    if unstorable:
        raise BadRequest("Some values cannot be stored.", unstorable)
    return body


UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value, depth=0):
    """Text without NUL and lone surrogates, which no database keeps faithfully."""
    if isinstance(value, str):
        return UNSTORABLE.search(value) is None
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(_storable(k, depth + 1) and _storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v, depth + 1) for v in value)
    return True


def current_actor():
    return g.accord_actor


def require_scope(scope):
    if scope not in g.accord_scopes:
        raise Forbidden(f"This token lacks the {scope!r} scope.")


def require_record_type(key):
    """403 when the request's token is limited to record types other than ``key``."""
    allowed = g.get("accord_record_types")
    if allowed is not None and key not in allowed:
        raise Forbidden(f"This token is limited to the record types {', '.join(sorted(allowed))}; "
                        f"it cannot reach {key!r}.")


def _limit_to_record_types():
    """A type-limited token reaches the endpoints of its record types (``/<plural>...``,
    ``/types/<type_key>...``) and the type-neutral metadata; nothing else (search, forecast,
    admin, endpoints added later), as those show or change other types' records. An unknown
    plural is left to the view, which answers 404."""
    if g.accord_record_types is None or request.endpoint in TYPE_NEUTRAL_ENDPOINTS:
        return
    view_args = request.view_args or {}
    if "type_key" in view_args:
        require_record_type(view_args["type_key"])
    elif "plural" in view_args:
        rt = current_accord().catalog().type_for_plural(view_args["plural"])
        if rt is not None:
            require_record_type(rt.key)
    else:
        raise Forbidden(f"This token is limited to the record types {', '.join(sorted(g.accord_record_types))}; "
                        f"{request.path} is not open to it.")


@api.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'; create one with 'accord tokens create'.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        begin_write()
    found = authenticate(token.strip())
    if found is None:
        raise Unauthorized("The token is unknown, revoked or expired.")
    g.accord_actor = Actor(user_id=found.id, source="api", is_admin=found.is_admin, name=found.name, role=found.role,
                           team_id=found.team_id)
    g.accord_generation = found.schema_generation or 0
    g.accord_scopes = set(found.scopes)
    g.accord_record_types = frozenset(found.record_types) if found.record_types else None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        require_scope("write")
    elif "read" not in g.accord_scopes:
        raise Forbidden("This token lacks the 'read' scope.")
    _limit_to_record_types()
    return None


@api.errorhandler(AccordError)
def _accord_error(exc):
    if isinstance(exc, HookFailed):
        log.error("%s", exc.message, exc_info=exc.__cause__)
    headers = {"WWW-Authenticate": 'Bearer realm="accord"'} if exc.status == 401 else None
    return json_response(exc.to_json(), exc.status, headers)


def is_api_request():
    return request.path.startswith(api.url_prefix + "/") or request.path == api.url_prefix


@api.errorhandler(HTTPException)
def _http_error(exc):
    """An HTTP error as the API's JSON error body (the web UI answers pages instead)."""
    code = HTTP_CODES.get(exc.code, "http_error")
    message = exc.description or exc.name
    if exc.code == 413:
        message = "The request body is larger than this server accepts."
    return json_response({"error": {"code": code, "message": message}}, exc.code)


@api.errorhandler(Exception)
def _unexpected(exc):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_response({"error": {"code": "internal_error", "message": "Something went wrong on our side."}}, 500)


from . import admin, audit, automation, layer, meta, privacy, records, webhooks  # noqa: E402,F401  (routes register on import)
