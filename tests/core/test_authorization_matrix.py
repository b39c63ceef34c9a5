"""The authorization matrix: every role x every record type (core and the built-in
plugin) x every verb x every scope, through the API, the web UI, search and exports.

For each role a user acts beside a teammate and an outsider, and every type holds one
record owned by each. What the role may see and do is written out here, independently
of :mod:`accord.core.permissions`; the test asserts that nothing outside it leaks
(lists, single records, search, suggestions, exports, pages) and that nothing inside
it is refused.
"""

import io
import json

import pytest
from accord.testing import api_client, enable_plugins, make_user

from api_helpers import create, field_value, minimal_payload, referenced_first
from web_helpers import PASSWORD, Browser

OWNERS = ("self", "mate", "stranger")
ALL_VERBS = {"read", "create", "update", "delete", "export"}
DIRECTORY = {"user", "team", "territory"}
CUSTOM_GRANTS = {
    "contact": {"verbs": ["read", "update"], "scope": "team"},
    "deal": {"verbs": ["read", "export"], "scope": "all"},
    "activity": {"verbs": ["read", "create"], "scope": "own"},
}


def expected(role, type_key):
    """``(verbs, owners seen)`` of ``role`` on ``type_key``, as the roles are documented."""
    if role == "admin" or role == "user":
        return ALL_VERBS, set(OWNERS)
    if role == "field_rep":
        grant = CUSTOM_GRANTS.get(type_key)
        if grant is None:
            return set(), set()
        return set(grant["verbs"]), {"all": set(OWNERS), "team": {"self", "mate"}, "own": {"self"}}[grant["scope"]]
    if role == "read_only":
        return {"read"}, set(OWNERS)
    if type_key in DIRECTORY:
        return {"read"}, set(OWNERS)
    return {
        "manager": (ALL_VERBS, {"self", "mate"}),
        "sales": ({"read", "create", "update", "delete"}, {"self"}),
        "agent": ({"read", "create", "update"}, {"self", "mate"}),
    }[role]


def _world(app, role):
    """The acting user (role, team 1), a teammate, a stranger (team 2), and one record of
    every type owned by each; ``(users, records, types)`` where records maps
    ``(type, owner)`` to ``(id, marker)``."""
    from accord.core.registry import current_accord

    admin = make_user(app, "root@example.com", "Root", is_admin=True)
    root = api_client(app, admin)
    enable_plugins(app, "servicedesk")
    if role == "field_rep":
        assert root.request("PUT", "/admin/roles/field_rep", json={"label": "Field rep", "grants": CUSTOM_GRANTS}
                            ).status_code == 201
    teams = [create(root, "teams", name=f"Team {n}")["id"] for n in (1, 2)]
    users = {
        "self": make_user(app, "self@example.com", "Self", role=role, team_id=teams[0], password=PASSWORD),
        "mate": make_user(app, "mate@example.com", "Mate", team_id=teams[0]),
        "stranger": make_user(app, "stranger@example.com", "Stranger", team_id=teams[1]),
    }
    with app.app_context():
        catalog = current_accord().catalog()
        types = referenced_first(catalog.types.values())
    refs = {}
    for rt in types:
        refs[rt.key] = create(root, rt.plural, **minimal_payload(rt, f"ref{rt.key}", refs), owner_id=users["self"].id)["id"]
    records = {}
    for rt in types:
        for owner in OWNERS:
            marker = f"mkx{rt.key.replace('_', '')}{owner}"
            made = create(root, rt.plural, **minimal_payload(rt, marker, refs), owner_id=users[owner].id)
            records[(rt.key, owner)] = (made["id"], marker)
    return users, records, types, refs


