#!/usr/bin/env python3
"""Vertical packs benchmark: applying and reverting a pack on a type with a million records.

Loads ``--rows`` deals (SQLite by default; PostgreSQL when ``--database-url`` or
``ACCORD_BENCH_DATABASE_URL`` is set) with one ``INSERT ... SELECT`` over a recursive CTE
(SQLite) or ``generate_series`` (PostgreSQL), then, ``--repeat`` times, times:

* ``accord.core.changesets.apply`` of a pack adding ``--fields`` custom fields (every kind
  but reference) to ``deal``: the plan, the one scan that checks no record holds values
  under the new names, the writes, the changeset row and the commit;
* ``accord.core.changesets.revert`` of it: the plan, the one scan that finds what holds
  data (nothing here, so no export is written), the writes and the commit.

Targets: each at most 2 s (median of the repeats), and no table rewrite: the ``deal``
table keeps its storage (its ``relfilenode`` on PostgreSQL, its root page on SQLite) and
its row count. It prints a summary table (metric, measured, target, PASS/FAIL) and the
commands that reproduce the run, and writes the figures to
``bench/results/verticals-<engine>.json``.

Run ``python3 bench/verticals.py --help`` for the options; see ``bench/README.md``.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone

from common import (RESULTS, dispose, engine_name, ensure_postgres_database, git_commit, json_default, loader_engine,
                    make_app, print_checks, print_outcome, refuse_test_database, reset_database, run_environment,
                    safe_url)

ENV_URL = "ACCORD_BENCH_DATABASE_URL"
PG_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/accord_bench_verticals"
TARGET_SECONDS = 2.0
PACK = "bench_brokerage"
KINDS = ("text", "long_text", "integer", "decimal", "money", "date", "datetime", "boolean", "choice",
         "multi_choice", "email", "phone", "url")


def pack_text(fields):
    """The benchmark pack: ``fields`` custom fields on deal, kinds in turn."""
    lines = ["[pack]", f'name = "{PACK}"', 'version = "1.0.0"', 'title = "Benchmark brokerage"', ""]
    for n in range(fields):
        kind = KINDS[n % len(KINDS)]
        lines += ["[[fields.deal]]", f'name = "bench_{kind}_{n}"', f'kind = "{kind}"']
        if kind in ("choice", "multi_choice"):
            lines.append('choices = ["gold", "silver", "bronze"]')
        lines.append("")
    return "\n".join(lines)


def load(url, rows, log):
    """``rows`` deals in one statement, each with a custom value the pack does not name,
    then the planner's statistics."""
    from sqlalchemy import text

    engine = loader_engine(url)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    t0 = time.perf_counter()
    columns = "id, created_at, updated_at, version, custom, name, amount, currency, pipeline, stage"
    if engine_name(url) == "postgresql":
        statement = (f"INSERT INTO deal ({columns}) SELECT i, :now, :now, 1, '{{\"region\": \"north\"}}'::jsonb, "
                     f"'Deal ' || i, i % 100000, 'EUR', 'sales', 'lead' FROM generate_series(1, :rows) AS i")
    else:
        statement = (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) "
                     f"INSERT INTO deal ({columns}) SELECT i, :now, :now, 1, '{{\"region\": \"north\"}}', "
                     f"'Deal ' || i, i % 100000, 'EUR', 'sales', 'lead' FROM n")
    with engine.begin() as conn:
        conn.execute(text(statement), {"rows": rows, "now": now if engine_name(url) == "postgresql" else str(now)})
        if engine_name(url) == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('deal', 'id'), (SELECT max(id) FROM deal))"))
    if engine_name(url) == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE deal"))
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    log(f"loaded {rows:,} deals in {time.perf_counter() - t0:.1f} s")


def storage(app):
    """What identifies the deal table's storage, and its row count."""
    from accord.core.db import db
    from sqlalchemy import text

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            where = db.session.execute(text("SELECT relfilenode FROM pg_class WHERE relname = 'deal'")).scalar()
        else:
            where = db.session.execute(text("SELECT rootpage FROM sqlite_master WHERE name = 'deal'")).scalar()
        count = db.session.execute(text("SELECT count(*) FROM deal")).scalar()
        db.session.remove()
    return where, count


