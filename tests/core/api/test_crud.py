"""Create, read, update, trash and restore through the REST API."""


def test_create_and_read_contact(api):
    created = api.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})
    assert created.status_code == 201, created.json
    body = created.json
    assert body["last_name"] == "Lovelace" and body["version"] == 1
    assert created.headers["Location"] == f"/api/v1/contacts/{body['id']}"
    fetched = api.get(f"/contacts/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json == body
    assert fetched.headers["ETag"] == f'"contact-{body["id"]}-1"'


def test_patch_bumps_version_and_keeps_other_fields(api):
    contact = api.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace"}).json
    changed = api.patch(f"/contacts/{contact['id']}", json={"job_title": "Analyst"})
    assert changed.status_code == 200
    assert changed.json["job_title"] == "Analyst"
    assert changed.json["first_name"] == "Ada"
    assert changed.json["version"] == 2


def test_delete_moves_to_trash_and_restore_brings_back(api):
    contact = api.post("/contacts", json={"last_name": "Hopper"}).json
    assert api.delete(f"/contacts/{contact['id']}").status_code == 204
    assert api.get(f"/contacts/{contact['id']}").status_code == 404
    trash = api.get("/contacts?trashed=true").json["data"]
    assert [c["id"] for c in trash] == [contact["id"]]
    restored = api.post(f"/contacts/{contact['id']}/restore")
    assert restored.status_code == 200
    assert api.get(f"/contacts/{contact['id']}").status_code == 200
    assert api.get("/contacts?trashed=true").json["data"] == []
