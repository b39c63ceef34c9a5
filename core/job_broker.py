"""Background jobs on Celery, over Redis or RabbitMQ (the setting ``BROKER_URL``).

The ``job`` row stays the job's truth; a message only says "jobs N, M... may be due now".
Its one task, ``accord.run_jobs([[job_id, name], ...])``, calls
:func:`accord.core.jobs.run_each`, which claims, runs, retries or fails each job, so a
message that comes twice, early, or for a job that is done or held by a live lease changes
nothing. Jobs one commit queued travel together, up to ``JOBS_PER_MESSAGE`` to a message
(fewer when there are few, so the worker's processes share them): Celery's cost per
message is then paid once for many jobs. Messages are acknowledged after the run
(``task_acks_late``): a worker killed mid-job leaves its message to the broker and its job
to the lease.

Messages are sent by the commit that queues a job (:func:`accord.core.jobs.dispatch`), by
the task after a failed attempt (due at the retry), and by ``accord scheduler``
(:func:`sweep`), which resends what has no message on its way: due jobs never sent (the
broker was down, or the wait was longer than ``SEND_AHEAD_SECONDS``) and running jobs
whose lease ran out. ``job.dispatched_at`` records each send, so any number of schedulers
send each such job once, not every second.
"""

import logging
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import case, literal, or_, select, update

from .config import ConfigError, load_config
from .db import UTCDateTime, db, utcnow
from .jobs import DEFAULT_LEASE_SECONDS, DEFAULT_QUEUE, definitions, queue_scheduled, run_each, schedules
from .models import Job
from .records import write_unit

log = logging.getLogger("accord.jobs")

TASK = "accord.run_jobs"
CELERY = "accord_celery"
SEND_AHEAD_SECONDS = 600
"""The longest wait a message is sent ahead of its job's time for (a worker holds it,
unacknowledged, until then); a job due later is sent by the scheduler when due."""
RESEND_SECONDS = 60
"""A due job whose last message went this long ago without running it gets another (a
message the broker lost); a job that meanwhile ran or runs is not claimed twice."""
SWEEP_GRACE_SECONDS = 5
"""A job that just came due is left this long to the process that queued it, which sends
its message right after its commit."""
SWEEP_LIMIT = 500
JOBS_PER_MESSAGE = 20
MESSAGES_AT_LEAST = 8
"""Due jobs sent together are split into at least this many messages (while each holds at
least one job), so the worker's pool processes run them side by side."""
SEND_CHUNK = 500
VISIBILITY_MARGIN_SECONDS = 60
BROKER_CONNECT_SECONDS = 2
TICK_SECONDS = 1.0
NO_BROKER = ("there is no job broker: set ACCORD_BROKER_URL (redis://... or amqp://...); "
             "without one, the job threads of 'accord serve' run the jobs")


def require_broker(settings):
    """The settings loaded from ``settings``; refused when they name no broker."""
    config = load_config(settings)
    if not config["BROKER_URL"]:
        raise ConfigError(NO_BROKER)
    return config


_CELERY_LOCK = threading.Lock()


def celery_app(app):
    """The Celery app that sends and runs the jobs of the Accord ``app``: one per app, made
    once even when a server's threads send their first jobs at the same moment."""
    celery = app.extensions.get(CELERY)
    if celery is None:
        with _CELERY_LOCK:
            celery = app.extensions.get(CELERY)
            if celery is None:
                celery = _make_celery(app)
                celery.producer_pool  # made lazily, and not thread-safely, on first use otherwise
                app.extensions[CELERY] = celery
    return celery


def _make_celery(app):
    from celery import Celery

    with app.app_context():
        longest_lease = max((job["lease_seconds"] for job in definitions().values()), default=DEFAULT_LEASE_SECONDS)
    celery = Celery("accord", broker=app.config["ACCORD"]["BROKER_URL"], set_as_current=False)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        enable_utc=True,
        # Redis hands an unacknowledged message to another worker after this long: longer
        # than a message may wait (sent ahead) and then run (the lease), so a job that is
        # still running is not sent twice; one whose worker died is resent at its lease's end.
        broker_transport_options={"visibility_timeout": SEND_AHEAD_SECONDS + longest_lease + VISIBILITY_MARGIN_SECONDS},
        broker_connection_retry_on_startup=True,
        # A commit that cannot reach the broker gives up after two tries of 2 s at most: its
        # jobs stay queued and the scheduler sends them later.
        broker_connection_timeout=BROKER_CONNECT_SECONDS,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )

    @celery.task(name=TASK, ignore_result=True)
    def run_jobs(jobs):
        """Run each ``[job_id, name]`` of ``jobs`` once; then send those that are queued
        again for their retry, or for their time if this message came early."""
        states = run_each(app, [(job_id, name) for job_id, name in jobs])
        again = [job_id for (job_id, name), state in zip(jobs, states) if state in (None, "queued")]
        if again:
            send(app, again)

    return celery


