"""The dashboard: the pipeline funnel, the weighted forecast and the won/lost columns
match the deals created (read back from each chart's data table), amounts never mix
currencies, "My open tasks" lists only the user's open tasks, a failing plugin widget
does not break the page, and the page runs a small, constant number of statements."""

import logging
import re
from datetime import datetime, timedelta, timezone
from html import unescape
from html.parser import HTMLParser

import pytest
from accord.core import hookimpl
from accord.testing import api_client, make_user
from api_helpers import create, recount, sql
from web_helpers import sign_in


@pytest.fixture
def web(seller):
    return seller[1]


def patch(api, record, **values):
    response = api.patch(f"/deals/{record['id']}", json=values)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


class _Table(HTMLParser):
    """The rows of one ``<table id=...>`` as lists of cell texts."""

    def __init__(self, table_id):
        super().__init__()
        self.table_id, self.depth, self.rows, self.cell = table_id, 0, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table(html, table_id):
    """``{first cell: [other cells]}`` of the body rows of the table ``table_id``."""
    parser = _Table(table_id)
    parser.feed(html)
    assert parser.rows, f"no table {table_id!r}"
    return {row[0]: row[1:] for row in parser.rows[1:]}


def section(html, section_id):
    match = re.search(rf'<section [^>]*id="{section_id}".*?</section>', html, re.DOTALL)
    assert match, f"no section {section_id!r}"
    return match.group(0)


def text(html):
    """What a reader sees: tags dropped, white space collapsed (none before punctuation)."""
    words = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()
    return re.sub(r" ([;,.])", r"\1", words)


def month_label(when):
    return when.strftime("%b %Y")


