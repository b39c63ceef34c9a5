"""Global search: one ``search_entry`` row per live record, with a full-text index over it.

SQLite uses an FTS5 table kept in step by triggers; PostgreSQL a generated ``tsvector``
with a GIN index plus trigram matching for partial words. Entries are written by the
service layer on every write path, so search is never behind the data.
"""

import re
from functools import lru_cache
import unicodedata

from sqlalchemy import and_, bindparam, column, delete, func, insert, literal_column, not_, select, table, text
from sqlalchemy.dialects import postgresql, sqlite

from .models import SearchEntry

TERM = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8


def is_indexed(rt):
    return bool(rt.title_fields or rt.searchable_fields)


def affects_index(rt, changes):
    names = set(rt.title_fields) | {f.name for f in rt.searchable_fields} | {"owner_id"}
    return bool(names & set(changes))


def document(record):
    """``(title, body)`` of a record for the index. Sensitive fields stay out of it, so
    no search reveals them to a role that may not see them."""
    rt = record.type
    title = rt.title_of(record.values)
    parts = []
    for f in rt.searchable_fields:
        if f.name in rt.title_fields or f.sensitive:
            continue
        value = record.get(f.name)
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)):
            parts.extend(str(v) for v in value)
        elif isinstance(value, dict):
            parts.extend(str(v) for v in value.values())
        else:
            parts.append(str(value))
    return title, " ".join(parts)


def index_record(session, record):
    """Insert or refresh the search entry of a live record."""
    rt = record.type
    if not is_indexed(rt):
        return
    title, body = document(record)
    session.connection().execute(_upsert(session.get_bind().dialect.name),
                    {"record_type": rt.key, "record_id": record.id, "owner_id": record.get("owner_id"),
                     "title": title, "body": body})


@lru_cache(maxsize=2)
def entry_per_row(rows):
    """An ``INSERT`` of a search entry per row of ``rows`` (a CTE answering the new
    ``id``), with the values of :func:`entry_params`: the entry of a record made by the
    statement that creates it."""
    table = SearchEntry.__table__
    return insert(table).from_select(
        ["record_type", "record_id", "owner_id", "title", "body"],
        select(bindparam("search_record_type", type_=table.c.record_type.type), rows.c.id,
               *(bindparam(f"search_{name}", type_=table.c[name].type) for name in ("owner_id", "title", "body"))),
    )


def entry_params(record):
    """The bound values of :func:`entry_per_row` for ``record``, being created; ``None``
    when its type is not indexed or its title would be made of its id, still unknown."""
    rt = record.type
    if not is_indexed(rt) or not any(record.get(name) not in (None, "") for name in rt.title_fields):
        return None
    title, body = document(record)
    return {"search_record_type": rt.key, "search_owner_id": record.get("owner_id"),
            "search_title": title, "search_body": body}


@lru_cache(maxsize=2)
def _upsert(dialect):
    """Insert-or-refresh of one entry, built once per engine kind."""
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = make_insert(SearchEntry.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["record_type", "record_id"],
        set_={"owner_id": stmt.excluded.owner_id, "title": stmt.excluded.title, "body": stmt.excluded.body}
    )


def unindex_record(session, record):
    table = SearchEntry.__table__
    session.execute(delete(table).where(table.c.record_type == record.type.key, table.c.record_id == record.id))


def forget_removed_terms(session):
    """Drop the words of changed and removed entries from the index itself (an erasure
    calls it). SQLite's FTS5 only marks them deleted until its segments merge, so the
    index is merged now; PostgreSQL regenerates the ``tsvector`` with each row."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))


def terms_of(query):
    """Lower-case, accent-free words of a query: ``Zoë-Müller`` → ``["zoe", "muller"]``."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", query or "") if not unicodedata.combining(ch))
    return [t.lower() for t in TERM.findall(folded)][:MAX_TERMS]


def matching_ids(session, record_type_key, query):
    """A subquery of the ids of records of one type with a word starting with each term of
    ``query`` (for list ``q=``), alike on both engines.

    On PostgreSQL it also turns parallel workers off for the rest of the transaction: a
    list walks its sort index until a page of matches is found, and starting workers for
    that costs more than the walk."""
    terms = terms_of(query)
    table = SearchEntry.__table__
    if not terms:
        return select(table.c.record_id).where(literal_column("1") == 0)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
        return select(table.c.record_id).where(table.c.record_type == record_type_key, _pg_word_prefix(terms))
    fts = select(literal_column("rowid")).select_from(text("search_fts")).where(
        text("search_fts MATCH :fts_query").bindparams(fts_query=_fts_query(terms))
    )
    # "+record_type" keeps SQLite from walking the (record_type, record_id) index over every
    # entry of the type: the full-text matches are found first, then checked for their type.
    return select(table.c.record_id).where(text("+search_entry.record_type = :search_type").bindparams(
        search_type=record_type_key), table.c.id.in_(fts))


CANDIDATES = 500


