"""Contextual help: the side panel's fragment has help specific to every core page, help is
searchable, a plugin's topics appear on its pages, and topic bodies are rendered by a
Markdown subset that lets no HTML or script through."""

import re
from html import unescape

import pytest
from accord.core import hookimpl
from accord.core.help_topics import TOPICS
from accord.core.web.markdown import plain, render
from web_helpers import sign_in

CORE_PAGES = {
    "dashboard.index": "/",
    "records.list": "/contacts",
    "records.trash": "/contacts/trash",
    "record_pages.detail": "/deals/1",
    "record_pages.new": "/contacts/new",
    "record_pages.edit": "/contacts/1/edit",
    "board.board": "/deals/board",
    "search.results": "/search",
    "help.index": "/help",
    "admin.index": "/admin",
    "admin.plugins": "/admin/plugins",
    "admin.fields": "/admin/fields",
    "admin.themes": "/admin/themes",
    "auth.login": "/login",
    "password_reset.request": "/password-reset",
    "password_reset.choose": "/password-reset/token",
}
PAGES_OF = {topic["key"]: topic["pages"] for topic in TOPICS}


@pytest.fixture
def web(app):
    return sign_in(app, "reader@example.com", "Rae Reader", is_admin=False)[1]


def panel(web, **params):
    answer = web.get("/help/panel", query_string=params, headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    return answer.get_data(as_text=True)


def articles(html):
    return re.findall(r'<article class="help-topic" data-topic="([^"]+)"', html)


def related(html):
    section = re.search(r'<section class="help-related".*?</section>', html, re.DOTALL)
    return re.findall(r'href="/help/([^"]+)"', section.group(0)) if section else []


def ends_with_all_topics(html):
    return re.search(r'<p class="help-all"><a href="/help">All help topics</a></p>\s*$', html) is not None


def test_the_panel_has_help_specific_to_every_core_page(web):
    without_help = []
    for page, path in CORE_PAGES.items():
        html = panel(web, page=page, path=path)
        shown = articles(html)
        if not shown:
            without_help.append(page)
        assert all(page in PAGES_OF[key] for key in shown), (page, shown)
        assert "<html" not in html and "<body" not in html
        assert related(html) and not set(related(html)) & set(shown), page
        assert ends_with_all_topics(html), page
    assert without_help == [], f"pages with no help topic of their own: {without_help}"


def test_a_page_without_help_of_its_own_still_gets_useful_topics(web):
    html = panel(web, page="nowhere.page", path="/nowhere")
    assert articles(html) == []
    assert "This page has no help of its own yet" in html
    assert related(html)[:3] == ["core.basics", "core.shortcuts", "core.search"]
    assert ends_with_all_topics(html)


def test_panel_search_finds_topics_by_a_word_in_their_text(web):
    html = panel(web, page="records.list", path="/contacts", q="CASE sensitive")
    assert articles(html) == []
    assert re.findall(r'<li><a href="/help/([^"]+)">', html) == ["core.sign_in"]
    assert ends_with_all_topics(html)
    nothing = panel(web, page="records.list", path="/contacts", q="xylophone")
    assert "No help topic mentions all of those words" in nothing and ends_with_all_topics(nothing)


def test_help_lists_every_topic_by_group(web):
    html = web.get("/help").get_data(as_text=True)
    listed = re.findall(r'<li><a href="/help/([^"]+)">', html)
    assert sorted(listed) == sorted(PAGES_OF)
    groups = [unescape(g) for g in re.findall(r'<h2 id="help-group-\d+">(.*?)</h2>', html)]
    assert groups == ["Getting around", "Working with records", "Deals and pipelines", "Administration"]


def test_help_search_finds_a_topic_by_a_word_in_its_body(web):
    html = web.get("/help?q=PURGE+values").get_data(as_text=True)
    found = re.search(r'<section class="help-found".*?</section>', html, re.DOTALL).group(0)
    assert re.findall(r'href="/help/([^"]+)">', found)[:1] == ["core.custom_fields"]
    html = web.get("/help?q=muller").get_data(as_text=True)
    found = re.search(r'<section class="help-found".*?</section>', html, re.DOTALL).group(0)
    assert "core.search" in found  # the body says “Müller”: accents are ignored
    html = web.get("/help?q=nosuchwordanywhere").get_data(as_text=True)
    assert "No topic mentions all of those words" in html


def test_help_search_lists_title_matches_first(web):
    html = web.get("/help?q=trash").get_data(as_text=True)
    found = re.search(r'<section class="help-found".*?</section>', html, re.DOTALL).group(0)
    keys = re.findall(r'href="/help/([^"]+)">', found)
    assert keys[0] == "core.trash" and len(keys) > 1


def test_a_topic_has_its_own_page(web):
    page = web.get("/help/core.board")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>The pipeline board</h1>" in html
    assert "<strong>Move to</strong>" in html
    assert 'aria-current="page">The pipeline board</span>' in html


def test_an_unknown_topic_is_404(web):
    page = web.get("/help/no.such.topic")
    assert page.status_code == 404
    assert "There is no help topic" in unescape(page.get_data(as_text=True))


class HelpPlugin:
    """A plugin with help for its own pages (its body tries to inject a script), a malformed
    topic and one whose key the core already uses."""

    name = "help_test"

    @hookimpl
    def accord_help_topics(self, app):
        return [
            {"key": "help_test.gadgets", "title": "Working with gadgets", "pages": ["/gadgets", "help_test.special"],
             "body": "Gadgets **whirr**. <script>alert(1)</script> [Click](javascript:alert(1))"},
            {"key": "help_test.broken", "title": "No body"},
            {"key": "core.trash", "title": "A clash", "body": "Takes a core key", "pages": ["/gadgets"]},
        ]


def test_a_plugins_topic_appears_on_its_pages(with_plugins):
    app = with_plugins(HelpPlugin())
    web = sign_in(app, "reader@example.com", "Rae Reader")[1]
    for params in ({"page": "help_test.special", "path": "/elsewhere"}, {"page": "", "path": "/gadgets"},
                   {"page": "records.list", "path": "/gadgets/7"}):
        html = panel(web, **params)
        assert articles(html)[0] == "help_test.gadgets", params
        assert "Gadgets <strong>whirr</strong>." in html
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "javascript" not in html and "Click" in html
    assert articles(panel(web, page="records.list", path="/gadgetsmore")) == ["core.lists", "core.saved_views",
                                                                           "core.bulk_actions"]
    index = web.get("/help").get_data(as_text=True)
    assert re.search(r'<h2 id="help-group-\d+">help_test</h2>\s*<ul>\s*<li><a href="/help/help_test.gadgets">', index)
    assert "help_test.broken" not in index
    assert web.get("/help/help_test.gadgets").status_code == 200
    assert "Takes a core key" not in web.get("/help/core.trash").get_data(as_text=True)


def test_signed_out_people_cannot_read_help_pages(app):
    page = app.test_client().get("/help")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_the_panel_gives_signed_out_people_the_sign_in_help_only(app):
    """The panel view itself, as it answers once the sign-in check lets it through for
    people who are not signed in (the sign-in page has a Help button too)."""
    from accord.core.web import help as help_pages

    for page, path in (("auth.login", "/login"), ("admin.plugins", "/admin/plugins"), ("error", "/nowhere")):
        with app.test_request_context("/help/panel", query_string={"page": page, "path": path}):
            html = help_pages.panel()[0]
        assert articles(html) == ["core.sign_in"], page
        assert related(html) == [] and ends_with_all_topics(html)
    with app.test_request_context("/help/panel", query_string={"page": "auth.login", "q": "custom fields"}):
        assert "No help topic mentions" in help_pages.panel()[0]


# The Markdown subset ------------------------------------------------------------------


def test_markdown_escapes_html_and_script():
    html = render('<script>alert("x")</script>\n\n<img src=x onerror=alert(1)> & <b>bold</b>\n\n'
                  "`<i>code</i>`\n\n```\n<script>inside</script> **not bold**\n```")
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<code>&lt;i&gt;code&lt;/i&gt;</code>" in html
    assert "<pre><code>&lt;script&gt;inside&lt;/script&gt; **not bold**</code></pre>" in html


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java%09script:alert(1)", "&#106;avascript:alert(1)", "javascript&colon;alert(1)",
    "data:text/html,<script>x</script>", "vbscript:msgbox(1)", "file:///etc/passwd", "mailto:a@example.com",
])
def test_markdown_refuses_links_that_are_not_http_or_relative(target):
    html = str(render(f"Go [there]({target}) now"))
    assert "<a" not in html and "href" not in html, html


