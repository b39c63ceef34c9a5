"""A plugin switched on, configured or off through one server process is seen by another
process serving the same database on its very next request, without a restart.

Two ``accord serve --workers 1`` processes on two ports share one database (a SQLite file,
and a PostgreSQL database of this test's own when ``ACCORD_TEST_DATABASE_URL`` is set);
every change goes through process 1's admin API and every check through process 2.
"""

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from cli_helpers import run_accord
from process_helpers import clean_environment, free_port, http_json, stop, wait_until_serving

INSTALLED = Path(__file__).resolve().parents[1] / "fixtures" / "installed"
ADMIN = ("admin@example.com", "correct-horse")
START_SECONDS = 60


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """``None`` (the instance's SQLite file) or the URL of a PostgreSQL database created
    for this test beside the session's test database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    if not os.environ.get("ACCORD_TEST_DATABASE_URL"):
        pytest.skip("set ACCORD_TEST_DATABASE_URL to run this on PostgreSQL")
    from sqlalchemy import create_engine, make_url, text

    session_url = make_url(request.getfixturevalue("accord_database_template")["url"])
    name = f"{session_url.database}_across_processes"
    server = create_engine(session_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield session_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _serve(stack, instance, database_url, logs):
    """Start ``accord serve --workers 1`` on a free port with the fixture plugins
    installed; returns ``(base URL, process, its log)``. Stopped when ``stack`` closes."""
    port = free_port()
    env = clean_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INSTALLED), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "accord.cli", "--instance", str(instance)]
    if database_url:
        command += ["--database-url", database_url]
    command += ["serve", "--port", str(port), "--workers", "1", "--threads", "2"]
    log = logs / f"serve-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    stack.callback(stop, process)
    return f"http://127.0.0.1:{port}", process, log


def _tail(path, lines=40):
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def test_a_plugin_toggled_through_one_process_is_seen_by_another(tmp_path, database_url):
    instance = tmp_path / "instance"
    init = run_accord(instance, "init", "--admin-email", ADMIN[0], "--admin-password", ADMIN[1],
                      database_url=database_url)
    assert init.exit_code == 0, init
    created = run_accord(instance, "tokens", "create", "--user", ADMIN[0], database_url=database_url)
    assert created.exit_code == 0, created
    token = created.stdout.strip().splitlines()[-1]

    with ExitStack() as stack:
        servers = [_serve(stack, instance, database_url, tmp_path) for _ in range(2)]
        for base, process, log in servers:
            wait_until_serving(process, f"{base}/api/v1/openapi.json", START_SECONDS, lambda log=log: _tail(log))
        (one, _, one_log), (two, _, two_log) = servers

        def call(base, method, path, body=None):
            return http_json(method, base + path, token if path.startswith("/api/") else None, body)

        def logs():
            return f"\n--- process 1:\n{_tail(one_log)}\n--- process 2:\n{_tail(two_log)}"

        def expect(status, answer, note=""):
            assert answer[0] == status, f"{note} expected {status}, got {answer}{logs()}"
            return answer[1]

        def ticket_type_seen(base):
            types = {t["key"] for t in expect(200, call(base, "GET", "/api/v1/types"))["data"]}
            paths = expect(200, call(base, "GET", "/api/v1/openapi.json"))["paths"]
            assert ("ticket" in types) == ("/api/v1/tickets" in paths), (types, sorted(paths))
            return "ticket" in types

        # Process 2 has loaded its catalog without the plugin, so what follows proves it
        # notices the change rather than loading the set for the first time.
        expect(404, call(two, "GET", "/api/v1/tickets"), "process 2 before enabling:")
        expect(404, call(two, "GET", "/fixture-tickets/ping"), "process 2 before enabling:")
        assert not ticket_type_seen(two)

        enabled = expect(200, call(one, "POST", "/api/v1/admin/plugins/fixture_tickets/enable"))
        assert enabled["enabled"] == ["fixture_tickets"] and enabled["plugin"]["status"] == "enabled"

        assert expect(200, call(two, "GET", "/api/v1/tickets"), "process 2 after enabling:")["data"] == []
        assert ticket_type_seen(two)
        ping = expect(200, call(two, "GET", "/fixture-tickets/ping"), "process 2 after enabling:")
        assert ping["settings"]["first_response_hours"] == 4
        first = expect(201, call(two, "POST", "/api/v1/tickets", {"subject": "Printer on fire"}))
        assert first["respond_within_hours"] == 4

        bad = expect(422, call(one, "PATCH", "/api/v1/admin/plugins/fixture_tickets/settings",
                               {"first_response_hours": 0}))
        assert "first_response_hours" in bad["error"]["fields"], bad
        bad = expect(422, call(one, "PATCH", "/api/v1/admin/plugins/fixture_tickets/settings",
                               {"first_response_hours": "soon"}))
        assert "first_response_hours" in bad["error"]["fields"], bad

        changed = expect(200, call(one, "PATCH", "/api/v1/admin/plugins/fixture_tickets/settings",
                                   {"first_response_hours": 9}))
        assert changed["first_response_hours"] == 9
        assert expect(200, call(two, "GET", "/fixture-tickets/ping"))["settings"]["first_response_hours"] == 9
        second = expect(201, call(two, "POST", "/api/v1/tickets", {"subject": "Paper jam"}))
        assert second["respond_within_hours"] == 9

        disabled = expect(200, call(one, "POST", "/api/v1/admin/plugins/fixture_tickets/disable"))
        assert disabled["disabled"] == ["fixture_tickets"]
        expect(404, call(two, "GET", "/api/v1/tickets"), "process 2 after disabling:")
        expect(404, call(two, "GET", f"/api/v1/tickets/{first['id']}"), "process 2 after disabling:")
        expect(404, call(two, "GET", "/fixture-tickets/ping"), "process 2 after disabling:")
        assert not ticket_type_seen(two)

        expect(200, call(one, "POST", "/api/v1/admin/plugins/fixture_tickets/enable"))
        listed = expect(200, call(two, "GET", "/api/v1/tickets?sort=id"), "process 2 after re-enabling:")["data"]
        assert [(t["id"], t["subject"], t["respond_within_hours"]) for t in listed] == [
            (first["id"], "Printer on fire", 4), (second["id"], "Paper jam", 9)]
        assert ticket_type_seen(two)
        assert expect(200, call(two, "GET", "/fixture-tickets/ping"))["settings"]["first_response_hours"] == 9
