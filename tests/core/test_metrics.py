"""``/metrics``: requests by endpoint, method and status, job runs, queue depths counted at
scrape time, and the optional token. (The figures of several gunicorn workers adding up
is checked in tests/test_serve.py.)

Metrics live in the process, not in one app, so each test compares a scrape before and
after what it does."""

import pytest
from accord.core.metrics import observe_job, register_queue_depth
from prometheus_client.parser import text_string_to_metric_families


def scrape(client, **kwargs):
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def test_requests_are_counted_and_timed_by_endpoint_method_and_status(app, api):
    client = app.test_client()
    before = scrape(client)
    for _ in range(3):
        client.get("/healthz")
    api.get("/contacts")
    client.get("/api/v1/contacts/1/nothing/here")
    after = scrape(client)

    healthz = {"endpoint": "health.healthz", "method": "GET", "status": "200"}
    assert delta(before, after, "accord_http_requests_total", **healthz) == 3
    assert delta(before, after, "accord_http_request_duration_seconds_count", **healthz) == 3
    listed = {"endpoint": "api.list_records", "method": "GET", "status": "200"}
    assert delta(before, after, "accord_http_requests_total", **listed) == 1
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert delta(before, after, "accord_http_requests_total", **unmatched) == 1
    assert not any("/api/v1" in dict(labels).get("endpoint", "") for _, labels in after)


def test_jobs_are_counted_and_timed_by_name_and_outcome(app):
    client = app.test_client()
    before = scrape(client)
    observe_job("send_campaign", "succeeded", 0.3)
    observe_job("send_campaign", "succeeded", 12)
    observe_job("send_campaign", "failed", 0.05)
    after = scrape(client)

    ok = {"job": "send_campaign", "outcome": "succeeded"}
    assert delta(before, after, "accord_jobs_total", **ok) == 2
    assert delta(before, after, "accord_job_duration_seconds_sum", **ok) == pytest.approx(12.3)
    assert delta(before, after, "accord_job_duration_seconds_count", job="send_campaign", outcome="failed") == 1


def test_queue_depth_is_counted_at_each_scrape(app):
    depth = {"queued": 3, "running": 1}
    register_queue_depth(lambda: depth, queue="email", app=app)
    client = app.test_client()
    assert value(scrape(client), "accord_queue_depth", queue="email", state="queued") == 3
    depth["queued"] = 0
    samples = scrape(client)
    assert value(samples, "accord_queue_depth", queue="email", state="queued") == 0
    assert value(samples, "accord_queue_depth", queue="email", state="running") == 1


def test_a_failing_queue_source_is_left_out_and_the_scrape_goes_on(app, caplog):
    def broken():
        raise RuntimeError("broker gone")

    with app.app_context():
        register_queue_depth(broken, queue="broken")
    register_queue_depth(lambda: {"queued": 2}, queue="email", app=app)
    samples = scrape(app.test_client())
    assert value(samples, "accord_queue_depth", queue="email", state="queued") == 2
    assert not any(name == "accord_queue_depth" and dict(labels)["queue"] == "broken" for name, labels in samples)
    assert "could not count the jobs of queue broken" in caplog.text


def test_metrics_token_is_required_when_set(accord_app_factory):
    client = accord_app_factory(METRICS_TOKEN="scrape-me").test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-me"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json["error"]["code"] == "unauthorized"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "accord_http_requests_total" in {name for name, _ in scrape(
        client, headers={"Authorization": "Bearer scrape-me"})}


def test_metrics_need_no_sign_in_without_a_token(app):
    assert app.test_client().get("/metrics", headers={"Accept": "text/html"}).status_code == 200


def test_threads_answering_a_fresh_workers_first_requests_build_the_instruments_once():
    """A fresh process whose threads all record their first figures at the same moment."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import threading
        from accord.core import metrics
        barrier, built, failures = threading.Barrier(16), [], []
        def first_figure():
            barrier.wait()
            try:
                built.append(metrics._instruments())
            except Exception as exc:
                failures.append(repr(exc))
        threads = [threading.Thread(target=first_figure) for _ in range(16)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert not failures, failures
        assert len({id(b) for b in built}) == 1
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