def test_markdown_links_http_https_and_relative_addresses():
    html = str(render("[a](https://example.com/x?a=1&b=2) [b](http://example.com) [c](/help/core.search) "
                      "[d](#top) [e](https://en.wikipedia.org/wiki/A_(b))"))
    assert re.findall(r'href="([^"]+)"', html) == ["https://example.com/x?a=1&amp;b=2", "http://example.com",
                                                   "/help/core.search", "#top", "https://en.wikipedia.org/wiki/A_(b)"]


def test_markdown_blocks_and_inline_marks():
    html = str(render("# Title\n\nText with *em*, _em_, **strong** and snake_case_name.\ncontinued\n\n"
                      "- one\n  more\n- two\n\n1. first\n2. second\n\n"
                      "| Key | Meaning |\n| --- | --- |\n| `/` | Search |\n| ? |\n", heading_offset=2))
    assert "<h3>Title</h3>" in html
    assert "<p>Text with <em>em</em>, <em>em</em>, <strong>strong</strong> and snake_case_name.\ncontinued</p>" in html
    assert "<ul><li>one more</li><li>two</li></ul>" in html
    assert "<ol><li>first</li><li>second</li></ol>" in html
    assert ('<table><thead><tr><th scope="col">Key</th><th scope="col">Meaning</th></tr></thead><tbody>'
            "<tr><td><code>/</code></td><td>Search</td></tr><tr><td>?</td><td></td></tr></tbody></table>") in html
    assert plain("**Save** the `lead_source` [field](/x).") == "Save the lead_source field."
    assert str(render("marks *that span\nlines* and **here\ntoo**")) == (
        "<p>marks <em>that span\nlines</em> and <strong>here\ntoo</strong></p>")


def test_every_core_topic_renders_and_names_real_pages():
    keys = [topic["key"] for topic in TOPICS]
    assert len(keys) == len(set(keys))
    for topic in TOPICS:
        assert topic["title"] and topic["group"] and render(topic["body"])
        assert all(page.startswith("/") or "." in page or page == "error" for page in topic["pages"])