def timed(app, function, *args, **kwargs):
    """Seconds ``function`` takes inside a request context (as the API and CLI run it)."""
    from accord.core.db import db

    with app.test_request_context():
        t0 = time.perf_counter()
        outcome = function(*args, **kwargs)
        elapsed = time.perf_counter() - t0
        db.session.remove()
    return elapsed, outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL),
                        help=f"SQLAlchemy URL (default: ${ENV_URL}, else a SQLite file under bench/results); "
                             f"e.g. {PG_EXAMPLE}")
    parser.add_argument("--rows", type=int, default=1_000_000, help="deals to load (default 1,000,000)")
    parser.add_argument("--fields", type=int, default=20, help="fields the pack adds (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="apply/revert cycles timed (default 3)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="drop the schema even of a PostgreSQL database named like the test one")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{RESULTS / 'verticals.db'}"
    engine = engine_name(url)
    if engine == "postgresql":
        if not args.allow_any_database:
            refuse_test_database(url)
        ensure_postgres_database(url)
    instance = RESULTS / f"verticals-instance-{engine}"
    shutil.rmtree(instance, ignore_errors=True)
    folder = instance / "packs" / PACK
    folder.mkdir(parents=True)
    (folder / "vertical.toml").write_text(pack_text(args.fields))

    def log(message):
        print(f"[verticals] {message}", file=sys.stderr, flush=True)

    from accord.core import changesets
    from accord.core.migrate import upgrade
    from accord.core.records import SYSTEM
    from accord.core.verticals import load_pack_from

    reset_database(url)
    app = make_app(url, instance)
    upgrade(app)
    dispose(app)
    load(url, args.rows, log)
    app = make_app(url, instance)
    pack = load_pack_from(folder)
    before = storage(app)
    applies, reverts, during = [], [], None
    for cycle in range(args.repeat):
        seconds, outcome = timed(app, changesets.apply, pack, SYSTEM)
        assert outcome.status == "applied" and len(outcome.lines) == args.fields, outcome
        applies.append(seconds)
        during = storage(app)
        seconds, outcome = timed(app, changesets.revert, PACK, SYSTEM)
        assert outcome.status == "reverted" and outcome.export_path is None, outcome
        reverts.append(seconds)
        log(f"cycle {cycle + 1}: apply {applies[-1]:.3f} s, revert {reverts[-1]:.3f} s")
    after = storage(app)
    dispose(app)

    apply_median, revert_median = statistics.median(applies), statistics.median(reverts)
    checks = [
        {"metric": f"apply {args.fields} fields to {args.rows:,} deals (median of {args.repeat})",
         "measured": f"{apply_median:.3f} s (max {max(applies):.3f})", "target": f"<= {TARGET_SECONDS:.0f} s",
         "pass": apply_median <= TARGET_SECONDS},
        {"metric": f"revert them (median of {args.repeat}; nothing held, no export)",
         "measured": f"{revert_median:.3f} s (max {max(reverts):.3f})", "target": f"<= {TARGET_SECONDS:.0f} s",
         "pass": revert_median <= TARGET_SECONDS},
        {"metric": "no table rewrite (deal storage, rows)",
         "measured": f"{before} -> {during} -> {after}", "target": "unchanged",
         "pass": before == during == after and before[1] == args.rows},
    ]
    target = RESULTS / f"verticals-{engine}.json"
    target.write_text(json.dumps({
        "database": safe_url(url), "engine": engine, "rows": args.rows, "fields": args.fields,
        "apply_seconds": applies, "revert_seconds": reverts, "checks": checks,
        "environment": run_environment(), "commit": git_commit(["--", "core", "bench"]),
    }, indent=2, default=json_default))
    print(f"\nVertical packs on {engine} ({safe_url(url)}), {args.rows:,} deals, a pack of {args.fields} fields\n")
    print_checks(checks)
    command = ["python3", "bench/verticals.py", "--rows", str(args.rows), "--fields", str(args.fields),
               "--repeat", str(args.repeat)]
    reproduce = shlex.join(command) if engine == "sqlite" else f"{ENV_URL}={shlex.quote(safe_url(url))} {shlex.join(command)}"
    print_outcome(checks, target, reproduce)
    return 0 if all(check["pass"] for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
