"""List pages through real HTTP: columns from the descriptor (custom fields included), sort,
filters, keyset pages, saved views, bulk actions (all or nothing), the trash and restore,
sign-in and CSRF, and the bounded number of SQL statements a page costs."""

import html
import re

import pytest
from accord.core.records import SYSTEM
from accord.core.registry import current_accord
from accord.testing import make_user
from api_helpers import add_field, set_columns, sql
from web_helpers import sign_in

ROW = re.compile(r'<tr data-id="(\d+)">')
NEXT = re.compile(r'<a class="button" href="([^"]+)" rel="next">Next page</a>')


@pytest.fixture
def viewer(app):
    """A :class:`web_helpers.Browser` signed in as a second user (``make_record`` owns the admin)."""
    return sign_in(app, "vera@example.com", "Vera Viewer", is_admin=False)[1]


def body(response):
    return response.get_data(as_text=True)


def rows(response):
    assert response.status_code == 200, body(response)
    return [int(i) for i in ROW.findall(body(response))]


def link(response, text):
    found = re.search(r'<a [^>]*href="([^"]*)"[^>]*>\s*' + re.escape(text) + r"\s*<", body(response))
    assert found, f"no link {text!r}"
    return html.unescape(found.group(1))


def next_link(response):
    found = NEXT.search(body(response))
    return html.unescape(found.group(1)) if found else None


def owners(app, table):
    return dict(sql(app, f"SELECT id, owner_id FROM {table}"))


def trashed(app, table):
    return {row[0] for row in sql(app, f"SELECT id FROM {table} WHERE deleted_at IS NOT NULL")}


def create(app, type_key, **values):
    with app.test_request_context():
        return current_accord(app).records.create(type_key, values, SYSTEM)


# Rendering --------------------------------------------------------------------------------


def test_a_plugin_type_gets_a_list_page_with_its_pipeline(with_enabled_plugins):
    app = with_enabled_plugins("servicedesk")
    _, browser = sign_in(app)
    ticket = create(app, "ticket", subject="Printer on fire", priority="urgent").id
    create(app, "ticket", subject="Password reset", priority="low")
    page = browser.get("/tickets")
    text = body(page)
    assert f'<a href="/tickets/{ticket}">Printer on fire</a>' in text and 'href="/tickets/board"' in text
    assert "<td>Urgent</td>" in text and "<td>New</td>" in text, "choices and stages show their labels"
    assert rows(browser.get("/tickets?priority=urgent")) == [ticket]
    assert rows(browser.get("/tickets?stage=new&priority=urgent")) == [ticket]


def test_lists_of_the_core_types_render_from_their_descriptors(app, make_record, viewer):
    org = make_record("organization", name="Acme & Sons", website="https://acme.example")
    contact = make_record("contact", first_name="Ada", last_name="Lovelace", email="ada@acme.example",
                          organization_id=org.id)
    deal = make_record("deal", name="Engines", amount="1200.5", organization_id=org.id)
    activity = make_record("activity", kind="call", subject="First call")
    for plural, record, title, label in (("contacts", contact, "Ada Lovelace", "Contact"),
                                         ("organizations", org, "Acme &amp; Sons", "Organization"),
                                         ("deals", deal, "Engines", "Deal"),
                                         ("activities", activity, "First call", "Activity")):
        page = viewer.get(f"/{plural}")
        text = body(page)
        assert rows(page) == [record.id], plural
        assert f'<a href="/{plural}/{record.id}">{title}</a>' in text, plural
        assert f'<a class="button primary" href="/{plural}/new">New {label}</a>' in text, plural
        assert f'href="/{plural}/trash"' in text, plural
        assert ('href="/deals/board"' in text) == (plural == "deals"), plural
        assert 'aria-current="page">' in text and 'data-help-page="records.list"' in text
    contacts = body(viewer.get("/contacts"))
    assert '<td><a href="/organizations/1">Acme &amp; Sons</a></td>' in contacts
    assert "<td>ada@acme.example</td>" in contacts and "<td>Ada Admin</td>" in contacts
    deals = body(viewer.get("/deals"))
    assert "<td>Lead</td>" in deals and "<td>1,200.50 EUR</td>" in deals
    assert "<td>Call</td>" in body(viewer.get("/activities"))


