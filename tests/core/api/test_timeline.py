"""Timelines: ``GET /api/v1/<plural>/<id>/timeline`` lists the activities regarding a
record, newest first; an organization's also takes in its contacts' and deals'."""

from api_helpers import assert_error, create, page_through


def _activity(api, related_type, related_id, subject, when, **extra):
    return create(api, "activities", kind=extra.pop("kind", "note"), subject=subject, related_type=related_type,
                  related_id=related_id, occurred_at=when, **extra)


def _subjects(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [a["subject"] for a in response.json["data"]]


def test_contact_timeline_lists_its_activities_newest_first(api):
    ada = create(api, "contacts", last_name="Lovelace")
    grace = create(api, "contacts", last_name="Hopper")
    _activity(api, "contact", ada["id"], "middle", "2025-02-01T10:00:00Z")
    _activity(api, "contact", ada["id"], "oldest", "2024-12-31T23:00:00Z")
    _activity(api, "contact", ada["id"], "newest", "2025-03-01T08:00:00+02:00")
    _activity(api, "contact", grace["id"], "not hers", "2025-02-15T10:00:00Z")
    create(api, "activities", kind="note", subject="about nothing")
    response = api.get(f"/contacts/{ada['id']}/timeline")
    assert _subjects(response) == ["newest", "middle", "oldest"]
    assert response.json["next_cursor"] is None
    assert all(a["related_type"] == "contact" and a["related_id"] == ada["id"] for a in response.json["data"])
    assert _subjects(api.get(f"/contacts/{grace['id']}/timeline")) == ["not hers"]


def test_timeline_defaults_occurred_at_to_now(api):
    ada = create(api, "contacts", last_name="Lovelace")
    _activity(api, "contact", ada["id"], "long ago", "2020-01-01T00:00:00Z")
    fresh = create(api, "activities", kind="call", subject="just now", related_type="contact", related_id=ada["id"])
    assert fresh["occurred_at"] is not None
    assert _subjects(api.get(f"/contacts/{ada['id']}/timeline")) == ["just now", "long ago"]


def test_timeline_leaves_out_trashed_activities(api):
    ada = create(api, "contacts", last_name="Lovelace")
    keep = _activity(api, "contact", ada["id"], "keep", "2025-01-01T00:00:00Z")
    drop = _activity(api, "contact", ada["id"], "drop", "2025-01-02T00:00:00Z")
    api.delete(f"/activities/{drop['id']}")
    assert [a["id"] for a in api.get(f"/contacts/{ada['id']}/timeline").json["data"]] == [keep["id"]]


def test_timeline_pages_with_a_cursor(api):
    ada = create(api, "contacts", last_name="Lovelace")
    made = [_activity(api, "contact", ada["id"], f"a{i}", f"2025-01-{i + 1:02d}T12:00:00Z")["id"] for i in range(7)]
    assert page_through(api, f"/contacts/{ada['id']}/timeline", 3) == list(reversed(made))


def test_organization_timeline_includes_its_contacts_and_deals(api):
    acme = create(api, "organizations", name="Acme")
    other = create(api, "organizations", name="Other")
    employee = create(api, "contacts", last_name="Employee", organization_id=acme["id"])
    outsider = create(api, "contacts", last_name="Outsider", organization_id=other["id"])
    acme_deal = create(api, "deals", name="Acme deal", organization_id=acme["id"])
    other_deal = create(api, "deals", name="Other deal", organization_id=other["id"])
    _activity(api, "organization", acme["id"], "org itself", "2025-01-01T00:00:00Z")
    _activity(api, "contact", employee["id"], "employee call", "2025-01-03T00:00:00Z", kind="call")
    _activity(api, "deal", acme_deal["id"], "deal meeting", "2025-01-02T00:00:00Z", kind="meeting")
    _activity(api, "contact", outsider["id"], "outsider call", "2025-01-04T00:00:00Z")
    _activity(api, "deal", other_deal["id"], "other deal", "2025-01-05T00:00:00Z")
    _activity(api, "organization", other["id"], "other org", "2025-01-06T00:00:00Z")
    assert _subjects(api.get(f"/organizations/{acme['id']}/timeline")) == ["employee call", "deal meeting",
                                                                          "org itself"]
    assert _subjects(api.get(f"/organizations/{other['id']}/timeline")) == ["other org", "other deal",
                                                                           "outsider call"]
    assert _subjects(api.get(f"/deals/{acme_deal['id']}/timeline")) == ["deal meeting"]


def test_organization_timeline_follows_a_contact_that_moves(api):
    acme = create(api, "organizations", name="Acme")
    other = create(api, "organizations", name="Other")
    mover = create(api, "contacts", last_name="Mover", organization_id=acme["id"])
    _activity(api, "contact", mover["id"], "call", "2025-01-01T00:00:00Z")
    assert _subjects(api.get(f"/organizations/{acme['id']}/timeline")) == ["call"]
    api.patch(f"/contacts/{mover['id']}", json={"organization_id": other["id"]})
    assert _subjects(api.get(f"/organizations/{acme['id']}/timeline")) == []
    assert _subjects(api.get(f"/organizations/{other['id']}/timeline")) == ["call"]


def test_timeline_of_missing_or_trashed_record_is_404(api):
    assert_error(api.get("/contacts/999999/timeline"), 404, "not_found")
    ada = create(api, "contacts", last_name="Lovelace")
    api.delete(f"/contacts/{ada['id']}")
    assert_error(api.get(f"/contacts/{ada['id']}/timeline"), 404, "not_found")
    assert_error(api.get("/spaceships/1/timeline"), 404, "not_found")


def test_timeline_bad_limit_is_400(api):
    ada = create(api, "contacts", last_name="Lovelace")
    assert_error(api.get(f"/contacts/{ada['id']}/timeline?limit=501"), 400, fields=["limit"])
