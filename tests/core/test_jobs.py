"""Background jobs on the embedded backend: queued with the caller's transaction, run,
retried with backoff, failed with their error after the last attempt, idempotent by key,
picked up again after a lost lease; failed after-commit hooks come back as jobs."""

import time
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

import jobs_plugin
from accord.core import jobs
from accord.core.db import db, utcnow
from accord.core.errors import BadRequest
from accord.core.records import write_unit
from accord.testing import api_client, make_user
from api_helpers import count, in_app, sql


@pytest.fixture
def app(with_plugins):
    return with_plugins(jobs_plugin)


def queue(app, name, **arguments):
    return in_app(app, jobs.enqueue, name, **arguments)


def job(app, job_id):
    return in_app(app, lambda: jobs.job_json(jobs.get(job_id)))


def test_a_job_queued_in_a_transaction_that_rolls_back_is_never_sent(app):
    def queue_then_fail():
        with pytest.raises(RuntimeError):
            with write_unit():
                jobs.enqueue("test.create_contact", last_name="Never")
                raise RuntimeError("the request failed after queueing")

    in_app(app, queue_then_fail)
    assert count(app, "job") == 0
    assert jobs.run_due(app) == 0
    assert count(app, "contact") == 0


def test_a_queued_job_runs_once_and_succeeds(app):
    job_id = queue(app, "test.create_contact", last_name="Queued")
    assert job(app, job_id)["state"] == "queued"
    assert jobs.run_due(app) == 1
    done = job(app, job_id)
    assert done["state"] == "succeeded" and done["attempts"] == 1 and done["finished_at"]
    assert count(app, "contact", "last_name = 'Queued'") == 1
    assert jobs.run_due(app) == 0
    assert count(app, "contact") == 1


def test_a_failing_job_is_retried_until_it_succeeds(app):
    token = uuid.uuid4().hex
    job_id = queue(app, "test.flaky", token=token, failures=2)
    assert jobs.run_due(app) == 3
    done = job(app, job_id)
    assert done["state"] == "succeeded" and done["attempts"] == 3
    assert jobs_plugin.ATTEMPTS[token] == 3


def test_retries_wait_longer_each_time(app):
    job_id = queue(app, "test.slow_retry", reason="down")
    before = utcnow()
    assert jobs.run_due(app) == 1
    waiting = in_app(app, jobs.get, job_id)
    assert waiting.state == "queued" and waiting.attempts == 1 and "down" in waiting.last_error
    assert timedelta(minutes=9) < waiting.run_at - before < timedelta(minutes=11)
    assert jobs.run_due(app) == 0, "not due before its backoff"
    sql(app, "UPDATE job SET run_at = :now", now=utcnow())
    assert jobs.run_due(app) == 1
    again = in_app(app, jobs.get, job_id)
    assert timedelta(minutes=19) < again.run_at - utcnow() < timedelta(minutes=21)


def test_the_last_failed_attempt_leaves_a_failed_job_with_its_error_and_a_retry_starts_over(app):
    job_id = queue(app, "test.always_fails", reason="bad address")
    assert jobs.run_due(app) == 2
    failed = job(app, job_id)
    assert failed["state"] == "failed" and failed["attempts"] == 2
    assert "ValueError: bad address" in failed["last_error"]
    assert in_app(app, jobs.counts)["failed"] == 1
    in_app(app, jobs.retry, app, job_id)
    assert job(app, job_id)["state"] == "queued" and job(app, job_id)["attempts"] == 0
    assert jobs.run_due(app) == 2
    assert job(app, job_id)["state"] == "failed"


def test_a_key_makes_queueing_idempotent(app):
    first = queue(app, "test.create_contact", key="import-42", last_name="Once")
    second = queue(app, "test.create_contact", key="import-42", last_name="Once")
    assert first == second and count(app, "job") == 1
    assert jobs.run_due(app) == 1
    assert queue(app, "test.create_contact", key="import-42", last_name="Once") == first
    assert jobs.run_due(app) == 0
    assert count(app, "contact") == 1


def test_a_job_whose_runner_died_runs_again_once_its_lease_is_over(app):
    job_id = queue(app, "test.create_contact", last_name="Orphan")
    sql(app, "UPDATE job SET state = 'running', attempts = 1, lease_until = :later WHERE id = :id",
        later=utcnow() + timedelta(minutes=5), id=job_id)
    assert jobs.run_due(app) == 0, "a running job with a live lease is left alone"
    sql(app, "UPDATE job SET lease_until = :past WHERE id = :id", past=utcnow() - timedelta(seconds=1), id=job_id)
    assert jobs.run_due(app) == 1
    done = job(app, job_id)
    assert done["state"] == "succeeded" and done["attempts"] == 2
    assert count(app, "contact", "last_name = 'Orphan'") == 1


def test_bad_jobs_are_refused_before_anything_is_written(app):
    with pytest.raises(BadRequest, match="no job 'test.nope'"):
        queue(app, "test.nope")
    with pytest.raises(BadRequest, match="JSON values"):
        queue(app, "test.create_contact", last_name=object())
    assert count(app, "job") == 0


