"""Record pages through real HTTP: the detail page (fields, related records both ways, the
stage history, the timeline and logging an activity on it), the create and edit forms
built from the descriptor (custom fields included, every kind round-tripping, messages
beside the fields with what was typed kept), the conflict page when someone else saved
first, moving to the trash, unknown ids and the CSRF check."""

import html
import re

import pytest
from api_helpers import add_field, create, sql
from web_helpers import sign_in

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def web(app):
    """A :class:`web_helpers.Browser` signed in as Eve (the ``api`` fixture acts as the admin)."""
    return sign_in(app, "eve@example.com", "Eve Editor", is_admin=False)[1]


def body(response):
    return response.get_data(as_text=True)


def page(response, status=200):
    assert response.status_code == status, (response.status_code, body(response)[:3000])
    return body(response)


def field_block(text, name, prefix="field-"):
    """The markup of one form field, from its wrapper to the next field's."""
    start = text.index(f'for="{prefix}{name}"')
    start = text.rindex('<div class="field', 0, start)
    end = text.find('<div class="field', start + 1)
    return text[start:end if end != -1 else len(text)]


def control_tag(text, name, prefix="field-"):
    found = re.search(r'<(input|select|textarea)[^>]*id="' + re.escape(prefix + name) + r'"[^>]*>', text)
    assert found, f"no control {name!r}"
    return found.group(0)


def record(api, plural, record_id):
    response = api.get(f"/{plural}/{record_id}")
    assert response.status_code == 200, body(response)
    return response.get_json()


def only_id(api, plural, **filters):
    data = api.get(f"/{plural}", query_string=filters).get_json()["data"]
    assert len(data) == 1, data
    return data[0]["id"]


# Detail -----------------------------------------------------------------------------------


def test_deal_detail_shows_fields_related_records_stage_history_and_timeline(api, web):
    acme = create(api, "organizations", name="Acme & Co", website="https://acme.example")
    jane = create(api, "contacts", first_name="Jane", last_name="Doe", organization_id=acme["id"])
    deal = create(api, "deals", name="Big deal", organization_id=acme["id"], contact_ids=[jane["id"]],
                  amount="1250.50", description="First line\nSecond line")
    assert api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"}).status_code == 200
    create(api, "activities", kind="call", subject="Discovery call", related_type="deal", related_id=deal["id"])

    text = page(web.get(f"/deals/{deal['id']}"))
    assert '<h1 id="record-title">Big deal</h1>' in text
    assert '<li><a href="/deals">Deals</a></li>' in text and '<span aria-current="page">Big deal</span>' in text
    assert f'<a href="/organizations/{acme["id"]}">Acme &amp; Co</a>' in text
    assert "First line\nSecond line" in text
    assert "empty field" in text and "Expected close date" in text
    assert 'stage-badge stage-open">Qualified<' in text
    history = text[text.index('class="records stage-history"'):text.index("</table>", text.index("stage-history"))]
    assert re.search(r"<td>Lead</td>\s*<td>Qualified</td>", history), history
    assert re.search(r"<td>\(start\)</td>\s*<td>Lead</td>", history)
    assert history.count("Ada Admin") == 2
    related = text[text.index('class="record-side"'):]
    assert f'<a href="/contacts/{jane["id"]}">Jane Doe</a>' in related
    timeline = text[text.index('id="timeline"'):]
    assert "Discovery call" in timeline and ">Call</span>" in timeline

    org_page = page(web.get(f"/organizations/{acme['id']}"))
    assert f'<a href="/deals/{deal["id"]}">Big deal</a>' in org_page
    assert f'<a href="/contacts/{jane["id"]}">Jane Doe</a>' in org_page
    assert f'href="/contacts/new?organization_id={acme["id"]}"' in org_page
    assert 'href="https://acme.example" rel="nofollow noopener noreferrer"' in org_page
    org_timeline = org_page[org_page.index('id="timeline"'):]
    assert "Discovery call" in org_timeline and f'on <a href="/deals/{deal["id"]}">Big deal</a>' in org_timeline

    contact_page = page(web.get(f"/contacts/{jane['id']}"))
    assert f'<a href="/deals/{deal["id"]}">Big deal</a>' in contact_page


