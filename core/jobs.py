"""Background jobs: plugins declare them through ``accord_jobs``; code queues them with
:func:`enqueue`.

The ``job`` row is a job's truth. :func:`enqueue` writes it in the caller's transaction,
so a rollback queues nothing, and hands it to a runner only after the commit. :func:`run`
is the one place a job is claimed (moved to ``running`` with a lease), run, retried with
exponential backoff, or left ``failed`` with its error after its last attempt. A runner
killed mid-job loses nothing: once the lease runs out, the job is due again.

Two backends run them. Without ``BROKER_URL``, the embedded runner
(:class:`EmbeddedRunner`) runs due jobs on a few threads of each serving process, so one
machine needs nothing else; ``JOBS_THREADS=0`` turns it off (the jobs then wait for
``accord jobs run`` or another process). With ``BROKER_URL``, :func:`dispatch` sends each
job to Celery (:mod:`accord.core.job_broker`): ``accord worker`` runs them, ``accord
scheduler`` resends the ones whose message went missing. Either way a job runs only
through :func:`run`.

A job may also run on a ``schedule`` (a cron expression, in UTC): :func:`queue_scheduled`,
called every second by the embedded runner or by ``accord scheduler``, queues each
schedule's slot once, whichever process asks first.
"""

import json
import logging
import os
import queue
import threading
import time
import traceback
from datetime import datetime, timedelta

from flask import g
from sqlalchemy import bindparam, delete, func, or_, select, update

from .db import db, utcnow
from .errors import BadRequest, Conflict, NotFound
from .models import JOB_STATES, Job
from .records import on_commit_together, write_unit

log = logging.getLogger("accord.jobs")

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_SECONDS = 10
MAX_BACKOFF_SECONDS = 3600
DEFAULT_LEASE_SECONDS = 300
ERROR_CHARS = 4000
POLL_SECONDS = 1.0
RUNNER = "accord_jobs_runner"
DEFAULT_QUEUE = "accord"
SCHEDULE_CATCH_UP_SECONDS = 3600
"""How late a slot of a schedule may still be queued (no scheduler ran at its time); an
older missed slot is skipped, as cron skips the minutes the machine was off."""
SCHEDULE_SLOTS = "accord_schedule_slots"


def definitions():
    """``{name: job}`` of the jobs the active plugins declare, with defaults filled in."""
    from .registry import current_accord

    return {name: _with_defaults(job) for name, job in current_accord().catalog().registrations.jobs.items()}


def _with_defaults(job):
    return {"max_attempts": DEFAULT_MAX_ATTEMPTS, "backoff_seconds": DEFAULT_BACKOFF_SECONDS,
            "lease_seconds": DEFAULT_LEASE_SECONDS, "queue": DEFAULT_QUEUE, "schedule": None, **job}


def enqueue(name, key=None, delay_seconds=0, **arguments):
    """Queue job ``name`` to run with ``arguments`` (JSON values); returns the job's id.

    Inside a write unit the job is written with the unit's other writes and handed to a
    runner after the commit; elsewhere it is committed at once. With ``key``, a job of
    the same name and key that exists already is returned (and not handed over again)
    instead of a new one, so a retried request or a second scheduler queues nothing twice."""
    return _enqueue(name, key, delay_seconds, arguments)[0]


def _enqueue(name, key, delay_seconds, arguments):
    """``(job id, whether it is new)``; only a new job is dispatched."""
    job = definitions().get(name)
    if job is None:
        raise BadRequest(f"There is no job {name!r}; active jobs: {', '.join(sorted(definitions())) or 'none'}.",
                         {"name": ["Unknown job."]})
    try:
        json.dumps(arguments)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"The arguments of job {name!r} must be JSON values: {exc}",
                         {"arguments": ["Not JSON values."]}) from None
    from flask import current_app

    app = current_app._get_current_object()
    now = utcnow()
    row = {"name": name, "key": key, "arguments": arguments, "state": "queued", "attempts": 0,
           "max_attempts": job["max_attempts"], "run_at": now + timedelta(seconds=delay_seconds), "created_at": now}
    table = Job.__table__
    with write_unit() as session:
        job_id = session.execute(_insert_if_new(session, table).values(**row).returning(table.c.id)).scalar()
        new = job_id is not None
        if new:
            _dispatch_after_commit(app, job_id)
        else:
            job_id = session.execute(select(table.c.id).where(table.c.name == name, table.c.key == key)).scalar_one()
    return job_id, new


def _insert_if_new(session, table):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=["name", "key"])


