"""Request ids (echoed, and carried by every log record made while a request is handled),
the access line, and the JSON and text log formats."""

import json
import logging
import re
import sys

import failing_after_commit_plugin
import pytest
from accord.core.config import ConfigError, load_config
from accord.core.logs import JsonFormatter, text_formatter
from accord.testing import api_client, make_user

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def access_records(caplog):
    caplog.set_level(logging.INFO, logger="accord")
    return lambda: [r for r in caplog.records if r.name == "accord.access"]


def test_a_sane_incoming_request_id_is_echoed_and_logged(app, access_records):
    response = app.test_client().get("/healthz?probe=1", headers={"X-Request-ID": "lb-7f3a.2:9"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.2:9"
    (line,) = access_records()
    assert line.request_id == "lb-7f3a.2:9"
    assert (line.method, line.path, line.status) == ("GET", "/healthz", 200)
    assert line.duration_ms >= 0


@pytest.mark.parametrize("sent", ["", "has space", "x" * 65, "-leading-dash", "<script>", "tab\there", "ünïcode"])
def test_an_absent_or_odd_request_id_is_replaced_by_a_new_one(app, access_records, sent):
    client = app.test_client()
    first = client.get("/healthz", headers={"X-Request-ID": sent} if sent else {}).headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second
    assert [r.request_id for r in access_records()] == [first, second]


def test_every_record_made_while_handling_a_request_carries_its_id(with_plugins, caplog):
    app = with_plugins(failing_after_commit_plugin)
    api = api_client(app, make_user(app, "admin@example.com", "Ada Admin", is_admin=True))
    caplog.set_level(logging.INFO, logger="accord")
    caplog.clear()
    response = api.post("/contacts", json={"last_name": "Doe"}, headers={"X-Request-ID": "req-after-commit"})
    assert response.status_code == 201
    failure = [r for r in caplog.records if "failing_after_commit" in r.getMessage()]
    assert failure and all(r.request_id == "req-after-commit" for r in failure)
    assert all(r.request_id == "req-after-commit" for r in caplog.records if r.name.startswith("accord"))
    outside = logging.getLogger("accord").makeRecord("accord", logging.INFO, __file__, 1, "outside", (), None)
    assert not hasattr(outside, "request_id")


def test_error_answers_carry_the_request_id_too(app, access_records):
    response = app.test_client().get("/api/v1/contacts", headers={"X-Request-ID": "no-token"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "no-token"
    assert [(r.status, r.request_id) for r in access_records()] == [(401, "no-token")]


def test_json_format_is_one_object_per_record_with_the_access_fields(app, caplog):
    caplog.set_level(logging.INFO, logger="accord")
    app.test_client().get("/healthz", headers={"X-Request-ID": "json-1"})
    (access,) = [r for r in caplog.records if r.name == "accord.access"]
    line = JsonFormatter().format(access)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "accord.access"
    assert entry["message"].startswith("GET /healthz 200 ")
    assert (entry["request_id"], entry["method"], entry["path"], entry["status"]) == ("json-1", "GET", "/healthz", 200)
    assert isinstance(entry["duration_ms"], float) and entry["time"].endswith("+00:00")

    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.getLogger("accord").makeRecord("accord", logging.ERROR, __file__, 1, "failed", (),
                                                        sys.exc_info())
    entry = json.loads(JsonFormatter().format(failed))
    assert entry["request_id"] is None and "ValueError: boom" in entry["exception"]


def test_text_format_shows_the_request_id_or_a_dash(app, caplog):
    caplog.set_level(logging.INFO, logger="accord")
    app.test_client().get("/healthz", headers={"X-Request-ID": "text-1"})
    (access,) = [r for r in caplog.records if r.name == "accord.access"]
    assert " accord.access text-1: GET /healthz 200 " in text_formatter().format(access)
    outside = logging.getLogger("accord").makeRecord("accord", logging.INFO, __file__, 1, "started", (), None)
    assert text_formatter().format(outside).endswith(" accord -: started")


def test_log_format_setting_is_json_or_text(tmp_path):
    assert load_config({"INSTANCE_PATH": str(tmp_path)}, environ={"ACCORD_LOG_FORMAT": "JSON"})["LOG_FORMAT"] == "json"
    assert load_config({"INSTANCE_PATH": str(tmp_path)}, environ={})["LOG_FORMAT"] is None
    with pytest.raises(ConfigError, match="ACCORD_LOG_FORMAT"):
        load_config({"INSTANCE_PATH": str(tmp_path)}, environ={"ACCORD_LOG_FORMAT": "xml"})
