#!/usr/bin/env python3
"""Security benchmark: what authorization costs a list, and what the audit trail costs a write.

Loads ``--rows`` contacts (SQLite by default; PostgreSQL when ``--database-url`` or
``ACCORD_BENCH_DATABASE_URL`` is set) spread evenly over 100 owners of role ``sales``,
then measures, each against its comparison in the same run and interleaved with it:

* ``GET /api/v1/contacts?limit=50`` (page 1, and page 2 through ``next_cursor``) with the
  token of one sales owner, whose list gets ``owner_id = :me``, against the same with the
  administrator's token, which sees every row: the ratio of medians;
* a contact update through the service layer (``records.update``, ``job_title``
  alternating) with the audit trail written against the same without it (the audit
  functions replaced, a variant that exists only in this benchmark): the overhead of
  the medians.

It prints a summary table (metric, measured, target, PASS/FAIL), the list statements'
query plans, and the commands that reproduce the run, and writes the figures to
``bench/results/security-<engine>.json``.

Run ``python3 bench/security.py --help`` for the options; see ``bench/README.md``.
"""

import argparse
import gc
import itertools
import json
import os
import shlex
import shutil
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from common import (RESULTS, ContactMaker, StatementLog, dispose, engine_name, ensure_postgres_database, explain,
                    git_commit, insert_batches, interleaved, json_default, loader_engine, make_app, marker_path,
                    prepare_schema, print_checks, print_outcome, raw_replay, refuse_test_database, reset_database,
                    run_environment, safe_url, schema_fingerprint, sqlite_path, summary, verify_load)

ENV_URL = "ACCORD_BENCH_DATABASE_URL"
PG_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/accord_bench_security"

LIST_RATIO = 1.3  # scoped list median / admin list median, from the issue
AUDIT_OVERHEAD = 0.15  # update with the audit trail / without, minus 1, from the issue
OWNERS = 100
PAGE_ROWS = 50
MIN_ROWS = OWNERS * 2 * PAGE_ROWS  # every owner has two full pages, page 1 and the one its next_cursor leads to
LOADER = "security 1"  # what the marker of a kept database records; change it when the load changes
SALES_EMAIL = "sales{}@example.com"
JOB_TITLES = ("Bench Buyer", "Bench Engineer")  # what the update alternates between


# ---------------------------------------------------------------------------------------
# The database: contacts spread over sales owners, kept between runs with --keep
# ---------------------------------------------------------------------------------------


def marker(url, rows):
    return {"url": safe_url(url), "rows": rows, "owners": OWNERS, "loader": LOADER, "schema": schema_fingerprint(url)}


def kept(app, url, rows):
    """Whether the database holds the contacts of an earlier ``--keep`` run of this
    benchmark with ``rows`` rows, loaded under the current schema."""
    try:
        found = json.loads(marker_path(url).read_text())
    except (OSError, ValueError):
        return False
    if found != marker(url, rows):
        return False
    from accord.core.db import db
    from sqlalchemy import text

    with app.app_context():
        try:
            contacts = db.session.execute(text("SELECT count(*) FROM contact")).scalar()
            sales = db.session.execute(text("SELECT count(*) FROM \"user\" WHERE role = 'sales'")).scalar()
        except Exception:  # noqa: BLE001 - no schema yet
            return False
        finally:
            db.session.remove()
    return contacts == rows and sales == OWNERS


def sales_owners(app):
    """The ids of the ``OWNERS`` sales users, made the first time."""
    from accord.core.db import db
    from accord.core.models import User
    from accord.testing import make_user
    from sqlalchemy import select

    with app.app_context():
        ids = db.session.execute(select(User.id).where(User.role == "sales").order_by(User.id)).scalars().all()
        db.session.remove()
    if not ids:
        ids = [make_user(app, SALES_EMAIL.format(n), f"Sales {n}", role="sales").id for n in range(OWNERS)]
    return ids


