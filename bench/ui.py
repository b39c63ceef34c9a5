#!/usr/bin/env python3
"""Web UI benchmark: server-side render times of the list, search-as-you-type and
dashboard pages at 1,000,000 contacts.

Uses the bench database of ``bench/api.py`` (``--rows`` contacts and as many deals,
loaded by the same bulk loader, reused when a kept one matches), adds ``--rows / 10``
activities (half of them tasks, spread over the owners and the bench user), signs in
through the real ``/login`` form, then measures through the Flask test client, after
warm-up and interleaved:

* ``GET /contacts`` (50 rows) at page 1, in the middle and on the last page (cursors made
  exactly as the page's own "Next page" links make them), newest first, sorted by last
  name, filtered on an indexed custom field, both, and with a search filter;
* ``GET /search/suggest?q=`` for prefixes of a real name typed one letter at a time;
* the dashboard ``GET /``.

It prints a summary table (metric, measured, target, PASS/FAIL), the SQL statements per
request with the slowest statement of each page and its query plan, and the command
that reproduces the run, and writes the figures to ``bench/results/ui-<engine>.json``.

Run ``python3 bench/ui.py --help`` for the options; see ``bench/README.md``.
"""

import argparse
import gc
import html
import json
import os
import random
import re
import shlex
import shutil
import statistics
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import (load_afresh, COMPANIES, PRODUCTS, RESULTS, StatementLog, bounded_interleaved, dispose, engine_name,
                    ensure_postgres_database, explain, git_commit, insert_batches, json_default, loaded_state,
                    loader_engine, make_app, marker_path, prepare_schema, print_checks, print_outcome, raw_replay,
                    refuse_test_database, run_environment, safe_url, sqlite_path, summary,
                    verify_load, _weighted)

ENV_URL = "ACCORD_BENCH_DATABASE_URL"

LIST_P95_MS = 50.0
SUGGEST_P95_MS = 50.0
DASHBOARD_P95_MS = 150.0
PAGE_ROWS = 50  # what /contacts shows without a limit (query.DEFAULT_LIMIT)
FOLLOW_PAGES = 10  # "Next page" links followed from page 1 to check the keyset
ACTIVITIES_PER_ROWS = 10  # one activity per ten contacts
SLOW_STATEMENT_MS = 5.0  # statements at least this slow get their plan printed

ADMIN_EMAIL = "bench-admin@example.com"  # made by common.prepare_schema
PASSWORD = "bench-ui-sign-in"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW_ID = re.compile(r'<tr data-id="(\d+)"')
NEXT_LINK = re.compile(r'<a class="button" href="([^"]+)" rel="next">')

NAME = "maria garcia"  # a first and a last name of the synthetic data (common.FIRST_NAMES, LAST_NAMES)
TYPED = ("m", "ma", "mar", "mari", "maria", "maria g", "maria ga", "maria gar", "maria garcia")
LIST_VIEWS = (  # (key, label, query arguments as the page's links write them)
    ("newest", "newest first", {}),
    ("by_name", "sorted by last name", {"sort": "last_name"}),
    ("tier", "filter tier=gold", {"tier": "gold"}),
    ("tier_by_name", "filter tier=gold, by last name", {"tier": "gold", "sort": "last_name"}),
    ("search", "search filter q=garcia", {"q": "garcia"}),
)
DEPTHS = (("first", "page 1"), ("middle", "middle"), ("last", "last page"))

ACTIVITY_KINDS = (("task", 50), ("call", 20), ("email", 15), ("meeting", 10), ("note", 5))
TASK_VERBS = ("Send the quote to", "Call back", "Prepare the demo for", "Follow up with", "Review the contract of",
              "Book a visit at", "Chase the invoice of", "Confirm the budget with")
BODIES = ("They want a second offer.", "Budget confirmed for next quarter.", "Waiting on legal.",
          "Asked for references.", None, None, None)


# ---------------------------------------------------------------------------------------
# The database: the API benchmark's, plus activities
# ---------------------------------------------------------------------------------------


