"""Bad input through the REST API: every refusal has its documented status, the error
shape names the offending field, and nothing reaches the database."""

import json

import pytest

from accord.testing import api_client, make_user
from api_helpers import assert_error, count, create, scalar, sql

import refusing_plugin


# Malformed bodies ----------------------------------------------------------------------


def test_malformed_json_is_400(api, app):
    for raw in (b'{"last_name": "Doe"', b"{'last_name': 'Doe'}", b"\xff\xfe", b"nul", b'{"last_name": "Doe"} x'):
        response = api.post("/contacts", data=raw, content_type="application/json")
        assert_error(response, 400, "bad_request", where=raw)
    assert count(app, "contact") == 0


def test_json_that_is_not_an_object_is_400(api, app):
    for raw in (b"[]", b'[{"last_name": "Doe"}]', b'"text"', b"42", b"null"):
        response = api.post("/contacts", data=raw, content_type="application/json")
        assert_error(response, 400, "bad_request", where=raw)
    assert count(app, "contact") == 0


def test_empty_body_is_400(api):
    assert_error(api.post("/contacts", data=b"", content_type="application/json"), 400, "bad_request")


def test_malformed_json_on_patch_is_400_and_nothing_changes(api, app):
    contact = create(api, "contacts", last_name="Doe")
    response = api.patch(f"/contacts/{contact['id']}", data=b'{"last_name": ', content_type="application/json")
    assert_error(response, 400, "bad_request")
    assert api.get(f"/contacts/{contact['id']}").json == contact


# Field validation ----------------------------------------------------------------------


def test_unknown_field_is_422_naming_it(api, app):
    response = api.post("/contacts", json={"last_name": "Doe", "nickname": "JD"})
    error = assert_error(response, 422, "validation_failed", fields=["nickname"])
    assert "last_name" not in error["fields"]
    assert count(app, "contact") == 0


def test_unknown_field_on_patch_is_422(api):
    contact = create(api, "contacts", last_name="Doe")
    response = api.patch(f"/contacts/{contact['id']}", json={"shoe_size": 44})
    assert_error(response, 422, "validation_failed", fields=["shoe_size"])
    assert api.get(f"/contacts/{contact['id']}").json["version"] == 1


WRONG_TYPES = [
    ("organizations", {"name": "Acme", "employees": "many"}, "employees"),
    ("organizations", {"name": "Acme", "employees": 12.5}, "employees"),
    ("organizations", {"name": "Acme", "employees": True}, "employees"),
    ("organizations", {"name": "Acme", "employees": "12"}, "employees"),
    ("contacts", {"last_name": 123}, "last_name"),
    ("contacts", {"last_name": ["Doe"]}, "last_name"),
    ("contacts", {"last_name": "Doe", "organization_id": "one"}, "organization_id"),
    ("deals", {"name": "Big", "amount": "a lot"}, "amount"),
    ("deals", {"name": "Big", "amount": "NaN"}, "amount"),
    ("deals", {"name": "Big", "expected_close_date": "2025-13-45"}, "expected_close_date"),
    ("deals", {"name": "Big", "contact_ids": "1,2"}, "contact_ids"),
    ("deals", {"name": "Big", "contact_ids": [0]}, "contact_ids"),
    ("activities", {"kind": "call", "subject": "Hi", "done": "yes"}, "done"),
    ("activities", {"kind": "call", "subject": "Hi", "occurred_at": "yesterday"}, "occurred_at"),
]


def test_wrong_type_is_422_naming_the_field(api, app):
    for plural, values, field in WRONG_TYPES:
        assert_error(api.post(f"/{plural}", json=values), 422, "validation_failed", fields=[field],
                     where=(plural, values))
    for table in ("organization", "contact", "deal", "activity", "deal_contact"):
        assert count(app, table) == 0, table


def test_text_longer_than_its_maximum_is_422(api):
    assert_error(api.post("/contacts", json={"last_name": "x" * 101}), 422, fields=["last_name"])


