"""Outgoing webhooks: record events POSTed, signed, to the URLs administrators subscribe.

Nothing is lost between a write and its webhooks: :func:`record_events` runs inside the
write's transaction and stores one delivery per matching subscription (the outbox) with
a job that sends it, so a write that rolls back sends nothing and a committed one is
sent even if the process dies right after. The delivery job (:func:`deliver`) signs the
body, logs every attempt and raises on anything but a 2xx so the job queue retries it
with backoff; after the last attempt the delivery is ``failed`` until replayed.

The active subscriptions are cached with the catalog, per schema generation: a write
with no subscription costs no query, and a change to the subscriptions bumps the
generation so every worker sees it on its next request.
"""

import hashlib
import hmac
import http.client
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update

from .. import __version__
from . import jobs
from .db import db, utcnow
from .errors import BadRequest, Conflict, NotFound, RecordInvalid
from .fields import format_datetime
from .models import DELIVERY_STATUSES, WEBHOOK_EVENTS, Job, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .records import write_unit
from .registry import bump_generation, current_accord

DELIVERY_JOB = "accord.webhook_delivery"
DELIVERY_QUEUE = "webhooks"
"""The broker queue of the deliveries, so slow receivers can get workers of their own."""
MAX_ATTEMPTS = 16
"""With the first retry after 10 s, doubling up to an hour: about 7 hours of retries."""
BACKOFF_SECONDS = 10
LEASE_SECONDS = 120
TIMEOUT_SECONDS = 10
ERROR_CHARS = 500
MAX_URL_CHARS = 2000
SECRET_CHARS = (16, 200)
MAX_DESCRIPTION_CHARS = 500
SERVICE_EVENTS = {"create": "created", "update": "updated", "delete": "deleted", "restore": "restored"}
FIELDS = ("url", "events", "record_types", "secret", "active", "description")
ROUTES = "webhook_routes"


def delivery_jobs():
    """The job that sends one delivery (registered by the core's ``accord_jobs``)."""
    return [{"name": DELIVERY_JOB, "run": deliver, "max_attempts": MAX_ATTEMPTS,
             "backoff_seconds": BACKOFF_SECONDS, "lease_seconds": LEASE_SECONDS, "queue": DELIVERY_QUEUE}]


# Recording events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """What one active subscription wants: its events, and its record types (``None``: all)."""

    subscription_id: int
    events: frozenset
    record_types: frozenset | None

    def wants(self, event, record_type):
        return event in self.events and (self.record_types is None or record_type in self.record_types)


def active_routes():
    """The active subscriptions as :class:`Route` objects, read once per schema generation."""
    return current_accord().catalog().memo(ROUTES, _load_routes)


def _load_routes():
    rows = db.session.execute(
        select(WebhookSubscription.id, WebhookSubscription.events, WebhookSubscription.record_types)
        .where(WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.id)
    ).all()
    return tuple(Route(row.id, frozenset(row.events), None if row.record_types is None else frozenset(row.record_types))
                 for row in rows)


def record_events(session, record, event, changes, stage_move, actor):
    """Store the webhook deliveries of one write, in its transaction: ``event`` is the
    service's (``create``, ``update``, ``delete``, ``restore``), ``stage_move`` adds a
    ``stage_changed`` event. Costs nothing but a cache lookup without subscriptions."""
    routes = active_routes()
    if not routes:
        return
    names = [SERVICE_EVENTS[event]] + (["stage_changed"] if stage_move else [])
    for name in names:
        targets = [route.subscription_id for route in routes if route.wants(name, record.type.key)]
        if targets:
            body = _event_body(name, record, changes, stage_move, actor)
            _store(session, body, targets)


def record_erasure(session, record, fields, actor):
    """Store the ``erased`` event of a record whose personal ``fields`` a privacy erasure
    emptied, in the erasure's transaction: subscribed systems learn which copies to erase.
    The event names the fields and carries the record as it is now, never a removed value."""
    targets = [route.subscription_id for route in active_routes() if route.wants("erased", record.type.key)]
    if targets:
        body = _event_body("erased", record, {}, None, actor)
        body["fields"] = sorted(fields)
        _store(session, body, targets)


