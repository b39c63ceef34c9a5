"""The pipeline board: columns per stage with the right cards and figures, and moving a
card by form and by JSON through the service layer, with the same refusals as the API."""

import re
from html import unescape

import accord.core.web.board as board_module
import pytest
import registering_plugin
from accord.core.db import db
from accord.core.migrate import upgrade
from accord.testing import api_client, make_user
from api_helpers import create, scalar, sql
from registering_plugin import Project
from web_helpers import sign_in


@pytest.fixture
def web(seller):
    return seller[1]


def move_via_api(api, deal, *stages):
    for stage in stages:
        assert api.patch(f"/deals/{deal['id']}", json={"stage": stage}).status_code == 200


def history(api, record_id, plural="deals"):
    answer = api.get(f"/{plural}/{record_id}/stage-history")
    return [(h["from"], h["to"], h["by"], h["reason"]) for h in answer.json["data"]]


def columns(page):
    """``{stage: html of its column}`` from a board page."""
    parts = re.split(r'<section class="board-column"', page)[1:]
    return {re.search(r'data-stage="([^"]+)"', part).group(1): part for part in parts}


def card_ids(column):
    return [int(i) for i in re.findall(r'<li class="board-card" id="card-(\d+)"', column)]


def text(html):
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


# Reading the board -----------------------------------------------------------------------


def test_columns_show_their_cards_and_figures(app, api, web, seller):
    bea = make_user(app, "bea@example.com", "Bea Buyer")
    big = create(api, "deals", name="Big <Deal>", amount="1500", currency="EUR", expected_close_date="2031-03-14",
                 owner_id=bea.id)
    small = create(api, "deals", name="Small", amount="200", currency="USD")
    other = create(api, "deals", name="Other", amount="100", currency="EUR")
    gone = create(api, "deals", name="Gone", amount="999", currency="EUR")
    qualified = create(api, "deals", name="Qualified one", amount="50")
    move_via_api(api, qualified, "qualified")
    api.delete(f"/deals/{gone['id']}")

    page = web.get("/deals/board")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    board = columns(html)
    assert list(board) == ["lead", "qualified", "proposal", "negotiation", "won", "lost"]
    assert card_ids(board["lead"]) == [other["id"], small["id"], big["id"]]
    assert card_ids(board["qualified"]) == [qualified["id"]]
    assert card_ids(board["won"]) == []
    lead = text(board["lead"])
    assert "Lead" in lead and "10%" in lead and "3 deals" in lead
    assert "1,600.00 EUR + 200.00 USD" in lead
    assert "No deals in Won." in text(board["won"])
    big_card = re.search(rf'<li class="board-card" id="card-{big["id"]}".*?</li>', board["lead"], re.DOTALL).group(0)
    assert f'href="/deals/{big["id"]}"' in big_card
    assert "Big &lt;Deal&gt;" in big_card
    assert "1,500.00 EUR" in text(big_card) and "Bea Buyer" in text(big_card) and "2031-03-14" in text(big_card)
    assert 'name="version" value="1"' in big_card
    options = re.findall(r'<option value="([^"]+)"', big_card)
    assert options == ["qualified", "lost"]
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.DOTALL).group(0)
    assert text(crumbs) == "Home Deals Board" and 'href="/deals"' in crumbs
    assert "board.js" in html


def test_a_column_is_bounded_with_a_link_to_the_list(app, api, web, monkeypatch):
    monkeypatch.setattr(board_module, "CARDS_PER_COLUMN", 2)
    _first, second, third = (create(api, "deals", name=f"Deal {n}") for n in range(3))
    lead = columns(web.get("/deals/board").get_data(as_text=True))["lead"]
    assert card_ids(lead) == [third["id"], second["id"]]
    assert "3 deals" in text(lead)
    assert 'href="/deals?stage=lead&amp;pipeline=sales"' in lead


def test_board_reads_in_a_constant_number_of_statements(api, web, count_statements):
    create(api, "deals", name="One")
    with count_statements() as few:
        assert web.get("/deals/board").status_code == 200
    for n in range(12):
        deal = create(api, "deals", name=f"Deal {n}", amount=str(n))
        if n % 2:
            move_via_api(api, deal, "qualified")
    with count_statements() as many:
        assert web.get("/deals/board").status_code == 200
    assert len(many) == len(few) <= 4, many


