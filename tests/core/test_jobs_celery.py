"""Background jobs on Celery, against the real Redis and RabbitMQ of this machine: a rolled
back job sends nothing; ``accord worker`` processes run jobs once, retry them, fail them
with their error, and pick a job up again after a SIGKILL mid-job; ``accord scheduler``
resends lost jobs and queues each slot of a schedule once, even two of them at a time.

Each test has a queue of its own on the broker (``JOBS_PLUGIN_QUEUE``), deleted afterwards;
workers and schedulers are subprocesses on the test's database.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import jobs_plugin
from accord.core import job_broker, jobs
from accord.core.records import write_unit
from api_helpers import count, in_app, sql
from cli_helpers import run_accord
from process_helpers import clean_environment, free_port, require_service

BROKERS = {"redis": "redis://127.0.0.1:6379/5", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WAIT_SECONDS = 30


class Broker:
    """A broker and this test's queue on it."""

    def __init__(self, url, queue):
        self.url = url
        self.queue = queue

    def messages(self):
        """Messages waiting in the queue (none when the queue does not exist yet)."""
        import kombu

        with kombu.Connection(self.url) as connection:
            try:
                return connection.default_channel.queue_declare(self.queue, passive=True).message_count
            except connection.channel_errors:
                return 0

    def delete_queue(self):
        if self.url.startswith("redis"):
            import redis

            client = redis.Redis.from_url(self.url)
            for key in client.scan_iter(match=f"*{self.queue}*"):
                client.delete(key)
            for tag, entry in client.hgetall("unacked").items():  # a killed worker's messages
                if json.loads(entry)[2] == self.queue:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            client.close()
            return
        import kombu

        with kombu.Connection(self.url) as connection:
            channel = connection.default_channel
            channel.queue_delete(self.queue)
            channel.exchange_delete(self.queue)


@pytest.fixture(params=sorted(BROKERS))
def broker(request, monkeypatch):
    require_service(BROKERS[request.param], {"redis": "Redis", "rabbitmq": "RabbitMQ"}[request.param])
    broker = Broker(BROKERS[request.param], f"accord-test-{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("JOBS_PLUGIN_QUEUE", broker.queue)
    yield broker
    broker.delete_queue()


@pytest.fixture
def app(with_plugins, broker):
    return with_plugins(jobs_plugin, BROKER_URL=broker.url)


class Processes:
    """``accord`` subprocesses on the test's instance, database and broker queue."""

    def __init__(self, app, broker, folder):
        self.app = app
        self.broker = broker
        self.folder = folder
        self.started = []

    def start(self, *args):
        settings = self.app.config["ACCORD"]
        env = clean_environment()
        env.update(ACCORD_PLUGINS="jobs_plugin", ACCORD_BROKER_URL=self.broker.url, ACCORD_LOG_FORMAT="text",
                   JOBS_PLUGIN_QUEUE=self.broker.queue,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(FIXTURES), env.get("PYTHONPATH")])))
        log = self.folder / f"{args[0]}-{len(self.started)}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "accord.cli", "--instance", settings["INSTANCE_PATH"],
                 "--database-url", settings["DATABASE_URL"], *args],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        process.name, process.log = args[0], log
        self.started.append(process)
        return process

    def worker(self, *args):
        return self.start("worker", "--concurrency", "1", "--queues", self.broker.queue, *args)

    def logs(self):
        return "\n".join(f"--- {p.name} {p.pid}:\n" + "\n".join(p.log.read_text(errors="replace").splitlines()[-30:])
                         for p in self.started)

    def stop_all(self):
        for process in self.started:
            kill_group(process)


