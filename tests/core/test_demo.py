"""``accord demo``: sample data written through the service layer, never written twice,
the same every time, and served with a token that works over the API and real HTTP."""

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from accord.testing import ApiClient
from process_helpers import clean_environment, free_port, stop

TYPES = ("team", "user", "territory", "organization", "contact", "deal", "activity")
WAIT_SECONDS = 60


def _prepare(app, lines=None):
    from accord.core.demo import prepare_demo

    return prepare_demo(app, progress=(lines.append if lines is not None else lambda text: None))


def _rows(app, statement):
    """The rows of a SQLAlchemy statement, typed by the models (dates as dates everywhere)."""
    from accord.core.db import db

    with app.app_context():
        try:
            return db.session.execute(statement).all()
        finally:
            db.session.remove()


def _counts(app):
    """Row counts of every table the demo writes to."""
    from accord.core.db import db

    tables = [db.metadata.tables[name] for name in (*TYPES, "deal_contact", "stage_history", "search_entry")]
    return {table.name: _rows(app, select(func.count()).select_from(table))[0][0] for table in tables}


def test_demo_data_is_realistic_and_written_through_the_service_layer(app):
    from accord.core.db import utcnow
    from accord.core.models import (
        Activity, Contact, Deal, Pipeline, PipelineStage, SearchEntry, StageHistory, deal_contact,
    )

    login = _prepare(app)
    assert login["email"] == "demo@example.com" and login["password"] == "accord-demo"
    counts = _counts(app)
    assert counts["contact"] >= 200 and counts["organization"] >= 50
    assert counts["deal"] >= 100 and counts["activity"] >= 300
    assert counts["team"] == 2 and counts["territory"] == 5 and counts["user"] >= 7
    indexed = dict(_rows(app, select(SearchEntry.record_type, func.count()).group_by(SearchEntry.record_type)))
    for type_key in ("organization", "contact", "deal", "activity"):
        assert indexed[type_key] == counts[type_key], f"every {type_key} is in the search index"
    writers = _rows(app, select(Contact.created_by).distinct())
    assert len(writers) == 1 and writers[0][0] is not None, "one actor, the demo administrator, wrote them"

    contacts = _rows(app, select(Contact.email))
    assert len({email for (email,) in contacts}) == len(contacts), "contact emails are unique"

    stages = _rows(app, select(PipelineStage.key, PipelineStage.outcome, PipelineStage.reasons)
                   .join(Pipeline, Pipeline.id == PipelineStage.pipeline_id).where(Pipeline.key == "sales"))
    deals = _rows(app, select(Deal.id, Deal.stage, Deal.close_reason, Deal.closed_at, Deal.currency,
                              Deal.expected_close_date, Deal.owner_id, Deal.territory_id, Deal.organization_id))
    assert {deal.stage for deal in deals} == {stage.key for stage in stages}, "every stage holds deals"
    outcome = {stage.key: stage for stage in stages}
    for deal in deals:
        stage = outcome[deal.stage]
        if stage.outcome == "open":
            assert deal.closed_at is None and deal.close_reason is None, deal
        else:
            assert deal.closed_at is not None and deal.close_reason in stage.reasons, deal
    currencies = Counter(deal.currency for deal in deals)
    assert currencies.most_common(1)[0][0] == "EUR" and {"USD", "GBP"} <= set(currencies)
    today = utcnow().date()
    close_dates = [deal.expected_close_date for deal in deals]
    assert today - timedelta(days=190) <= min(close_dates) < today < max(close_dates) <= today + timedelta(days=280)
    assert len({deal.owner_id for deal in deals}) >= 5 and len({deal.territory_id for deal in deals}) == 5

    links = _rows(app, select(deal_contact.c.deal_id, Contact.organization_id, Deal.organization_id)
                  .join(Contact, Contact.id == deal_contact.c.contact_id).join(Deal, Deal.id == deal_contact.c.deal_id))
    assert {link.deal_id for link in links} == {deal.id for deal in deals}, "every deal has contacts"
    assert all(link[1] == link[2] for link in links), "a deal's contacts work at its organization"

    history = _rows(app, select(StageHistory.record_id, StageHistory.from_stage, StageHistory.to_stage,
                                StageHistory.reason).where(StageHistory.record_type == "deal")
                    .order_by(StageHistory.id))
    assert any(row.from_stage is not None for row in history)
    walked = {}
    for row in history:
        assert row.from_stage == walked.get(row.record_id), "each change starts where the last one ended"
        walked[row.record_id] = row.to_stage
    assert walked == {deal.id: deal.stage for deal in deals}
    assert all(row.reason for row in history if outcome[row.to_stage].outcome != "open")

    activities = _rows(app, select(Activity.kind, Activity.related_type, Activity.related_id, Activity.due_at,
                                   Activity.done, Activity.done_at))
    assert {a.kind for a in activities} == {"call", "email", "meeting", "task", "note"}
    assert {a.related_type for a in activities} == {"contact", "organization", "deal"}
    now = utcnow()
    tasks = [a for a in activities if a.kind == "task"]
    assert any(t.due_at < now and not t.done for t in tasks), "some tasks are overdue"
    assert any(t.due_at > now and not t.done for t in tasks), "some tasks are upcoming"
    assert any(t.done and t.done_at is not None for t in tasks), "some tasks are done"


