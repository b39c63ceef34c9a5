"""Prometheus metrics at ``GET /metrics``: requests by endpoint, method and status, the run
time of background jobs, and the depth of job queues counted at scrape time.

Under ``accord serve`` every worker writes its figures to files in a folder of the
instance (prometheus_client's multiprocess mode, switched on by ``PROMETHEUS_MULTIPROC_DIR``)
and a scrape, whichever worker answers it, adds up those of all workers. prometheus_client
picks that mode when it is first imported, so it is imported here on first use only: the
server sets the variable after the app may already have been built (``accord demo``).

When the setting ``METRICS_TOKEN`` is set, a scrape must send ``Authorization: Bearer
<token>``; without it, keep ``/metrics`` off the public network.
"""

import hmac
import logging
import os
import threading

from flask import Blueprint, current_app, request

from .logs import request_seconds

log = logging.getLogger("accord.metrics")

bp = Blueprint("metrics", __name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"
"""The endpoint label of requests that matched no route (404, 405), whatever their path."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
QUEUE_SOURCES = "accord.queue_depth"


def init_metrics(app):
    """Count and time every request of ``app`` (after its request id and start are set)."""
    app.after_request(_observe_request)


def observe_job(name, outcome, seconds):
    """Record one run of the background job ``name`` that ended with ``outcome`` (e.g.
    ``succeeded``, ``failed``, ``retried``) after ``seconds``."""
    instruments = _instruments()
    instruments.jobs.labels(job=name, outcome=outcome).inc()
    instruments.job_seconds.labels(job=name, outcome=outcome).observe(seconds)


def register_queue_depth(source, queue="default", app=None):
    """Export ``accord_queue_depth{queue, state}`` from ``source()``, a dict of state to
    count, called at every scrape (so every worker reports the same figure, and nothing is
    stored between scrapes). Registering ``queue`` again replaces its source.

    :param app: the app whose ``/metrics`` exports it; default the current app.
    """
    app = app or current_app._get_current_object()
    app.extensions.setdefault(QUEUE_SOURCES, {})[queue] = source


@bp.get("/metrics")
def scrape():
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from .api import json_response

    token = current_app.config["ACCORD"]["METRICS_TOKEN"]
    if token and not _bearer_matches(token):
        return json_response({"error": {"code": "unauthorized", "message": "Send 'Authorization: Bearer <token>' "
                                        "with the METRICS_TOKEN setting."}}, 401,
                             {"WWW-Authenticate": 'Bearer realm="accord-metrics"'})
    return generate_latest(_scrape_registry()), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def _bearer_matches(token):
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


def _observe_request(response):
    rule = request.url_rule
    labels = {"endpoint": rule.endpoint if rule is not None else UNMATCHED,
              "method": request.method if request.method in METHODS else "other",
              "status": str(response.status_code)}
    instruments = _instruments()
    instruments.requests.labels(**labels).inc()
    instruments.request_seconds.labels(**labels).observe(request_seconds())
    return response


class _Instruments:
    """The metrics this process records into (its own files in multiprocess mode)."""

    def __init__(self):
        from prometheus_client import Counter, Histogram

        request_labels = ("endpoint", "method", "status")
        self.requests = Counter("accord_http_requests", "HTTP requests answered.", request_labels)
        self.request_seconds = Histogram("accord_http_request_duration_seconds",
                                         "Time to answer an HTTP request.", request_labels)
        self.jobs = Counter("accord_jobs", "Background job runs.", ("job", "outcome"))
        self.job_seconds = Histogram("accord_job_duration_seconds", "Run time of background jobs.",
                                     ("job", "outcome"), buckets=JOB_BUCKETS)


_built = []
_building = threading.Lock()


def _instruments():
    """This process's instruments, built once: two threads answering a fresh worker's first
    requests must not both register them (prometheus_client refuses a second time series)."""
    if not _built:
        with _building:
            if not _built:
                _built.append(_Instruments())
    return _built[0]


def _scrape_registry():
    """This scrape's registry: every worker's figures (or this process's), plus the queue
    depths computed now."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    sources = current_app.extensions.get(QUEUE_SOURCES)
    if sources:
        registry.register(_QueueDepth(dict(sources)))
    return registry


class _QueueDepth:
    """A collector of ``accord_queue_depth`` from the registered sources; a source that fails
    is logged and left out, the rest of the scrape goes on."""

    def __init__(self, sources):
        self.sources = sources

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("accord_queue_depth", "Background jobs by queue and state, counted at scrape time.",
                                   labels=("queue", "state"))
        for queue, source in sorted(self.sources.items()):
            try:
                counts = source()
            except Exception:  # noqa: BLE001 - one broken source must not blank the scrape
                log.exception("could not count the jobs of queue %s", queue)
                continue
            for state, count in sorted(counts.items()):
                family.add_metric((queue, str(state)), count)
        yield family


def prepare_multiprocess_folder(folder):
    """Point prometheus_client at ``folder`` for this process and the workers it starts;
    call before anything imports prometheus_client."""
    os.environ[MULTIPROCESS_ENV] = str(folder)


def empty_multiprocess_folder(folder):
    """Start from zero: remove the figures that earlier servers left in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.db"):
        leftover.unlink()


def forget_worker(pid):
    """A worker exited: drop its live gauges (its counters and histograms stay counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