def load(app, url, instance, rows, batch, log):
    """Empty the database, migrate it, make the users and bulk-load ``rows`` contacts (each
    with its search entry, both with ``owner_id`` set, as the service layer writes them),
    owned in turn by the sales users; then ``upgrade(app)`` and the statistics, as after
    any bulk load. Returns the app on the loaded database."""
    from accord.core import search
    from accord.core.migrate import upgrade
    from accord.core.models import Contact, SearchEntry
    from sqlalchemy import text

    dispose(app)
    marker_path(url).unlink(missing_ok=True)
    reset_database(url)
    app = make_app(url, instance)
    setup = prepare_schema(app)
    owners = sales_owners(app)
    log(f"loading {rows:,} contacts over {len(owners)} sales owners ...")
    t0 = time.perf_counter()
    engine = loader_engine(url)
    is_pg = engine_name(url) == "postgresql"
    # As in common.bulk_load: the search index is built once after the rows, not per row.
    with engine.begin() as conn:
        if is_pg:
            conn.execute(text("DROP INDEX IF EXISTS ix_search_entry_document"))
            conn.execute(text("DROP INDEX IF EXISTS ix_search_entry_title_trgm"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS search_entry_ai"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = timedelta(days=3 * 365)
    start, step = now - span - timedelta(days=1), span / max(rows, 1)
    maker = ContactMaker(1, owners, setup["admin_id"])

    def contact(i):
        row, entry = maker.row(i, 1 + i, start + step * i)
        row["owner_id"] = entry["owner_id"] = owners[i % len(owners)]
        return row, entry

    insert_batches(engine, rows, batch, contact, [Contact.__table__, SearchEntry.__table__], log, "contacts")
    with engine.begin() as conn:
        if is_pg:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('contact', 'id'), (SELECT max(id) FROM contact))"))
            for statement in search.POSTGRES_DDL:
                if statement.startswith("CREATE INDEX"):
                    conn.execute(text(statement))
        else:
            conn.execute(text(search.SQLITE_DDL[1]))
            conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    upgrade(app)
    dispose(app)
    if is_pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    marker_path(url).write_text(json.dumps(marker(url, rows)))
    log(f"loaded in {time.perf_counter() - t0:.1f} s (upgrade, {'VACUUM ANALYZE' if is_pg else 'ANALYZE'} included)")
    return make_app(url, instance)


def load_problems(app, rows):
    """The load check of ``common.verify_load`` for contacts, plus: every contact's search
    entry has the contact's owner, and the contacts are spread evenly over the owners."""
    from accord.core.db import db
    from sqlalchemy import text

    problems = verify_load(app, rows, types=("contact",))
    with app.app_context():
        stray = db.session.execute(text(
            "SELECT count(*) FROM contact c LEFT JOIN search_entry s ON s.record_type = 'contact' AND s.record_id = c.id "
            "WHERE s.owner_id IS NULL OR s.owner_id <> c.owner_id")).scalar()
        per_owner = db.session.execute(text(
            "SELECT min(n), max(n), count(*) FROM (SELECT count(*) AS n FROM contact GROUP BY owner_id) AS t")).one()
        db.session.remove()
    if stray:
        problems.append(f"{stray:,} contacts lack a search entry with their owner_id")
    if per_owner[2] != OWNERS or per_owner[1] - per_owner[0] > 1:
        problems.append(f"contacts per owner: {per_owner[0]:,} to {per_owner[1]:,} over {per_owner[2]} owners")
    return problems


def tokens(app, owner_id):
    """Bearer tokens of the administrator and of the sales user ``owner_id``."""
    from accord.core.db import db
    from accord.core.models import User
    from accord.core.tokens import create_token
    from sqlalchemy import select

    with app.test_request_context():
        admin = db.session.execute(select(User).where(User.email == "bench-admin@example.com")).scalar_one()
        sales = db.session.get(User, owner_id)
        out = {"admin": create_token(admin, name="bench-security"), "sales": create_token(sales, name="bench-security"),
               "sales_name": sales.name, "admin_role": admin.role, "sales_role": sales.role}
        db.session.remove()
    return out


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def getter(client, token, url):
    headers = {"Authorization": f"Bearer {token}"}

    def call():
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {response.data[:300]!r}")
        return response

    return call


def expected_ids(app, owner_id, n):
    """The first ``n`` ids of the owner's list, newest first, by a bare query."""
    from accord.core.db import db
    from sqlalchemy import text

    with app.app_context():
        ids = db.session.execute(text(
            "SELECT id FROM contact WHERE owner_id = :o AND deleted_at IS NULL ORDER BY created_at DESC, id DESC "
            "LIMIT :n"), {"o": owner_id, "n": n}).scalars().all()
        db.session.remove()
    return ids


def measure_lists(app, keys, owner_id, args, log):
    """Page 1 and page 2 of the contacts list for the sales owner and the administrator,
    checked, timed interleaved, with each page's SQL statements, the database's share
    (the list statement replayed on the raw driver) and the list statement's plan."""
    from accord.core.db import db

    with app.app_context():
        engine = db.engine
    statements = StatementLog(engine)
    client = app.test_client()
    first = f"/api/v1/contacts?{urlencode({'limit': PAGE_ROWS})}"
    pages, problems = {}, []
    for who in ("admin", "sales"):
        body = getter(client, keys[who], first)().get_json()
        second = f"{first}&{urlencode({'cursor': body['next_cursor']})}"
        pages[f"{who}_page1"] = {"url": first, "token": keys[who], "rows": body["data"]}
        pages[f"{who}_page2"] = {"url": second, "token": keys[who],
                                 "rows": getter(client, keys[who], second)().get_json()["data"]}
    own = expected_ids(app, owner_id, 2 * PAGE_ROWS)
    for page in (1, 2):
        rows = pages[f"sales_page{page}"]["rows"]
        if len(rows) != PAGE_ROWS:
            problems.append(f"the sales user's page {page} has {len(rows)} rows, not {PAGE_ROWS}")
        strangers = [r["id"] for r in rows if r["owner_id"] != owner_id]
        if strangers:
            problems.append(f"the sales user's page {page} shows {len(strangers)} contacts of other owners")
        if [r["id"] for r in rows] != own[(page - 1) * PAGE_ROWS:page * PAGE_ROWS]:
            problems.append(f"the sales user's page {page} is not its newest contacts in order")
        admin_rows = pages[f"admin_page{page}"]["rows"]
        if len(admin_rows) != PAGE_ROWS or len({r["owner_id"] for r in admin_rows}) < 2:
            problems.append(f"the administrator's page {page} has {len(admin_rows)} rows of "
                            f"{len({r['owner_id'] for r in admin_rows})} owners")
    out = {"problems": problems}
    calls, replays = {}, {}
    for name, page in pages.items():
        call = getter(client, page["token"], page["url"])
        seen = statements.capture(call)
        main = [s for s in seen if "FROM contact" in s[0]][-1]
        calls[name] = call
        replays[name] = raw_replay(engine, *main)
        out[name] = {"url": page["url"], "rows": len(page["rows"]), "statements": len(seen), "sql": main[0],
                     "params": main[1], "plan": explain(engine, *main)}
        log(f"  {name}: {len(seen)} statements; plan: {' | '.join(line.strip() for line in out[name]['plan'])[:240]}")
    log(f"  timing {args.requests} requests each after {args.warmup} warm-up, interleaved (plus the list statements "
        "replayed alone on the raw driver) ...")
    names = list(pages)
    gc.collect()
    try:
        timings = interleaved([calls[n] for n in names] + [replays[n][0] for n in names], args.requests, args.warmup)
    finally:
        for _, raw in replays.values():
            raw.close()
    for i, name in enumerate(names):
        out[name]["api"] = summary(timings[i])
        out[name]["db_only"] = summary(timings[len(names) + i])
    for page in ("page1", "page2"):
        scoped, admin = out[f"sales_{page}"]["api"], out[f"admin_{page}"]["api"]
        out[f"ratio_{page}"] = round(scoped["p50_ms"] / admin["p50_ms"], 3)
        log(f"  {page}: sales p50 {scoped['p50_ms']:.2f} / p95 {scoped['p95_ms']:.2f} ms, admin p50 "
            f"{admin['p50_ms']:.2f} / p95 {admin['p95_ms']:.2f} ms -> ratio of medians {out[f'ratio_{page}']:.3f}; "
            f"SQL alone {out[f'sales_{page}']['db_only']['p50_ms']:.3f} vs {out[f'admin_{page}']['db_only']['p50_ms']:.3f} ms")
    return out


def measure_audit(app, owner_id, args, log):
    """A contact update by its sales owner through the service layer, each in a fresh
    request context, with the audit trail and without it (this benchmark's variant only:
    ``audit.record_write`` notes nothing, ``audit.write_entry`` builds no entry, and on
    PostgreSQL the update's statement, which inserts the entry too, is replaced by the same
    ``UPDATE ... RETURNING id`` alone, built once like the real one), interleaved; the
    audit entries written are counted."""
    from functools import lru_cache

    from accord.core import audit, records
    from accord.core.db import db
    from accord.core.records import Actor
    from accord.core.registry import current_accord
    from sqlalchemy import text

    accord = current_accord(app)
    actor = Actor(user_id=owner_id, source="api", name="Sales bench", role="sales")
    with app.app_context():
        contact_id = db.session.execute(text(
            "SELECT max(id) FROM contact WHERE owner_id = :o AND deleted_at IS NULL"), {"o": owner_id}).scalar()
        db.session.remove()
    titles = itertools.cycle(JOB_TITLES)
    original = audit.record_write, audit.write_entry, audit.entry_params, records._updating

    def entries():
        with app.app_context():
            count = db.session.execute(text("SELECT count(*) FROM audit_entry WHERE record_type = 'contact' "
                                            "AND record_id = :i"), {"i": contact_id}).scalar()
            db.session.remove()
        return count

    def no_entry(*arguments, **keywords):
        """``record_write`` for the "without" variant: notes nothing."""

    def no_params(entry):
        """``entry_params`` for the "without" variant: nothing to bind."""
        return {}

    @lru_cache(maxsize=None)
    def update_only(table, columns):
        """``records._updating`` for the "without" variant: the update alone."""
        return records._versioned_update(table, columns).returning(table.c.id)

    def update(functions):
        def call():
            audit.record_write, audit.write_entry, audit.entry_params, records._updating = functions
            with app.test_request_context():
                accord.records.update("contact", contact_id, {"job_title": next(titles)}, actor)

        return call

    with_audit, without = update(original), update((no_entry, no_entry, no_params, update_only))
    try:
        before = entries()
        with_audit()
        after_with = entries()
        without()
        after_without = entries()
        log(f"  contact {contact_id}: timing {args.updates} updates each after {args.warmup} warm-up, interleaved ...")
        gc.collect()
        timed = interleaved([with_audit, without], args.updates, args.warmup, reverse_every_other=True)
    finally:
        audit.record_write, audit.write_entry, audit.entry_params, records._updating = original
    out = {"contact_id": contact_id, "with": summary(timed[0]), "without": summary(timed[1]),
           "entries_per_update": {"with": after_with - before, "without": after_without - after_with}}
    out["overhead"] = round(out["with"]["p50_ms"] / out["without"]["p50_ms"] - 1, 4)
    log(f"  update p50 {out['with']['p50_ms']:.2f} ms with the audit trail, {out['without']['p50_ms']:.2f} ms "
        f"without -> +{out['overhead']:.1%}; audit entries per update {out['entries_per_update']}")
    return out


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help=f"contacts, spread over {OWNERS} sales owners")
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL),
                        help=f"database to load and measure (else ${ENV_URL}, else a SQLite file under bench/results/)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the loaded database, and reuse one kept with the same --rows")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per list page and token")
    parser.add_argument("--updates", type=int, default=300, help="timed updates with and without the audit trail")
    parser.add_argument("--warmup", type=int, default=30, help="untimed rounds before timing")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per executemany batch when loading")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the figures as JSON (default bench/results/security-<engine>.json)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="allow a PostgreSQL database named 'test' or the one in ACCORD_TEST_DATABASE_URL "
                             "(the benchmark drops its schema when it loads)")
    args = parser.parse_args(argv)
    if args.rows < MIN_ROWS:
        parser.error(f"--rows must be at least {MIN_ROWS:,}: every owner needs two full pages")
    return args