def test_types_without_a_pipeline_have_no_board(api, web):
    deal = create(api, "deals", name="Big")
    contact = create(api, "contacts", last_name="Doe")
    assert web.get("/contacts/board").status_code == 404
    assert web.get("/nothings/board").status_code == 404
    assert web.get("/deals/board?pipeline=nope").status_code == 404
    assert web.get("/deals/board?pipeline=sales").status_code == 200
    assert web.fetch("POST", f"/contacts/{contact['id']}/move", {"stage": "lead"}).status_code == 404
    missing = web.fetch("POST", f"/deals/{deal['id'] + 100}/move", {"stage": "qualified"})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


@pytest.fixture
def project_app(with_plugins):
    """An app with the registering test plugin's ``project`` type (its own table and
    ``delivery`` pipeline, no amount or close date); the table is dropped afterwards."""
    app = with_plugins(registering_plugin)
    with app.app_context():
        Project.metadata.create_all(bind=db.engine, tables=[Project.__table__])
    upgrade(app)
    yield app
    with app.app_context():
        db.session.remove()
        Project.__table__.drop(bind=db.engine, checkfirst=True)


def test_a_plugin_type_with_its_own_pipeline_gets_a_board(project_app):
    api = api_client(project_app, make_user(project_app, "admin@example.com", "Ada Admin", is_admin=True))
    user, web = sign_in(project_app, "seller@example.com", "Sam Seller", is_admin=False)
    first = create(api, "projects", name="Website", budget=100)
    second = create(api, "projects", name="Handbook")
    assert api.patch(f"/projects/{first['id']}", json={"stage": "active"}).status_code == 200
    html = web.get("/projects/board").get_data(as_text=True)
    board = columns(html)
    assert list(board) == ["planned", "active", "delivered", "cancelled"]
    assert card_ids(board["planned"]) == [second["id"]] and card_ids(board["active"]) == [first["id"]]
    assert "1 project" in text(board["active"]) and "Amount" not in board["active"]
    assert "most recently changed projects" in html
    moved = web.fetch("POST", f"/projects/{first['id']}/move", {"stage": "delivered", "version": 2})
    assert moved.status_code == 200 and moved.json["stage"] == "delivered"
    assert api.get(f"/projects/{first['id']}").json["stage"] == "delivered"
    assert history(api, first["id"], "projects")[-1] == ("active", "delivered", user.id, None)


def test_the_board_needs_a_signed_in_user(app):
    answer = app.test_client().get("/deals/board")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


# Moving ----------------------------------------------------------------------------------


def test_moving_by_form_updates_the_stage_and_its_history(api, web, seller):
    deal = create(api, "deals", name="Big")
    answer = web.post(f"/deals/{deal['id']}/move", {"stage": "qualified", "version": "1"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/deals/board")
    assert api.get(f"/deals/{deal['id']}").json["stage"] == "qualified"
    assert history(api, deal["id"])[-1] == ("lead", "qualified", seller[0].id, None)
    board = web.get("/deals/board").get_data(as_text=True)
    assert "Moved “Big” to Qualified." in board
    assert card_ids(columns(board)["qualified"]) == [deal["id"]]


def test_moving_by_json_answers_the_fresh_card_and_column_figures(api, web, seller):
    deal = create(api, "deals", name="Big", amount="10", currency="EUR")
    answer = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "qualified", "close_reason": None, "version": 1})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.json
    assert (body["id"], body["stage"], body["version"]) == (deal["id"], "qualified", 2)
    assert body["message"] == "Moved “Big” to Qualified."
    assert f'id="card-{deal["id"]}"' in body["card_html"] and 'name="version" value="2"' in body["card_html"]
    assert set(body["columns"]) == {"lead", "qualified"}
    assert body["columns"]["lead"]["count"] == 0 and body["columns"]["qualified"]["count"] == 1
    assert body["columns"]["qualified"]["total_text"] == "10.00 EUR"
    assert history(api, deal["id"]) == [(None, "lead", deal["created_by"], None), ("lead", "qualified", seller[0].id, None)]


def test_a_disallowed_move_is_refused_with_its_reason_and_changes_nothing(app, api, web):
    deal = create(api, "deals", name="Big")
    answer = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "negotiation", "version": 1})
    assert answer.status_code == 422
    error = answer.json["error"]
    assert "cannot move from 'lead' to 'negotiation'" in error["message"] and "stage" in error["fields"]
    form = web.post(f"/deals/{deal['id']}/move", {"stage": "negotiation", "version": "1"})
    assert form.status_code == 303
    assert "cannot move from &#39;lead&#39; to &#39;negotiation&#39;" in web.get("/deals/board").get_data(as_text=True)
    assert sql(app, "SELECT stage, version FROM deal WHERE id = :id", id=deal["id"])[0] == ("lead", 1)
    assert len(history(api, deal["id"])) == 1


