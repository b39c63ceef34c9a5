"""``accord serve`` runs gunicorn with several workers that answer real HTTP, add up their
metrics, log JSON lines and finish the requests in flight on SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from process_helpers import clean_environment, free_port, http_json, stop, wait_until_serving


def _accord(instance, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "accord.cli", "--instance", str(instance), *args],
                          env=clean_environment(), capture_output=True, text=True, timeout=120, **kwargs)


def _get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_serve_answers_with_two_workers(tmp_path):
    instance = tmp_path / "instance"
    init = _accord(instance, "init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse")
    assert init.returncode == 0, init.stderr
    token = _accord(instance, "tokens", "create", "--user", "admin@example.com").stdout.strip().splitlines()[-1]
    port = free_port()
    env = clean_environment()
    server = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "--instance", str(instance), "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, document = _get(f"{base}/openapi.json")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {server.stderr.read() if server.poll() is not None else 'timeout'}")
                time.sleep(0.2)
        assert status == 200 and document["openapi"].startswith("3.")
        status, page = _get(f"{base}/contacts", token)
        assert status == 200 and page == {"data": [], "next_cursor": None}
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(f"{base}/contacts")
        assert refused.value.code == 401
    finally:
        stop(server)


def test_serve_adds_up_the_workers_metrics_logs_json_and_finishes_requests_on_sigterm(tmp_path):
    instance = tmp_path / "instance"
    init = _accord(instance, "init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse")
    assert init.returncode == 0, init.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "accord.cli", "--instance", str(instance), "serve", "--port", str(port), "--workers", "2"],
        env=clean_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(server.stderr), daemon=True)
    reader.start()

    def logged():
        return [json.loads(line) for line in list(lines)]

    site = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, f"{site}/readyz", describe=lambda: "".join(lines))
        made, answered_by = 0, set()
        while len(answered_by) < 2 and made < 200:  # until each worker has answered some
            assert http_json("GET", f"{site}/healthz", headers={"X-Request-ID": f"probe-{made}"})[0] == 200
            made += 1
            answered_by = {entry["pid"] for entry in logged() if str(entry["request_id"]).startswith("probe-")}
        assert len(answered_by) == 2, f"one worker answered all {made} requests"
        with urllib.request.urlopen(f"{site}/metrics", timeout=5) as response:
            exported = response.read().decode()
        assert f'accord_http_requests_total{{endpoint="health.healthz",method="GET",status="200"}} {made}.0' in exported

        in_flight = socket.create_connection(("127.0.0.1", port), timeout=10)
        in_flight.sendall(b"GET /healthz HTTP/1.1\r\nHost: accord\r\nX-Request-ID: in-flight\r\n")
        time.sleep(0.5)  # a worker has taken the connection and waits for the rest of the request
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not any(entry["message"] == "Handling signal: term" for entry in logged()):
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        in_flight.sendall(b"Connection: close\r\n\r\n")
        reply = b"".join(iter(lambda: in_flight.recv(65536), b""))
        in_flight.close()
        assert reply.startswith(b"HTTP/1.1 200") and b"X-Request-ID: in-flight" in reply, reply
        assert server.wait(timeout=30) == 0
    finally:
        stop(server)
    reader.join(timeout=5)
    entries = logged()
    access = [entry for entry in entries if entry["logger"] == "accord.access"]
    assert {entry["request_id"] for entry in access} >= {f"probe-{n}" for n in range(made)} | {"in-flight"}
    fields = {"time", "level", "message", "method", "path", "status", "duration_ms"}
    assert all(fields <= entry.keys() for entry in access)
    assert any(entry["logger"] == "gunicorn.error" for entry in entries)


def test_serving_settings_come_from_the_environment(tmp_path):
    from accord.core.config import ConfigError, load_config

    instance = {"INSTANCE_PATH": str(tmp_path)}
    defaults = load_config(instance, environ={})
    assert (defaults["GRACEFUL_TIMEOUT"], defaults["BROKER_URL"], defaults["METRICS_TOKEN"]) == (30, None, None)
    settings = load_config(instance, environ={"ACCORD_GRACEFUL_TIMEOUT": "5", "ACCORD_METRICS_TOKEN": "scrape-me",
                                              "ACCORD_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"})
    assert (settings["GRACEFUL_TIMEOUT"], settings["METRICS_TOKEN"]) == (5, "scrape-me")
    assert settings["BROKER_URL"] == "amqp://guest:guest@127.0.0.1:5672//"
    with pytest.raises(ConfigError, match="ACCORD_GRACEFUL_TIMEOUT"):
        load_config(instance, environ={"ACCORD_GRACEFUL_TIMEOUT": "soon"})


def test_gunicorn_builds_no_access_line_of_its_own(tmp_path):
    """The app writes the access line; gunicorn's, which its level drops under ``accord
    serve``, would still read every header of every request first."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from accord.core.serving import AppAccessLogger

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"gunicorn read {name!r} of the request")

    config = Config()
    config.set("accesslog", str(tmp_path / "gunicorn-access.log"))
    config.set("logger_class", AppAccessLogger)
    assert config.logger_class is AppAccessLogger
    AppAccessLogger(config).access(Untouchable(), Untouchable(), {}, Untouchable())
    with pytest.raises(AssertionError, match="gunicorn read"):
        Logger(config).access(Untouchable(), Untouchable(), {}, Untouchable())
