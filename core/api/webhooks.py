"""``/api/v1/admin/webhooks``: subscribe URLs to record events, follow their deliveries
and replay them. Administrators only."""

from flask import Response, request

from .. import webhooks
from ..errors import BadRequest, Forbidden
from ..query import MAX_LIMIT
from . import api, current_actor, json_response, request_json


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators manage webhooks.")


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


@api.get("/admin/webhooks")
def list_webhooks():
    _require_admin()
    return json_response({"data": [webhooks.subscription_json(row) for row in webhooks.subscriptions()]})


@api.post("/admin/webhooks")
def create_webhook():
    _require_admin()
    row, secret = webhooks.subscribe(request_json(), current_actor())
    return json_response(webhooks.subscription_json(row, secret), 201,
                         {"Location": f"{api.url_prefix}/admin/webhooks/{row.id}"})


@api.get("/admin/webhooks/<int:subscription_id>")
def webhook_info(subscription_id):
    _require_admin()
    return json_response(webhooks.subscription_json(webhooks.get_subscription(subscription_id)))


@api.patch("/admin/webhooks/<int:subscription_id>")
def update_webhook(subscription_id):
    _require_admin()
    return json_response(webhooks.subscription_json(webhooks.change(subscription_id, request_json())))


@api.delete("/admin/webhooks/<int:subscription_id>")
def delete_webhook(subscription_id):
    _require_admin()
    webhooks.unsubscribe(subscription_id)
    return Response(status=204)


@api.get("/admin/webhooks/<int:subscription_id>/deliveries")
def list_deliveries(subscription_id):
    """Newest first; ``status``, ``event_id``, ``limit`` and ``cursor`` (from ``next_cursor``)."""
    _require_admin()
    limit = _whole_number("limit", 50, 1, MAX_LIMIT)
    before = _whole_number("cursor", None, 1, 2**63 - 1)
    rows = webhooks.deliveries(subscription_id, request.args.get("status"), request.args.get("event_id"),
                               limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return json_response({"data": [webhooks.delivery_json(row) for row in rows],
                          "next_cursor": str(rows[-1].id) if more else None})


@api.get("/admin/webhooks/deliveries/<int:delivery_id>")
def delivery_info(delivery_id):
    _require_admin()
    row = webhooks.get_delivery(delivery_id)
    return json_response(webhooks.delivery_json(row, webhooks.attempts_of(delivery_id)))


@api.post("/admin/webhooks/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id):
    _require_admin()
    return json_response(webhooks.delivery_json(webhooks.replay(delivery_id)), 202)