def test_bad_choice_is_422(api):
    response = api.post("/activities", json={"kind": "fax", "subject": "Sent a fax"})
    assert_error(response, 422, "validation_failed", fields=["kind"])


def test_bad_email_is_422(api, app):
    for email in ("not-an-email", "a@", "@example.com", "a b@example.com", 42):
        assert_error(api.post("/contacts", json={"last_name": "Doe", "email": email}), 422, fields=["email"],
                     where=email)
    assert count(app, "contact") == 0


def test_bad_phone_is_422(api, app):
    for phone in ("call me", "12", "+1 (555) abc", "555-1234-5678-9999-0000-1111-2222-3333", 5551234):
        assert_error(api.post("/contacts", json={"last_name": "Doe", "phone": phone}), 422, fields=["phone"],
                     where=phone)
    assert count(app, "contact") == 0


def test_bad_url_is_422(api, app):
    for url in ("not a url", "ftp://example.com/file", "javascript:alert(1)", "example"):
        assert_error(api.post("/organizations", json={"name": "Acme", "website": url}), 422, fields=["website"],
                     where=url)
    assert count(app, "organization") == 0


def test_valid_email_phone_url_are_accepted(api):
    contact = create(api, "contacts", last_name="Doe", email="jd@example.com", phone="+44 20 7946 0958 ext. 12")
    assert contact["email"] == "jd@example.com"
    assert contact["phone"] == "+44 20 7946 0958 ext. 12"
    org = create(api, "organizations", name="Acme", website="https://acme.example/about")
    assert org["website"] == "https://acme.example/about"


def test_missing_required_is_422(api, app):
    assert_error(api.post("/contacts", json={"first_name": "Jane"}), 422, "validation_failed", fields=["last_name"])
    error = assert_error(api.post("/activities", json={"body": "no kind, no subject"}), 422, fields=["kind", "subject"])
    assert "body" not in error["fields"]
    assert count(app, "contact") == 0 and count(app, "activity") == 0


def test_required_set_to_null_on_patch_is_422(api):
    contact = create(api, "contacts", last_name="Doe")
    assert_error(api.patch(f"/contacts/{contact['id']}", json={"last_name": None}), 422, fields=["last_name"])
    assert api.get(f"/contacts/{contact['id']}").json["last_name"] == "Doe"


def test_standard_fields_are_read_only(api, app):
    contact = create(api, "contacts", last_name="Doe")
    for name in ("id", "version", "created_at", "updated_at", "created_by"):
        assert_error(api.post("/contacts", json={"last_name": "Roe", name: 7}), 422, fields=[name], where=name)
        assert_error(api.patch(f"/contacts/{contact['id']}", json={name: 7}), 422, fields=[name], where=name)
    assert count(app, "contact") == 1
    assert scalar(app, "SELECT version FROM contact WHERE id = :id", id=contact["id"]) == 1


def test_read_only_field_of_a_type_is_422(api):
    response = api.post("/deals", json={"name": "Big", "closed_at": "2025-01-01T00:00:00Z"})
    assert_error(response, 422, fields=["closed_at"])


def test_several_errors_are_reported_together(api):
    response = api.post("/contacts", json={"email": "nope", "phone": "x", "nickname": 1})
    assert_error(response, 422, fields=["last_name", "email", "phone", "nickname"])


# References ----------------------------------------------------------------------------


def test_reference_to_a_missing_record_is_422(api, app):
    response = api.post("/contacts", json={"last_name": "Doe", "organization_id": 999999})
    assert_error(response, 422, "validation_failed", fields=["organization_id"])
    assert count(app, "contact") == 0


def test_reference_to_a_trashed_record_is_422(api, app):
    org = create(api, "organizations", name="Gone Ltd")
    assert api.delete(f"/organizations/{org['id']}").status_code == 204
    response = api.post("/contacts", json={"last_name": "Doe", "organization_id": org["id"]})
    assert_error(response, 422, fields=["organization_id"])
    assert count(app, "contact") == 0