def _event_body(name, record, changes, stage_move, actor):
    body = {
        "event_id": str(uuid.uuid4()), "event": name, "occurred_at": format_datetime(record.values["updated_at"]),
        "record_type": record.type.key, "record_id": record.id, "actor_id": actor.user_id,
        "record": record.to_json(),
    }
    if name == "updated":
        body["changes"] = {field: {"from": _json_value(record.type, field, old), "to": _json_value(record.type, field, new)}
                           for field, (old, new) in changes.items()}
    if name == "stage_changed":
        pipeline, from_stage, to_stage = stage_move
        body["stage"] = {"pipeline": pipeline.key, "from": from_stage, "to": to_stage}
    return body


def _json_value(record_type, name, value):
    f = record_type.fields.get(name)
    if value is None or f is None:
        return sorted(value) if isinstance(value, (list, set, tuple)) else value
    return f.kind_impl.to_json(value)


def _store(session, body, subscription_ids):
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
    table = WebhookDelivery.__table__
    for subscription_id in subscription_ids:
        delivery_id = session.execute(insert(table).values(
            subscription_id=subscription_id, event_id=body["event_id"], event=body["event"],
            record_type=body["record_type"], record_id=body["record_id"], body=raw, status="pending",
            attempts=0, replays=0, created_at=utcnow(),
        ).returning(table.c.id)).scalar_one()
        jobs.enqueue(DELIVERY_JOB, key=job_key(delivery_id, 0), delivery_id=delivery_id, replay=0)


def job_key(delivery_id, replay):
    """The key of the job that sends ``delivery_id`` (``replay`` 0 for the first sending)."""
    return str(delivery_id) if replay == 0 else f"{delivery_id}/replay-{replay}"


# Sending --------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx; the job queue tries again later."""


def signature(secret, timestamp, body):
    """The ``Accord-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(app, delivery_id, replay):
    """The :data:`DELIVERY_JOB`: POST one delivery to its subscription's URL and log the
    attempt. A delivery already sent, cancelled, or replayed since (a newer job sends it)
    is left alone; one whose subscription is gone or switched off is cancelled."""
    table, subscriptions = WebhookDelivery.__table__, WebhookSubscription.__table__
    found = db.session.execute(
        select(table.c.status, table.c.replays, table.c.event_id, table.c.event, table.c.body,
               subscriptions.c.url, subscriptions.c.secret, subscriptions.c.active)
        .select_from(table.outerjoin(subscriptions, subscriptions.c.id == table.c.subscription_id))
        .where(table.c.id == delivery_id)
    ).first()
    db.session.rollback()
    if found is None or found.replays != replay or found.status in ("delivered", "cancelled"):
        return
    if not found.active:
        with write_unit() as session:
            session.execute(update(table).where(table.c.id == delivery_id, table.c.status == "pending")
                            .values(status="cancelled"))
        return
    body = found.body.encode()
    status_code, milliseconds, error = _post(found.url, body, {
        "Content-Type": "application/json",
        "User-Agent": f"Accord-Webhooks/{__version__}",
        "Accord-Event": found.event,
        "Accord-Event-Id": found.event_id,
        "Accord-Delivery": str(delivery_id),
        "Accord-Signature": signature(found.secret, int(time.time()), body),
    })
    now = utcnow()
    with write_unit() as session:
        session.execute(insert(WebhookAttempt.__table__).values(
            delivery_id=delivery_id, replay=replay, attempted_at=now, status_code=status_code,
            duration_ms=milliseconds, error=error))
        session.execute(update(table).where(table.c.id == delivery_id)
                        .values(attempts=table.c.attempts + 1, last_attempt_at=now, last_error=error))
        if error is None:
            outcome = {"status": "delivered", "delivered_at": now}
        else:
            outcome = {"status": "failed" if _last_attempt(session, delivery_id, replay) else "pending"}
        session.execute(update(table).where(table.c.id == delivery_id, table.c.replays == replay,
                                            table.c.status != "cancelled").values(**outcome))
    if error is not None:
        raise DeliveryFailed(f"delivery {delivery_id} to {found.url}: {error}")


def _last_attempt(session, delivery_id, replay):
    """Whether the job sending this delivery is on its last attempt."""
    job = session.execute(select(Job.attempts, Job.max_attempts)
                          .where(Job.name == DELIVERY_JOB, Job.key == job_key(delivery_id, replay))).first()
    return job is None or job.attempts >= job.max_attempts


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx, logged and retried, never followed."""

    def redirect_request(self, *args, **kwargs):
        return None