def test_a_custom_field_is_a_column_and_a_filter(app, api, make_record, viewer):
    add_field(api, "contact", name="tier", kind="choice", label="Support tier", choices=["gold", "silver"])
    add_field(api, "contact", name="renewal", kind="date", label="Renewal")
    gold = make_record("contact", last_name="Gold", tier="gold", renewal="2025-03-01").id
    silver = make_record("contact", last_name="Silver", tier="silver", renewal="2025-09-01").id
    page = viewer.get("/contacts")
    assert '<th scope="col">Support tier</th>' in body(page) and "<td>Gold</td>" in body(page)
    assert '<select id="filter-tier" name="tier"' in body(page)
    assert rows(viewer.get("/contacts?tier=gold")) == [gold]
    assert rows(viewer.get("/contacts?renewal__gte=2025-06-01")) == [silver]
    assert "Support tier is Silver" in body(viewer.get("/contacts?tier=silver"))


def test_user_data_is_escaped(make_record, viewer):
    make_record("contact", last_name="<script>alert(1)</script>")
    text = body(viewer.get("/contacts"))
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_empty_states_say_what_to_do(viewer, make_record):
    assert "No contacts yet." in body(viewer.get("/contacts"))
    make_record("contact", last_name="Doe")
    assert "No contacts match these filters." in body(viewer.get("/contacts?email=nobody@example.com"))
    assert "The trash is empty." in body(viewer.get("/contacts/trash"))


# Sort, filters and pages --------------------------------------------------------------------


def test_sortable_headers_order_the_rows(make_record, viewer):
    made = {name: make_record("contact", last_name=name, email=f"{mail}@example.com").id
            for name, mail in (("Baker", "c"), ("Adams", "b"), ("Clark", "a"))}
    assert rows(viewer.get("/contacts")) == [made["Clark"], made["Adams"], made["Baker"]]
    page = viewer.get("/contacts?sort=last_name")
    assert rows(page) == [made["Adams"], made["Baker"], made["Clark"]]
    assert '<th scope="col" aria-sort="ascending"><a class="sort-link" href="/contacts?sort=-last_name">Name' in body(page)
    assert rows(viewer.get(link(page, "Name"))) == [made["Clark"], made["Baker"], made["Adams"]]
    assert rows(viewer.get(link(page, "Email"))) == [made["Clark"], made["Adams"], made["Baker"]]
    assert "<th scope=\"col\">Phone</th>" in body(page), "an unindexed column offers no sort"


def test_filters_narrow_the_rows(app, make_record, viewer):
    org = make_record("organization", name="Acme").id
    with_org = make_record("contact", last_name="Inside", organization_id=org).id
    without = make_record("contact", last_name="Outside", email="out@example.com").id
    assert rows(viewer.get(f"/contacts?organization_id={org}")) == [with_org]
    assert "Organization is Acme" in body(viewer.get(f"/contacts?organization_id={org}"))
    assert rows(viewer.get("/contacts?organization_id__isnull=true")) == [without]
    assert rows(viewer.get("/contacts?email=out@example.com")) == [without]
    assert rows(viewer.get("/contacts?q=inside")) == [with_org]
    call = make_record("activity", kind="call", subject="Call", done=True).id
    make_record("activity", kind="note", subject="Note")
    assert rows(viewer.get("/activities?kind=call")) == [call]
    assert rows(viewer.get("/activities?done=true")) == [call]
    small = make_record("deal", name="Small", amount="10", expected_close_date="2025-01-15").id
    big = make_record("deal", name="Big", amount="5000", expected_close_date="2025-06-15").id
    assert rows(viewer.get("/deals?amount__gte=1000")) == [big]
    assert rows(viewer.get("/deals?expected_close_date__lte=2025-03-01")) == [small]
    other = make_user(app, "otto@example.com", "Otto Owner")
    set_columns(app, "deal", [big], owner_id=other.id)
    assert rows(viewer.get(f"/deals?owner_id={other.id}")) == [big]
    assert "Owner is Otto Owner" in body(viewer.get(f"/deals?owner_id={other.id}"))


