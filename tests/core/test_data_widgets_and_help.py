"""Dashboard widgets and help topics stored as rows: a widget counts or sums a type's live
records by stage or choice field over what the viewer may read, with the labels terms
give; a broken one is shown as unavailable; help topics are listed, found and offered in
the contextual panel beside the code-declared ones."""

import logging
import re

from accord.core.models import DashboardWidgetDefinition, HelpTopicDefinition, Term
from accord.core.records import write_unit
from accord.core.registry import bump_generation
from api_helpers import add_field, create
from web_helpers import sign_in


def store(app, *rows):
    with app.app_context(), write_unit() as session:
        session.add_all(rows)
        bump_generation(session)


def widget_table(page, key):
    """The cell texts of the widget ``key``'s table, one list per row."""
    start = page.index(f'data-widget="{key}"')
    section = page[start:page.index("</section>", start)]
    return [[" ".join(re.sub("<[^>]+>", " ", cell).split()) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)]
            for row in re.findall(r"<tr>(.*?)</tr>", section, re.DOTALL)]


def test_a_count_by_stage_follows_the_viewers_scope_and_terms(app, api):
    seller, web = sign_in(app, "sam@example.com", "Sam", is_admin=False)
    with app.app_context():
        from accord.core.db import db
        from accord.core.models import User

        db.session.get(User, seller.id).role = "sales"
        db.session.commit()
    create(api, "deals", name="Mine", owner_id=seller.id)
    create(api, "deals", name="Mine too", owner_id=seller.id, stage="lead")
    create(api, "deals", name="Not mine")
    store(app, DashboardWidgetDefinition(key="deals_by_stage", title="Listings by stage", record_type="deal",
                                         measure="count", group_by="stage", position=0, origin="pack:real_estate"),
          Term(target="stage:sales.lead", label="Enquiry", origin="pack:real_estate"))
    page = web.get("/").get_data(as_text=True)
    assert "Listings by stage" in page
    rows = widget_table(page, "deals_by_stage")
    assert rows[0] == ["Label", "Count"] and rows[1] == ["Enquiry", "2"] and ["Qualified", "0"] in rows
    _admin, everyone = sign_in(app, "ada@example.com", "Ada", is_admin=True)
    assert widget_table(everyone.get("/").get_data(as_text=True), "deals_by_stage")[1] == ["Enquiry", "3"]


def test_a_sum_by_choice_field_and_a_broken_widget(app, api, caplog):
    add_field(api, "contact", name="tier", kind="choice", choices=["gold", "silver"])
    add_field(api, "contact", name="spend", kind="decimal")
    create(api, "contacts", last_name="A", tier="gold", spend="10.5")
    create(api, "contacts", last_name="B", tier="gold", spend="2")
    create(api, "contacts", last_name="C", spend="1")
    store(app,
          DashboardWidgetDefinition(key="spend", title="Spend by tier", record_type="contact", measure="sum",
                                    field="spend", group_by="tier", position=1, origin="local"),
          DashboardWidgetDefinition(key="broken", title="Broken one", record_type="contact", measure="count",
                                    group_by="last_name", position=2, origin="local"),
          DashboardWidgetDefinition(key="gone", title="Of no type", record_type="nothing", measure="count",
                                    position=3, origin="local"))
    _admin, web = sign_in(app, "ada@example.com", "Ada", is_admin=True)
    with caplog.at_level(logging.ERROR, logger="accord.web"):
        page = web.get("/").get_data(as_text=True)
    rows = widget_table(page, "spend")
    assert rows[1][0] == "Gold" and float(rows[1][1]) == 12.5 and rows[2] == ["Silver", "0"]
    assert rows[3][0] == "(none)" and float(rows[3][1]) == 1
    broken = page[page.index('data-widget="broken"'):]
    assert "This panel is unavailable" in broken[:broken.index("</section>")]
    assert "Of no type" not in page and "broken" in caplog.text


def test_help_topics_stored_as_rows_are_listed_found_and_offered_on_their_pages(app):
    store(app,
          HelpTopicDefinition(key="real_estate.commission", title="How commission is calculated",
                              body="Commission is a **percentage** of the sold price.", pages=["/deals"],
                              group=None, origin="pack:real_estate"),
          HelpTopicDefinition(key="core.search", title="Taken key", body="Never shown.", pages=[], origin="local"))
    _admin, web = sign_in(app, "ada@example.com", "Ada", is_admin=True)
    index = web.get("/help").get_data(as_text=True)
    assert "How commission is calculated" in index and "Real estate" in index and "Taken key" not in index
    assert "How commission is calculated" in web.get("/help?q=percentage").get_data(as_text=True)
    topic = web.get("/help/real_estate.commission")
    assert topic.status_code == 200 and "<strong>percentage</strong>" in topic.get_data(as_text=True)
    panel = web.get("/help/panel?page=records.list&path=/deals").get_data(as_text=True)
    assert "How commission is calculated" in panel
    assert "How commission is calculated" not in web.get("/help/panel?page=x&path=/contacts").get_data(as_text=True)