def _dispatch_after_commit(app, job_id):
    """Dispatch ``job_id`` once the write unit commits, with the unit's other jobs."""
    on_commit_together("accord_jobs", job_id, lambda job_ids: dispatch(app, job_ids))


def dispatch(app, job_ids):
    """Hand committed jobs to a runner: to the broker when ``BROKER_URL`` is set, else to
    this process's embedded runner, if it runs one. Never raises: a job that could not be
    sent is resent by ``accord scheduler``."""
    if not app.config["ACCORD"]["BROKER_URL"]:
        runner = app.extensions.get(RUNNER)
        if runner is not None:
            runner.submit(job_ids)
        return
    from .job_broker import send

    try:
        send(app, job_ids)
    except Exception:  # noqa: BLE001 - the jobs are committed; the scheduler sends them later
        log.exception("could not send jobs %s to the broker; accord scheduler will", job_ids)


# Running --------------------------------------------------------------------------------


def run(app, job_id, name=None):
    """Claim job ``job_id`` and run it once; returns its state afterwards, or ``None`` when
    it was not there to claim (not due, done, or claimed by another runner). ``name``, when
    the caller knows it (a broker message carries it), saves looking it up."""
    return run_each(app, [(job_id, name)])[0]


def run_each(app, jobs):
    """Run each ``(job id, name or None)`` of ``jobs`` once, in turn, as :func:`run` does,
    each in an app context of its own; the active plugins are read once for them all (a
    broker message carries the jobs one commit queued). Returns their states."""
    states, generation = [], None
    for job_id, name in jobs:
        with app.app_context():
            if generation is not None:
                g.accord_generation = generation
            try:
                states.append(_run(app, job_id, name))
                generation = getattr(g.get("accord_catalog"), "generation", None)
            finally:
                db.session.remove()
    return states


def _due(table, now):
    return or_(
        (table.c.state == "queued") & (table.c.run_at <= now),
        (table.c.state == "running") & (table.c.lease_until < now),
    )


_JOB = Job.__table__
_NOW = bindparam("now", type_=Job.run_at.type)
_NAME_OF = select(_JOB.c.name).where(_JOB.c.id == bindparam("job_id"))
_CLAIM = (
    update(_JOB)
    .where(_JOB.c.id == bindparam("job_id"), _JOB.c.name == bindparam("job_name"), _due(_JOB, _NOW))
    .values(state="running", attempts=_JOB.c.attempts + 1, started_at=_NOW,
            lease_until=bindparam("until", type_=Job.lease_until.type))
    .returning(_JOB.c.attempts, _JOB.c.max_attempts, _JOB.c.arguments)
)
_ATTEMPT_ENDED = (
    update(_JOB)
    .where(_JOB.c.id == bindparam("job_id"), _JOB.c.state == "running", _JOB.c.attempts == bindparam("attempt"))
    .values(state=bindparam("ended_as"), lease_until=None, last_error=bindparam("error"),
            finished_at=bindparam("finished", type_=Job.finished_at.type),
            run_at=func.coalesce(bindparam("retry_at", type_=Job.run_at.type), _JOB.c.run_at))
)