def test_empty_filter_boxes_redirect_to_a_short_link(viewer):
    answer = viewer.get("/contacts?q=&email=&sort=last_name&trashed=true")
    assert answer.status_code == 302 and answer.headers["Location"] == "/contacts?sort=last_name"


def test_a_bad_filter_is_shown_beside_its_box_keeping_the_value(make_record, viewer):
    make_record("deal", name="Any")
    page = viewer.get("/deals?amount__gte=lots")
    text = body(page)
    assert page.status_code == 400 and not ROW.findall(text)
    assert 'value="lots" aria-invalid="true" aria-describedby="filter-amount__gte-error"' in text
    assert 'id="filter-amount__gte-error" class="field-error"' in text
    huge = viewer.get(f"/deals?organization_id={10**23}")
    assert huge.status_code == 400 and "Organization: Not a valid reference value" in body(huge)
    stale = viewer.get("/deals?cursor=not-a-cursor")
    assert stale.status_code == 400 and "This page link is out of date" in body(stale)


def test_keyset_pages_walk_every_row_once(make_record, viewer):
    made = [make_record("contact", last_name=f"P{i:02d}").id for i in range(23)]
    seen, url, pages = [], "/contacts?limit=5&sort=last_name", 0
    while url:
        page = viewer.get(url)
        seen += rows(page)
        if pages:
            assert link(page, "First page") == "/contacts?limit=5&sort=last_name"
        url, pages = next_link(page), pages + 1
    assert pages == 5 and seen == made and len(set(seen)) == 23
    assert len(rows(viewer.get("/contacts"))) == 23, "the default page holds 50"


# Saved views ------------------------------------------------------------------------------


def test_saved_views_round_trip_and_belong_to_their_user(app, make_record, viewer):
    keep = make_record("activity", kind="task", subject="Task").id
    make_record("activity", kind="note", subject="Note")
    answer = viewer.post("/activities/views", {"name": "Open tasks", "query": "kind=task&sort=-occurred_at&cursor=x"})
    assert answer.status_code == 302
    page = viewer.get(answer.headers["Location"])
    assert "Saved the view “Open tasks”." in body(page)
    view_url = link(page, "Open tasks")
    assert view_url == "/activities?kind=task&sort=-occurred_at"
    assert rows(viewer.get(view_url)) == [keep]
    assert 'aria-current="true">Open tasks</a>' in body(viewer.get(view_url))

    duplicate = viewer.post("/activities/views", {"name": "Open tasks", "query": "kind=note"})
    assert duplicate.status_code == 422
    assert re.search(r'value="Open tasks"\s+aria-invalid="true" aria-describedby="view-name-error"', body(duplicate))
    assert "You already have a view called “Open tasks”" in body(duplicate)
    assert viewer.post("/activities/views", {"name": "  ", "query": "kind=note"}).status_code == 422
    assert viewer.post("/activities/views", {"name": "x" * 121, "query": "kind=note"}).status_code == 422
    assert viewer.post("/activities/views", {"name": "Broken", "query": "colour=red"}).status_code == 422
    assert sql(app, "SELECT name FROM saved_view") == [("Open tasks",)]

    _, other = sign_in(app, "olga@example.com", "Olga Other", is_admin=False)
    assert ">Open tasks</a>" not in body(other.get("/activities"))
    assert other.post("/activities/views", {"name": "Open tasks", "query": "kind=call"}).status_code == 302
    view_id = sql(app, "SELECT id FROM saved_view WHERE name = 'Open tasks' ORDER BY id")[0][0]
    assert other.post(f"/activities/views/{view_id}/delete").status_code == 404
    assert viewer.post(f"/contacts/views/{view_id}/delete").status_code == 404, "views belong to their type"
    gone = viewer.post(f"/activities/views/{view_id}/delete", {"query": "kind=task"})
    assert gone.status_code == 302 and gone.headers["Location"] == "/activities?kind=task"
    assert ">Open tasks</a>" not in body(viewer.get("/activities"))
    assert ">Open tasks</a>" in body(other.get("/activities"))