def _post(url, body, headers):
    """POST ``body``; ``(status code or None, milliseconds, error or None)``."""
    opener = urllib.request.build_opener(_NoRedirects)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    status_code, error = None, None
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status_code = response.status
            response.read(ERROR_CHARS)
    except urllib.error.HTTPError as exc:
        status_code = exc.code
        with exc:
            answer = " ".join(exc.read(ERROR_CHARS).decode("utf-8", "replace").split())
        error = f"HTTP {exc.code}" + (f": {answer}" if answer else "")
    except urllib.error.URLError as exc:
        error = f"{type(exc.reason).__name__}: {exc.reason}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    milliseconds = round((time.perf_counter() - started) * 1000)
    if error is None and not 200 <= status_code < 300:
        error = f"HTTP {status_code}"
    return status_code, milliseconds, error and error[:ERROR_CHARS]


# Subscriptions --------------------------------------------------------------------------


def subscribe(spec, actor=None):
    """Subscribe a URL from ``spec`` (``url``, ``events`` (default all), ``record_types``
    (default all), ``secret`` (default generated), ``active``, ``description``); returns
    the subscription and its secret, which is never answered again."""
    values = _validate(spec, partial=False)
    values.setdefault("events", list(WEBHOOK_EVENTS))
    values.setdefault("secret", secrets.token_urlsafe(32))
    now = utcnow()
    row = WebhookSubscription(created_at=now, updated_at=now, created_by=actor.user_id if actor else None,
                              **{"record_types": None, "active": True, "description": "", **values})
    with write_unit() as session:
        session.add(row)
        session.flush()
        bump_generation(session)
    current_accord().forget_catalog()
    return row, values["secret"]


def change(subscription_id, spec):
    """Apply a partial change; switching a subscription off cancels its pending deliveries."""
    values = _validate(spec, partial=True)
    with write_unit() as session:
        row = session.get(WebhookSubscription, subscription_id, with_for_update=True)
        if row is None:
            raise NotFound(f"Webhook {subscription_id} does not exist.")
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        if values.get("active") is False:
            _cancel_pending(session, subscription_id)
        bump_generation(session)
    current_accord().forget_catalog()
    return row


def unsubscribe(subscription_id):
    """Delete a subscription; its pending deliveries are cancelled and its log kept."""
    with write_unit() as session:
        row = session.get(WebhookSubscription, subscription_id, with_for_update=True)
        if row is None:
            raise NotFound(f"Webhook {subscription_id} does not exist.")
        _cancel_pending(session, subscription_id)
        session.delete(row)
        bump_generation(session)
    current_accord().forget_catalog()


def _cancel_pending(session, subscription_id):
    session.execute(update(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id,
                                                  WebhookDelivery.status == "pending").values(status="cancelled"))


def subscriptions():
    return db.session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id)).scalars().all()


def get_subscription(subscription_id):
    row = db.session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"Webhook {subscription_id} does not exist.")
    return row