def reproduce_command(args, url, keep):
    """The command of this run's options on ``url`` (``None``: the default SQLite file)."""
    parts = ["python3", "bench/security.py"]
    for flag, value, default in (("--rows", args.rows, 1_000_000), ("--requests", args.requests, 200),
                                 ("--updates", args.updates, 300), ("--warmup", args.warmup, 30)):
        if value != default:
            parts += [flag, str(value)]
    if url and engine_name(url) == "sqlite":
        parts += ["--database-url", url]
    if args.output:
        parts += ["--output", str(args.output)]
    if keep:
        parts.append("--keep")
    command = shlex.join(parts)
    if url and engine_name(url) == "postgresql":
        command = f"{ENV_URL}={shlex.quote(safe_url(url))} " + command
    return command


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    started = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    from accord.core.config import _normalise_database_url

    url = _normalise_database_url(args.database_url
                                  or f"sqlite:///{RESULTS / f'security-sqlite-{args.rows}' / 'accord.db'}")
    engine = engine_name(url)
    if engine == "postgresql" and not args.allow_any_database:
        refuse_test_database(url)
    instance = RESULTS / "instance-security-postgresql" if engine == "postgresql" else sqlite_path(url).parent
    log(f"engine {engine}: {safe_url(url)}; {args.rows:,} contacts over {OWNERS} sales owners")
    results = {"engine": engine, "database_url": safe_url(url), "rows": args.rows, "owners": OWNERS,
               "reproduce": reproduce_command(args, args.database_url, args.keep), **run_environment()}
    commit = git_commit(["--", ".", ":!bench"])
    if commit is not None:
        results["git_commit"] = commit

    if engine == "postgresql":
        ensure_postgres_database(url)
    app = make_app(url, instance)
    if args.keep and kept(app, url, args.rows):
        log(f"reusing the kept database ({args.rows:,} contacts already there)")
        results["load_seconds"] = None
    else:
        t0 = time.perf_counter()
        app = load(app, url, instance, args.rows, args.batch, log)
        results["load_seconds"] = round(time.perf_counter() - t0, 1)
    problems = load_problems(app, args.rows)
    for problem in problems:
        log(f"  LOAD PROBLEM: {problem}")
    if not problems:
        log("  load check: bulk contacts match twins made through the service layer; search entries carry the owner")
    results["load_problems"] = problems
    owner_id = sales_owners(app)[0]
    keys = tokens(app, owner_id)
    results["sales_user"] = {"id": owner_id, "name": keys["sales_name"], "role": keys["sales_role"]}
    results["admin_role"] = keys["admin_role"]

    log(f"list: {keys['sales_name']} (role {keys['sales_role']}, own contacts only) against the administrator ...")
    results["lists"] = measure_lists(app, keys, owner_id, args, log)
    log("update with and without the audit trail ...")
    results["audit"] = measure_audit(app, owner_id, args, log)

    dispose(app)
    if not args.keep:
        marker_path(url).unlink(missing_ok=True)
        if engine == "sqlite":
            shutil.rmtree(sqlite_path(url).parent, ignore_errors=True)
    results["checks"] = checks(results)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    target = (args.output or RESULTS / f"security-{engine}.json").resolve()
    target.write_text(json.dumps(results, indent=2, default=json_default))
    print_summary(results, target, args)
    return 0 if all(c["pass"] for c in results["checks"]) else 1