def test_related_records_are_bounded_with_a_link_to_the_filtered_list(api, web):
    acme = create(api, "organizations", name="Acme")
    for i in range(21):
        create(api, "contacts", last_name=f"Person {i:02d}", organization_id=acme["id"])
    text = page(web.get(f"/organizations/{acme['id']}"))
    section = text[text.index(">Contacts</h2>"):]
    section = section[:section.index("</section>")]
    assert section.count("<li>") == 20
    assert "Person 20" in section and "Person 00" not in section
    assert f'href="/contacts?organization_id={acme["id"]}"' in section


def test_logging_a_call_from_the_timeline_creates_an_activity_regarding_the_record(api, web):
    jane = create(api, "contacts", last_name="Doe")
    answer = web.post(f"/contacts/{jane['id']}/activities",
                      {"kind": "call", "subject": "Called about renewal", "body": "She is keen."})
    assert answer.status_code == 302 and answer.location.endswith(f"/contacts/{jane['id']}#timeline")
    logged = api.get("/activities", query_string={"related_type": "contact", "related_id": jane["id"]}).get_json()["data"]
    assert [(a["kind"], a["subject"], a["body"], a["done"]) for a in logged] == [
        ("call", "Called about renewal", "She is keen.", False)]
    text = page(web.get(f"/contacts/{jane['id']}"))
    assert "Logged the call “Called about renewal”." in text
    assert f'<a href="/activities/{logged[0]["id"]}">Called about renewal</a>' in text
    activity_page = page(web.get(f"/activities/{logged[0]['id']}"))
    assert f'<dt>Regarding</dt><dd><a href="/contacts/{jane["id"]}">Doe</a>' in activity_page
    assert "Regarding id" not in activity_page


def test_a_refused_activity_keeps_what_was_typed_and_says_why(api, web):
    jane = create(api, "contacts", last_name="Doe")
    text = page(web.post(f"/contacts/{jane['id']}/activities", {"kind": "email", "subject": " ", "body": "Draft"}), 422)
    block = field_block(text, "subject", prefix="activity-")
    assert "Fill this in." in block and 'aria-invalid="true"' in block
    assert '<option value="email" selected>' in text and ">Draft</textarea>" in text
    assert "<details class=\"log-activity\" open>" in text
    assert api.get("/activities").get_json()["data"] == []


def test_a_long_timeline_pages_back_with_a_cursor(api, web):
    jane = create(api, "contacts", last_name="Doe")
    for day in range(1, 23):
        create(api, "activities", kind="note", subject=f"Note {day:02d}", related_type="contact",
               related_id=jane["id"], occurred_at=f"2025-01-{day:02d}T12:00:00Z")
    first = page(web.get(f"/contacts/{jane['id']}"))
    assert first.count('class="timeline-item') == 20 and "Note 22" in first and "Note 02" not in first
    older = html.unescape(re.search(r'<a href="([^"]+)">Older activities</a>', first).group(1))
    second = page(web.get(older))
    assert re.findall(r">(Note \d\d)</a></h3>", second) == ["Note 02", "Note 01"]
    assert "Newest activities" in second
    assert web.get(f"/contacts/{jane['id']}?timeline=garbage").status_code == 400


def test_a_task_logged_on_the_timeline_keeps_its_due_time(api, web):
    deal = create(api, "deals", name="Renewal")
    answer = web.post(f"/deals/{deal['id']}/activities",
                      {"kind": "task", "subject": "Send the quote", "due_at": "2030-01-02T09:30"})
    assert answer.status_code == 302
    task = api.get("/activities", query_string={"related_type": "deal"}).get_json()["data"][0]
    assert (task["kind"], task["due_at"], task["done"]) == ("task", "2030-01-02T09:30:00.000000Z", False)


def test_a_task_is_marked_done_from_the_timeline(api, web):
    deal = create(api, "deals", name="Renewal")
    task = create(api, "activities", kind="task", subject="Send the quote", related_type="deal",
                  related_id=deal["id"], due_at="2030-01-02T09:00:00Z")
    text = page(web.get(f"/deals/{deal['id']}"))
    assert f'action="/deals/{deal["id"]}/activities/{task["id"]}/done"' in text
    assert "Due <time" in text
    answer = web.post(f"/deals/{deal['id']}/activities/{task['id']}/done")
    assert answer.status_code == 302
    done = record(api, "activities", task["id"])
    assert done["done"] is True and done["done_at"] is not None
    assert f'/activities/{task["id"]}/done"' not in page(web.get(f"/deals/{deal['id']}"))