def _validate(spec, partial):
    """The values of ``spec``, checked; :class:`RecordInvalid` names each bad field."""
    if not isinstance(spec, dict):
        raise BadRequest("The webhook must be a JSON object.")
    errors = {name: ["Unknown field."] for name in spec if name not in FIELDS}
    if not partial and "url" not in spec:
        errors["url"] = ["Missing data for required field."]
    values = {}
    for name, check in (("url", _check_url), ("events", _check_events), ("record_types", _check_record_types),
                        ("secret", _check_secret), ("active", _check_active), ("description", _check_description)):
        if name in spec:
            try:
                values[name] = check(spec[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
    if errors:
        raise RecordInvalid(errors, message="The webhook is not valid.")
    return values


def _check_url(value):
    if not isinstance(value, str) or not value:
        raise ValueError("Give the URL to send events to.")
    if len(value) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"Not a URL: at most {MAX_URL_CHARS} characters, no spaces.")
    try:
        parts = urlsplit(value)
        parts.port
    except ValueError as exc:
        raise ValueError(f"Not a URL: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("Use an http:// or https:// URL.")
    if not parts.hostname:
        raise ValueError("The URL needs a host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("Put no credentials in the URL; receivers check the signature instead.")
    return value


def _check_events(value):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"Give a list of one or more events: {', '.join(WEBHOOK_EVENTS)}.")
    unknown = sorted(set(value) - set(WEBHOOK_EVENTS))
    if unknown:
        raise ValueError(f"Unknown event {', '.join(map(repr, unknown))}; events: {', '.join(WEBHOOK_EVENTS)}.")
    return [event for event in WEBHOOK_EVENTS if event in value]


def _check_record_types(value):
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("Give a list of record types, or null for every type.")
    active = current_accord().catalog().types
    unknown = sorted(set(value) - set(active))
    if unknown:
        raise ValueError(f"There is no record type {', '.join(map(repr, unknown))}; "
                         f"active types: {', '.join(sorted(active))}.")
    return sorted(set(value))


def _check_secret(value):
    low, high = SECRET_CHARS
    if not isinstance(value, str) or not low <= len(value) <= high or not value.isascii() \
            or not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError(f"Use {low} to {high} printable ASCII characters without spaces.")
    return value


def _check_active(value):
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


def _check_description(value):
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION_CHARS:
        raise ValueError(f"Give text of at most {MAX_DESCRIPTION_CHARS} characters.")
    return value


def subscription_json(row, secret=None):
    """A subscription as the API answers it; the secret only when it is just created."""
    body = {
        "id": row.id, "url": row.url, "events": list(row.events), "record_types": row.record_types,
        "active": row.active, "description": row.description, "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at), "created_by": row.created_by,
    }
    if secret is not None:
        body["secret"] = secret
    return body


# Deliveries -----------------------------------------------------------------------------


def deliveries(subscription_id, status=None, event_id=None, limit=50, before=None):
    """A subscription's deliveries, newest first, optionally of one status or event, with
    ids below ``before`` (the previous page's last id)."""
    get_subscription(subscription_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}.", {"status": ["Unknown status."]})
    statement = (select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
                 .order_by(WebhookDelivery.id.desc()).limit(limit))
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if event_id is not None:
        statement = statement.where(WebhookDelivery.event_id == event_id)
    if before is not None:
        statement = statement.where(WebhookDelivery.id < before)
    return db.session.execute(statement).scalars().all()


def get_delivery(delivery_id):
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return row


def attempts_of(delivery_id):
    return db.session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                              .order_by(WebhookAttempt.id)).scalars().all()


def replay(delivery_id):
    """Send a delivery again, whatever became of it: the same body and event id, a new job."""
    with write_unit() as session:
        row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
        subscription = session.get(WebhookSubscription, row.subscription_id) if row.subscription_id else None
        if subscription is None or not subscription.active:
            state = "deleted" if subscription is None else "switched off"
            raise Conflict(f"The webhook of delivery {delivery_id} is {state}; nothing can be sent.")
        row.replays += 1
        row.status, row.delivered_at = "pending", None
        session.flush()
        jobs.enqueue(DELIVERY_JOB, key=job_key(row.id, row.replays), delivery_id=row.id, replay=row.replays)
    return row


def delivery_json(row, attempts=None):
    """A delivery as the API answers it; with ``attempts``, its body and attempt log too."""
    body = {
        "id": row.id, "subscription_id": row.subscription_id, "event_id": row.event_id, "event": row.event,
        "record_type": row.record_type, "record_id": row.record_id, "status": row.status,
        "attempt_count": row.attempts, "replays": row.replays, "created_at": _time(row.created_at),
        "last_attempt_at": _time(row.last_attempt_at), "last_error": row.last_error,
        "delivered_at": _time(row.delivered_at),
    }
    if attempts is not None:
        body["payload"] = json.loads(row.body)
        body["attempts"] = [{
            "id": a.id, "replay": a.replay, "attempted_at": _time(a.attempted_at), "status_code": a.status_code,
            "duration_ms": a.duration_ms, "error": a.error,
        } for a in attempts]
    return body


def _time(value):
    return None if value is None else format_datetime(value)