class ActivityMaker:
    """Activity rows (mostly tasks, on deals) as the service layer would store them."""

    def __init__(self, seed, owners, creator_id, deal_ids):
        self.rng = random.Random(seed)
        self.owners = owners
        self.creator_id = creator_id
        self.first_deal, self.deals = deal_ids
        self.kind = _weighted(self.rng, ACTIVITY_KINDS)

    def row(self, i, record_id, created_at):
        rng = self.rng
        kind = self.kind()
        company = rng.choice(COMPANIES)
        due_at = done = None
        if kind == "task":
            subject = f"{rng.choice(TASK_VERBS)} {company}"
            if rng.random() < 0.9:
                due_at = created_at + timedelta(days=rng.randrange(1, 90), hours=rng.randrange(0, 24))
            done = rng.random() < 0.4
        else:
            subject = f"{kind.capitalize()} with {company} about the {rng.choice(PRODUCTS)}"
        body = rng.choice(BODIES)
        row = {
            "id": record_id, "kind": kind, "subject": subject, "body": body, "related_type": "deal",
            "related_id": self.first_deal + (i * 7919) % self.deals, "occurred_at": due_at or created_at,
            "due_at": due_at, "done": bool(done), "done_at": created_at if done else None,
            "created_at": created_at, "updated_at": created_at, "created_by": self.creator_id,
            "owner_id": rng.choice(self.owners), "version": 1, "deleted_at": None, "deleted_by": None, "custom": {},
        }
        entry = {"record_type": "activity", "record_id": record_id, "title": subject, "body": body or ""}
        return row, entry


def ensure_activities(url, setup, count, batch, log):
    """``count`` activities in the database: kept when exactly that many are there, else
    (re)loaded in bulk with their search entries. Returns the seconds loading took, or
    ``None`` when they were already there."""
    from accord.core.models import Activity, Deal, SearchEntry
    from sqlalchemy import delete, func, select, text

    engine = loader_engine(url)
    activity_t, entry_t = Activity.__table__, SearchEntry.__table__
    with engine.begin() as conn:
        present = conn.execute(select(func.count()).select_from(activity_t)).scalar()
        if present == count:
            engine.dispose()
            return None
        conn.execute(delete(entry_t).where(entry_t.c.record_type == "activity"))
        conn.execute(delete(activity_t))
        first_deal, deals = conn.execute(select(func.min(Deal.id), func.count()).where(Deal.deleted_at.is_(None))).one()
    log(f"adding {count:,} activities ({dict(ACTIVITY_KINDS)['task']}% tasks, owners incl. the bench user) ...")
    t0 = time.perf_counter()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = timedelta(days=365)
    start, step = now - span, span / max(count, 1)
    # The bench user owns its share of them, so the dashboard lists its own open tasks.
    maker = ActivityMaker(3, setup["owners"] + [setup["admin_id"]], setup["admin_id"], (first_deal, deals))
    insert_batches(engine, count, batch, lambda i: maker.row(i, 1 + i, start + step * i),
                   [activity_t, entry_t], log, "activities")
    if engine_name(url) == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('activity', 'id'), (SELECT max(id) FROM activity))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE activity"))
            conn.execute(text("VACUUM ANALYZE search_entry"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    seconds = round(time.perf_counter() - t0, 1)
    log(f"  activities loaded in {seconds} s")
    return seconds


def set_password(app):
    """Give the bench user a password, so the benchmark signs in through the real form."""
    from accord.core.db import db
    from accord.core.models import User
    from sqlalchemy import update
    from accord.core.passwords import hash_password

    with app.app_context():
        db.session.execute(update(User).where(User.email == ADMIN_EMAIL)
                           .values(password_hash=hash_password(PASSWORD)))
        db.session.commit()
        db.session.remove()


def open_database(args, url, instance, log):
    """The app on the loaded bench database: a kept one that matches is reused (whoever kept
    it, this benchmark or ``bench/api.py --keep``), else it is loaded. Returns
    ``(app, setup, load seconds or None, whether to remove it at the end)``."""

    app = make_app(url, instance)
    if loaded_state(app, args.rows, url):
        log(f"reusing the kept database ({args.rows:,} contacts and deals already there)")
        dispose(app)
        app = make_app(url, instance)
        return app, prepare_schema(app), None, False
    log("no kept database matches (none yet, another --rows, or the schema changed since): loading")
    app, setup, seconds = load_afresh(app, url, instance, args.rows, args.batch, log)
    return app, setup, seconds, not args.keep


# ---------------------------------------------------------------------------------------
# Signed in through the form
# ---------------------------------------------------------------------------------------


class Browser:
    """The test client signed in as the bench user through ``/login`` (CSRF token from the form)."""

    def __init__(self, app):
        self.client = app.test_client()
        page = self.client.get("/login")
        token = CSRF.search(page.get_data(as_text=True)).group(1)
        answer = self.client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token})
        if answer.status_code != 302:
            raise RuntimeError(f"signing in answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")

    def getter(self, url):
        client = self.client

        def call():
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}: {response.data[:300]!r}")
            return response

        return call