def test_patch_reference_to_a_trashed_record_is_422_and_nothing_written(api, app):
    live = create(api, "organizations", name="Live Ltd")
    gone = create(api, "organizations", name="Gone Ltd")
    contact = create(api, "contacts", last_name="Doe", organization_id=live["id"])
    api.delete(f"/organizations/{gone['id']}")
    response = api.patch(f"/contacts/{contact['id']}", json={"organization_id": gone["id"], "city": "Paris"})
    assert_error(response, 422, fields=["organization_id"])
    row = tuple(sql(app, "SELECT organization_id, city, version FROM contact WHERE id = :id", id=contact["id"])[0])
    assert row == (live["id"], None, 1)


def test_reference_to_a_user_must_exist(api):
    assert_error(api.post("/contacts", json={"last_name": "Doe", "owner_id": 999999}), 422, fields=["owner_id"])


def test_deal_contact_ids_must_all_be_live(api, app):
    alive = create(api, "contacts", last_name="Alive")
    trashed = create(api, "contacts", last_name="Trashed")
    api.delete(f"/contacts/{trashed['id']}")
    error = assert_error(api.post("/deals", json={"name": "Big", "contact_ids": [alive["id"], 999999]}), 422,
                         fields=["contact_ids"])
    assert "999999" in " ".join(error["fields"]["contact_ids"])
    error = assert_error(api.post("/deals", json={"name": "Big", "contact_ids": [alive["id"], trashed["id"]]}), 422,
                         fields=["contact_ids"])
    assert str(trashed["id"]) in " ".join(error["fields"]["contact_ids"])
    assert count(app, "deal") == 0 and count(app, "deal_contact") == 0
    deal = create(api, "deals", name="Big", contact_ids=[alive["id"], alive["id"]])
    assert deal["contact_ids"] == [alive["id"]]


def test_patch_contact_ids_to_a_missing_contact_keeps_links(api, app):
    a = create(api, "contacts", last_name="A")
    deal = create(api, "deals", name="Big", contact_ids=[a["id"]])
    assert_error(api.patch(f"/deals/{deal['id']}", json={"contact_ids": [a["id"], 424242]}), 422, fields=["contact_ids"])
    links = sql(app, "SELECT contact_id FROM deal_contact WHERE deal_id = :d", d=deal["id"])
    assert [r[0] for r in links] == [a["id"]]


def test_activity_regarding_a_missing_record_is_422(api, app):
    response = api.post("/activities", json={"kind": "call", "subject": "Hi", "related_type": "contact",
                                             "related_id": 999999})
    assert_error(response, 422, "validation_failed", fields=["related_id"])
    assert count(app, "activity") == 0


def test_activity_regarding_a_trashed_record_is_422(api, app):
    contact = create(api, "contacts", last_name="Doe")
    api.delete(f"/contacts/{contact['id']}")
    response = api.post("/activities", json={"kind": "call", "subject": "Hi", "related_type": "contact",
                                             "related_id": contact["id"]})
    assert_error(response, 422, fields=["related_id"])
    assert count(app, "activity") == 0


def test_activity_regarding_an_unknown_type_is_422(api):
    response = api.post("/activities", json={"kind": "call", "subject": "Hi", "related_type": "spaceship",
                                             "related_id": 1})
    assert_error(response, 422, fields=["related_type"])


def test_activity_related_type_and_id_go_together(api):
    contact = create(api, "contacts", last_name="Doe")
    assert_error(api.post("/activities", json={"kind": "call", "subject": "Hi", "related_id": contact["id"]}), 422,
                 fields=["related_type"])
    assert_error(api.post("/activities", json={"kind": "call", "subject": "Hi", "related_type": "contact"}), 422,
                 fields=["related_type"])


def test_activity_moved_to_a_trashed_record_is_422(api, app):
    a = create(api, "contacts", last_name="A")
    b = create(api, "contacts", last_name="B")
    activity = create(api, "activities", kind="note", subject="Hi", related_type="contact", related_id=a["id"])
    api.delete(f"/contacts/{b['id']}")
    assert_error(api.patch(f"/activities/{activity['id']}", json={"related_id": b["id"]}), 422, fields=["related_id"])
    assert scalar(app, "SELECT related_id FROM activity WHERE id = :id", id=activity["id"]) == a["id"]