def checks(results):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    lists = results["lists"]
    for page in ("page1", "page2"):
        scoped, admin = lists[f"sales_{page}"]["api"], lists[f"admin_{page}"]["api"]
        add(f"contacts list {page.replace('page', 'page ')}, sales / admin (p50 ms)",
            f"{lists[f'ratio_{page}']:.2f}x ({scoped['p50_ms']:.2f} vs {admin['p50_ms']:.2f})",
            f"<= {LIST_RATIO:g}x", lists[f"ratio_{page}"] <= LIST_RATIO)
    problems = lists["problems"]
    add("the sales user's pages: 50 rows, all its own, newest first", "yes" if not problems else "; ".join(problems),
        "yes", not problems)
    audit = results["audit"]
    add("update with / without the audit trail (p50 ms)",
        f"+{audit['overhead']:.1%} ({audit['with']['p50_ms']:.2f} vs {audit['without']['p50_ms']:.2f})",
        f"<= +{AUDIT_OVERHEAD:.0%}", audit["overhead"] <= AUDIT_OVERHEAD)
    written = audit["entries_per_update"]
    add("audit entries per update (with / without)", f"{written['with']} / {written['without']}", "1 / 0",
        written == {"with": 1, "without": 0})
    load = results["load_problems"]
    add("bulk rows identical to what the service layer writes (spot checks, owners)",
        "yes" if not load else f"{len(load)} differences", "yes", not load)
    return rows