def list_url(params, cursor=None):
    """A list link as the page writes it (``records._url``: the arguments, then the cursor)."""
    from urllib.parse import urlencode

    pairs = list(params.items()) + ([("cursor", cursor)] if cursor else [])
    return "/contacts" + (f"?{urlencode(pairs)}" if pairs else "")


# ---------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------


def list_order(app, params):
    """The list's own statement for ``params`` (``build_list_query``, as the page runs it)
    and a way to read the rows at a position of that order, for building cursors and
    checking pages. Reading by OFFSET is the benchmark's, once per position; the page
    never does."""
    from accord.core import search
    from accord.core.db import db
    from accord.core.query import build_list_query, encode_cursor
    from accord.core.records import SYSTEM
    from accord.core.registry import current_accord
    from sqlalchemy import func, select
    from werkzeug.datastructures import MultiDict

    def run(fn):
        with app.test_request_context():
            rt = current_accord(app).catalog().type("contact")
            ids = search.matching_ids(db.session, "contact", params["q"]) if params.get("q") else None
            stmt, keys, _limit, sort_text = build_list_query(rt, MultiDict(params), ids, actor=SYSTEM)
            try:
                return fn(rt, stmt, keys, sort_text)
            finally:
                db.session.remove()

    def total():
        return run(lambda rt, stmt, keys, sort_text: db.session.execute(
            select(func.count()).select_from(stmt.limit(None).order_by(None).subquery())).scalar())

    def ids_at(position, n=PAGE_ROWS):
        return run(lambda rt, stmt, keys, sort_text: [r["id"] for r in db.session.execute(
            stmt.limit(n).offset(position)).mappings()])

    def cursor_after(position):
        """The cursor of the "Next page" link of a page whose last row is at ``position``."""
        def make(rt, stmt, keys, sort_text):
            row = db.session.execute(stmt.limit(1).offset(position)).mappings().one()
            return encode_cursor(sort_text, keys, row, rt)

        return run(make)

    return total, ids_at, cursor_after


def page_ids(body):
    return [int(i) for i in ROW_ID.findall(body)]


def next_link(body):
    found = NEXT_LINK.search(body)
    return html.unescape(found.group(1)) if found else None


def list_scenarios(app, browser, log):
    """For each list view: page 1, a middle page and the last page (their URLs), each
    checked against the list order; plus "Next page" links followed from page 1."""
    scenarios, problems, depth_info = {}, [], {}
    for key, label, params in LIST_VIEWS:
        total, ids_at, cursor_after = list_order(app, params)
        count = total()
        positions = {"first": None}
        if count > 2 * PAGE_ROWS + 1:
            positions["middle"] = count // 2  # the page after the row half-way down the list
            positions["last"] = count - PAGE_ROWS - 1  # the page of the last 50 rows
        for depth, depth_label in DEPTHS:
            if depth not in positions:
                continue
            position = positions[depth]
            url = list_url(params, cursor_after(position) if position is not None else None)
            start = 0 if position is None else position + 1
            body = browser.getter(url)().get_data(as_text=True)
            expected = ids_at(start)
            if page_ids(body) != expected:
                problems.append(f"{label}, {depth_label}: the page shows {page_ids(body)[:3]}... "
                                f"but the list order has {expected[:3]}... there")
            if depth == "last" and next_link(body) is not None:
                problems.append(f"{label}, last page: it still has a Next page link")
            scenarios[f"list_{key}_{depth}"] = {"kind": "list", "view": key, "label": f"/contacts {label}, {depth_label}",
                                                "url": url, "position": start, "of": count, "bytes": len(body)}
        depth_info[key] = count
        log(f"  {label}: {count:,} matching contacts; pages at rows 1"
            + "".join(f", {positions[d] + 2:,}" for d in ("middle", "last") if d in positions))
    # The links themselves: follow "Next page" from page 1 of the default list.
    total, ids_at, _ = list_order(app, {})
    url, followed = list_url({}), 0
    for n in range(FOLLOW_PAGES + 1):
        body = browser.getter(url)().get_data(as_text=True)
        if page_ids(body) != ids_at(n * PAGE_ROWS):
            problems.append(f"newest first, page {n + 1} reached by Next page links differs from the list order")
            break
        followed = n
        url = next_link(body)
        if url is None or n == FOLLOW_PAGES:
            break
    log(f"  followed {followed} Next page links from page 1: "
        + ("rows agree with the list order" if not problems else "; ".join(problems)))
    return scenarios, problems, {"views": depth_info, "next_links_followed": followed}