def test_second_run_only_issues_a_token_and_search_finds_a_seeded_contact(app):
    from accord.core.models import Contact

    opening = []
    first = _prepare(app, opening)
    assert "Enabled the built-in plugin servicedesk." in opening
    assert ApiClient(app, first["token"]).get("/tickets").status_code == 200
    before = _counts(app)
    lines = []
    second = _prepare(app, lines)
    assert _counts(app) == before, "nothing is seeded twice"
    assert any("keeping its data" in line for line in lines), lines
    assert not any("Enabled the built-in plugin" in line for line in lines), lines
    assert second["token"] != first["token"]

    contact = _rows(app, select(Contact.id, Contact.first_name, Contact.last_name).order_by(Contact.id)
                    .offset(41).limit(1))[0]
    for login in (first, second):
        api = ApiClient(app, login["token"])
        hits = api.get(f"/search?q={contact.first_name} {contact.last_name}&type=contact&limit=50")
        assert hits.status_code == 200, hits.get_data(as_text=True)
        assert contact.id in [hit["id"] for hit in hits.json["data"]]
        listed = api.get(f"/contacts?q={contact.last_name}&limit=500")
        assert contact.id in [row["id"] for row in listed.json["data"]]


def test_the_demo_holds_the_same_data_every_time(app, tmp_path):
    from accord.core import create_app
    from accord.core.db import db
    from accord.core.models import Contact, Deal, Organization

    other = create_app({"INSTANCE_PATH": str(tmp_path / "again"), "SQLITE_SYNCHRONOUS": "OFF",
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'again' / 'accord.db'}"})
    try:
        _prepare(app)
        _prepare(other)
        for statement in (
            select(Organization.name, Organization.city, Organization.phone).order_by(Organization.id),
            select(Contact.first_name, Contact.last_name, Contact.email, Contact.job_title).order_by(Contact.id),
            select(Deal.name, Deal.amount, Deal.currency, Deal.stage, Deal.close_reason).order_by(Deal.id),
        ):
            assert _rows(app, statement) == _rows(other, statement)
    finally:
        with other.app_context():
            db.engine.dispose()


def test_cli_demo_prints_a_working_token_last(tmp_path, monkeypatch):
    from accord.cli import main
    from accord.core import create_app
    from accord.core.db import db

    monkeypatch.delenv("ACCORD_DATABASE_URL", raising=False)
    instance = tmp_path / "demo"
    result = CliRunner().invoke(main, ["--instance", str(instance), "demo", "--no-serve"])
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Accord demo at ") and "demo@example.com, password accord-demo" in lines[1]
    token = lines[-1]
    app = create_app({"INSTANCE_PATH": str(instance)})
    try:
        response = app.test_client().get("/api/v1/contacts?limit=5", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert len(response.json["data"]) == 5
    finally:
        with app.app_context():
            db.engine.dispose()


def test_demo_serves_the_sample_data_over_http(tmp_path):
    port = free_port()
    env = clean_environment()
    with open(tmp_path / "stderr.log", "w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "accord.cli", "--instance", str(tmp_path / "demo"), "demo", "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        token = _read_token(server, deadline, tmp_path / "stderr.log")
        status, body = _get_when_up(f"http://127.0.0.1:{port}/api/v1/contacts?limit=5", token, server, deadline)
        assert status == 200 and len(body["data"]) == 5
    finally:
        stop(server)



def _read_token(server, deadline, stderr_path):
    """The token: the first line without a space after the ``Accord demo at`` banner.
    Lines are read on a thread so that every wait stays bounded."""
    lines = queue.Queue()

    def pump():
        for line in server.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(remaining, 0.01)).strip()
        except queue.Empty:
            raise AssertionError(f"no token before the deadline; stdout {seen}, stderr {stderr_path.read_text()}")
        seen.append(line)
        if any(earlier.startswith("Accord demo at") for earlier in seen[:-1]) and line and " " not in line:
            return line


def _get_when_up(url, token, server, deadline):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError:
            raise
        except OSError:
            assert server.poll() is None, "the demo server exited"
            assert time.monotonic() < deadline, "the demo server did not answer in time"
            time.sleep(0.2)