# Create -----------------------------------------------------------------------------------


def test_create_form_is_built_from_the_descriptor(web):
    text = page(web.get("/contacts/new"))
    assert '<span aria-current="page">New Contact</span>' in text and '<a href="/contacts">Contacts</a>' in text
    assert 'type="email" id="field-email" name="email"' in text
    assert 'type="tel" id="field-phone"' in text
    assert re.search(r'<textarea id="field-description" name="description"', text)
    last = field_block(text, "last_name")
    assert "(required)" in last and " required" in control_tag(text, "last_name")
    owner = field_block(text, "owner_id")
    assert re.search(r'<option value="\d+" selected>Eve Editor</option>', owner)
    sql(web.app, "UPDATE \"user\" SET is_active = false WHERE email = 'eve@example.com'")
    olga = sign_in(web.app, "olga@example.com", "Olga Owner")[1]
    deal_form = page(olga.get("/deals/new"))
    owners = field_block(deal_form, "owner_id")
    assert ">Olga Owner</option>" in owners and "Eve Editor" not in owners  # a user who left is not offered
    stage = field_block(deal_form, "stage")
    assert '<option value="lead" selected>Lead</option>' in stage and '<option value="">' not in stage
    assert '<option value="product_fit">Product fit</option>' in field_block(deal_form, "close_reason")


def test_missing_required_field_answers_422_beside_the_field_keeping_what_was_typed(api, web):
    text = page(web.post("/contacts/new", {"first_name": "Ada", "last_name": "", "email": "ada@example.com",
                                           "description": "Met at <the> fair"}), 422)
    block = field_block(text, "last_name")
    assert '<p class="field-error" id="field-last_name-error">Fill this in.</p>' in block
    tag = control_tag(text, "last_name")
    assert 'aria-invalid="true"' in tag and 'aria-describedby="field-last_name-error"' in tag
    assert 'value="Ada"' in control_tag(text, "first_name")
    assert 'value="ada@example.com"' in control_tag(text, "email")
    assert "Met at &lt;the&gt; fair</textarea>" in text
    assert 'href="#field-last_name"' in text  # the summary at the top leads to the field
    assert api.get("/contacts").get_json()["data"] == []


def test_a_bad_email_is_told_beside_the_field(api, web):
    text = page(web.post("/contacts/new", {"last_name": "Doe", "email": "not-an-email"}), 422)
    assert "Enter an email address" in field_block(text, "email")
    assert 'value="not-an-email"' in control_tag(text, "email")
    assert "field-error" not in field_block(text, "last_name")
    assert api.get("/contacts").get_json()["data"] == []


def test_create_redirects_to_the_new_record_with_a_message(api, web):
    acme = create(api, "organizations", name="Acme")
    answer = web.post("/contacts/new", {"first_name": "Ada", "last_name": "Lovelace", "organization_id": str(acme["id"]),
                                        "phone": "", "job_title": "  Analyst  "})
    assert answer.status_code == 302
    new_id = int(answer.location.rsplit("/", 1)[1])
    saved = record(api, "contacts", new_id)
    assert (saved["first_name"], saved["last_name"], saved["organization_id"], saved["phone"], saved["job_title"]) == (
        "Ada", "Lovelace", acme["id"], None, "Analyst")
    eve = sql(api.app, "SELECT id FROM \"user\" WHERE email = 'eve@example.com'")[0][0]
    assert saved["owner_id"] == eve and saved["created_by"] == eve
    assert "Created contact “Ada Lovelace”." in page(web.get(answer.location))


def test_a_link_can_prefill_the_new_form(api, web):
    acme = create(api, "organizations", name="Acme")
    text = page(web.get(f"/contacts/new?organization_id={acme['id']}"))
    assert f'<option value="{acme["id"]}" selected>Acme</option>' in field_block(text, "organization_id")


def test_a_deal_is_created_with_its_contacts(api, web):
    ada = create(api, "contacts", last_name="Lovelace")
    grace = create(api, "contacts", last_name="Hopper")
    text = page(web.get("/deals/new"))
    contacts = text[text.index('id="field-contact_ids"'):]
    contacts = contacts[:contacts.index("</fieldset>")]
    assert f'name="contact_ids" value="{ada["id"]}">' in contacts and ">Lovelace</label>" in contacts
    answer = web.post("/deals/new", {"name": "Pilot", "contact_ids": [str(ada["id"]), str(grace["id"])],
                                     "pipeline": "sales", "stage": "lead", "amount": "1 000.5"})
    assert answer.status_code == 302, body(answer)
    saved = record(api, "deals", only_id(api, "deals"))
    assert saved["contact_ids"] == sorted([ada["id"], grace["id"]]) and saved["amount"] == "1000.50"