def suggest_scenarios():
    from urllib.parse import urlencode

    return {f"suggest_{n}": {"kind": "suggest", "label": f"/search/suggest?q={q}", "q": q,
                             "url": "/search/suggest?" + urlencode({"q": q})}
            for n, q in enumerate(TYPED)}


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def statements_of(app, browser, statements, url, engine):
    """The SQL statements one request runs, each replayed alone on the raw driver (median
    of 5, or once when it takes over 100 ms), and the slowest one's plan."""
    seen = statements.capture(browser.getter(url))
    timed = []
    for statement, parameters in seen:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            timed.append({"sql": statement, "ms": None})
            continue
        call, raw = raw_replay(engine, statement, parameters)
        try:
            samples = []
            while len(samples) < 5 and sum(samples) < 0.1:
                t = time.perf_counter()
                call()
                samples.append(time.perf_counter() - t)
        finally:
            raw.close()
        timed.append({"sql": statement, "params": parameters, "ms": round(statistics.median(samples) * 1000, 3)})
    replayed = [s for s in timed if s["ms"] is not None]
    slowest = max(replayed, key=lambda s: s["ms"]) if replayed else None
    out = {"statements": len(seen), "sql_ms": round(sum(s["ms"] for s in replayed), 3),
           "statement_ms": [{"ms": s["ms"], "sql": s["sql"]} for s in timed]}
    if slowest is not None:
        out["slowest"] = {"ms": slowest["ms"], "sql": slowest["sql"], "params": slowest["params"],
                          "plan": explain(engine, slowest["sql"], slowest["params"])}
    return out


def measure(app, browser, scenarios, args, log):
    """p50/p95 of every scenario, interleaved within its group (a list view's three depths;
    the typed prefixes; the dashboard), plus the statements each request runs."""
    from accord.core.db import db

    with app.app_context():
        engine = db.engine
    statements = StatementLog(engine)
    groups = {}
    for name, s in scenarios.items():
        try:
            s.update(statements_of(app, browser, statements, s["url"], engine))
        except RuntimeError as exc:  # a page that fails is reported as failing, the others still run
            s["error"] = str(exc)[:300]
            log(f"  {s['label']}: {s['error']}")
            continue
        if s["kind"] == "suggest":
            answer = browser.getter(s["url"])().get_json()
            s["items"] = sum(len(g["items"]) for g in answer["groups"])
        groups.setdefault(s.get("view", s["kind"]), []).append(name)
    log(f"timing up to {args.requests} requests per page (after up to {args.warmup} warm-up; at most "
        f"~{args.max_seconds:g} s per group, interleaved within it) ...")
    gc.collect()
    for names in groups.values():
        timings = bounded_interleaved([browser.getter(scenarios[n]["url"]) for n in names],
                                      args.requests, args.warmup, args.max_seconds)
        for name, samples in zip(names, timings):
            s = scenarios[name]
            s["timing"] = summary(samples)
            log(f"  {s['label']}: p50 {s['timing']['p50_ms']:.1f} / p95 {s['timing']['p95_ms']:.1f} ms "
                f"(CPU {s['timing']['cpu_mean_ms']:.1f} ms), "
                f"{s['statements']} statements ({s['sql_ms']:.1f} ms of SQL alone"
                + (f", slowest {s['slowest']['ms']:.1f} ms" if "slowest" in s else "") + ")"
                + (f", {s['items']} suggestions" if "items" in s else ""))
    statements.active = False


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help=f"contacts (and deals) in the bench database; activities are rows / {ACTIVITIES_PER_ROWS}")
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL),
                        help=f"database to load and measure (else ${ENV_URL}, else the SQLite file of bench/api.py "
                             "under bench/results/)")
    parser.add_argument("--keep", action="store_true",
                        help="keep a database this run loads (one that was kept already is always reused and kept)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per page before timing")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="cap on one group's timing: slow pages get fewer samples (never under 10)")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per executemany batch when loading")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the figures (default bench/results/ui-<engine>.json)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="allow a PostgreSQL database named 'test' or the one in ACCORD_TEST_DATABASE_URL "
                             "(the benchmark drops its schema when it loads)")
    return parser.parse_args(argv)