def kill_group(process):
    """SIGKILL the process and every process it started (a worker and its pool)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture
def processes(app, broker, tmp_path):
    started = Processes(app, broker, tmp_path)
    yield started
    started.stop_all()


def wait_for(condition, what, processes=None, timeout=WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s\n" + (processes.logs() if processes else ""))
        time.sleep(0.05)
    return result


def queue(app, name, **arguments):
    return in_app(app, jobs.enqueue, name, **arguments)


def job(app, job_id):
    return in_app(app, lambda: jobs.job_json(jobs.get(job_id)))


def finished(app, *job_ids):
    return all(job(app, job_id)["state"] in ("succeeded", "failed") for job_id in job_ids)


def lines(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_job_queued_in_a_transaction_that_rolls_back_sends_nothing(app, broker):
    def queue_then_fail():
        with pytest.raises(RuntimeError):
            with write_unit():
                jobs.enqueue("test.create_contact", last_name="Never")
                raise RuntimeError("the request failed after queueing")
        assert count(app, "job") == 0 and broker.messages() == 0
        return jobs.enqueue("test.create_contact", last_name="Sent")  # the next unit of the same session

    sent = in_app(app, queue_then_fail)
    assert app.extensions.get(jobs.RUNNER) is None, "with a broker, no process runs jobs of its own"
    wait_for(lambda: broker.messages() == 1, "message for the committed job")
    assert job(app, sent)["state"] == "queued" and broker.messages() == 1


def test_jobs_one_commit_queued_share_messages_and_each_runs_once(app, broker, processes):
    def queue_together():
        with write_unit():
            return [jobs.enqueue("test.create_contact", last_name=f"Batch {n}") for n in range(30)]

    queued = in_app(app, queue_together)
    wait_for(lambda: broker.messages() == 10, "30 jobs in 10 messages (3 each, so the pool shares them)")
    assert all(sent is not None for sent, in sql(app, "SELECT dispatched_at FROM job"))
    processes.worker()
    wait_for(lambda: finished(app, *queued), "finished jobs", processes)
    assert [job(app, job_id)["attempts"] for job_id in queued] == [1] * 30
    assert count(app, "contact", "last_name LIKE 'Batch %'") == 30


def test_a_worker_runs_jobs_once_retries_them_and_fails_them_for_good(app, broker, processes, tmp_path):
    metrics_port = free_port()
    processes.worker("--metrics-port", str(metrics_port))
    calls = tmp_path / "calls"
    once = queue(app, "test.create_contact", last_name="Once")
    flaky = queue(app, "test.flaky_file", path=str(calls), failures=2)
    failing = queue(app, "test.always_fails", reason="bad address")
    wait_for(lambda: finished(app, once, flaky, failing), "finished jobs", processes)
    done, succeeded, failed = job(app, once), job(app, flaky), job(app, failing)
    assert done["state"] == "succeeded" and done["attempts"] == 1, done
    assert succeeded["state"] == "succeeded" and succeeded["attempts"] == 3 and lines(calls) == 3, succeeded
    assert failed["state"] == "failed" and failed["attempts"] == 2, failed
    assert "ValueError: bad address" in failed["last_error"]

    celery = job_broker.celery_app(app)
    for _ in range(2):  # duplicates for a job that is done (the broker's redelivery, say)
        celery.send_task(job_broker.TASK, args=[[[once, "test.create_contact"]]], queue=broker.queue)
    later = queue(app, "test.create_contact", last_name="Later")  # behind them in the queue
    wait_for(lambda: finished(app, later), "job queued after the duplicates", processes)
    assert job(app, once)["attempts"] == 1 and count(app, "contact", "last_name = 'Once'") == 1
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        exported = response.read().decode()
    for name, outcome, runs in (("create_contact", "succeeded", 2), ("flaky_file", "retried", 2),
                                ("flaky_file", "succeeded", 1), ("always_fails", "failed", 1)):
        assert f'accord_jobs_total{{job="test.{name}",outcome="{outcome}"}} {runs}.0' in exported, exported


def test_a_job_whose_worker_is_killed_runs_again_on_another_and_completes_once(app, processes, tmp_path):
    processes.start("scheduler")
    first = processes.worker()
    started, flag = tmp_path / "started", tmp_path / "flag"
    job_id = queue(app, "test.wait_for_flag", started=str(started), flag=str(flag), last_name="Survivor")
    wait_for(lambda: lines(started) == 1, "first start", processes)
    kill_group(first)
    processes.worker()
    wait_for(lambda: lines(started) == 2, "start on the second worker", processes)
    flag.touch()
    wait_for(lambda: finished(app, job_id), "finished job", processes)
    done = job(app, job_id)
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    assert count(app, "contact", "last_name = 'Survivor'") == 1 and lines(started) == 2


def test_the_sweep_resends_only_jobs_with_no_message_on_their_way(app, broker):
    queue(app, "test.create_contact", last_name="Sent")
    lost = queue(app, "test.create_contact", last_name="Lost")
    wait_for(lambda: broker.messages() == 2, "two messages")
    now = datetime.now(timezone.utc)
    assert job_broker.sweep(app) == [], "both have a message on its way"
    sql(app, "UPDATE job SET state = 'running', attempts = 1, run_at = :sent, dispatched_at = :sent, "
        "started_at = :claimed, lease_until = :claimed WHERE id = :id",
        sent=now - timedelta(minutes=2), claimed=now - timedelta(minutes=1), id=lost)
    assert job_broker.sweep(app) == [lost], "its worker died: its lease ran out"
    assert job_broker.sweep(app) == [], "sent once, not every second"
    wait_for(lambda: broker.messages() == 3, "the resent message")


def test_two_schedulers_queue_each_slot_of_a_schedule_once(app, broker, processes):
    def slots():
        keys = [row[0] for row in sql(app, "SELECT key FROM job WHERE name = 'test.tick' ORDER BY key")]
        return [datetime.strptime(key, "schedule:%Y-%m-%dT%H:%M:%SZ") for key in keys]

    first, second = processes.start("scheduler"), processes.start("scheduler")
    wait_for(lambda: all("scheduler sending due jobs" in p.log.read_text() for p in (first, second)),
             "two schedulers at work", processes)
    before = len(slots())
    wait_for(lambda: len(slots()) >= before + 2, "two slots while both schedulers run", processes)
    first.send_signal(signal.SIGTERM)
    second.send_signal(signal.SIGINT)
    assert first.wait(timeout=10) == 0 and second.wait(timeout=10) == 0, processes.logs()
    queued = slots()
    gaps = [later - earlier for earlier, later in zip(queued, queued[1:])]
    assert gaps == [timedelta(seconds=2)] * len(gaps), (queued, processes.logs())
    wait_for(lambda: broker.messages() == len(queued), f"one message for each of the slots {queued}", processes)
    assert "scheduler stopped" in first.log.read_text()


def test_worker_and_scheduler_need_a_broker(tmp_path, monkeypatch):
    monkeypatch.delenv("ACCORD_BROKER_URL", raising=False)
    for command in ("worker", "scheduler"):
        result = run_accord(tmp_path / "instance", command)
        assert result.exit_code == 1, result
        assert result.stderr.startswith("Error: there is no job broker: set ACCORD_BROKER_URL"), result
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