# Custom fields and every kind ------------------------------------------------------------------


def test_a_custom_field_added_at_run_time_appears_in_the_form_and_saves(api, web):
    assert 'name="shoe_size"' not in page(web.get("/contacts/new"))
    add_field(api, "contact", name="shoe_size", kind="integer", label="Shoe size", help="EU sizes.")
    text = page(web.get("/contacts/new"))
    more = text[text.index("<legend>More fields</legend>"):]
    assert 'type="number" id="field-shoe_size" name="shoe_size"' in more and "EU sizes." in more
    refused = page(web.post("/contacts/new", {"last_name": "Doe", "shoe_size": "4x2"}), 422)
    assert "Enter a whole number." in field_block(refused, "shoe_size") and 'value="4x2"' in refused
    answer = web.post("/contacts/new", {"last_name": "Doe", "shoe_size": "42"})
    assert answer.status_code == 302, body(answer)
    assert record(api, "contacts", only_id(api, "contacts"))["shoe_size"] == 42
    assert "Shoe size" in page(web.get(answer.location))


def test_choice_boolean_date_decimal_reference_and_multi_choice_fields_round_trip(api, web):
    acme = create(api, "organizations", name="Acme")
    add_field(api, "contact", name="tier", kind="choice", choices=["gold", "silver"])
    add_field(api, "contact", name="vip", kind="boolean", label="VIP")
    add_field(api, "contact", name="met_on", kind="date")
    add_field(api, "contact", name="score", kind="decimal")
    add_field(api, "contact", name="partner", kind="reference", reference="organization", indexed=True)
    add_field(api, "contact", name="tags", kind="multi_choice", choices=["press", "vendor", "alumni"])
    add_field(api, "contact", name="last_seen", kind="datetime")
    answer = web.post("/contacts/new", {
        "last_name": "Doe", "tier": "gold", "vip": "true", "met_on": "2024-02-29", "score": "12.75",
        "partner": str(acme["id"]), "tags": ["press", "alumni"], "last_seen": "2025-03-04T05:06"})
    assert answer.status_code == 302, body(answer)
    contact_id = int(answer.location.rsplit("/", 1)[1])
    saved = record(api, "contacts", contact_id)
    assert {k: saved[k] for k in ("tier", "vip", "met_on", "score", "partner", "tags", "last_seen")} == {
        "tier": "gold", "vip": True, "met_on": "2024-02-29", "score": "12.75", "partner": acme["id"],
        "tags": ["press", "alumni"], "last_seen": "2025-03-04T05:06:00.000000Z"}

    form = page(web.get(f"/contacts/{contact_id}/edit"))
    assert '<option value="gold" selected>Gold</option>' in field_block(form, "tier")
    assert "checked" in control_tag(form, "vip")
    assert 'value="2024-02-29"' in control_tag(form, "met_on")
    assert 'value="12.75"' in control_tag(form, "score")
    assert f'<option value="{acme["id"]}" selected>Acme</option>' in field_block(form, "partner")
    assert 'value="2025-03-04T05:06"' in control_tag(form, "last_seen")
    tags = form[form.index('id="field-tags"'):]
    assert re.search(r'value="press" checked', tags) and re.search(r'value="alumni" checked', tags)
    assert not re.search(r'value="vendor" checked', tags)

    version = saved["version"]
    unchanged = {name: html.unescape(value) for name, value in HIDDEN.findall(form)} | {
        "first_name": "", "last_name": "Doe", "tier": "gold", "vip": "true", "met_on": "2024-02-29", "score": "12.75",
        "partner": str(acme["id"]), "tags": ["press", "alumni"], "last_seen": "2025-03-04T05:06",
        "owner_id": str(saved["owner_id"])}
    assert web.post(f"/contacts/{contact_id}/edit", unchanged).status_code == 302
    assert record(api, "contacts", contact_id)["version"] == version

    cleared = {**unchanged, "tier": "", "met_on": "", "score": "", "partner": "", "tags": [], "last_seen": ""}
    cleared.pop("vip")
    assert web.post(f"/contacts/{contact_id}/edit", cleared).status_code == 302
    after = record(api, "contacts", contact_id)
    assert {k: after[k] for k in ("tier", "vip", "met_on", "score", "partner", "tags", "last_seen")} == {
        "tier": None, "vip": False, "met_on": None, "score": None, "partner": None, "tags": None, "last_seen": None}


