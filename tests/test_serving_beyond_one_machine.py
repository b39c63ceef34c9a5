"""Accord as it runs beyond one machine: ``accord serve`` with 2 workers on PostgreSQL,
one Celery worker (``accord worker --concurrency 1``) and ``accord scheduler`` over
Redis. A few hundred API writes from several clients at once trigger webhooks, and the
receiver gets every event exactly once (by event id), signed."""

import os
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from process_helpers import clean_environment, free_port, http_json, require_service, wait_until_serving
from webhook_receiver import Receiver

from accord.core.tokens import create_token
from accord.testing import make_user

BROKER = "redis://127.0.0.1:6379/{database}"
BROKER_DATABASES = range(8, 16)
CLAIM_KEY = "accord-test-claimed-by"
CLAIM_SECONDS = 1800
CLIENTS = 4
DEALS_PER_CLIENT = 25
DELIVERY_SECONDS = 180

pytestmark = pytest.mark.skipif(not os.environ.get("ACCORD_TEST_DATABASE_URL", "").startswith("postgresql"),
                                reason="runs several processes on one PostgreSQL database")


@pytest.fixture
def broker():
    """A Redis database of this test's own (another test session on the machine may be
    running this test too, and its worker would take these jobs): the first of
    :data:`BROKER_DATABASES` whose claim key this test can set, emptied before and after."""
    import redis

    require_service(BROKER.format(database=0), "Redis")
    for database in BROKER_DATABASES:
        client = redis.Redis.from_url(BROKER.format(database=database))
        if client.set(CLAIM_KEY, os.getpid(), nx=True, ex=CLAIM_SECONDS):
            break
        client.close()
    else:
        pytest.fail(f"every Redis database in {BROKER_DATABASES} is claimed by another test run")
    for key in client.scan_iter():
        if key != CLAIM_KEY.encode():
            client.delete(key)
    yield BROKER.format(database=database)
    client.flushdb()
    client.close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def cluster(app, broker, tmp_path):
    """Start serve, worker and scheduler on the app's database; yield the API's base URL."""
    settings = app.config["ACCORD"]
    env = clean_environment()
    env.update(ACCORD_BROKER_URL=broker, ACCORD_LOG_FORMAT="text")
    port = free_port()
    started = []

    def start(*args):
        log = tmp_path / f"{args[0]}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "accord.cli", "--instance", settings["INSTANCE_PATH"],
                 "--database-url", settings["DATABASE_URL"], *args],
                env=env, stdout=out, stderr=subprocess.STDOUT)
        process.name, process.log = args[0], log
        started.append(process)
        return process

    server = start("serve", "--port", str(port), "--workers", "2")
    start("worker", "--concurrency", "1")
    start("scheduler")

    def logs():
        return "\n".join(f"--- {p.name}:\n{p.log.read_text(errors='replace')[-3000:]}" for p in started)

    wait_until_serving(server, f"http://127.0.0.1:{port}/readyz", describe=logs)
    yield f"http://127.0.0.1:{port}/api/v1", logs
    for process in started:
        process.terminate()
    for process in started:
        try:
            assert process.wait(timeout=60) == 0, logs()
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise


def test_every_event_of_a_few_hundred_writes_is_delivered_exactly_once(app, cluster, receiver):
    base, logs = cluster
    admin = make_user(app, "admin@example.com", "Ada", is_admin=True)
    with app.app_context():
        token = create_token(admin)
    status, subscription = http_json("POST", f"{base}/admin/webhooks", token, {
        "url": receiver.endpoint("crm"), "events": ["created", "updated", "deleted", "stage_changed"],
        "record_types": ["deal"],
    })
    assert status == 201, subscription
    receiver.secrets["crm"] = subscription["secret"]

    failures, written = [], Counter()

    def client(number):
        for i in range(DEALS_PER_CLIENT):
            status, deal = http_json("POST", f"{base}/deals", token, {"name": f"Deal {number}-{i}", "amount": "100"})
            if status != 201:
                failures.append((status, deal))
                continue
            written.update(["created", "stage_changed"])
            status, _ = http_json("PATCH", f"{base}/deals/{deal['id']}", token, {"stage": "qualified"})
            written.update(["updated", "stage_changed"] if status == 200 else [])
            status, _ = http_json("PATCH", f"{base}/deals/{deal['id']}", token, {"description": "followed up"})
            written.update(["updated"] if status == 200 else [])
            if i % 5 == 0:
                status, _ = http_json("DELETE", f"{base}/deals/{deal['id']}", token)
                written.update(["deleted"] if status == 204 else [])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], failures
    expected = sum(written.values())
    assert expected >= 300, written

    deadline = time.monotonic() + DELIVERY_SECONDS
    while len(receiver.accepted("crm")) < expected:
        assert time.monotonic() < deadline, f"{len(receiver.accepted('crm'))} of {expected} delivered\n{logs()}"
        time.sleep(0.2)
    time.sleep(2)  # anything delivered twice would arrive now
    delivered = receiver.accepted("crm")
    by_id = Counter(body["event_id"] for body in delivered)
    assert len(by_id) == expected and set(by_id.values()) == {1}, by_id.most_common(3)
    assert Counter(body["event"] for body in delivered) == written
    assert all(r["status"] != 401 for r in receiver.seen("crm")), "every request carried a valid signature"