def search(session, query, limit=20, record_types=None, visible=None):
    """Ranked matches across types: a list of ``{"type", "id", "title", "score"}``, among
    the entries that meet ``visible`` (a condition on ``search_entry``: what the searching
    user may read, from :func:`accord.core.permissions.visible_entries`).

    Ranking weighs every match while a query has at most :data:`CANDIDATES` of them.
    A broader query (a short prefix typed into a large CRM) is ranked among
    :data:`CANDIDATES` of its matches (on SQLite the most recently added; on PostgreSQL
    the first the planner finds), so typing stays fast however many records there are;
    each further letter narrows the matches until all of them are ranked.
    """
    terms = terms_of(query)
    if not terms:
        return []
    table = SearchEntry.__table__
    conditions = []
    if record_types:
        conditions.append(table.c.record_type.in_(list(record_types)))
    if visible is not None:
        conditions.append(visible)
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgres(session, terms, limit, conditions)
    return _search_sqlite(session, terms, limit, conditions)


def _fts_query(terms):
    return " ".join(f'"{term}"*' for term in terms)


FTS = table("search_fts", column("rowid"))


def _search_sqlite(session, terms, limit, conditions):
    entries = SearchEntry.__table__
    rank = literal_column("bm25(search_fts, 4.0, 1.0)")
    candidates = (
        select(entries.c.id, entries.c.record_type, entries.c.record_id, entries.c.title, rank.label("rank"))
        .select_from(FTS.join(entries, entries.c.id == FTS.c.rowid))
        .where(literal_column("search_fts").op("MATCH")(bindparam("q", _fts_query(terms))), *conditions)
        .order_by(FTS.c.rowid.desc()).limit(CANDIDATES).subquery("c")
    )
    stmt = select(candidates.c.record_type, candidates.c.record_id, candidates.c.title,
                  (-candidates.c.rank).label("score")).order_by(candidates.c.rank, candidates.c.id.desc()).limit(limit)
    return _results(session.execute(stmt))


def _results(rows):
    return [{"type": r[0], "id": r[1], "title": r[2], "score": round(float(r[3]), 4)} for r in rows]


def _pg_tsquery(terms):
    return func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))


def _pg_title():
    return func.accord_search_text(SearchEntry.__table__.c.title)


def _pg_partial(terms):
    """Titles holding every term anywhere, not only at a word's start (trigram index)."""
    if not all(len(t) >= 3 for t in terms):
        return None
    title = _pg_title()
    return and_(*[title.like(f"%{_escape_like(t)}%", escape="\\") for t in terms])


def _pg_word_prefix(terms):
    return literal_column("search_entry.document").op("@@")(_pg_tsquery(terms))


def _search_postgres(session, terms, limit, conditions):
    """Word-prefix matches first; titles that hold the terms inside words fill up the rest."""
    word_prefix = _pg_word_prefix(terms)
    found = _pg_ranked(session, word_prefix, terms, limit, conditions)
    partial = _pg_partial(terms)
    if len(found) < limit and partial is not None:
        found += _pg_ranked(session, and_(partial, not_(word_prefix)), terms, limit - len(found), conditions)
    return _results((r[0], r[2], r[3], r[4]) for r in found)


def _pg_ranked(session, condition, terms, limit, conditions):
    table = SearchEntry.__table__
    tsquery = _pg_tsquery(terms)
    candidates = select(table.c.id, table.c.record_type, table.c.record_id, table.c.title,
                        literal_column("search_entry.document").label("document")).where(condition, *conditions)
    c = candidates.limit(CANDIDATES).subquery("c")
    score = (func.ts_rank(c.c.document, tsquery) + func.similarity(func.accord_search_text(c.c.title), " ".join(terms)))
    stmt = select(c.c.record_type, c.c.id, c.c.record_id, c.c.title, score.label("score")).order_by(
        score.desc(), c.c.id.desc()
    ).limit(limit)
    return session.execute(stmt).all()


def _escape_like(term):
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


SQLITE_DDL = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_entry', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER search_entry_ai AFTER INSERT ON search_entry BEGIN "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER search_entry_ad AFTER DELETE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER search_entry_au AFTER UPDATE ON search_entry BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS search_entry_au", "DROP TRIGGER IF EXISTS search_entry_ad",
    "DROP TRIGGER IF EXISTS search_entry_ai", "DROP TABLE IF EXISTS search_fts",
]
POSTGRES_DDL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    # Lower-case, accent-free words, as terms_of() makes of a query; immutable so that
    # the generated column and the expression index may use it.
    "CREATE OR REPLACE FUNCTION accord_search_text(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT regexp_replace(lower(public.unaccent("
    "'public.unaccent'::regdictionary, coalesce(value, ''))), '[[:space:][:punct:]]+', ' ', 'g') $$",
    "ALTER TABLE search_entry ADD COLUMN document tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', accord_search_text(title)), 'A') || "
    "setweight(to_tsvector('simple', accord_search_text(body)), 'B')) STORED",
    "CREATE INDEX ix_search_entry_document ON search_entry USING gin (document)",
    "CREATE INDEX ix_search_entry_title_trgm ON search_entry USING gin (accord_search_text(title) public.gin_trgm_ops)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS ix_search_entry_title_trgm", "DROP INDEX IF EXISTS ix_search_entry_document",
    "ALTER TABLE search_entry DROP COLUMN IF EXISTS document",
    "DROP FUNCTION IF EXISTS accord_search_text(text)",
]