# Sending ---------------------------------------------------------------------------------


def send(app, job_ids):
    """Send a message for each of ``job_ids`` that is queued, to arrive at its ``run_at``:
    at once when due, not at all when that is more than ``SEND_AHEAD_SECONDS`` away (the
    scheduler sends it then)."""
    table = Job.__table__
    job_ids = list(job_ids)
    with app.app_context():
        now = utcnow()
        arrives = case((table.c.run_at > now, table.c.run_at), else_=literal(now, UTCDateTime()))
        rows = []
        with write_unit() as session:
            for start in range(0, len(job_ids), SEND_CHUNK):
                rows += session.execute(
                    update(table)
                    .where(table.c.id.in_(job_ids[start:start + SEND_CHUNK]), table.c.state == "queued",
                           table.c.run_at <= now + timedelta(seconds=SEND_AHEAD_SECONDS))
                    .values(dispatched_at=arrives)
                    .returning(table.c.id, table.c.name, table.c.run_at)
                ).all()
        _publish(app, rows, now)


def sweep(app, limit=SWEEP_LIMIT):
    """Send a message for each job that is due with none on its way: queued ones whose
    time has come (``SWEEP_GRACE_SECONDS`` ago) and running ones whose lease ran out (their
    worker died), unless one was sent since then less than ``RESEND_SECONDS`` ago. Returns
    their ids."""
    table = Job.__table__
    with app.app_context():
        now = utcnow()
        unsent = _unsent(table, now)
        ids = db.session.execute(select(table.c.id).where(unsent).order_by(table.c.run_at, table.c.id)
                                 .limit(limit)).scalars().all()
        db.session.rollback()
        if not ids:
            return []
        with write_unit() as session:  # the condition again: another scheduler may have sent them
            rows = session.execute(update(table).where(table.c.id.in_(ids), unsent).values(dispatched_at=now)
                                   .returning(table.c.id, table.c.name, table.c.run_at)).all()
        _publish(app, rows, now)
    return sorted(row.id for row in rows)


def _unsent(table, now):
    stale = now - timedelta(seconds=RESEND_SECONDS)

    def none_since(moment):
        return table.c.dispatched_at.is_(None) | (table.c.dispatched_at < moment) | (table.c.dispatched_at < stale)

    return or_(
        (table.c.state == "queued") & (table.c.run_at <= now - timedelta(seconds=SWEEP_GRACE_SECONDS))
        & none_since(table.c.run_at),
        (table.c.state == "running") & (table.c.lease_until < now) & none_since(table.c.lease_until),
    )


def _publish(app, rows, now):
    """Send the messages of ``rows`` (id, name, run_at) to their jobs' queues: due jobs of
    a queue together (:func:`_messages`), a later one on its own with its countdown. On a
    broker failure, forget that the rest were sent so the scheduler sends them as soon as
    it can."""
    if not rows:
        return
    celery = celery_app(app)
    queues = {name: job["queue"] for name, job in definitions().items()}
    due, later = {}, []
    for row in rows:
        if row.run_at > now:
            later.append(([row], queues.get(row.name, DEFAULT_QUEUE), (row.run_at - now).total_seconds()))
        else:
            due.setdefault(queues.get(row.name, DEFAULT_QUEUE), []).append(row)
    messages = [(batch, queue, 0) for queue, queued in due.items() for batch in _messages(queued)] + later
    position = 0
    try:
        with celery.producer_or_acquire() as producer:
            for position, (batch, queue, countdown) in enumerate(messages):
                celery.send_task(TASK, args=[[[row.id, row.name] for row in batch]], queue=queue,
                                 countdown=countdown or None, producer=producer)
    except Exception as exc:  # noqa: BLE001 - the jobs stay queued; the scheduler resends them
        unsent = [row.id for batch, _, _ in messages[position:] for row in batch]
        log.warning("could not send jobs %s to the broker (%s: %s); the scheduler resends them",
                    unsent, type(exc).__name__, exc)
        table = Job.__table__
        with write_unit() as session:
            session.execute(update(table).where(table.c.id.in_(unsent)).values(dispatched_at=None))