def test_unknown_stage_and_missing_stage_are_refused(api, web):
    deal = create(api, "deals", name="Big")
    unknown = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "party", "version": 1})
    assert unknown.status_code == 422 and "not a stage" in unknown.json["error"]["message"]
    empty = web.fetch("POST", f"/deals/{deal['id']}/move", {"version": 1})
    assert empty.status_code == 422 and empty.json["error"]["fields"] == {"stage": ["Choose a stage."]}
    bad_version = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "qualified", "version": "one"})
    assert bad_version.status_code == 400
    assert api.get(f"/deals/{deal['id']}").json["version"] == 1


def test_won_needs_a_close_reason_then_moves(api, web, seller):
    deal = create(api, "deals", name="Big")
    move_via_api(api, deal, "qualified", "proposal")
    refused = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "won", "version": 3})
    assert refused.status_code == 422 and "close_reason" in refused.json["error"]["message"]
    assert api.get(f"/deals/{deal['id']}").json["stage"] == "proposal"
    moved = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "won", "close_reason": "price", "version": 3})
    assert moved.status_code == 200 and moved.json["stage"] == "won"
    record = api.get(f"/deals/{deal['id']}").json
    assert record["stage"] == "won" and record["close_reason"] == "price" and record["closed_at"]
    assert history(api, deal["id"])[-1] == ("proposal", "won", seller[0].id, "price")


def test_the_form_asks_for_the_reason_on_a_page_of_its_own(api, web, seller):
    deal = create(api, "deals", name="Big")
    board = columns(web.get("/deals/board").get_data(as_text=True))
    assert '"key": "competitor"' in unescape(re.search(r"data-reasons='([^']*)'", board["lost"]).group(1))
    asked = web.post(f"/deals/{deal['id']}/move", {"stage": "lost", "version": "1"})
    assert asked.status_code == 303
    assert asked.headers["Location"].endswith(f"/deals/{deal['id']}/move?stage=lost&version=1")
    assert api.get(f"/deals/{deal['id']}").json["stage"] == "lead"
    page = web.get(asked.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="move-reason">Reason</label>' in html
    assert re.findall(r'<option value="([^"]*)"', html) == ["", "price", "competitor", "no_budget", "no_decision",
                                                             "timing", "other"]
    assert 'name="stage" value="lost"' in html and 'name="version" value="1"' in html
    blank = web.post(f"/deals/{deal['id']}/move", {"stage": "lost", "close_reason": "", "version": "1"})
    assert blank.headers["Location"] == asked.headers["Location"]
    assert "Choose why it moves to Lost." in web.get(blank.headers["Location"]).get_data(as_text=True)
    plain = web.get(f"/deals/{deal['id']}/move").get_data(as_text=True)
    assert '<label for="move-stage">Move to</label>' in plain and "move-reason" not in plain
    assert re.findall(r'<option value="([^"]*)"', plain) == ["qualified", "lost"]
    done = web.post(f"/deals/{deal['id']}/move", {"stage": "lost", "close_reason": "competitor", "version": "1"})
    assert done.status_code == 303
    assert history(api, deal["id"])[-1] == ("lead", "lost", seller[0].id, "competitor")


def test_a_stale_card_is_409_with_the_card_as_it_is_now(app, api, web):
    deal = create(api, "deals", name="Big")
    api.patch(f"/deals/{deal['id']}", json={"stage": "qualified"})
    stale = web.fetch("POST", f"/deals/{deal['id']}/move", {"stage": "lost", "close_reason": "price", "version": 1})
    assert stale.status_code == 409
    body = stale.json
    assert body["error"] == {"code": "conflict",
                             "message": "“Big” was changed by someone else meanwhile; the card shows it as it is now."}
    assert (body["stage"], body["version"]) == ("qualified", 2)
    assert 'name="version" value="2"' in body["card_html"]
    form = web.post(f"/deals/{deal['id']}/move", {"stage": "proposal", "version": "1"})
    assert form.status_code == 303
    assert "the board shows it as it is now." in web.get("/deals/board").get_data(as_text=True)
    assert sql(app, "SELECT stage, version FROM deal WHERE id = :id", id=deal["id"])[0] == ("qualified", 2)


def test_a_move_without_the_csrf_token_is_refused(app, api, web):
    deal = create(api, "deals", name="Big")
    answer = web.post(f"/deals/{deal['id']}/move", {"stage": "qualified", "version": "1"}, csrf=False)
    assert answer.status_code == 400
    assert scalar(app, "SELECT stage FROM deal WHERE id = :id", id=deal["id"]) == "lead"
