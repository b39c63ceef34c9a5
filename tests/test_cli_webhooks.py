"""``accord webhooks list|add|remove|deliveries|replay`` on an instance, delivering to a
real receiver on loopback with ``accord jobs run``."""

import pytest
from cli_helpers import run_accord
from webhook_receiver import running_receiver


@pytest.fixture
def accord(tmp_path):
    instance = tmp_path / "instance"

    def run(*args):
        return run_accord(instance, *args)

    assert run("init", "--admin-email", "admin@example.com", "--admin-password", "correct-horse").exit_code == 0
    return run


def create_deal(run, name):
    from accord.core.records import SYSTEM
    from accord.core.registry import current_accord

    app = run("webhooks", "list").app
    with app.test_request_context():
        return current_accord(app).records.create("deal", {"name": name}, SYSTEM)


def test_add_list_deliver_replay_and_remove(accord):
    with running_receiver() as receiver:
        added = accord("webhooks", "add", receiver.endpoint("crm"), "--event", "created", "--type", "deal",
                       "--description", "Billing")
        assert added.exit_code == 0, added.output
        assert "Webhook 1 sends created of deal to" in added.stderr
        receiver.secrets["crm"] = added.stdout.strip().splitlines()[-1]
        listed = accord("webhooks", "list").stdout
        assert f"1  on   {receiver.endpoint('crm')}  created  deal  (Billing)" in listed

        deal = create_deal(accord, "Pilot")
        create_deal(accord, "Second")
        assert "Ran 2 job attempt(s)." in accord("jobs", "run").stdout
        assert [b["record"]["name"] for b in receiver.accepted("crm")] == ["Pilot", "Second"]
        deliveries = accord("webhooks", "deliveries", "1").stdout.splitlines()
        assert len(deliveries) == 2 and all("delivered  1 attempt(s)  created deal" in line for line in deliveries)
        assert f"created deal {deal.id}  event " in deliveries[1]

        replayed = accord("webhooks", "replay", "1")
        assert replayed.exit_code == 0 and "Delivery 1 (event " in replayed.stdout
        accord("jobs", "run")
        first, again = [b["event_id"] for b in receiver.accepted("crm") if b["record"]["name"] == "Pilot"]
        assert first == again
        assert accord("webhooks", "deliveries", "1", "--status", "pending").stdout == ""

        assert "Removed webhook 1." in accord("webhooks", "remove", "1").stdout
        assert accord("webhooks", "list").stdout == ""


def test_mistakes_are_one_line_errors(accord):
    bad = accord("webhooks", "add", "ftp://example.com/in", "--event", "archived")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert bad.stderr.startswith("Error: The webhook is not valid. url: Use an http:// or https:// URL.")
    assert "events: Unknown event 'archived'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = accord("webhooks", "replay", "12345")
    assert missing.exit_code == 1 and missing.stderr == "Error: Webhook delivery 12345 does not exist.\n"
    unknown = accord("webhooks", "deliveries", "7")
    assert unknown.exit_code == 1 and unknown.stderr == "Error: Webhook 7 does not exist.\n"
