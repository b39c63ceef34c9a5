"""Global search: ``/search?q=`` lists the best matches grouped by record type, and
``/search/suggest?q=`` answers the search box's suggestions as JSON while someone types.

Both run one ranked, bounded query of the search index (:mod:`accord.core.search`, as
``GET /api/v1/search`` does) over the active record types, plus what active plugins'
search providers add, so a type whose plugin is switched off never shows and the cost
does not grow with the number of records. Words of one letter are left out of the
query: they would match most of a large CRM and cannot narrow anything down yet.
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, request
from sqlalchemy import and_, func, or_, select

from .. import permissions, search as search_index
from ..api import json_response
from ..db import db
from ..models import SearchEntry
from ..registry import current_accord
from . import present
from .rendering import render

log = logging.getLogger("accord.web")

bp = Blueprint("search", __name__)

MIN_TERM = 2
"""Shorter words are dropped from a query (see the module's docstring)."""
MAX_QUERY = 200
PAGE_POOL = 100
"""Ranked matches the results page groups; each type shows up to :data:`PAGE_PER_TYPE`."""
PAGE_PER_TYPE = 10
SUGGEST_POOL = 40
SUGGEST_PER_TYPE = 5
SUGGEST_TOTAL = 20
SNIPPET = 160
SNIPPET_SOURCE = 2000
"""How much of an entry's text a snippet is looked for in (an activity's can be long)."""
NOT_SEARCHED = {"user"}
"""User accounts are people who sign in, managed by administrators, with no record page."""


@dataclass
class Group:
    """The matches of one record type, best first; ``more`` when some were left out."""

    type: object
    hits: list = field(default_factory=list)
    more: bool = False


@bp.get("/search", endpoint="results")
def results():
    raw = request.args.get("q", "").strip()[:MAX_QUERY]
    query = usable_query(raw)
    groups, failed = find(query, PAGE_POOL, PAGE_PER_TYPE) if query else ([], [])
    terms = search_index.terms_of(query)
    bodies = entry_bodies(groups)
    shown = [{
        "type": group.type, "more": group.more,
        "more_url": f"/{group.type.plural}?" + urlencode({"q": query}),
        "hits": [{
            "url": present.record_url(group.type, hit["id"]),
            "title": marked(hit["title"], terms),
            "snippet": marked(snippet(bodies.get((group.type.key, hit["id"])), terms), terms),
        } for hit in group.hits],
    } for group in groups]
    title = f"Search: {raw}" if raw else "Search"
    return render("search/results.html", title=title, breadcrumbs=[("Search", None)], raw=raw, query=query,
                  groups=shown, failed=failed, count=sum(len(group["hits"]) for group in shown))


@bp.get("/search/suggest", endpoint="suggest")
def suggest():
    """What the search box offers while typing: a few titles per type, best type first."""
    raw = request.args.get("q", "").strip()[:MAX_QUERY]
    query = usable_query(raw)
    groups = find(query, SUGGEST_POOL, SUGGEST_PER_TYPE)[0] if query else []
    answer, room = [], SUGGEST_TOTAL
    for group in groups:
        items = [{"title": hit["title"], "url": present.record_url(group.type, hit["id"])} for hit in group.hits[:room]]
        if not items:
            break
        answer.append({"type": group.type.key, "label": group.type.plural_label, "items": items})
        room -= len(items)
    return json_response({"query": raw, "groups": answer}, headers={"Cache-Control": "no-store"})


def usable_query(raw):
    """The words of ``raw`` that can narrow a search: at least :data:`MIN_TERM` long."""
    return " ".join(term for term in search_index.terms_of(raw) if len(term) >= MIN_TERM)


def find(query, pool, per_type):
    """``(groups, failed plugins)``: the best ``pool`` matches of the active types and of
    the plugins' providers, grouped by type (at most ``per_type`` each), the group with
    the best match first."""
    catalog = current_accord().catalog()
    types = [key for key, rt in catalog.types.items() if key not in NOT_SEARCHED and search_index.is_indexed(rt)]
    visible = permissions.visible_entries(g.accord_actor, catalog, SearchEntry.__table__)
    hits = search_index.search(db.session, query, limit=pool, record_types=types, visible=visible) if types else []
    extra, failed = provided(catalog, query, pool)
    hits += extra
    hits.sort(key=lambda hit: -hit["score"])
    groups, seen = {}, set()
    for hit in hits:
        rt = catalog.type(hit["type"])
        if rt is None or rt.key in NOT_SEARCHED or (rt.key, hit["id"]) in seen:
            continue
        seen.add((rt.key, hit["id"]))
        group = groups.setdefault(rt.key, Group(rt))
        if len(group.hits) < per_type:
            group.hits.append(hit)
        else:
            group.more = True
    return list(groups.values()), failed


def provided(catalog, query, limit):
    """Matches from the active plugins' search providers that are records of an active
    type (others have no page to link to). Each provider runs in a savepoint; one that
    fails is logged, named and skipped, so a plugin cannot take search away from anyone."""
    app = current_app._get_current_object()
    hits, failed = [], []
    for plugin_name, provider in catalog.registrations.search_providers:
        try:
            with db.session.begin_nested():
                found = list(provider(app, query, limit))[:limit]
        except Exception:  # a plugin's failure must not break search
            log.exception("search provider of plugin %r failed for %r", plugin_name, query)
            failed.append(plugin_name)
            continue
        matches = [hit for hit in map(_record_match, found) if hit is not None]
        hits.extend(permissions.only_readable(g.accord_actor, catalog, matches))
    return hits, failed


def _record_match(hit):
    """A provider's match as the index answers one, or ``None`` when it is no record."""
    if not isinstance(hit, dict) or not isinstance(hit.get("type"), str) or type(hit.get("id")) is not int:
        return None
    try:
        score = float(hit.get("score") or 0)
    except (TypeError, ValueError):
        score = 0.0
    return {"type": hit["type"], "id": hit["id"], "title": str(hit.get("title") or f"{hit['type']} {hit['id']}"),
            "score": score}


def entry_bodies(groups):
    """``{(type key, id): start of the text}`` of the shown matches' index entries, in one
    query."""
    wanted = [(group.type.key, [hit["id"] for hit in group.hits]) for group in groups if group.hits]
    if not wanted:
        return {}
    table = SearchEntry.__table__
    body = func.substr(table.c.body, 1, SNIPPET_SOURCE).label("body")
    rows = db.session.execute(select(table.c.record_type, table.c.record_id, body).where(
        or_(*(and_(table.c.record_type == key, table.c.record_id.in_(ids)) for key, ids in wanted))))
    return {(row.record_type, row.record_id): row.body for row in rows}


def snippet(body, terms):
    """About :data:`SNIPPET` characters of ``body`` around its first matching word (its
    start when no word matches); ``None`` for an empty body."""
    if not body:
        return None
    start = next((position for position, word, hit in _words(body, terms) if hit), 0)
    if start > SNIPPET // 3:
        start = body.rfind(" ", 0, start - SNIPPET // 3) + 1
    else:
        start = 0
    end = start + SNIPPET
    if end < len(body):
        end = max(body.rfind(" ", start, end), start + SNIPPET // 2)
    text = body[start:end].strip()
    return ("… " if start else "") + text + (" …" if end < len(body) else "")


def marked(text, terms):
    """``text`` as ``[(part, is_match), ...]``: the words that start with a query term
    are matches, so a page can highlight them (case and accents ignored, as in search)."""
    if text is None:
        return None
    parts, last = [], 0
    for position, word, hit in _words(text, terms):
        if hit:
            if position > last:
                parts.append((text[last:position], False))
            parts.append((word, True))
            last = position + len(word)
    if last < len(text):
        parts.append((text[last:], False))
    return parts


def _words(text, terms):
    for match in search_index.TERM.finditer(text):
        folded = search_index.terms_of(match.group())
        yield match.start(), match.group(), any(word.startswith(term) for word in folded for term in terms)
