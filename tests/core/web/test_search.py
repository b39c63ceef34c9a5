"""Global search pages: ``/search?q=`` grouped by record type with links and snippets, and
``/search/suggest?q=``, the JSON the search box reads, within its limits; only the active
record types and the plugins' providers are searched."""

import logging
import re
from html import unescape

import accord.core.web.search as search_pages
import pytest
from accord.core import hookimpl
from accord.core.records import Actor
from accord.core.registry import current_accord
from web_helpers import sign_in


@pytest.fixture
def web(app):
    return sign_in(app, "seeker@example.com", "Sam Seeker", is_admin=False)[1]


def sections(html):
    """``{type key: [(title text, url), ...]}`` of the results page, in page order."""
    found = {}
    for key, body in re.findall(r'<section class="search-type" id="results-([\w.-]+)".*?>(.*?)</section>', html, re.DOTALL):
        found[key] = [(unescape(re.sub(r"<[^>]+>", "", title)), url)
                      for url, title in re.findall(r'class="search-hit-title" href="([^"]+)">(.*?)</a>', body, re.DOTALL)]
    return found


def create(app, type_key, **values):
    actor = Actor(user_id=None, source="test", is_admin=True, name="test")
    with app.test_request_context():
        return current_accord(app).records.create(type_key, values, actor)


def test_results_are_grouped_by_type_with_links_and_snippets(app, web):
    ada = create(app, "contact", first_name="Ada", last_name="Zephyrine", email="ada@engines.example")
    deal = create(app, "deal", name="Zephyrine engine order")
    create(app, "contact", first_name="Grace", last_name="Hopper")
    page = web.get("/search?q=zephyr")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    found = sections(html)
    assert found == {"contact": [("Ada Zephyrine", f"/contacts/{ada.id}")],
                     "deal": [("Zephyrine engine order", f"/deals/{deal.id}")]}
    assert re.search(r'<h2 id="results-contact-heading">Contacts</h2>', html)
    assert re.search(r'<h2 id="results-deal-heading">Deals</h2>', html)
    assert "Ada <mark>Zephyrine</mark>" in html
    assert '<p class="search-snippet">ada@engines.example</p>' in html
    assert "2 best matches for “zephyr”" in unescape(html)
    for _title, url in found["contact"] + found["deal"]:
        assert web.get(url).status_code == 200


def test_a_crowded_type_is_capped_with_a_link_to_its_searched_list(app, web, monkeypatch):
    monkeypatch.setattr(search_pages, "PAGE_PER_TYPE", 3)
    for number in range(5):
        create(app, "contact", first_name=f"Ada{number}", last_name="Quillfeather")
    html = web.get("/search?q=quill").get_data(as_text=True)
    assert len(sections(html)["contact"]) == 3
    assert 'href="/contacts?q=quill">See every contact matching “quill”</a>' in unescape(html)


def test_the_snippet_shows_the_words_around_the_match(app, web):
    words = " ".join(f"word{number}" for number in range(60))
    create(app, "activity", kind="note", subject="Weekly call", body=f"{words} mentions Quetzal pricing {words}")
    html = web.get("/search?q=quetzal").get_data(as_text=True)
    snippet = re.search(r'<p class="search-snippet">(.*?)</p>', html, re.DOTALL).group(1)
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "mentions <mark>Quetzal</mark> pricing" in snippet
    assert len(re.sub(r"<[^>]+>", "", snippet)) <= search_pages.SNIPPET + 4


def test_user_data_is_escaped(app, web):
    create(app, "contact", first_name="<script>alert(1)</script>", last_name="Xylander")
    html = web.get("/search?q=xyl").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Xylander</mark>" in html


@pytest.mark.parametrize("query", ["", "a", "  ", "*", "a b"])
def test_an_empty_or_one_letter_query_shows_guidance(web, query):
    page = web.get("/search", query_string={"q": query})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "How search works" in html
    assert 'class="search-type"' not in html
    answer = web.fetch("GET", f"/search/suggest?q={query}")
    assert answer.status_code == 200
    assert answer.json == {"query": query.strip(), "groups": []}


def test_nothing_found_says_so(web):
    html = unescape(web.get("/search?q=nonexistentword").get_data(as_text=True))
    assert "Nothing matches “nonexistentword”." in html


def test_suggest_answers_what_the_search_box_expects(app, web):
    ada = create(app, "contact", first_name="Ada", last_name="Lovelace")
    org = create(app, "organization", name="Lovelace Analytical")
    answer = web.fetch("GET", "/search/suggest?q=lovel")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json
    assert set(body) == {"query", "groups"} and body["query"] == "lovel"
    groups = {group["type"]: group for group in body["groups"]}
    assert groups["contact"] == {"type": "contact", "label": "Contacts",
                                 "items": [{"title": "Ada Lovelace", "url": f"/contacts/{ada.id}"}]}
    assert groups["organization"] == {"type": "organization", "label": "Organizations",
                                      "items": [{"title": "Lovelace Analytical", "url": f"/organizations/{org.id}"}]}


