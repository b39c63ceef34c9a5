"""Mass assignment: on every record type (core and the built-in plugin), a create or an
update that adds ids, the version, timestamps, the trash marker, an unknown key, a
read-only field, or (for a role that may not assign) an owner is refused with 422
naming the key, and the database is unchanged."""

import pytest
from accord.testing import api_client, enable_plugins, make_user

from api_helpers import create, minimal_payload, referenced_first, sql

SMUGGLED = {"id": 987654, "version": 99, "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z",
            "created_by": 1, "deleted_at": "2020-01-01T00:00:00Z", "deleted_by": 1, "custom": {"x": 1},
            "is_superuser": True}


def _snapshot(app, rt):
    return sql(app, f'SELECT * FROM "{rt.table.name}" ORDER BY id')


@pytest.fixture
def world(app):
    from accord.core.registry import current_accord

    admin = make_user(app, "root@example.com", "Root", is_admin=True)
    seller = make_user(app, "seller@example.com", "Seller", role="sales")
    root = api_client(app, admin)
    enable_plugins(app, "servicedesk")
    with app.app_context():
        types = referenced_first(current_accord().catalog().types.values())
    refs, records = {}, {}
    for rt in types:
        records[rt.key] = refs[rt.key] = create(root, rt.plural, **minimal_payload(rt, f"x{rt.key}", refs),
                                                owner_id=seller.id)["id"]
    return types, refs, root, api_client(app, seller), admin


def test_smuggled_keys_are_refused_on_every_write_of_every_type(app, world):
    types, refs, root, seller_api, admin = world
    for rt in types:
        before = _snapshot(app, rt)
        read_only = [name for name, f in rt.fields.items() if f.read_only]
        for key, value in [*SMUGGLED.items(), *((name, None) for name in read_only)]:
            where = f"{rt.key}.{key}"
            created = root.post(f"/{rt.plural}", json={**minimal_payload(rt, f"y{rt.key}", refs), key: value})
            assert created.status_code == 422, (where, created.get_data(as_text=True))
            assert key in created.get_json()["error"]["fields"], where
            changed = root.patch(f"/{rt.plural}/{refs[rt.key]}", json={key: value})
            assert changed.status_code == 422, (where, changed.get_data(as_text=True))
            assert key in changed.get_json()["error"]["fields"], where
        assert _snapshot(app, rt) == before, rt.key


def test_a_seller_cannot_give_records_away(app, world):
    types, refs, root, seller_api, admin = world
    for rt in types:
        if rt.key in ("user", "team", "territory"):
            continue
        before = _snapshot(app, rt)
        created = seller_api.post(f"/{rt.plural}", json={**minimal_payload(rt, f"z{rt.key}", refs), "owner_id": admin.id})
        assert created.status_code == 422, (rt.key, created.get_data(as_text=True))
        assert "owner_id" in created.get_json()["error"]["fields"]
        changed = seller_api.patch(f"/{rt.plural}/{refs[rt.key]}", json={"owner_id": admin.id})
        assert changed.status_code == 422, (rt.key, changed.get_data(as_text=True))
        assert _snapshot(app, rt) == before, rt.key
    assert root.patch(f"/contacts/{refs['contact']}", json={"owner_id": admin.id}).status_code == 200
