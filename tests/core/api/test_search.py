"""Global search: ``GET /api/v1/search?q=``, prefix-matching, ranked, across types, and
always in step with writes (trash, restore, rename)."""

from api_helpers import assert_error, create


def _hits(api, query):
    response = api.get(f"/search?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["data"]


def _keys(hits):
    return [(h["type"], h["id"]) for h in hits]


def test_prefix_finds_the_record_with_its_links(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    create(api, "contacts", first_name="Grace", last_name="Hopper")
    hits = _hits(api, "q=lov")
    assert _keys(hits) == [("contact", ada["id"])]
    hit = hits[0]
    assert hit["title"] == "Ada Lovelace"
    assert hit["label"] == "Contact"
    assert hit["url"] == f"/api/v1/contacts/{ada['id']}"
    assert isinstance(hit["score"], (int, float))
    assert api.get(hit["url"]).status_code == 200
    assert api.get("/search?q=lov").json["query"] == "lov"


def test_matching_ignores_case_and_takes_several_prefixes(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    create(api, "contacts", first_name="Adam", last_name="Smith")
    for query in ("LOVELACE", "lovelace", "Lovel", "ada lov", "Ada%20Lovelace", "lovelace,ada"):
        assert _keys(_hits(api, f"q={query}")) == [("contact", ada["id"])], query
    assert len(_hits(api, "q=ada")) == 2
    assert _hits(api, "q=ada+lovelace+smith") == []


def test_search_spans_types_and_filters_by_type(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    org = create(api, "organizations", name="Lovelace Analytical")
    deal = create(api, "deals", name="Lovelace engine order")
    activity = create(api, "activities", kind="note", subject="Lovelace notes")
    everything = set(_keys(_hits(api, "q=lovelace")))
    assert everything == {("contact", ada["id"]), ("organization", org["id"]), ("deal", deal["id"]),
                          ("activity", activity["id"])}
    assert _keys(_hits(api, "q=lovelace&type=organization")) == [("organization", org["id"])]
    assert set(_keys(_hits(api, "q=lovelace&type=deal,contact"))) == {("deal", deal["id"]), ("contact", ada["id"])}
    assert_error(api.get("/search?q=lovelace&type=spaceship"), 400, "bad_request", fields=["type"])


def test_results_are_ranked_best_first(api):
    for name in ("Hopper", "Turing", "Babbage", "Noether", "Curie", "Franklin"):
        create(api, "contacts", last_name=name)
    body_only = create(api, "activities", kind="note", subject="Weekly call",
                       body="Talked about Lovelace and many other things at length, lovelace again")
    title = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    hits = _hits(api, "q=lovelace")
    assert _keys(hits) == [("contact", title["id"]), ("activity", body_only["id"])]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[1]


def test_limit(api):
    for i in range(5):
        create(api, "contacts", first_name=f"Ada{i}", last_name="Lovelace")
    assert len(_hits(api, "q=lovelace&limit=3")) == 3
    assert len(_hits(api, "q=lovelace")) == 5
    assert_error(api.get("/search?q=lovelace&limit=0"), 400, fields=["limit"])
    assert_error(api.get("/search?q=lovelace&limit=101"), 400, fields=["limit"])
    assert_error(api.get("/search?q=lovelace&limit=lots"), 400, fields=["limit"])


def test_empty_or_punctuation_query_finds_nothing(api):
    create(api, "contacts", last_name="Lovelace")
    for query in ("q=", "", "q=%20%20", "q=*", "q=%22"):
        assert _hits(api, query) == [], query


def test_query_syntax_is_not_interpreted(api):
    create(api, "contacts", last_name="Lovelace")
    for query in ("lovelace OR hopper", "lovelace AND", "NOT lovelace", "lov*", "(lovelace", "lovelace:*", "a & b",
                  "'; DROP TABLE contact; --"):
        response = api.get("/search", query_string={"q": query})
        assert response.status_code == 200, (query, response.get_data(as_text=True))
    assert api.get("/contacts").json["data"]


def test_trashed_records_vanish_and_come_back_on_restore(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Lovelace")
    assert _keys(_hits(api, "q=lovelace")) == [("contact", ada["id"])]
    api.delete(f"/contacts/{ada['id']}")
    assert _hits(api, "q=lovelace") == []
    assert api.get("/contacts?q=lovelace").json["data"] == []
    assert api.post(f"/contacts/{ada['id']}/restore").status_code == 200
    assert _keys(_hits(api, "q=lovelace")) == [("contact", ada["id"])]
    assert [c["id"] for c in api.get("/contacts?q=lovelace").json["data"]] == [ada["id"]]


def test_renamed_records_are_reindexed(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Byron")
    assert api.patch(f"/contacts/{ada['id']}", json={"last_name": "Lovelace"}).status_code == 200
    assert _hits(api, "q=byron") == []
    hits = _hits(api, "q=lovelace")
    assert _keys(hits) == [("contact", ada["id"])] and hits[0]["title"] == "Ada Lovelace"
    org = create(api, "organizations", name="Old Name Ltd")
    api.patch(f"/organizations/{org['id']}", json={"name": "Fresh Name Ltd"})
    assert _hits(api, "q=old") == []
    assert _keys(_hits(api, "q=fresh")) == [("organization", org["id"])]


def test_searchable_non_title_fields_are_found(api):
    org = create(api, "organizations", name="Acme", website="https://analytical-engines.example")
    contact = create(api, "contacts", last_name="Doe", phone="+44 1234 567890")
    assert ("organization", org["id"]) in _keys(_hits(api, "q=analytical"))
    assert _keys(_hits(api, "q=567890")) == [("contact", contact["id"])]


def test_contact_is_found_by_its_email_address(api):
    ada = create(api, "contacts", first_name="Ada", last_name="Byron", email="countess@lovelace.example")
    create(api, "contacts", first_name="Grace", last_name="Hopper", email="grace@navy.example")
    assert _keys(_hits(api, "q=countess@lovelace.example")) == [("contact", ada["id"])]
    assert _keys(_hits(api, "q=countess")) == [("contact", ada["id"])]
    assert _keys(_hits(api, "q=lovelace")) == [("contact", ada["id"])]
    assert [c["id"] for c in api.get("/contacts?q=lovelace").json["data"]] == [ada["id"]]


def test_non_searchable_fields_are_not_indexed(api):
    create(api, "contacts", last_name="Doe", job_title="Astronaut", city="Zurich")
    assert _hits(api, "q=astronaut") == []
    assert _hits(api, "q=zurich") == []


def test_accents_do_not_matter(api):
    contact = create(api, "contacts", first_name="Zoë", last_name="Müller")
    assert _keys(_hits(api, "q=muller")) == [("contact", contact["id"])]
    assert _keys(_hits(api, "q=Müll")) == [("contact", contact["id"])]


def test_a_broad_query_is_ranked_among_a_bounded_set_of_candidates(api, monkeypatch):
    """However many records match a short prefix, search weighs at most CANDIDATES of them."""
    import accord.core.search

    monkeypatch.setattr(accord.core.search, "CANDIDATES", 3)
    for number in range(6):
        assert api.post("/contacts", json={"first_name": "Mara", "last_name": f"Marsh{number}"}).status_code == 201
    found = api.get("/search?q=mar&limit=10").json["data"]
    assert len(found) == 3
    assert all(hit["title"].startswith("Mara Marsh") for hit in found)
    monkeypatch.setattr(accord.core.search, "CANDIDATES", 500)
    assert len(api.get("/search?q=mar&limit=10").json["data"]) == 6


def test_the_list_filter_q_matches_word_prefixes_alike_on_both_engines(api):
    garcia = create(api, "contacts", first_name="María", last_name="García-Lopez")
    create(api, "contacts", first_name="Ada", last_name="Lovelace")
    for query in ("garc", "maria", "GARCIA lop", "lopez"):
        assert [c["id"] for c in api.get(f"/contacts?q={query}").json["data"]] == [garcia["id"]], query
    for query in ("arcia", "opez", "garcia ada"):
        assert api.get(f"/contacts?q={query}").json["data"] == [], query