def test_an_indexed_custom_reference_lists_the_records_pointing_at_a_record(api, web):
    acme = create(api, "organizations", name="Acme")
    add_field(api, "contact", name="partner", kind="reference", reference="organization", indexed=True)
    ada = create(api, "contacts", last_name="Lovelace", partner=acme["id"])
    text = page(web.get(f"/organizations/{acme['id']}"))
    assert "Contacts (Partner)" in text and f'<a href="/contacts/{ada["id"]}">Lovelace</a>' in text


def test_a_reference_to_a_large_type_asks_for_an_id(api, web):
    sql(api.app, "INSERT INTO organization (name, created_at, updated_at, version, custom) "
                 "SELECT 'Org ' || n, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, '{}' FROM "
                 "(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 201) "
                 "SELECT n FROM seq) AS numbers")
    text = page(web.get("/contacts/new"))
    tag = control_tag(text, "organization_id")
    assert tag.startswith("<input") and 'type="number"' in tag
    assert "(see Organizations)" in field_block(text, "organization_id")
    answer = web.post("/contacts/new", {"last_name": "Doe", "organization_id": "201"})
    assert answer.status_code == 302, body(answer)
    assert record(api, "contacts", only_id(api, "contacts"))["organization_id"] == 201


# Edit and conflicts ------------------------------------------------------------------------


def edit_form(web, path):
    """The posted fields of an edit form as a browser would send them unchanged."""
    text = page(web.get(path))
    form = text[text.index('<form class="form record-form"'):]
    form = form[:form.index("</form>")]
    data = {name: html.unescape(value) for name, value in HIDDEN.findall(form)}
    for name, value in re.findall(r'<input type="(?:text|email|tel|url|number|date|datetime-local)" id="[^"]+" '
                                  r'name="([^"]+)" value="([^"]*)"', form):
        data[name] = html.unescape(value)
    for name, inner in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form, re.DOTALL):
        chosen = re.findall(r'<option value="([^"]*)" selected>', inner)
        data[name] = chosen[0] if chosen else ""
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.DOTALL):
        data[name] = html.unescape(value)
    data.pop("csrf_token", None)
    return data


def test_edit_saves_with_the_version_and_breadcrumbs(api, web):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    text = page(web.get(f"/contacts/{ada['id']}/edit"))
    assert '<input type="hidden" name="_version" value="1">' in text
    assert f'<li><a href="/contacts/{ada["id"]}">Ada Lovelace</a></li>' in text and '<span aria-current="page">Edit</span>' in text
    data = edit_form(web, f"/contacts/{ada['id']}/edit") | {"job_title": "Analyst"}
    answer = web.post(f"/contacts/{ada['id']}/edit", data)
    assert answer.status_code == 302 and answer.location.endswith(f"/contacts/{ada['id']}")
    saved = record(api, "contacts", ada["id"])
    assert saved["job_title"] == "Analyst" and saved["version"] == 2
    assert "Saved contact “Ada Lovelace”." in page(web.get(answer.location))


def test_a_stale_edit_shows_both_versions_and_overwrites_only_when_asked(api, web):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace", job_title="Analyst", city="London")
    mine = edit_form(web, f"/contacts/{ada['id']}/edit") | {"job_title": "Chief <Analyst>"}
    assert api.patch(f"/contacts/{ada['id']}", json={"job_title": "Countess", "city": "Paris"}).status_code == 200

    text = page(web.post(f"/contacts/{ada['id']}/edit", mine), 409)
    table = text[text.index('class="records conflict-table"'):text.index("</table>")]
    assert "Your version" in table and "Saved by someone else at" in table
    assert re.search(r'<th scope="row">Job title</th><td class="mine">Chief &lt;Analyst&gt;</td><td class="theirs">Countess</td>', table)
    assert "Lovelace" not in table and "City" not in table  # only what I changed and they saw differently
    assert record(api, "contacts", ada["id"])["job_title"] == "Countess"  # nothing written yet
    assert f'<a class="button" href="/contacts/{ada["id"]}">Keep theirs</a>' in text

    choice = text[text.index('<form class="card" method="post"'):]
    choice = choice[:choice.index("</form>")]
    repost = {}
    assert '<input type="hidden" name="_shown"' in choice
    for name, value in HIDDEN.findall(choice):
        repost.setdefault(name, []).append(html.unescape(value))
    assert repost["_version"] == ["2"] and repost["job_title"] == ["Chief <Analyst>"]
    answer = web.post(f"/contacts/{ada['id']}/edit", repost)
    assert answer.status_code == 302, body(answer)
    saved = record(api, "contacts", ada["id"])
    assert saved["job_title"] == "Chief <Analyst>" and saved["version"] == 3
    assert saved["city"] == "Paris"  # their change to a field I left alone stays


