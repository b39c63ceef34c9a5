"""``/api/v1/admin/webhooks``: subscribe URLs to record events, follow their deliveries
and replay them. Administrators only."""

from flask import Response, request

from .. import webhooks
from ..errors import Forbidden
from . import api, current_actor, json_response, newest_first_page, request_json


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators manage webhooks.")


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
    return newest_first_page(
        lambda limit, before: webhooks.deliveries(subscription_id, request.args.get("status"),
                                                  request.args.get("event_id"), limit, before),
        webhooks.delivery_json)


@api.get("/admin/webhooks/deliveries/<int:delivery_id>")
def delivery_info(delivery_id):
    _require_admin()
    row = webhooks.get_delivery(delivery_id)
    return json_response(webhooks.delivery_json(row, webhooks.attempts_of(delivery_id)))


@api.post("/admin/webhooks/deliveries/<int:delivery_id>/replay")
def replay_delivery(delivery_id):
    _require_admin()
    return json_response(webhooks.delivery_json(webhooks.replay(delivery_id)), 202)
