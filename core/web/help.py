"""Contextual help: every topic on ``/help`` (searchable), one topic per page at
``/help/<key>``, and ``/help/panel``, the HTML fragment the Help button opens beside any
page: the topics about that page first, then a few related ones.

Topics come from the ``accord_help_topics`` hook of the core and the active plugins, so
a plugin's help appears and disappears with the plugin, and from ``help_topic_definition``
rows (a vertical pack's or an admin's). They are read per request from the catalog: a few
dozen small dicts, no database query.
"""

import logging
import re
import unicodedata
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, request

from ..defaults import name as CORE
from ..registry import current_accord
from . import markdown
from .rendering import current_theme, environment, render

log = logging.getLogger("accord.web")

bp = Blueprint("help", __name__)

RELATED = 5
GENERAL = ("core.basics", "core.shortcuts", "core.search")
"""Topics useful on any page: the related list ends with them."""
SIGN_IN_PAGE = "auth.login"
"""Signed-out people see only the topics about signing in."""
MAX_QUERY = 200
SUMMARY = 160
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    body: str
    pages: tuple
    group: str

    def prefix(self, path):
        """The length of this topic's longest path prefix that ``path`` falls under (0: none)."""
        return max((len(p) for p in self.pages if p.startswith("/") and _under(path, p)), default=0)

    def html(self, heading_offset):
        return markdown.render(self.body, heading_offset)

    @property
    def summary(self):
        text = markdown.plain(markdown.first_paragraph(self.body))
        end = text.find(". ")
        text = text[:end + 1] if 0 < end < SUMMARY else text
        return text if len(text) <= SUMMARY else text[:SUMMARY].rsplit(" ", 1)[0] + " …"


def _under(path, prefix):
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or not prefix


def topics():
    """The topics of the core and the active plugins, in their order; a topic whose key
    is taken or whose fields are missing is logged, naming its plugin, and left out."""
    accord = current_accord()
    found = {}
    for plugin_name, item in accord.catalog().registrations.help_topics:
        try:
            topic = _topic(item, _plugin_title(accord, plugin_name))
        except (TypeError, ValueError) as exc:
            log.warning("help topic from plugin %r left out: %s", plugin_name, exc)
            continue
        if topic.key in found:
            log.warning("help topic %r from plugin %r left out: the key is taken", topic.key, plugin_name)
            continue
        found[topic.key] = topic
    for item in accord.catalog().help_topics:
        if item["key"] in found:
            log.warning("help topic %r declared as data left out: the key is taken", item["key"])
            continue
        try:
            found[item["key"]] = _topic(item, item["group"])
        except (TypeError, ValueError) as exc:
            log.warning("help topic declared as data left out: %s", exc)
    return list(found.values())


def _topic(item, default_group):
    if not isinstance(item, dict):
        raise TypeError(f"a topic is a dict, not {type(item).__name__}")
    key, title, body = item.get("key"), item.get("title"), item.get("body")
    if not all(isinstance(value, str) and value for value in (key, title, body)):
        raise ValueError(f"topic {key!r}: key, title and body must be non-empty text")
    pages = item.get("pages") or ()
    if isinstance(pages, str) or not all(isinstance(page, str) for page in pages):
        raise ValueError("pages must be a list of endpoint names or paths")
    return Topic(key=key, title=title, body=body, pages=tuple(pages), group=str(item.get("group") or default_group))


def _plugin_title(accord, plugin_name):
    """Where a topic without a ``group`` is listed: under its plugin's title."""
    if plugin_name == CORE:
        return "Accord"
    plugin = accord.installed.get(plugin_name)
    manifest = plugin.manifest if plugin is not None else None
    return manifest.title if manifest is not None and manifest.title else plugin_name


# Finding topics -------------------------------------------------------------------------


def about_page(all_topics, page, path):
    """The topics about a page: those whose path prefix it falls under, longest prefix
    first (a plugin's help for ``/tickets`` says more about its list than the help of the
    generic list page does), then those naming its endpoint."""
    prefixed = sorted((t for t in all_topics if t.prefix(path)), key=lambda t: -t.prefix(path))
    named = [t for t in all_topics if page and page in t.pages and t not in prefixed]
    return prefixed + named


def related(all_topics, shown):
    """A short list of other topics: the rest of the shown topics' groups, then the
    general ones."""
    groups = {topic.group for topic in shown}
    keys = {topic.key for topic in shown}
    candidates = [t for t in all_topics if t.group in groups] + [t for key in GENERAL for t in all_topics if t.key == key]
    chosen = []
    for topic in candidates:
        if topic.key not in keys:
            keys.add(topic.key)
            chosen.append(topic)
    return chosen[:RELATED]


def search(all_topics, query):
    """``[(topic, snippet), ...]`` of the topics holding every word of ``query`` in their
    title or text (case and accents ignored); title matches first."""
    words = WORD.findall(_fold(query))
    if not words:
        return []
    found = []
    for position, topic in enumerate(all_topics):
        title, text = _fold(topic.title), markdown.plain(topic.body)
        folded = _fold(text)
        if all(word in title or word in folded for word in words):
            in_title = sum(word in title for word in words)
            found.append((-in_title, position, topic, _snippet(text, folded, words)))
    return [(topic, snippet) for _, _, topic, snippet in sorted(found, key=lambda f: f[:2])]


def _fold(text):
    """Lower case without accents (``Müller`` → ``muller``); same length as ``text`` for
    the letters of European languages, so positions found in it apply to the original."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)).lower()


def _snippet(text, folded, words):
    at = min((folded.find(word) for word in words if word in folded), default=0)
    if len(folded) != len(text):
        at = 0
    start = text.rfind(" ", 0, max(at - 40, 0)) + 1 if at > 40 else 0
    piece = text[start:start + SUMMARY]
    return ("… " if start else "") + piece + (" …" if start + SUMMARY < len(text) else "")


# Pages ----------------------------------------------------------------------------------


@bp.get("/help", endpoint="index")
def index():
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    all_topics = topics()
    groups = {}
    for topic in all_topics:
        groups.setdefault(topic.group, []).append(topic)
    found = search(all_topics, query) if query else None
    return render("help/index.html", title="Help", breadcrumbs=[("Help", None)], query=query, found=found,
                  groups=list(groups.items()))


@bp.get("/help/panel", endpoint="panel")
def panel():
    """The side panel's content (a fragment, no layout) for the page it opens on."""
    page = request.args.get("page", "")[:200]
    path = request.args.get("path", "")[:1000]
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    all_topics = topics()
    signed_in = g.get("accord_user") is not None
    if not signed_in:  # all they can do is sign in, so that is the help they get
        all_topics = [topic for topic in all_topics if SIGN_IN_PAGE in topic.pages]
    found = search(all_topics, query) if query else None
    specific = [] if query else about_page(all_topics, page, path) if signed_in else all_topics
    context = {"query": query, "found": found, "specific": specific,
               "related": related(all_topics, specific) if not query else []}
    current_app.update_template_context(context)
    body = environment(current_theme()).get_template("help/panel.html").render(context)
    return body, 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@bp.get("/help/<key>", endpoint="topic")
def topic_page(key):
    all_topics = topics()
    topic = next((t for t in all_topics if t.key == key), None)
    if topic is None:
        abort(404, description=f"There is no help topic {key!r}. All topics are listed on the help page.")
    return render("help/topic.html", title=topic.title, breadcrumbs=[("Help", "/help"), (topic.title, None)],
                  topic=topic, related=related(all_topics, [topic]))