def test_keeping_theirs_changes_nothing(api, web):
    ada = create(api, "contacts", last_name="Lovelace", city="London")
    mine = edit_form(web, f"/contacts/{ada['id']}/edit") | {"city": "Paris"}
    api.patch(f"/contacts/{ada['id']}", json={"city": "Berlin"})
    text = page(web.post(f"/contacts/{ada['id']}/edit", mine), 409)
    keep = re.search(r'<a class="button" href="([^"]+)">Keep theirs</a>', text).group(1)
    assert "Berlin" in page(web.get(keep))
    saved = record(api, "contacts", ada["id"])
    assert saved["city"] == "Berlin" and saved["version"] == 2


def test_a_stale_edit_with_the_same_values_needs_no_choice(api, web):
    ada = create(api, "contacts", last_name="Lovelace")
    mine = edit_form(web, f"/contacts/{ada['id']}/edit") | {"city": "Paris"}
    api.patch(f"/contacts/{ada['id']}", json={"city": "Paris"})
    answer = web.post(f"/contacts/{ada['id']}/edit", mine)
    assert answer.status_code == 302
    assert record(api, "contacts", ada["id"])["version"] == 2


def test_a_refused_stage_move_says_why_on_the_stage_and_close_reason(api, web):
    deal = create(api, "deals", name="Pilot", stage="lead")
    form = page(web.get(f"/deals/{deal['id']}/edit"))
    assert re.findall(r'<option value="(\w+)"', field_block(form, "stage")) == ["lead", "qualified", "lost"]
    data = edit_form(web, f"/deals/{deal['id']}/edit")
    text = page(web.post(f"/deals/{deal['id']}/edit", data | {"stage": "negotiation"}), 422)
    assert "cannot move from" in field_block(text, "stage")
    assert '<option value="negotiation" selected>' in field_block(text, "stage")

    proposal = create(api, "deals", name="Closing", stage="proposal")
    data = edit_form(web, f"/deals/{proposal['id']}/edit")
    text = page(web.post(f"/deals/{proposal['id']}/edit", data | {"stage": "won"}), 422)
    assert "Moving to Won needs a close reason" in field_block(text, "close_reason")
    assert "field-error" not in field_block(text, "stage")
    assert record(api, "deals", proposal["id"])["stage"] == "proposal"
    answer = web.post(f"/deals/{proposal['id']}/edit", data | {"stage": "won", "close_reason": "price"})
    assert answer.status_code == 302, body(answer)
    won = record(api, "deals", proposal["id"])
    assert won["stage"] == "won" and won["close_reason"] == "price" and won["closed_at"] is not None
    history = page(web.get(f"/deals/{proposal['id']}"))
    assert re.search(r"<td>Proposal</td>\s*<td>Won</td>", history) and "<td>price</td>" in history


def test_edit_without_a_version_is_refused(api, web):
    ada = create(api, "contacts", last_name="Lovelace")
    assert web.post(f"/contacts/{ada['id']}/edit", {"last_name": "Byron"}).status_code == 400
    assert record(api, "contacts", ada["id"])["last_name"] == "Lovelace"


# Trash, unknown ids, CSRF ---------------------------------------------------------------------