def test_a_failed_after_commit_hook_is_retried_as_a_job(app):
    admin = make_user(app, "admin@example.com", "Ada", is_admin=True)
    api = api_client(app, admin)
    created = api.post("/organizations", json={"name": "Acme"})
    assert created.status_code == 201
    org_id = created.json["id"]
    assert jobs_plugin.ATTEMPTS[(org_id, "create")] == 1
    assert [d for d in jobs_plugin.DELIVERED if d[0] == org_id] == []
    retries = in_app(app, jobs.listing, "queued", "accord.after_commit")
    assert len(retries) == 1 and retries[0].arguments["record_id"] == org_id
    assert api.patch(f"/organizations/{org_id}", json={"name": "Acme Ltd"}).status_code == 200
    assert jobs.run_due(app) == 2
    delivered = [d for d in jobs_plugin.DELIVERED if d[0] == org_id]
    assert [(event, name) for _, event, name, _ in delivered] == [("create", "Acme Ltd"), ("update", "Acme Ltd")]
    assert delivered[1][3] == {"name": ("Acme", "Acme Ltd")}, "changes come back in their JSON form"
    assert in_app(app, jobs.counts)["succeeded"] == 2


def test_the_embedded_runner_runs_jobs_in_the_background_once_the_process_serves(with_plugins):
    app = with_plugins(jobs_plugin, JOBS_THREADS=1)
    early = queue(app, "test.create_contact", last_name="Early")
    time.sleep(0.3)
    assert job(app, early)["state"] == "queued", "a process that has served nothing runs no jobs"
    assert app.test_client().get("/healthz").status_code == 200
    late = queue(app, "test.create_contact", last_name="Late")
    deadline = time.monotonic() + 15
    while {job(app, early)["state"], job(app, late)["state"]} != {"succeeded"}:
        assert time.monotonic() < deadline, (job(app, early), job(app, late))
        time.sleep(0.05)
    assert count(app, "contact", "last_name IN ('Early', 'Late')") == 2


def test_purge_removes_finished_jobs_only(app):
    done = queue(app, "test.create_contact", last_name="Done")
    jobs.run_due(app)
    waiting = queue(app, "test.slow_retry", reason="later")
    jobs.run_due(app)
    assert in_app(app, jobs.purge, ("succeeded", "failed"), 0) == 1
    with app.app_context():
        assert db.session.get(jobs.Job, done) is None and db.session.get(jobs.Job, waiting) is not None


def nightly_plugin(schedule):
    """A plugin whose one job runs on ``schedule``."""
    from accord.core import hookimpl

    return SimpleNamespace(name="nightly", accord_jobs=hookimpl(
        lambda app: [{"name": "test.nightly", "run": lambda app: None, "schedule": schedule}]))


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_each_slot_of_a_schedule_is_queued_once_and_a_late_one_within_the_hour(with_plugins):
    app = with_plugins(nightly_plugin("30 2 * * *"))

    def keys():
        return [row[0] for row in sql(app, "SELECT key FROM job ORDER BY id")]

    first = jobs.queue_scheduled(app, at("2026-03-01 02:30:00"))
    assert len(first) == 1 and keys() == ["schedule:2026-03-01T02:30:00Z"]
    assert jobs.queue_scheduled(app, at("2026-03-01 02:30:01")) == []
    app.extensions.pop(jobs.SCHEDULE_SLOTS)  # as another process: the key keeps it once
    assert jobs.queue_scheduled(app, at("2026-03-01 03:29:59")) == []
    assert jobs.queue_scheduled(app, at("2026-03-02 03:30:01")) == [], "missed by more than an hour: skipped"
    assert len(jobs.queue_scheduled(app, at("2026-03-03 03:29:00"))) == 1, "late, within the hour"
    assert keys() == ["schedule:2026-03-01T02:30:00Z", "schedule:2026-03-03T02:30:00Z"]
    assert jobs.run_due(app) == 2
    assert [job.arguments for job in in_app(app, jobs.listing, "succeeded")] == [{}, {}]


def test_a_malformed_schedule_is_refused_by_name_and_skipped_by_the_runner(with_plugins):
    app = with_plugins(nightly_plugin("30 25 * * *"))
    with pytest.raises(BadRequest, match="schedule '30 25 \\* \\* \\*' of job 'test.nightly'"):
        in_app(app, jobs.schedules)
    assert jobs.queue_scheduled(app) == [] and count(app, "job") == 0


def test_the_embedded_runner_queues_and_runs_scheduled_jobs(with_plugins):
    app = with_plugins(jobs_plugin, JOBS_THREADS=1)
    assert app.test_client().get("/healthz").status_code == 200
    deadline = time.monotonic() + 15
    while not in_app(app, jobs.listing, "succeeded", "test.tick"):
        assert time.monotonic() < deadline, in_app(app, jobs.listing)
        time.sleep(0.05)