ROLES = ("admin", "manager", "sales", "agent", "read_only", "user", "field_rep")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_and_does_exactly_what_it_may(app, role):
    users, records, types, refs = _world(app, role)
    api = api_client(app, users["self"])
    web = Browser(app, "self@example.com")
    found = api.get("/search?q=mkx&limit=100")
    assert found.status_code == 200, found.get_data(as_text=True)
    searched = {(hit["type"], hit["id"]) for hit in found.get_json()["data"]}
    search_page = web.get("/search?q=mkx").get_data(as_text=True)
    suggested = web.get("/search/suggest?q=mkx").get_data(as_text=True)
    for rt in types:
        verbs, seen = expected(role, rt.key)
        mine = {records[(rt.key, owner)][0]: owner for owner in OWNERS}
        where = f"{role} on {rt.key}"

        listed = api.get(f"/{rt.plural}?limit=200")
        if "read" not in verbs:
            assert listed.status_code == 403, where
        else:
            assert listed.status_code == 200, (where, listed.get_data(as_text=True))
            shown = {row["id"] for row in listed.get_json()["data"]} & set(mine)
            assert shown == {i for i, owner in mine.items() if owner in seen}, where
        page = web.get(f"/{rt.plural}")
        for owner in OWNERS:
            record_id, marker = records[(rt.key, owner)]
            visible = "read" in verbs and owner in seen
            single = api.get(f"/{rt.plural}/{record_id}")
            assert single.status_code == (200 if visible else 403 if "read" not in verbs else 404), (where, owner)
            if page.status_code == 200:
                assert (marker in page.get_data(as_text=True)) == visible, (where, owner, "list page")
            if rt.key != "user":
                view = web.get(f"/{rt.plural}/{record_id}")
                assert view.status_code == (200 if visible else 403 if "read" not in verbs else 404), (where, owner)
                for action, verb in (("edit", "update"), ("delete", "delete")):
                    form = web.get(f"/{rt.plural}/{record_id}/{action}")
                    status = 403 if "read" not in verbs else 404 if not visible else 200 if verb in verbs else 403
                    assert form.status_code == status, (where, owner, action)
                if not visible:
                    assert marker not in view.get_data(as_text=True)
                    assert marker not in search_page and marker not in suggested, (where, owner, "web search")
            if not visible:
                assert (rt.key, record_id) not in searched, (where, owner, "api search")
            elif rt.key != "user":
                assert (rt.key, record_id) in searched, (where, owner, "api search")

        _check_export(app, users["self"], rt, verbs, {records[(rt.key, owner)][0] for owner in seen}, set(mine), where)

        if rt.key != "user":
            assert web.get(f"/{rt.plural}/new").status_code == (200 if "create" in verbs else 403), (where, "new page")
        created = api.post(f"/{rt.plural}", json=minimal_payload(rt, f"new{rt.key.replace('_', '')}", refs))
        assert created.status_code == (201 if "create" in verbs else 403), (where, created.get_data(as_text=True))

        title = rt.title_fields[-1]
        for owner in OWNERS:
            record_id, marker = records[(rt.key, owner)]
            changed = api.patch(f"/{rt.plural}/{record_id}", json={title: field_value(rt.fields[title], marker + "b", refs)})
            if "update" not in verbs:
                assert changed.status_code == 403, (where, owner)
            else:
                assert changed.status_code == (200 if owner in seen else 404), (where, owner, changed.get_data(as_text=True))
        for owner in OWNERS:
            if rt.key == "user" and owner == "self":
                continue
            record_id, _marker = records[(rt.key, owner)]
            removed = api.delete(f"/{rt.plural}/{record_id}")
            if "delete" not in verbs:
                assert removed.status_code == 403, (where, owner)
            else:
                assert removed.status_code == (204 if owner in seen else 404), (where, owner)


def _check_export(app, user, rt, verbs, seen_ids, mine, where):
    from accord.core.errors import Forbidden
    from accord.core.transfer import export_records, user_actor

    stream = io.StringIO()
    with app.app_context():
        actor = user_actor(user.email, "test")
        if "export" not in verbs:
            with pytest.raises(Forbidden):
                export_records(rt.key, "jsonl", stream, actor=actor)
            return
        export_records(rt.key, "jsonl", stream, actor=actor)
    exported = {json.loads(line)["id"] for line in stream.getvalue().splitlines()} & mine
    assert exported == (seen_ids if "read" in verbs else set()), (where, "export")


def test_aggregates_count_only_what_the_role_may_read(app):
    """Board columns, the dashboard's funnel and the forecast of a sales user add up
    their own deals only; an administrator's add up every deal."""
    admin = make_user(app, "root@example.com", "Root", is_admin=True, password=PASSWORD)
    seller = make_user(app, "self@example.com", "Self", role="sales", password=PASSWORD)
    other = make_user(app, "other@example.com", "Other")
    root = api_client(app, admin)
    for owner, amount in ((seller, "100"), (other, "7000"), (other, "9000")):
        create(root, "deals", name=f"Deal of {owner.name}", amount=amount, currency="EUR",
               expected_close_date="2026-12-15", owner_id=owner.id)
    for user, email, deals, amount in ((seller, "self@example.com", 1, "100.00"), (admin, "root@example.com", 3, "16100.00")):
        forecast = api_client(app, user).get("/forecast?group_by=month").get_json()["data"]
        assert sum(row["open_deals"] for row in forecast) == deals, email
        assert {row["open_amount"] for row in forecast if row["open_deals"]} == {amount}, email
        web = Browser(app, email)
        board = web.get("/deals/board").get_data(as_text=True)
        assert f">{deals} deal" in board, (email, "board")
        dashboard = web.get("/").get_data(as_text=True)
        assert ("16,100" in dashboard or "16.1" in dashboard) == (user is admin), (email, "dashboard")
        assert ("7,000" in board) == (user is admin) and ("9,000" in board) == (user is admin), (email, "board")