def test_suggest_keeps_to_five_a_type_and_twenty_in_all(app, web):
    for type_key, field in (("contact", "last_name"), ("organization", "name"), ("deal", "name"),
                            ("team", "name"), ("territory", "name")):
        for number in range(7):
            create(app, type_key, **{field: f"Marlowe {type_key} {number}"})
    for number in range(7):
        create(app, "activity", kind="note", subject=f"Marlowe note {number}")
    body = web.fetch("GET", "/search/suggest?q=marlowe").json
    sizes = [len(group["items"]) for group in body["groups"]]
    assert all(size <= search_pages.SUGGEST_PER_TYPE for size in sizes)
    assert sum(sizes) == search_pages.SUGGEST_TOTAL == 20
    assert len({group["type"] for group in body["groups"]}) == len(body["groups"])
    plurals = {"contact": "contacts", "organization": "organizations", "deal": "deals", "team": "teams",
               "territory": "territories", "activity": "activities"}
    for group in body["groups"]:
        assert all(re.fullmatch(rf"/{plurals[group['type']]}/\d+", item["url"]) for item in group["items"])
        assert all(item["title"].startswith("Marlowe") for item in group["items"])


def test_suggest_runs_a_bounded_number_of_statements(app, web, count_statements):
    for number in range(30):
        create(app, "contact", last_name=f"Marlowe{number}")
    web.fetch("GET", "/search/suggest?q=mar")
    with count_statements() as seen:
        answer = web.fetch("GET", "/search/suggest?q=marl")
    assert answer.status_code == 200 and answer.json["groups"]
    # The user, the ranked search and, on PostgreSQL, the titles holding the word inside.
    assert len(seen) <= 3, seen


def test_signed_out_suggest_answers_401_not_a_redirect(app):
    answer = app.test_client().get("/search/suggest?q=ada", headers={"Accept": "application/json"})
    assert answer.status_code == 401
    page = app.test_client().get("/search?q=ada")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_disabled_plugins_type_never_appears(with_enabled_plugins):
    from accord.core.lifecycle import disable

    app = with_enabled_plugins("servicedesk")
    web = sign_in(app, "agent@example.com", "Alex Agent")[1]
    ticket = create(app, "ticket", subject="Quasar printer jam")
    contact = create(app, "contact", first_name="Quasar", last_name="Jones")
    assert set(sections(web.get("/search?q=quasar").get_data(as_text=True))) == {"ticket", "contact"}
    assert {g["type"] for g in web.fetch("GET", "/search/suggest?q=quasar").json["groups"]} == {"ticket", "contact"}
    with app.app_context():
        disable("servicedesk", by="test")
    html = web.get("/search?q=quasar").get_data(as_text=True)
    assert sections(html) == {"contact": [("Quasar Jones", f"/contacts/{contact.id}")]}
    assert f"/tickets/{ticket.id}" not in html
    body = web.fetch("GET", "/search/suggest?q=quasar").json
    assert [group["type"] for group in body["groups"]] == ["contact"]


class ProviderPlugin:
    """Search providers: one that finds contacts by a code word, one that fails, one that
    answers something that is no record."""

    name = "provider_test"

    @hookimpl
    def accord_search_providers(self, app):
        return [self.by_code, self.broken, self.not_a_record]

    @staticmethod
    def by_code(app, query, limit):
        if "zz9" not in query:
            return []
        from accord.core import db
        from accord.core.models import Contact
        from sqlalchemy import select

        rows = db.session.execute(select(Contact.id, Contact.last_name).where(Contact.deleted_at.is_(None))).all()
        return [{"type": "contact", "id": row.id, "title": f"{row.last_name} (by code)", "score": 99.0} for row in rows]

    @staticmethod
    def broken(app, query, limit):
        raise RuntimeError("the provider fell over")

    @staticmethod
    def not_a_record(app, query, limit):
        return [{"type": "handbook.page", "id": "intro", "title": "Handbook", "score": 50.0}, "nonsense"]


def test_plugin_providers_add_matches_and_a_failing_one_is_named(with_plugins, caplog):
    app = with_plugins(ProviderPlugin())
    web = sign_in(app, "seeker@example.com", "Sam Seeker")[1]
    contact = create(app, "contact", last_name="Nobody")
    with caplog.at_level(logging.ERROR, logger="accord.web"):
        page = web.get("/search?q=zz9")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert sections(html) == {"contact": [("Nobody (by code)", f"/contacts/{contact.id}")]}
    assert "Results from provider_test could not be included this time" in html
    assert "Handbook" not in html
    assert any("search provider of plugin 'provider_test' failed" in r.getMessage() for r in caplog.records)
    body = web.fetch("GET", "/search/suggest?q=zz9").json
    assert body["groups"] == [{"type": "contact", "label": "Contacts",
                               "items": [{"title": "Nobody (by code)", "url": f"/contacts/{contact.id}"}]}]