def _messages(rows):
    """``rows`` split into messages of at most ``JOBS_PER_MESSAGE`` jobs, and into at least
    ``MESSAGES_AT_LEAST`` messages while there are that many jobs."""
    size = max(1, min(JOBS_PER_MESSAGE, len(rows) // MESSAGES_AT_LEAST))
    return [rows[start:start + size] for start in range(0, len(rows), size)]


# Processes -------------------------------------------------------------------------------


def run_worker(settings, concurrency=None, queues=(), metrics_address=None, log_format="json"):
    """Run a Celery worker for the instance of ``settings`` until SIGTERM (which lets the
    running jobs finish); returns its exit status.

    The app is built as ``accord serve`` builds it, so jobs run with the instance's enabled
    plugins. ``queues`` default to every queue an active job uses; ``metrics_address``
    ``(host, port)`` serves the job metrics of this worker's processes at ``/metrics``."""
    config = require_broker(settings)
    _log_to_stderr(config["LOG_FORMAT"] or log_format)
    if metrics_address:
        _serve_metrics(Path(config["INSTANCE_PATH"]) / "metrics" / f"worker-{metrics_address[1]}", metrics_address)
    from celery import signals

    from .app import create_app

    app = create_app(settings)
    signals.setup_logging.connect(_keep_logging, weak=False)
    signals.worker_process_init.connect(lambda **kwargs: _forget_connections(app), weak=False)
    with app.app_context():
        used = sorted({job["queue"] for job in definitions().values()})
    queues = list(queues) or used
    unused = sorted(set(queues) - set(used))
    if unused:
        log.warning("no active job uses the queue(s) %s (they use %s)", ", ".join(unused), ", ".join(used))
    worker = celery_app(app).Worker(
        hostname=f"accord-{os.getpid()}@{socket.gethostname()}", concurrency=concurrency, queues=queues,
        loglevel="INFO", quiet=True, without_mingle=True, without_gossip=True,
    )
    log.info("worker taking jobs from %s (queues %s)", _safe_url(config["BROKER_URL"]), ", ".join(queues))
    worker.start()
    return worker.exitcode or 0


def _keep_logging(**kwargs):
    """Celery leaves logging alone when a receiver of ``setup_logging`` exists: it is set up
    already, in Accord's format."""


def _forget_connections(app):
    """A forked pool process must not share its parent's database connections."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def _serve_metrics(folder, address):
    """Collect the metrics of every process of this worker in ``folder`` and serve them."""
    from .metrics import empty_multiprocess_folder, prepare_multiprocess_folder

    prepare_multiprocess_folder(folder)
    empty_multiprocess_folder(folder)
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    start_http_server(address[1], addr=address[0], registry=registry)


def run_scheduler(settings, log_format="json", tick_seconds=TICK_SECONDS):
    """Every second, queue the scheduled jobs' slots and send due jobs with no message on
    their way, until SIGTERM or SIGINT; any number may run (each slot is queued once)."""
    config = require_broker(settings)
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *args: stopping.set())
    _log_to_stderr(config["LOG_FORMAT"] or log_format)
    from .app import create_app

    app = create_app(settings)
    with app.app_context():
        scheduled = schedules()
    log.info("scheduler sending due jobs to %s; schedules: %s", _safe_url(config["BROKER_URL"]),
             ", ".join(f"{name} ({expression})" for name, expression in sorted(scheduled.items())) or "none")
    while not stopping.is_set():
        tick(app)
        stopping.wait(tick_seconds - time.time() % tick_seconds)  # on the second, so no slot is skipped
    log.info("scheduler stopped")


def tick(app):
    """One round of the scheduler; a failure (the database or the broker away) is logged and
    the next round tries again."""
    for what, step in (("queue the scheduled jobs", queue_scheduled), ("send the due jobs", sweep)):
        try:
            step(app)
        except Exception:  # noqa: BLE001 - the scheduler outlives any one failure
            log.exception("the scheduler could not %s", what)


def _log_to_stderr(log_format):
    import logging.config

    from .logs import logging_config

    logging.config.dictConfig(logging_config(log_format))
    logging.captureWarnings(True)


def _safe_url(url):
    """The broker URL without its password."""
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)
