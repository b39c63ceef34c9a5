"""The History section of a record's detail page: its audit entries newest first (who,
through which door, when, each changed field before → after, references by title),
escaped, paged back 50 at a time with plain links, and written by edits made on the page."""

import html
import re

import pytest
from api_helpers import create
from web_helpers import sign_in

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ARROW = '<span aria-hidden="true">→</span><span class="visually-hidden">changed to</span>'


@pytest.fixture
def web(app):
    """A browser signed in as Eve, who is not an administrator (the ``api`` fixture acts as the admin)."""
    return sign_in(app, "eve@example.com", "Eve Editor", is_admin=False)[1]


def page(response, status=200):
    text = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, text[:3000])
    return text


def history(text):
    """The History section's markup."""
    start = text.index('<section class="card history" id="history"')
    return text[start:text.index("</section>", start)]


def items(section):
    return re.findall(r'<li class="history-item">(.*?)</li>\s*(?=<li class="history-item">|</ol>)', section, re.S)


def meta(item):
    """The entry's heading line as text: ``Changed by Eve Editor · via the web · ...``."""
    line = re.search(r'<p class="history-meta">(.*?)</p>', item, re.S).group(1)
    return html.unescape(re.sub(r"<[^>]+>", "", line))


def changes(item):
    return re.findall(r'<li><span class="history-field">([^<]+)</span>: (.*?)</li>', item, re.S)


def test_the_detail_page_shows_who_changed_what_newest_first(api, web):
    acme = create(api, "organizations", name="Acme & Sons")
    jane = create(api, "contacts", last_name="Doe", email="doe@example.com")
    text = page(web.get(f"/contacts/{jane['id']}/edit"))
    form = text[text.index('<form class="form record-form"'):]
    posted = {name: html.unescape(value) for name, value in HIDDEN.findall(form[:form.index("</form>")])}
    posted.pop("csrf_token")
    posted.update(last_name="Doe", email="jane@example.com", organization_id=str(acme["id"]),
                  owner_id=str(jane["owner_id"]))
    assert web.post(f"/contacts/{jane['id']}/edit", posted).status_code == 302

    section = history(page(web.get(f"/contacts/{jane['id']}")))
    assert '<h2 id="history-heading">History</h2>' in section and "aria-labelledby=\"history-heading\"" in section
    changed, created = items(section)
    assert meta(changed).startswith("Changed by Eve Editor · via the web · ")
    assert meta(created).startswith("Created by Ada Admin · via the API · ")
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', changed)
    assert changes(changed) == [
        ("Email", f"doe@example.com {ARROW} jane@example.com"),
        ("Organization", f"— {ARROW} Acme &amp; Sons"),
    ]
    assert changes(created) == [("Last name", "Doe"), ("Email", "doe@example.com"), ("Owner", "Ada Admin")]


def test_trashing_and_restoring_show_and_values_are_escaped(api, web):
    jane = create(api, "contacts", last_name="<script>alert(1)</script>")
    api.delete(f"/contacts/{jane['id']}")
    api.post(f"/contacts/{jane['id']}/restore")
    text = page(web.get(f"/contacts/{jane['id']}"))
    section = history(text)
    assert [meta(item).split(" by ")[0] for item in items(section)] == [
        "Restored from the trash", "Moved to the trash", "Created"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert" not in text


def test_a_long_history_pages_back_with_plain_links(api, web):
    jane = create(api, "contacts", last_name="Doe")
    for number in range(1, 56):
        assert api.patch(f"/contacts/{jane['id']}", json={"job_title": f"Title {number}"}).status_code == 200
    section = history(page(web.get(f"/contacts/{jane['id']}")))
    assert len(items(section)) == 50
    assert changes(items(section)[0]) == [("Job title", f"Title 54 {ARROW} Title 55")]
    assert "Latest history" not in section
    older = html.unescape(re.search(r'<a href="([^"]+)">Older history</a>', section).group(1))
    assert older.startswith(f"/contacts/{jane['id']}?history=") and older.endswith("#history")
    rest = history(page(web.get(older)))
    assert [meta(item).split(" by ")[0] for item in items(rest)] == ["Changed"] * 5 + ["Created"]
    assert changes(items(rest)[0]) == [("Job title", f"Title 4 {ARROW} Title 5")]
    assert f'<a href="/contacts/{jane["id"]}#history">Latest history</a>' in rest and "Older history" not in rest
    assert web.get(f"/contacts/{jane['id']}?history=garbage").status_code == 400


def test_a_record_written_around_the_service_layer_has_no_history_and_says_so(app, api, web):
    from accord.core.db import db, utcnow

    jane = create(api, "contacts", last_name="Doe")
    with app.app_context():
        table = db.metadata.tables["contact"]
        db.session.execute(table.insert().values(last_name="Bulk", custom={}, version=1,
                                                 created_at=utcnow(), updated_at=utcnow()))
        bulk_id = db.session.execute(db.select(table.c.id).where(table.c.last_name == "Bulk")).scalar_one()
        db.session.commit()
    assert "No history recorded yet." in history(page(web.get(f"/contacts/{bulk_id}")))
    assert "No history recorded yet." not in history(page(web.get(f"/contacts/{jane['id']}")))


def test_what_an_activity_regards_shows_as_one_change_by_title(api, web):
    jane = create(api, "contacts", first_name="Jane", last_name="Doe")
    acme = create(api, "organizations", name="Acme")
    call = create(api, "activities", kind="call", subject="Intro", related_type="contact", related_id=jane["id"])
    api.patch(f"/activities/{call['id']}", json={"related_type": "organization", "related_id": acme["id"]})
    changed, created = items(history(page(web.get(f"/activities/{call['id']}"))))
    assert ("Regarding", f"Jane Doe (Contact) {ARROW} Acme (Organization)") in changes(changed)
    assert ("Regarding", "Jane Doe (Contact)") in changes(created)
    assert "Regarding id" not in changed + created
