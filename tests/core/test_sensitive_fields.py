"""Field hiding by canary: every record type (core and the built-in plugin) gets a
sensitive field holding a unique marker; crawling every page, API answer, export,
search and error path as a role without the right to sensitive fields never shows a
marker, while an administrator sees each one (so the crawl would catch a leak)."""

import io

import pytest
from accord.testing import api_client, enable_plugins, make_user

from api_helpers import add_field, create, minimal_payload, referenced_first
from web_helpers import PASSWORD, Browser

CANARY = "canary{}zz"


def _world(app, role="user"):
    """Every type with a sensitive ``secret_note`` and one record holding a marker there,
    owned by someone@example.com, who has ``role``."""
    from accord.core.registry import current_accord

    admin = make_user(app, "root@example.com", "Root", is_admin=True, password=PASSWORD)
    someone = make_user(app, "someone@example.com", "Someone", role=role, password=PASSWORD)
    root = api_client(app, admin)
    enable_plugins(app, "servicedesk")
    assert root.request("PUT", "/admin/roles/exporter", json={
        "label": "Exporter", "grants": {"*": {"verbs": ["read", "export"], "scope": "all"}}}).status_code == 201
    with app.app_context():
        types = referenced_first(current_accord().catalog().types.values())
    for rt in types:
        add_field(root, rt.key, name="secret_note", kind="text", sensitive=True, searchable=True)
    refs, markers = {}, {}
    for rt in types:
        marker = CANARY.format(rt.key.replace("_", ""))
        made = create(root, rt.plural, **minimal_payload(rt, f"rec{rt.key.replace('_', '')}", refs), secret_note=marker,
                      owner_id=someone.id)
        refs[rt.key] = made["id"]
        markers[rt.key] = (made["id"], marker)
        changed = root.patch(f"/{rt.plural}/{made['id']}", json={"secret_note": marker + "v2"})
        assert changed.status_code == 200, changed.get_data(as_text=True)
    return admin, types, markers


def _crawl(app, email, types, markers):
    """Everything a user can read, as one text: API answers, pages, exports, errors."""
    from accord.core.errors import AccordError
    from accord.core.models import User
    from accord.core.transfer import export_records, user_actor
    from accord.core.db import db

    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
    api = api_client(app, user)
    web = Browser(app, email)
    seen = []

    def read(response):
        seen.append(response.get_data(as_text=True))

    read(api.get("/search?q=canary&limit=100"))
    read(api.get("/types"))
    read(web.get("/"))
    read(web.get("/search?q=canary"))
    read(web.get("/search/suggest?q=canary"))
    for rt in types:
        record_id, marker = markers[rt.key]
        for path in (f"/{rt.plural}", f"/{rt.plural}/{record_id}", f"/{rt.plural}/{record_id}/audit",
                     f"/{rt.plural}/{record_id}/timeline", f"/{rt.plural}?secret_note=guess",
                     f"/{rt.plural}?sort=secret_note", f"/{rt.plural}?q=canary"):
            read(api.get(path))
        read(api.patch(f"/{rt.plural}/{record_id}", json={"secret_note": "x"}))
        read(api.post(f"/{rt.plural}", json={"secret_note": "x"}))
        for path in (f"/{rt.plural}", f"/{rt.plural}/{record_id}", f"/{rt.plural}/{record_id}/edit",
                     f"/{rt.plural}?q=canary", f"/{rt.plural}?secret_note=guess", f"/{rt.plural}/board"):
            read(web.get(path))
        stream = io.StringIO()
        with app.app_context():
            try:
                export_records(rt.key, "csv", stream, actor=user_actor(email, "test"))
            except AccordError as exc:
                seen.append(exc.message)
        seen.append(stream.getvalue())
    return "\n".join(seen)


@pytest.mark.parametrize("role", ["sales", "agent", "read_only", "exporter"])
def test_a_role_without_the_right_never_sees_a_sensitive_value(app, role):
    admin, types, markers = _world(app, role)
    crawled = _crawl(app, "someone@example.com", types, markers)
    for key, (_record_id, marker) in markers.items():
        assert marker not in crawled, f"{key}'s sensitive value shows to {role}"


def test_an_administrator_sees_every_sensitive_value(app):
    admin, types, markers = _world(app)
    crawled = _crawl(app, "root@example.com", types, markers)
    assert crawled.count("canary") > 0
    for key, (_record_id, marker) in markers.items():
        assert marker + "v2" in crawled, key


def test_viewing_sensitive_values_is_noted_in_the_audit_trail(app):
    admin, types, markers = _world(app)
    record_id, marker = markers["contact"]
    root = api_client(app, admin)
    assert root.get(f"/contacts/{record_id}").get_json()["secret_note"] == marker + "v2"
    Browser(app, "root@example.com").get(f"/contacts/{record_id}")
    viewed = root.get(f"/audit?action=viewed&record_type=contact&record_id={record_id}").get_json()["data"]
    assert [(entry["actor_id"], entry["source"], entry["details"]) for entry in viewed] == [
        (admin.id, "web", {"fields": ["secret_note"]}), (admin.id, "api", {"fields": ["secret_note"]})]
    assert all(marker not in str(entry) for entry in viewed)
    organization = markers["organization"][0]
    someone = api_client(app, make_user(app, "reader@example.com", "Reader", role="read_only"))
    assert someone.get(f"/organizations/{organization}").get_json()["secret_note"] is None
    assert root.get("/audit?action=viewed&record_type=organization").get_json()["data"] == []
