"""``accord serve`` runs gunicorn with several workers that answer real HTTP."""

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from process_helpers import clean_environment, free_port, stop


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