# Size limit ----------------------------------------------------------------------------


def test_body_over_the_configured_limit_is_413(accord_app_factory):
    app = accord_app_factory(MAX_BODY_BYTES=1000)
    user = make_user(app, "big@example.com", "Big Body", is_admin=True)
    client = api_client(app, user)
    small = client.post("/contacts", json={"last_name": "Small"})
    assert small.status_code == 201
    big = client.post("/contacts", json={"last_name": "Big", "description": "x" * 2000})
    assert_error(big, 413, "payload_too_large")
    assert count(app, "contact") == 1
    patched = client.patch(f"/contacts/{small.json['id']}", json={"description": "y" * 2000})
    assert_error(patched, 413, "payload_too_large")
    assert client.get(f"/contacts/{small.json['id']}").json["version"] == 1


def test_body_over_one_mebibyte_is_413_by_default(api, app):
    payload = json.dumps({"last_name": "Big", "description": "x" * (1024 * 1024 + 10)})
    response = api.post("/contacts", data=payload, content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    assert count(app, "contact") == 0


# Hooks ---------------------------------------------------------------------------------


@pytest.fixture
def hooked(with_plugins):
    app = with_plugins(refusing_plugin)
    user = make_user(app, "hooks@example.com", "Hook Tester", is_admin=True)
    return app, api_client(app, user)


def test_validate_hook_refusal_is_422_and_nothing_written(hooked):
    app, client = hooked
    error = assert_error(client.post("/contacts", json={"last_name": "Refused"}), 422, "validation_failed",
                         fields=["last_name"])
    assert "refusing plugin" in error["fields"]["last_name"][0]
    assert count(app, "contact") == 0 and count(app, "search_entry") == 0


def test_before_save_hook_crash_writes_nothing_and_names_the_plugin(hooked):
    app, client = hooked
    error = assert_error(client.post("/contacts", json={"last_name": "Crash"}), 500, "hook_failed")
    assert "refusing" in error["message"] and "accord_record_before_save" in error["message"]
    assert count(app, "contact") == 0 and count(app, "search_entry") == 0


def test_before_save_hook_crash_rolls_back_its_own_writes_too(hooked):
    app, client = hooked
    assert_error(client.post("/contacts", json={"last_name": "Smuggler"}), 500, "hook_failed")
    assert count(app, "contact") == 0
    assert count(app, "territory") == 0


def test_before_save_hook_crash_on_update_leaves_the_record_as_it_was(hooked):
    app, client = hooked
    contact = create(client, "contacts", last_name="Doe", job_title="Clerk")
    error = assert_error(client.patch(f"/contacts/{contact['id']}", json={"job_title": "Crash", "city": "Rome"}),
                         500, "hook_failed")
    assert "refusing" in error["message"]
    row = sql(app, "SELECT job_title, city, version FROM contact WHERE id = :id", id=contact["id"])[0]
    assert tuple(row) == ("Clerk", None, 1)


def test_hook_refusing_a_delete_keeps_the_record_live(hooked):
    app, client = hooked
    contact = create(client, "contacts", last_name="Doe", job_title="Undeletable")
    assert_error(client.delete(f"/contacts/{contact['id']}"), 422, fields=["job_title"])
    assert client.get(f"/contacts/{contact['id']}").status_code == 200
    assert scalar(app, "SELECT deleted_at FROM contact WHERE id = :id", id=contact["id"]) is None
    assert count(app, "search_entry", "record_id = :id", id=contact["id"]) == 1


def test_stage_guard_crash_writes_nothing(hooked):
    app, client = hooked
    deal = create(client, "deals", name="Guard crash")
    error = assert_error(client.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}), 500, "hook_failed")
    assert "refusing" in error["message"]
    assert scalar(app, "SELECT stage FROM deal WHERE id = :id", id=deal["id"]) == "lead"
    assert count(app, "stage_history", "record_id = :id", id=deal["id"]) == 1