def _run(app, job_id, name):
    now = utcnow()
    with write_unit() as session:  # the name, the active jobs and the claim: one transaction
        if name is None:
            name = session.execute(_NAME_OF, {"job_id": job_id}).scalar()
            if name is None:
                return None
        job = definitions().get(name)
        lease = job["lease_seconds"] if job else DEFAULT_LEASE_SECONDS
        claimed = session.execute(_CLAIM, {"job_id": job_id, "job_name": name, "now": now,
                                           "until": now + timedelta(seconds=lease)}).first()
    if claimed is None:
        return None
    attempts, max_attempts, arguments = claimed
    started = time.perf_counter()
    try:
        if job is None:
            raise LookupError(f"no active plugin declares the job {name!r} (enable its plugin, then retry it)")
        job["run"](app, **arguments)
    except Exception as exc:  # noqa: BLE001 - a job's failure is recorded on the job, never raised
        db.session.rollback()
        error = "".join(traceback.format_exception(exc))[-ERROR_CHARS:]
        if attempts >= max_attempts or job is None:
            state, finished, retry_at = "failed", utcnow(), None
            log.error("job %s (%s) failed for good after %d attempts: %s", job_id, name, attempts, exc)
        else:
            delay = min(job["backoff_seconds"] * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
            state, finished, retry_at = "queued", None, utcnow() + timedelta(seconds=delay)
            log.warning("job %s (%s) attempt %d of %d failed, retrying in %.0f s: %s",
                        job_id, name, attempts, max_attempts, delay, exc)
    else:
        state, finished, retry_at, error = "succeeded", utcnow(), None, None
    _attempt_ended(job_id, attempts, state, error, finished, retry_at)
    _observe(name, "retried" if state == "queued" else state, time.perf_counter() - started)
    return state


def _attempt_ended(job_id, attempt, state, error, finished, retry_at):
    """Record how an attempt ended, unless the job was claimed again meanwhile (its lease
    ran out while it was still running)."""
    with write_unit() as session:
        session.execute(_ATTEMPT_ENDED, {"job_id": job_id, "attempt": attempt, "ended_as": state, "error": error,
                                         "finished": finished, "retry_at": retry_at})


def _observe(name, state, seconds):
    from .metrics import observe_job

    observe_job(name, state, seconds)


def due_ids(limit=100):
    """Ids of jobs that may run now, soonest first: queued ones whose time has come, and
    running ones whose lease ran out."""
    table = Job.__table__
    return list(db.session.execute(
        select(table.c.id).where(_due(table, utcnow())).order_by(table.c.run_at, table.c.id).limit(limit)
    ).scalars())


def run_due(app):
    """Run every due job in this thread until none is due; returns how many attempts ran."""
    ran = 0
    while True:
        with app.app_context():
            ids = due_ids()
            db.session.remove()
        attempts = sum(run(app, job_id) is not None for job_id in ids)
        if not attempts:
            return ran
        ran += attempts


class EmbeddedRunner:
    """Runs jobs on ``threads`` daemon threads of this process: dispatched ones at once,
    the rest (delayed, retried, freed by a lost lease) found by polling. Threads start with
    the first request each process serves, so gunicorn's forked workers each get their
    own and short-lived processes (CLI commands) start none."""

    def __init__(self, app, threads, poll_seconds=POLL_SECONDS):
        self.app = app
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.pending = queue.Queue()
        self.queued = set()
        self.lock = threading.Lock()
        self.pid = None

    def ensure_started(self):
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pending, self.queued, self.stopping = queue.Queue(), set(), threading.Event()
            self.workers = [threading.Thread(target=self._work, name=f"accord-job-{number}", daemon=True)
                            for number in range(self.threads)]
            self.workers.append(threading.Thread(target=self._poll, name="accord-job-poll", daemon=True))
            for thread in self.workers:
                thread.start()
            self.pid = os.getpid()

    def stop(self, timeout=30.0):
        """Take no more jobs and wait up to ``timeout`` seconds for the running ones to end
        (a job still running then is picked up again when its lease runs out)."""
        if self.pid != os.getpid():
            return
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.workers:
            thread.join(max(deadline - time.monotonic(), 0))
        self.pid = None

    def submit(self, job_ids):
        """Run these jobs soon, if this process runs jobs (one that never served a request,
        such as a CLI command, leaves them to the serving processes' polling)."""
        if self.pid != os.getpid():
            return
        with self.lock:
            for job_id in job_ids:
                if job_id not in self.queued:
                    self.queued.add(job_id)
                    self.pending.put(job_id)

    def _work(self):
        while not self.stopping.is_set():
            try:
                job_id = self.pending.get(timeout=0.2)
            except queue.Empty:
                continue
            with self.lock:
                self.queued.discard(job_id)
            try:
                run(self.app, job_id)
            except Exception:  # noqa: BLE001 - the runner thread must outlive any failure
                log.exception("the job runner could not run job %s", job_id)

    def _poll(self):
        while not self.stopping.wait(self.poll_seconds):
            try:
                queue_scheduled(self.app)
                with self.app.app_context():
                    ids = due_ids()
                    db.session.remove()
                self.submit(ids)
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the polling
                log.exception("the job runner could not look for due jobs")


def init_jobs(app):
    """Give the app its embedded runner (unless ``JOBS_THREADS`` is 0, or ``BROKER_URL``
    hands the jobs to Celery's workers), started when a serving worker boots or by the
    first request of each process."""
    threads = app.config["ACCORD"]["JOBS_THREADS"]
    if threads <= 0 or app.config["ACCORD"]["BROKER_URL"]:
        return
    runner = EmbeddedRunner(app, threads)
    app.extensions[RUNNER] = runner
    app.before_request(runner.ensure_started)


def start_runner(app):
    """Start this process's embedded runner now, if the app has one (a serving worker that
    has booted, so scheduled jobs run before any request arrives)."""
    runner = app.extensions.get(RUNNER)
    if runner is not None:
        runner.ensure_started()


def stop_runner(app, timeout=30.0):
    """Stop this process's embedded runner, if it runs one (a worker shutting down)."""
    runner = app.extensions.get(RUNNER)
    if runner is not None:
        runner.stop(timeout)


# Schedules ------------------------------------------------------------------------------


def schedules():
    """``{name: cron expression}`` of the active jobs that run on a schedule; a malformed
    expression is refused, naming its job."""
    found = {name: job["schedule"] for name, job in definitions().items() if job["schedule"]}
    for name, expression in found.items():
        try:
            latest_slot(expression, utcnow())
        except ValueError as exc:
            raise BadRequest(f"The schedule {expression!r} of job {name!r} is not a cron expression: {exc}",
                             {"schedule": ["Not a cron expression."]}) from None
    return found


def latest_slot(expression, now):
    """The last time at or before ``now`` (to the second, UTC) that the cron ``expression``
    names."""
    from croniter import croniter

    if not isinstance(expression, str):
        raise ValueError(f"a cron expression is a string, not {type(expression).__name__}")
    return croniter(expression, now.replace(microsecond=0) + timedelta(seconds=1)).get_prev(datetime)


def queue_scheduled(app, now=None):
    """Queue the latest slot of each active schedule unless it is queued already (or more
    than ``SCHEDULE_CATCH_UP_SECONDS`` old); returns the ids of the jobs queued now.

    The job's key ``schedule:<slot>`` makes this once per slot however many processes ask
    at once; a scheduled job runs with no arguments. The slots seen are remembered per
    process, so asking every second costs no query between slots."""
    now = now or utcnow()
    seen = app.extensions.setdefault(SCHEDULE_SLOTS, {})
    queued = []
    with app.app_context():
        for name, job in definitions().items():
            expression = job["schedule"]
            if not expression:
                continue
            try:
                slot = latest_slot(expression, now)
            except ValueError as exc:
                if seen.get(name) != expression:
                    log.error("job %s has a malformed schedule %r: %s", name, expression, exc)
                    seen[name] = expression
                continue
            if seen.get(name) == slot or now - slot > timedelta(seconds=SCHEDULE_CATCH_UP_SECONDS):
                continue
            job_id, new = _enqueue(name, f"schedule:{slot:%Y-%m-%dT%H:%M:%SZ}", 0, {})
            seen[name] = slot
            if new:
                log.info("queued job %s (%s) for its slot %s", job_id, name, f"{slot:%Y-%m-%d %H:%M:%S}Z")
                queued.append(job_id)
    return queued


# Administration -------------------------------------------------------------------------


def job_json(row):
    return {
        "id": row.id, "name": row.name, "key": row.key, "arguments": row.arguments, "state": row.state,
        "attempts": row.attempts, "max_attempts": row.max_attempts, "run_at": _time(row.run_at),
        "created_at": _time(row.created_at), "started_at": _time(row.started_at),
        "finished_at": _time(row.finished_at), "last_error": row.last_error,
    }


def _time(value):
    from .fields import format_datetime

    return None if value is None else format_datetime(value)


def listing(state=None, name=None, limit=50):
    """The newest jobs, optionally of one state and name."""
    if state is not None and state not in JOB_STATES:
        raise BadRequest(f"state must be one of {', '.join(JOB_STATES)}.", {"state": ["Unknown state."]})
    statement = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        statement = statement.where(Job.state == state)
    if name is not None:
        statement = statement.where(Job.name == name)
    return db.session.execute(statement).scalars().all()


def get(job_id):
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound(f"Job {job_id} does not exist.")
    return job


def retry(app, job_id):
    """Queue a failed job again with a fresh set of attempts."""
    with write_unit() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"Job {job_id} does not exist.")
        if job.state != "failed":
            raise Conflict(f"Job {job_id} is {job.state}; only a failed job can be retried.")
        job.state, job.attempts, job.run_at, job.finished_at = "queued", 0, utcnow(), None
        _dispatch_after_commit(app, job_id)
    return job


def purge(states=("succeeded",), older_than_days=0):
    """Delete finished jobs of ``states`` that ended more than ``older_than_days`` ago;
    returns how many. Queued and running jobs are never purged."""
    unknown = [s for s in states if s not in ("succeeded", "failed")]
    if unknown:
        raise BadRequest("Only succeeded and failed jobs can be purged.", {"state": ["Not a finished state."]})
    cutoff = utcnow() - timedelta(days=older_than_days)
    with write_unit() as session:
        result = session.execute(delete(Job).where(Job.state.in_(list(states)), Job.finished_at <= cutoff))
    return result.rowcount


def counts():
    """``{state: number of jobs}`` for every state (the queue depth the metrics show)."""
    found = dict(db.session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    return {state: found.get(state, 0) for state in JOB_STATES}