# Bulk actions -----------------------------------------------------------------------------


def test_bulk_trash_and_assign(app, make_record, viewer):
    made = [make_record("contact", last_name=f"B{i}").id for i in range(4)]
    answer = viewer.post("/contacts/bulk", {"action": "trash", "ids": made[:2], "query": "sort=last_name"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/contacts?sort=last_name"
    assert "Moved 2 contacts to the trash" in body(viewer.get(answer.headers["Location"]))
    assert trashed(app, "contact") == set(made[:2])
    assert rows(viewer.get("/contacts?sort=last_name")) == made[2:]

    otto = make_user(app, "otto@example.com", "Otto Owner")
    answer = viewer.post("/contacts/bulk", {"action": "assign", "owner_id": otto.id, "ids": made[2:]})
    assert answer.status_code == 302
    assert "Assigned 2 contacts to Otto Owner." in body(viewer.get("/contacts"))
    assert {owners(app, "contact")[i] for i in made[2:]} == {otto.id}


def test_a_bad_owner_changes_nothing(app, make_record, viewer):
    made = [make_record("contact", last_name=f"A{i}").id for i in range(3)]
    before = owners(app, "contact")
    inactive = make_user(app, "gone@example.com", "Gone User")
    sql(app, "UPDATE \"user\" SET is_active = :no WHERE id = :id", no=False, id=inactive.id)
    for owner in ("999999", str(inactive.id), "", "abc"):
        page = viewer.post("/contacts/bulk", {"action": "assign", "owner_id": owner, "ids": made})
        assert page.status_code == 422, owner
        assert 'aria-invalid="true" aria-describedby="bulk-error"' in body(page)
        assert 'data-help-page="records.list"' in body(page)
        assert all(f'value="{i}" id="select-{i}" checked' in body(page) for i in made), "the selection is kept"
    assert owners(app, "contact") == before


def test_bulk_trash_is_all_or_nothing(with_plugins):
    app = with_plugins("refusing_plugin")
    _, browser = sign_in(app)
    made = [create(app, "contact", last_name="First").id,
            create(app, "contact", last_name="Keeper", job_title="Undeletable").id,
            create(app, "contact", last_name="Third").id]
    page = browser.post("/contacts/bulk", {"action": "trash", "ids": made})
    assert page.status_code == 422
    assert "Contact “Keeper” was refused, so nothing was changed: Job title: Undeletable contacts stay." in body(page)
    assert trashed(app, "contact") == set()


def test_bulk_assign_is_all_or_nothing(with_plugins):
    app = with_plugins("vetoing_plugin")
    _, browser = sign_in(app)
    otto = make_user(app, "otto@example.com", "Otto Owner")
    made = [create(app, "contact", last_name=name).id for name in ("One", "Boom", "Three")]
    set_columns(app, "contact", [made[1]], last_name="Explode")
    page = browser.post("/contacts/bulk", {"action": "assign", "owner_id": otto.id, "ids": made})
    assert page.status_code == 422 and "Contact “Explode” was refused" in body(page)
    assert set(owners(app, "contact").values()) == {None}


def test_bulk_limits(make_record, viewer):
    make_record("contact", last_name="Only")
    assert "Select at least one contact first." in body(viewer.post("/contacts/bulk", {"action": "trash"}))
    too_many = viewer.post("/contacts/bulk", {"action": "trash", "ids": list(range(1, 502))})
    assert too_many.status_code == 422 and "Select at most 500 contacts at a time" in body(too_many)
    assert viewer.post("/contacts/bulk", {"action": "explode", "ids": [1]}).status_code == 400
    for bad in ("1; DROP", "²", str(2**63)):
        assert viewer.post("/contacts/bulk", {"action": "trash", "ids": [bad]}).status_code == 400, bad
    missing = viewer.post("/contacts/bulk", {"action": "trash", "ids": [1, 424242]})
    assert missing.status_code == 422 and "Contact 424242 is not there any more" in body(missing)


# Trash and restore ------------------------------------------------------------------------


def test_trash_lists_trashed_records_and_restores_them(app, make_record, viewer):
    made = [make_record("organization", name=f"Org {i}").id for i in range(4)]
    viewer.post("/organizations/bulk", {"action": "trash", "ids": made[:3]})
    trash = viewer.get("/organizations/trash")
    assert rows(trash) == list(reversed(made[:3])), "newest in the trash first"
    text = body(trash)
    assert '<span aria-current="page">Trash</span>' in text and '<a href="/organizations">Organizations</a>' in text
    assert f'formaction="/organizations/{made[0]}/restore"' in text
    assert 'data-help-page="records.trash"' in text
    assert rows(viewer.get("/organizations")) == [made[3]]

    answer = viewer.post(f"/organizations/{made[0]}/restore", {"query": "limit=2"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/organizations/trash?limit=2"
    assert "Restored organization “Org 0”." in body(viewer.get("/organizations/trash"))
    assert trashed(app, "organization") == set(made[1:3])
    answer = viewer.post("/organizations/bulk", {"action": "restore", "ids": made[1:3]})
    assert answer.headers["Location"] == "/organizations/trash"
    assert trashed(app, "organization") == set()
    assert viewer.post(f"/organizations/{made[0]}/restore").status_code == 404, "not in the trash any more"
    assert viewer.post("/organizations/999/restore").status_code == 404


def test_trash_pages_walk_every_trashed_row_once(make_record, viewer):
    made = [make_record("contact", last_name=f"T{i}").id for i in range(7)]
    viewer.post("/contacts/bulk", {"action": "trash", "ids": made})
    seen, url = [], "/contacts/trash?limit=3"
    while url:
        page = viewer.get(url)
        seen += rows(page)
        url = next_link(page)
    assert sorted(seen) == made and len(seen) == 7


# Access -----------------------------------------------------------------------------------


def test_writes_without_the_csrf_token_are_refused(make_record, viewer):
    record = make_record("contact", last_name="Safe").id
    assert viewer.post("/contacts/bulk", {"action": "trash", "ids": [record]}, csrf=False).status_code == 400
    assert viewer.post(f"/contacts/{record}/restore", csrf=False).status_code == 400
    assert viewer.post("/contacts/views", {"name": "X", "query": "q=a"}, csrf=False).status_code == 400
    assert rows(viewer.get("/contacts")) == [record]


def test_unknown_types_answer_the_not_found_page(viewer):
    page = viewer.get("/nonsense")
    assert page.status_code == 404 and "There is no list of records at /nonsense." in body(page)
    assert viewer.get("/nonsense/trash").status_code == 404
    assert viewer.post("/nonsense/bulk", {"action": "trash", "ids": [1]}).status_code == 404


def test_signed_out_visitors_go_to_the_sign_in_page(app):
    client = app.test_client()
    for path in ("/contacts", "/contacts/trash"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=" + path), path


# Cost ------------------------------------------------------------------------------------


def test_a_page_of_50_contacts_costs_a_few_statements(app, make_record, count_statements, viewer):
    otto = make_user(app, "otto@example.com", "Otto Owner")
    orgs = [make_record("organization", name=f"Org {i}").id for i in range(50)]
    for i in range(60):
        make_record("contact", last_name=f"C{i:02d}", organization_id=orgs[i % 50], owner_id=otto.id if i % 2 else None)
    viewer.get("/contacts")
    with count_statements() as seen:
        page = viewer.get("/contacts?sort=last_name")
    assert len(rows(page)) == 50 and body(page).count('<a href="/organizations/') == 50
    assert len(seen) <= 5, seen
    assert not any("COUNT(" in s.upper() for s in seen), seen
    with count_statements() as seen:
        page = viewer.get(next_link(page))
    assert len(rows(page)) == 10 and len(seen) <= 5, seen
