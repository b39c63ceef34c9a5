"""The service desk under privacy export and erasure: a ticket refers to its contact, so it
is exported with it, and erasing the contact empties the ticket's customer text while its
priority, stage and service-level times stay."""

import pytest
from accord.testing import api_client, make_user
from api_helpers import create, sql


@pytest.fixture
def api(with_enabled_plugins):
    app = with_enabled_plugins("servicedesk")
    return api_client(app, make_user(app, "agent@example.com", "Agent Smith", is_admin=True))


@pytest.fixture
def tickets(api):
    contact = create(api, "contacts", first_name="Augusta", last_name="Byronesque")
    mine = create(api, "tickets", subject="Byronesque cannot sign in", description="Call me on 0207 946 0811",
                  contact_id=contact["id"], priority="urgent", channel="phone")
    assert api.patch(f"/tickets/{mine['id']}", json={"stage": "open"}).status_code == 200
    other = create(api, "tickets", subject="Printer on fire", priority="low")
    return contact, api.get(f"/tickets/{mine['id']}").get_json(), other


def test_the_export_holds_the_contacts_tickets(api, tickets):
    contact, mine, other = tickets
    exported = api.get(f"/contacts/{contact['id']}/privacy-export").get_json()
    assert [(t["id"], t["subject"], t["description"]) for t in exported["records"]["ticket"]] == \
        [(mine["id"], "Byronesque cannot sign in", "Call me on 0207 946 0811")]


def test_erasure_empties_the_customer_text_and_keeps_the_service_facts(api, tickets):
    contact, mine, other = tickets
    stages = sql(api.app, "SELECT stage, count(*) FROM servicedesk_ticket GROUP BY stage ORDER BY stage")
    assert api.post(f"/contacts/{contact['id']}/erase").status_code == 200
    ticket = api.get(f"/tickets/{mine['id']}").get_json()
    assert (ticket["subject"], ticket["description"]) == ("Erased", None)
    kept = ("priority", "channel", "stage", "contact_id", "first_response_due_at", "first_responded_at")
    assert {name: ticket[name] for name in kept} == {name: mine[name] for name in kept}
    assert api.get(f"/tickets/{other['id']}").get_json()["subject"] == "Printer on fire"
    assert sql(api.app, "SELECT stage, count(*) FROM servicedesk_ticket GROUP BY stage ORDER BY stage") == stages
    assert api.get("/search?q=byronesque").get_json()["data"] == []
    assert sql(api.app, "SELECT count(*) FROM servicedesk_ticket WHERE description LIKE '%0811%'") == [(0,)]