def test_trash_from_the_detail_page(api, web):
    ada = create(api, "contacts", last_name="Lovelace")
    detail = page(web.get(f"/contacts/{ada['id']}"))
    assert f'<a class="button danger" href="/contacts/{ada["id"]}/delete">Move to trash</a>' in detail
    confirm = page(web.get(f"/contacts/{ada['id']}/delete"))
    assert f'<form method="post" action="/contacts/{ada["id"]}/delete">' in confirm
    assert record(api, "contacts", ada["id"])["id"] == ada["id"]  # asking changes nothing

    answer = web.post(f"/contacts/{ada['id']}/delete")
    assert answer.status_code == 302 and answer.location.endswith("/contacts")
    listing = page(web.get("/contacts"))
    assert 'Contact “Lovelace” moved to the trash — <a href="/contacts/trash">Restore</a>' in listing
    assert web.get(f"/contacts/{ada['id']}").status_code == 404
    assert api.get(f"/contacts/{ada['id']}").status_code == 404
    trashed = api.get("/contacts", query_string={"trashed": "true"}).get_json()["data"]
    assert [c["id"] for c in trashed] == [ada["id"]]


@pytest.mark.parametrize("path", ["/contacts/999", "/contacts/999/edit", "/contacts/999/delete",
                                  "/nonsense/1", "/nonsense/new", "/contacts/99999999999999999999"])
def test_unknown_records_answer_404_pages(web, path):
    answer = web.get(path)
    assert answer.status_code == 404
    assert "Not found" in body(answer) and 'class="breadcrumbs"' in body(answer)


def test_posts_without_the_csrf_token_are_refused(api, web):
    ada = create(api, "contacts", last_name="Lovelace")
    posts = [("/contacts/new", {"last_name": "Doe"}),
             (f"/contacts/{ada['id']}/edit", {"_version": "1", "last_name": "Byron"}),
             (f"/contacts/{ada['id']}/delete", {}),
             (f"/contacts/{ada['id']}/activities", {"kind": "call", "subject": "Hi"})]
    for path, data in posts:
        assert web.post(path, data, csrf=False).status_code == 400, path
    assert [c["last_name"] for c in api.get("/contacts").get_json()["data"]] == ["Lovelace"]
    assert api.get("/activities").get_json()["data"] == []


def test_pages_need_a_signed_in_user(app, api):
    ada = create(api, "contacts", last_name="Lovelace")
    answer = app.test_client().get(f"/contacts/{ada['id']}")
    assert answer.status_code == 302 and "/login" in answer.location


def test_an_edit_leaves_untouched_fields_as_they_were(api, web):
    call = create(api, "activities", kind="call", subject="Intro", occurred_at="2025-01-02T03:04:05.678901Z")
    data = edit_form(web, f"/activities/{call['id']}/edit")
    assert data["occurred_at"] == "2025-01-02T03:04"
    assert web.post(f"/activities/{call['id']}/edit", data | {"subject": "Intro call"}).status_code == 302
    saved = record(api, "activities", call["id"])
    assert saved["subject"] == "Intro call" and saved["occurred_at"] == "2025-01-02T03:04:05.678901Z"


def test_a_detail_page_costs_the_same_statements_however_much_is_related(api, web, count_statements):
    def statements(org_id):
        with count_statements() as seen:
            page(web.get(f"/organizations/{org_id}"))
        return len(seen)

    small = create(api, "organizations", name="Small")
    large = create(api, "organizations", name="Large")
    for org, how_many in ((small, 1), (large, 25)):
        for i in range(how_many):
            person = create(api, "contacts", last_name=f"P{i}", organization_id=org["id"])
            create(api, "deals", name=f"D{i}", organization_id=org["id"], contact_ids=[person["id"]])
            create(api, "activities", kind="call", subject=f"C{i}", related_type="contact", related_id=person["id"])
    statements(small["id"])  # warm the catalog and schema caches
    assert statements(large["id"]) == statements(small["id"])


def test_plugin_checks_are_told_on_their_field_or_at_the_top(with_plugins):
    app = with_plugins("vetoing_plugin")
    web = sign_in(app)[1]
    text = page(web.post("/contacts/new", {"last_name": "Doe", "email": "x@blocked.example"}), 422)
    assert "blocked by the vetoing plugin" in field_block(text, "email")
    crashed = page(web.post("/contacts/new", {"last_name": "Explode"}), 500)
    summary = crashed[crashed.index('class="error-summary"'):]
    assert "vetoing" in summary[:summary.index("</div>")] and 'value="Explode"' in crashed
    deal = web.post("/deals/new", {"name": "Tiny", "pipeline": "sales", "stage": "proposal", "amount": "10"})
    assert "Deals under 1000 do not get a proposal." in field_block(page(deal, 422), "stage")
