"""Request ids, one access line per request, and the log formats of ``accord serve``.

Every request gets an id: the caller's ``X-Request-ID`` when it is a short token, else a
new one. It is echoed in the response's ``X-Request-ID`` and carried by every log record
made while the request is handled, whichever logger makes it, so that one request's lines
can be found among those of every worker. :func:`logging_config` is the logging set-up
that ``accord serve`` hands to gunicorn: JSON lines (one object per record) or text.
"""

import json
import logging
import re
import time
import uuid
from datetime import datetime, timezone

from flask import g, has_request_context, request, request_started

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
"""What the access line adds to a record, beside its message."""
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(request_id)s: %(message)s"

access_log = logging.getLogger("accord.access")


def init_request_logging(app):
    """Give each request of ``app`` an id and an access line (and install the record factory
    that stamps log records with the id). Registered before any other request hook, so the
    access line sees the final status and every other hook's records carry the id."""
    _stamp_records_with_request_id()
    request_started.connect(_start_request, app)
    app.after_request(_finish_request)


def current_request_id():
    """The id of the request being handled, or ``None`` outside a request."""
    return g.get("request_id") if has_request_context() else None


def request_seconds():
    """Seconds since the request being handled started."""
    return time.perf_counter() - g.request_started


def _start_request(sender, **extra):
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response):
    response.headers[REQUEST_ID_HEADER] = g.request_id
    if access_log.isEnabledFor(logging.INFO):
        duration_ms = round(request_seconds() * 1000, 1)
        access_log.info("%s %s %s %.1f ms", request.method, request.path, response.status_code, duration_ms,
                        extra={"method": request.method, "path": request.path, "status": response.status_code,
                               "duration_ms": duration_ms})
    return response


def _stamp_records_with_request_id():
    """Make every log record carry ``request_id`` while a request is handled (once per
    process; a record factory reaches records of every logger and handler, pytest's too)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_id", False):
        return

    def make_record(*args, **kwargs):
        record = previous(*args, **kwargs)
        request_id = current_request_id()
        if request_id is not None:
            record.request_id = request_id
        return record

    make_record.stamps_request_id = True
    logging.setLogRecordFactory(make_record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request_id, pid, the
    access fields when present and the traceback of an exception."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def text_formatter():
    """The ``text`` format: one readable line, ``-`` where a record has no request id."""
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


def logging_config(log_format):
    """A :func:`logging.config.dictConfig` set-up (gunicorn's ``logconfig_dict``): every
    record, gunicorn's own included, goes to standard error in ``log_format`` (``json`` or
    ``text``). Gunicorn's access log is off: the app writes its own access line, which
    knows the endpoint and the request id."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": text_formatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"accord": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "accord",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