def test_failing_after_commit_hook_never_loses_the_record(hooked):
    app, client = hooked
    response = client.post("/contacts", json={"last_name": "Aftermath"})
    assert response.status_code == 201, response.json
    assert count(app, "contact", "last_name = 'Aftermath'") == 1
    assert client.get(f"/contacts/{response.json['id']}").status_code == 200


# Values the validation lets through must fit the storage ---------------------------------


def test_whole_number_too_big_for_its_column_is_refused_or_kept_never_500(api, app):
    for value in (3_000_000_000, 2**63 - 1, -(2**63)):
        response = api.post("/organizations", json={"name": "Big", "employees": value})
        assert response.status_code in (201, 422), (value, response.status_code, response.get_data(as_text=True))
        if response.status_code == 422:
            assert_error(response, 422, "validation_failed", fields=["employees"], where=value)
        else:
            assert api.get(f"/organizations/{response.json['id']}").json["employees"] == value
    assert_error(api.post("/organizations", json={"name": "Big", "employees": 2**63}), 422, fields=["employees"])


def test_decimal_too_big_for_its_column_is_refused_or_kept_never_500(api):
    for amount in ("123456789012345.5", "99999999999999999", "-99999999999999999"):
        response = api.post("/deals", json={"name": "Big", "amount": amount})
        assert response.status_code in (201, 422), (amount, response.status_code, response.get_data(as_text=True))
        if response.status_code == 422:
            assert_error(response, 422, "validation_failed", fields=["amount"], where=amount)
        else:
            assert api.get(f"/deals/{response.json['id']}").json["amount"] == response.json["amount"]


def test_decimal_answer_matches_what_was_stored(api):
    response = api.post("/deals", json={"name": "Precise", "amount": "1.1234567"})
    assert response.status_code in (201, 422), response.get_data(as_text=True)
    if response.status_code == 201:
        stored = api.get(f"/deals/{response.json['id']}").json
        assert stored["amount"] == response.json["amount"], "the create answer must show what was stored"


# Hostile input: refused with a 4xx, never a 500 -------------------------------------------


def test_deeply_nested_json_is_400(api, app):
    deep = "[" * 100_000 + "]" * 100_000
    assert_error(api.post("/contacts", data=deep, content_type="application/json"), 400, "bad_request")
    inside = '{"last_name": "Doe", "description": ' + "[" * 5000 + "]" * 5000 + "}"
    response = api.post("/contacts", data=inside, content_type="application/json")
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert_error(response, response.status_code)
    assert count(app, "contact") == 0


def test_text_that_cannot_be_stored_is_refused_not_500(api, app):
    wrong = []
    for raw, label in (('{"last_name": "Doe\\ud800"}', "lone surrogate"), ('{"last_name": "Doe\\u0000x"}', "NUL")):
        response = api.post("/contacts", data=raw, content_type="application/json")
        if response.status_code == 201:
            if api.get(f"/contacts/{response.json['id']}").json["last_name"] != response.json["last_name"]:
                wrong.append(f"{label}: stored value differs from the answer")
        elif response.status_code in (400, 422):
            assert_error(response, response.status_code, where=label)
        else:
            wrong.append(f"{label}: HTTP {response.status_code} {response.get_data(as_text=True)}")
    assert not wrong, "\n".join(wrong)


def test_record_id_too_big_for_the_database_is_404(api):
    huge = 10**23
    assert_error(api.get(f"/contacts/{huge}"), 404, "not_found")
    assert_error(api.patch(f"/contacts/{huge}", json={"city": "Oslo"}), 404, "not_found")
    assert_error(api.delete(f"/contacts/{huge}"), 404, "not_found")


def test_reference_too_big_for_the_database_is_422(api, app):
    huge = 10**23
    assert_error(api.post("/contacts", json={"last_name": "Doe", "organization_id": huge}), 422,
                 fields=["organization_id"])
    assert_error(api.post("/deals", json={"name": "Big", "contact_ids": [huge]}), 422, fields=["contact_ids"])
    assert count(app, "contact") == 0 and count(app, "deal") == 0