def months_ago(count):
    today = datetime.now(timezone.utc)
    index = today.year * 12 + today.month - 1 - count
    return datetime(index // 12, index % 12 + 1, 15, 12, tzinfo=timezone.utc)


def months_ahead(count):
    return months_ago(-count)


# The deal charts -------------------------------------------------------------------------


@pytest.fixture
def deals(app, api):
    """Open deals in EUR and USD over several stages and months, and closed ones."""
    this_month, next_month = months_ahead(0).date().isoformat(), months_ahead(1).date().isoformat()
    lead = create(api, "deals", name="Lead EUR", amount="1000", currency="EUR", expected_close_date=this_month)
    create(api, "deals", name="Lead USD", amount="7000", currency="USD", expected_close_date=this_month)
    qualified = create(api, "deals", name="Qualified EUR", amount="400", currency="EUR", expected_close_date=next_month)
    patch(api, qualified, stage="qualified")
    proposal = create(api, "deals", name="Proposal EUR", amount="2000", currency="EUR", expected_close_date=next_month)
    patch(api, proposal, stage="qualified")
    patch(api, proposal, stage="proposal")
    won = create(api, "deals", name="Won EUR", amount="500", currency="EUR", expected_close_date=this_month)
    for stage in ("qualified", "proposal"):
        patch(api, won, stage=stage)
    patch(api, won, stage="won", close_reason="price")
    old_win = create(api, "deals", name="Old win", amount="300", currency="EUR")
    for stage in ("qualified", "proposal"):
        patch(api, old_win, stage=stage)
    patch(api, old_win, stage="won", close_reason="timing")
    lost = create(api, "deals", name="Lost", amount="50", currency="EUR")
    patch(api, lost, stage="lost", close_reason="competitor")
    ancient = create(api, "deals", name="Ancient loss", amount="50", currency="EUR")
    patch(api, ancient, stage="lost", close_reason="no_budget")
    trashed = create(api, "deals", name="Trashed", amount="99999", currency="EUR", expected_close_date=this_month)
    api.delete(f"/deals/{trashed['id']}")
    sql(app, "UPDATE deal SET closed_at = :at WHERE id = :id", at=months_ago(3), id=old_win["id"])
    sql(app, "UPDATE deal SET closed_at = :at WHERE id = :id", at=months_ago(13), id=ancient["id"])
    recount(app, "deal")
    return {"lead": lead, "won": won}


def test_the_funnel_counts_open_deals_per_stage_with_amounts_in_one_currency(web, deals):
    page = web.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert table(html, "pipeline-data") == {
        "Lead": ["10%", "2", "1,000.00 EUR"],
        "Qualified": ["25%", "1", "400.00 EUR"],
        "Proposal": ["50%", "1", "2,000.00 EUR"],
        "Negotiation": ["75%", "0", "0.00 EUR"],
    }
    note = text(re.search(r'<p id="dashboard-currency-note">.*?</p>', html, re.DOTALL).group(0))
    assert note == ("Amounts are in EUR; 1 open deal in other currencies is counted, "
                    "but its amount is not added in.")
    funnel = section(html, "pipeline")
    assert '<svg class="chart chart-funnel"' in funnel and 'role="img"' in funnel
    assert "<title id=\"pipeline-chart-title\">Open deals by stage</title>" in funnel
    assert "Lead: 2; Qualified: 1; Proposal: 1; Negotiation: 0" in funnel
    assert funnel.count('<rect class="chart-bar') == 3

    in_usd = web.get("/?currency=USD").get_data(as_text=True)
    assert table(in_usd, "pipeline-data")["Lead"] == ["10%", "2", "7,000.00 USD"]
    assert table(in_usd, "pipeline-data")["Proposal"] == ["50%", "1", "0.00 USD"]
    assert '<option value="USD" selected>' in in_usd
    assert table(web.get("/?currency=XYZ").get_data(as_text=True), "pipeline-data")["Lead"][2] == "1,000.00 EUR"


def test_the_forecast_weights_open_deals_per_month_in_one_currency(web, deals):
    html = web.get("/").get_data(as_text=True)
    forecast = table(html, "forecast-data")
    assert list(forecast) == [month_label(months_ahead(n)) for n in range(6)]
    # This month: 500 won + 1,000 EUR lead at 10%; the USD lead and the trashed deal stay out.
    assert forecast[month_label(months_ahead(0))] == ["500.00 EUR", "100.00 EUR", "600.00 EUR"]
    # Next month: 400 at 25% + 2,000 at 50%.
    assert forecast[month_label(months_ahead(1))] == ["0.00 EUR", "1,100.00 EUR", "1,100.00 EUR"]
    assert forecast[month_label(months_ahead(2))] == ["0.00 EUR", "0.00 EUR", "0.00 EUR"]
    assert "Weighted forecast by month in EUR" in section(html, "forecast")

    in_usd = table(web.get("/?currency=USD").get_data(as_text=True), "forecast-data")
    assert in_usd[month_label(months_ahead(0))] == ["0.00 USD", "700.00 USD", "700.00 USD"]


def test_won_and_lost_are_counted_per_month_of_closing(web, deals):
    html = web.get("/").get_data(as_text=True)
    closed = table(html, "won-lost-data")
    assert list(closed) == [month_label(months_ago(n)) for n in range(11, -1, -1)]
    assert closed[month_label(months_ago(0))] == ["1", "1"]
    assert closed[month_label(months_ago(3))] == ["1", "0"]
    assert sum(int(won) + int(lost) for won, lost in closed.values()) == 3
    chart = section(html, "won-lost")
    assert chart.count('class="chart-bar series-won"') == 2 and chart.count('class="chart-bar series-lost"') == 1


def test_without_the_default_currency_the_busiest_one_is_shown_and_named(api, web):
    for amount in ("10", "20"):
        create(api, "deals", name=f"USD {amount}", amount=amount, currency="USD")
    create(api, "deals", name="GBP", amount="5", currency="GBP")
    html = web.get("/").get_data(as_text=True)
    assert table(html, "pipeline-data")["Lead"] == ["10%", "3", "30.00 USD"]
    assert "Amounts are in USD; 1 open deal in other currencies is counted" in text(html)
    assert re.findall(r'<option value="([A-Z]{3})"', html) == ["GBP", "USD"]


def test_an_empty_instance_shows_friendly_empty_states(web):
    html = web.get("/").get_data(as_text=True)
    assert "No open deals yet." in text(section(html, "pipeline"))
    assert "Nothing is expected to close in EUR in the next six months." in text(section(html, "forecast"))
    assert "No deals were won or lost in the last twelve months." in text(section(html, "won-lost"))
    assert "No open tasks." in text(section(html, "my-tasks"))
    assert "<svg" not in html and "currency-form" not in html
    assert '<nav class="breadcrumbs"' not in html
    assert "<h1>Dashboard</h1>" in html


def test_the_dashboard_needs_a_signed_in_user(app):
    answer = app.test_client().get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


# My open tasks ----------------------------------------------------------------------------


def test_my_open_tasks_lists_only_my_open_tasks_soonest_first(app, api, web, seller):
    me = seller[0].id
    other = make_user(app, "other@example.com", "Olga Other")
    now = datetime.now(timezone.utc)

    def task(subject, owner=me, due=None, **values):
        due_at = None if due is None else (now + timedelta(days=due)).isoformat()
        return create(api, "activities", kind="task", subject=subject, owner_id=owner, due_at=due_at, **values)

    later = task("Send the quote", due=3)
    overdue = task("Call back <Acme>", due=-2)
    undated = task("Tidy the notes")
    task("Someone else's", owner=other.id, due=1)
    task("Already done", due=1, done=True)
    create(api, "activities", kind="call", subject="A call, not a task", owner_id=me)
    trashed = task("Trashed task", due=1)
    api.delete(f"/activities/{trashed['id']}")

    panel = section(web.get("/").get_data(as_text=True), "my-tasks")
    ids = [int(i) for i in re.findall(r'data-task-id="(\d+)"', panel)]
    assert ids == [overdue["id"], later["id"], undated["id"]]
    assert "Call back &lt;Acme&gt;" in panel
    assert f'href="/activities/{overdue["id"]}"' in panel
    overdue_item = re.search(rf'data-task-id="{overdue["id"]}".*?</li>', panel, re.DOTALL).group(0)
    assert "Overdue" in overdue_item and "Overdue" not in re.search(
        rf'data-task-id="{later["id"]}".*?</li>', panel, re.DOTALL).group(0)
    assert "no due date" in panel
    assert f'href="/activities?kind=task&amp;done=false&amp;owner_id={me}"' in panel


def test_my_open_tasks_shows_ten_and_links_to_the_rest(api, web, seller):
    for n in range(12):
        create(api, "activities", kind="task", subject=f"Task {n:02d}", owner_id=seller[0].id,
               due_at=(datetime(2030, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)).isoformat())
    panel = section(web.get("/").get_data(as_text=True), "my-tasks")
    assert re.findall(r">(Task \d\d)</a>", panel) == [f"Task {n:02d}" for n in range(10)]
    assert "All your open tasks" in panel


# Plugin widgets ---------------------------------------------------------------------------


class WidgetPlugin:
    """Dashboard widgets: one that works, one that raises, one whose SQL fails."""

    name = "widget_test"

    @hookimpl
    def accord_dashboard_widgets(self, app):
        return [
            {"key": "widget_test.broken_sql", "title": "Broken query", "data": self.broken_sql},
            {"key": "widget_test.raises", "title": "Raises", "data": self.raises},
            {"key": "widget_test.open_work", "title": "Open work", "data": self.open_work},
        ]

    @staticmethod
    def broken_sql(app, user):
        from accord.core import db
        from sqlalchemy import text as sql_text

        return db.session.execute(sql_text("SELECT * FROM no_such_table")).all()

    @staticmethod
    def raises(app, user):
        raise RuntimeError("the widget fell over")

    @staticmethod
    def open_work(app, user):
        from accord.core import db
        from accord.core.models import Deal
        from sqlalchemy import func, select

        deals = db.session.execute(select(func.count()).select_from(Deal)).scalar_one()
        return {"viewer": user.name, "deal_count": deals, "urgent": True, "by_priority": [
            {"key": "high", "label": "High <b>", "count": 2}, {"key": "low", "label": "Low", "count": 1}]}


def test_plugin_widgets_render_generically_and_a_failing_one_is_unavailable(with_plugins, caplog):
    app = with_plugins(WidgetPlugin())
    admin = make_user(app, "admin@example.com", "Ada Admin", is_admin=True)
    create(api_client(app, admin), "deals", name="Big")
    _user, web = sign_in(app, "seller@example.com", "Sam Seller", is_admin=False)
    with caplog.at_level(logging.ERROR, logger="accord.web"):
        page = web.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    widgets = re.findall(r'data-widget="([^"]+)"', html)
    assert widgets == ["widget_test.broken_sql", "widget_test.raises", "widget_test.open_work"]
    for key in ("widget_test.broken_sql", "widget_test.raises"):
        panel = re.search(rf'data-widget="{key}".*?</section>', html, re.DOTALL).group(0)
        assert "This panel is unavailable right now" in panel
    working = text(re.search(r'data-widget="widget_test.open_work".*?</section>', html, re.DOTALL).group(0))
    assert "Open work" in working
    assert "Viewer Sam Seller" in working and "Deal count 1" in working and "Urgent Yes" in working
    assert "By priority Label Count High <b> 2 Low 1" in working
    assert "High &lt;b&gt;" in html
    assert table(html, "pipeline-data")["Lead"][1] == "1"
    failures = [r.getMessage() for r in caplog.records if "dashboard widget" in r.getMessage()]
    assert failures == ["dashboard widget 'widget_test.broken_sql' of plugin 'widget_test' failed",
                        "dashboard widget 'widget_test.raises' of plugin 'widget_test' failed"]


# Cost -------------------------------------------------------------------------------------


def test_the_dashboard_runs_a_small_constant_number_of_statements(api, web, seller, count_statements):
    with count_statements() as empty:
        assert web.get("/").status_code == 200
    for n in range(15):
        deal = create(api, "deals", name=f"Deal {n}", amount=str(n * 100), currency=("EUR", "USD")[n % 2],
                      expected_close_date=months_ahead(n % 6).date().isoformat())
        if n % 3 == 0:
            patch(api, deal, stage="lost", close_reason="price")
        create(api, "activities", kind="task", subject=f"Task {n}", owner_id=seller[0].id)
    with count_statements() as full:
        assert web.get("/").status_code == 200
    assert len(full) == len(empty) <= 7, full
    assert not any("FROM contact" in statement for statement in full)