def print_summary(results, target, args):
    lists, audit = results["lists"], results["audit"]
    print()
    print(f"Accord security benchmark: {results['engine']} ({results['database_url']}), {results['rows']:,} contacts "
          f"over {results['owners']} sales owners, Python {results['python']}, SQLAlchemy {results['sqlalchemy']}, "
          f"{results['cpus']} CPUs, commit {results.get('git_commit', '?')}")
    print_checks(results["checks"])
    print()
    print(f"GET /api/v1/contacts?limit={PAGE_ROWS}, {args.requests} requests each, interleaved "
          "(p50 / p95 ms; SQL alone: the list statement replayed on the raw driver):")
    for name in ("sales_page1", "admin_page1", "sales_page2", "admin_page2"):
        r = lists[name]
        print(f"  {name:<12} {r['api']['p50_ms']:7.2f} / {r['api']['p95_ms']:7.2f}   SQL alone "
              f"{r['db_only']['p50_ms']:7.3f} / {r['db_only']['p95_ms']:7.3f}   {r['statements']} statements")
    for name in ("sales_page1", "admin_page1"):
        print(f"  plan, {name}: " + " | ".join(line.strip() for line in lists[name]["plan"])[:500])
    print()
    print(f"contact update through records.update, {args.updates} each, interleaved (p50 / p95 ms): with the audit "
          f"trail {audit['with']['p50_ms']:.2f} / {audit['with']['p95_ms']:.2f}, without "
          f"{audit['without']['p50_ms']:.2f} / {audit['without']['p95_ms']:.2f} -> +{audit['overhead']:.1%}")
    print("  (\"without\" replaces accord.core.audit.record_write, write_entry, entry_params and "
          "accord.core.records._updating for the measurement only; "
          "the product always writes the trail)")
    print(f"load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']}")
    print_outcome(results["checks"], target, results["reproduce"])
    postgres = args.database_url if results["engine"] == "postgresql" else PG_EXAMPLE
    print("with a kept database (loaded by the first run):")
    print(f"  SQLite:     {reproduce_command(args, None, True)}")
    print(f"  PostgreSQL: {reproduce_command(args, postgres, True)}")


if __name__ == "__main__":
    sys.exit(main())