def reproduce_command(args):
    parts = ["python3", "bench/ui.py", "--rows", str(args.rows)]
    for flag, value, default in (("--requests", args.requests, 300), ("--warmup", args.warmup, 30)):
        if value != default:
            parts += [flag, str(value)]
    if args.max_seconds != 30.0:
        parts += ["--max-seconds", f"{args.max_seconds:g}"]
    if args.database_url and engine_name(args.database_url) == "sqlite":
        parts += ["--database-url", args.database_url]
    if args.output:
        parts += ["--output", str(args.output)]
    if args.keep:
        parts.append("--keep")
    command = shlex.join(parts)
    if args.database_url and engine_name(args.database_url) == "postgresql":
        command = f"{ENV_URL}={shlex.quote(safe_url(args.database_url))} " + command
    return command


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    started = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    from accord.core.config import _normalise_database_url

    url = _normalise_database_url(args.database_url or f"sqlite:///{RESULTS / f'sqlite-{args.rows}' / 'accord.db'}")
    engine = engine_name(url)
    if engine == "postgresql" and not args.allow_any_database:
        refuse_test_database(url)
    instance = RESULTS / "instance-postgresql" if engine == "postgresql" else sqlite_path(url).parent
    log(f"engine {engine}: {safe_url(url)}; {args.rows:,} contacts and deals, {args.rows // ACTIVITIES_PER_ROWS:,} activities")
    results = {"engine": engine, "database_url": safe_url(url), "rows": args.rows,
               "activities": args.rows // ACTIVITIES_PER_ROWS, "reproduce": reproduce_command(args), **run_environment()}
    commit = git_commit(["--", ".", ":!bench"])
    if commit is not None:
        results["git_commit"] = commit

    if engine == "postgresql":
        ensure_postgres_database(url)
    app, setup, load_seconds, remove = open_database(args, url, instance, log)
    results["load_seconds"] = load_seconds
    results["reused_database"] = load_seconds is None
    dispose(app)
    results["activities_load_seconds"] = ensure_activities(url, setup, args.rows // ACTIVITIES_PER_ROWS, args.batch, log)
    app = make_app(url, instance)
    problems = verify_load(app, args.rows, types=("contact", "deal", "activity"))
    for problem in problems:
        log(f"  LOAD PROBLEM: {problem}")
    if not problems:
        log("  load check: bulk contacts, deals and activities match twins created through the service layer")
    results["load_problems"] = problems
    set_password(app)
    browser = Browser(app)

    log("list pages: cursors for the middle and the last page, checked against the list order ...")
    scenarios, page_problems, listing = list_scenarios(app, browser, log)
    results["list_problems"], results["listing"] = page_problems, listing
    scenarios.update(suggest_scenarios())
    scenarios["dashboard"] = {"kind": "dashboard", "label": "/ (dashboard)", "url": "/"}
    measure(app, browser, scenarios, args, log)
    results["pages"] = scenarios
    with app.app_context():
        from accord.core.db import db
        from sqlalchemy import text

        results["open_tasks_of_bench_user"] = db.session.execute(text(
            "SELECT count(*) FROM activity WHERE owner_id = :u AND kind = 'task' AND done = :f AND deleted_at IS NULL"),
            {"u": setup["admin_id"], "f": False}).scalar()
        db.session.remove()

    dispose(app)
    if remove:
        marker_path(url).unlink(missing_ok=True)
        if engine == "sqlite":
            shutil.rmtree(sqlite_path(url).parent, ignore_errors=True)
    results["checks"] = checks(results)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    target = (args.output or RESULTS / f"ui-{engine}.json").resolve()
    target.write_text(json.dumps(results, indent=2, default=json_default))
    print_summary(results, target)
    return 0 if all(c["pass"] for c in results["checks"]) else 1


def checks(results):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    limits = {"list": LIST_P95_MS, "suggest": SUGGEST_P95_MS, "dashboard": DASHBOARD_P95_MS}
    for s in results["pages"].values():
        limit = limits[s["kind"]]
        if "error" in s:
            add(f"{s['label']} p50/p95 (ms)", s["error"].split(":")[0], f"p95 <= {limit:g}", False)
            continue
        add(f"{s['label']} p50/p95 (ms)", f"{s['timing']['p50_ms']:.1f} / {s['timing']['p95_ms']:.1f}",
            f"p95 <= {limit:g}", s["timing"]["p95_ms"] <= limit)
    page_problems = results["list_problems"]
    add(f"list pages show the list order (built cursors; {results['listing']['next_links_followed']} Next page links)",
        "yes" if not page_problems else f"{len(page_problems)} differences", "yes", not page_problems)
    problems = results["load_problems"]
    add("bulk rows identical to what the service layer writes (spot checks)",
        "yes" if not problems else f"{len(problems)} differences", "yes", not problems)
    return rows


def short_sql(sql):
    """A statement on one line, its outer select list shortened (the JSON has it whole)."""
    flat = " ".join(sql.split())
    return re.sub(r"^SELECT (.{60}).*? FROM ", r"SELECT \1... FROM ", flat, count=1)


def print_summary(results, target):
    rows = results["checks"]
    print()
    print(f"Accord web UI benchmark: {results['engine']} ({results['database_url']}), {results['rows']:,} contacts "
          f"and deals, {results['activities']:,} activities ({results['open_tasks_of_bench_user']:,} open tasks of the "
          f"signed-in user), Python {results['python']}, SQLAlchemy {results['sqlalchemy']}, {results['cpus']} CPUs, "
          f"commit {results.get('git_commit', '?')}")
    print_checks(rows)
    print()
    print("per request: this process's mean CPU time, the SQL statements (incl. the sign-in lookup), their time "
          "replayed alone on the driver, the slowest:")
    pages = results["pages"]
    width = max(len(s["label"]) for s in pages.values())
    for s in pages.values():
        if "error" in s:
            print(f"  {s['label']:<{width}}  {s['error']}")
            continue
        slowest = f"{s['slowest']['ms']:7.1f} ms  {short_sql(s['slowest']['sql'])[:80]}" if "slowest" in s else ""
        print(f"  {s['label']:<{width}}  CPU {s['timing']['cpu_mean_ms']:7.1f} ms  {s['statements']:2d} statements  "
              f"{s['sql_ms']:7.1f} ms SQL   slowest {slowest}")
    slow = {}
    for s in pages.values():
        if "slowest" in s and s["slowest"]["ms"] >= SLOW_STATEMENT_MS:
            slow.setdefault(s["slowest"]["sql"], []).append(s)
    for sql, where in slow.items():
        print()
        pages_using = ", ".join(f"{w['label']} {w['slowest']['ms']:.1f} ms" for w in where)
        print(f"slow statement ({pages_using}):")
        print("  " + short_sql(sql)[:600])
        print("  plan: " + " | ".join(line.strip() for line in where[0]["slowest"]["plan"])[:900])
    print()
    print(f"load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']} "
          f"(other work on the machine skews wall-clock figures; cpu_mean_ms in the JSON is this process's CPU)")
    print_outcome(rows, target, results["reproduce"])


if __name__ == "__main__":
    sys.exit(main())
