"""Probes for load balancers and orchestrators, public like the sign-in page.

``GET /healthz`` says the process answers and touches nothing else: a failing database
must not get every worker restarted. ``GET /readyz`` says whether this process can serve
now: the database answers ``SELECT 1`` and the job broker, when ``BROKER_URL`` is set,
accepts a connection. A failing check answers 503 naming it, with a short reason that
never repeats a password from a URL.
"""

import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app
from sqlalchemy import make_url, text

from .api import json_response
from .db import db

log = logging.getLogger("accord.health")

bp = Blueprint("health", __name__)

BROKER_CONNECT_SECONDS = 2
REASON_LENGTH = 200


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    settings = current_app.config["ACCORD"]
    checks, reasons = {}, {}
    for name, check, secret in (("database", _database_answers, make_url(settings["DATABASE_URL"]).password),
                                ("broker", _broker_answers, _password(settings["BROKER_URL"]))):
        try:
            checks[name] = check(settings)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready, with its reason
            checks[name] = "failed"
            reasons[name] = _reason(exc, secret)
            log.warning("not ready: %s: %s", name, reasons[name])
    if reasons:
        return json_response({"status": "not ready", "checks": checks, "reasons": reasons}, 503)
    return json_response({"status": "ready", "checks": checks})


def _database_answers(settings):
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return "ok"


def _broker_answers(settings):
    url = settings["BROKER_URL"]
    if not url:
        return "not configured"
    import kombu

    with kombu.Connection(url, connect_timeout=BROKER_CONNECT_SECONDS) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0)
    return "ok"


def _password(url):
    return urlsplit(url).password if url else None


def _reason(exc, secret):
    """The error's type and first line (a database driver's own message, not SQLAlchemy's
    wrapping with the statement), cut short, with ``secret`` masked."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    reason = f"{type(cause).__name__}: {lines[0].strip()}" if lines else type(cause).__name__
    if secret:
        reason = reason.replace(secret, "***")
    return reason[:REASON_LENGTH]
