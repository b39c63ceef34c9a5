#!/usr/bin/env python3
"""API benchmark: list, filter, search, create, forecast and CLI start-up at 1,000,000 rows.

Loads ``--rows`` contacts and as many deals (SQLite by default; PostgreSQL when
``--database-url`` or ``ACCORD_BENCH_DATABASE_URL`` is set), then measures, each in the
same run as its baseline:

* p50/p95 of ``GET /api/v1/contacts?limit=50&sort=-created_at`` at the first page and at
  a deep page (keyset), of a filter on an indexed custom field and of
  ``GET /api/v1/search?q=<3-letter prefix>``, through the Flask test client, next to a
  bare SQLAlchemy Core keyset query plus ``json.dumps`` of the same 50 rows and next to
  the API's own SQL replayed on the raw driver (the database's share);
* SQL statements per list page (contacts with 10 custom fields, deals with a relation);
* an API contact create against a bare Core insert + commit of the same row, on an empty
  database and with the loaded rows present;
* the weighted forecast over the loaded deals;
* ``accord --help`` start-up time, and that plugin discovery never runs per request.

It prints a summary table (metric, measured, target, PASS/FAIL), the command that
reproduces it, and writes the figures to ``bench/results/api-<engine>.json``.

Run ``python3 bench/api.py --help`` for the options; see ``bench/README.md``.
"""

import argparse
import base64
import gc
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from common import (load_afresh, MIN_SAMPLES, RESULTS, ContactMaker, StatementLog, bounded_interleaved, dispose,
                    engine_name, ensure_postgres_database, explain, git_commit, interleaved, json_default,
                    loaded_state, make_app, marker_path, prepare_schema, print_checks, print_outcome, raw_replay,
                    refuse_test_database, reset_database, run_environment, safe_url, schema_fingerprint, sqlite_path,
                    summary, verify_load)

ENV_URL = "ACCORD_BENCH_DATABASE_URL"

LIST_P95_MS = 10.0
LIST_VS_BASELINE = 5.0
MAX_STATEMENTS = 3
CREATE_RATIO = 3.0
CREATE_GROWTH_TOLERANCE = 1.25  # "no worse with N rows than with none", allowing for run-to-run noise
DEEP_VS_FIRST = 1.5  # keyset: the same cost; 1.5x allows for noise
FORECAST_S = {"sqlite": 1.0, "postgresql": 0.5}
CLI_S = 0.5

SEARCH_PREFIX = "mar"
FILTER_FIELD, FILTER_VALUE = "tier", "gold"

CREATE_DOMAIN = "bench-create.example"  # rows the create measurement adds (and removes again)


class Client:
    def __init__(self, app, token):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, **params):
        url = "/api/v1" + path + ("?" + urlencode(params) if params else "")
        return self.client.get(url, headers=self.headers)

    def getter(self, path, **params):
        url = "/api/v1" + path + ("?" + urlencode(params) if params else "")
        client, headers = self.client, self.headers

        def call():
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}: {response.data[:300]!r}")
            return response

        return call


def main_statement(seen):
    """The request's own query: the last one that is not authentication or the schema check."""
    own = [s for s in seen if "api_token" not in s[0] and "schema_generation" not in s[0]]
    return own[-1]


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def measure_reads(app, setup, rows, args, log):
    from accord.core.db import db
    from accord.core.models import Contact
    from accord.core.query import record_columns
    from accord.core.registry import current_accord
    from sqlalchemy import bindparam, select, text, tuple_

    out = {}
    client = Client(app, setup["token"])
    with app.app_context():
        engine = db.engine
        rt = current_accord(app).catalog().type("contact")
        columns = record_columns(rt)
        mid_id = db.session.execute(text("SELECT min(id) + (max(id) - min(id)) / 2 FROM contact")).scalar()
        mid_created = db.session.execute(select(Contact.created_at).where(Contact.id == mid_id)).scalar()
        db.session.remove()
    statements = StatementLog(engine)

    # A deep cursor, handed out by the API itself: the page ending just before the middle
    # row under the same sort text ("-created_at"), so it is valid on the unfiltered list.
    from accord.core.fields import format_datetime

    probe = client.get("/contacts", limit=50, sort="-created_at", created_at__lte=format_datetime(mid_created))
    deep_cursor = probe.get_json()["next_cursor"]
    cursor_payload = json.loads(base64.urlsafe_b64decode(deep_cursor + "=" * (-len(deep_cursor) % 4)))
    assert cursor_payload["s"] == "-created_at", cursor_payload
    log(f"  deep cursor (from the API, ~{rows // 2:,} rows deep): {cursor_payload}")

    scenarios = {
        "list_first": ("/contacts", {"limit": 50, "sort": "-created_at"}),
        "list_deep": ("/contacts", {"limit": 50, "sort": "-created_at", "cursor": deep_cursor}),
        "filter_custom": ("/contacts", {"limit": 50, FILTER_FIELD: FILTER_VALUE}),
        "search": ("/search", {"q": args.search_prefix}),
        "deals_list": ("/deals", {"limit": 50}),
    }
    # Sanity and SQL statements per request.
    for name, (path, params) in scenarios.items():
        seen = statements.capture(lambda: client.getter(path, **params)())
        body = client.get(path, **params).get_json()
        count = len(body["data"])
        main = main_statement(seen)
        out[name] = {"url": f"/api/v1{path}?{urlencode(params)}", "rows_returned": count,
                     "statements": len(seen), "statement_texts": [s[0] for s in seen],
                     "plan": explain(engine, *main)}
        if name.startswith("list") or name in ("filter_custom", "deals_list"):
            assert count == 50, (name, count)
        log(f"  {name}: {len(seen)} statements, {count} rows; plan: {' | '.join(out[name]['plan'])[:300]}")
    first_deep = client.get(*scenarios["list_deep"][:1], **scenarios["list_deep"][1]).get_json()["data"][0]
    out["list_deep"]["first_row_id"] = first_deep["id"]
    out["list_deep"]["middle_id"] = mid_id

    # Search: how many entries the prefix matches (the ranking has to look at all of them).
    with app.app_context():
        from accord.core import search as search_module

        if engine.dialect.name == "postgresql":
            condition = search_module._pg_condition([args.search_prefix])
            from accord.core.models import SearchEntry
            matches = db.session.execute(select(db.func.count()).select_from(SearchEntry.__table__).where(condition)).scalar()
        else:
            matches = db.session.execute(text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :q"),
                                         {"q": f'"{args.search_prefix}"*'}).scalar()
        db.session.remove()
    out["search"]["matching_entries"] = matches
    log(f"  search q={args.search_prefix!r} matches {matches:,} entries")

    # Bare SQLAlchemy Core keyset queries + json.dumps of the same 50 rows (the baseline).
    table = Contact.__table__
    first_stmt = (select(*columns).where(table.c.deleted_at.is_(None))
                  .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(50))
    deep_values = [datetime.fromisoformat(cursor_payload["v"][0].replace("Z", "+00:00")), cursor_payload["v"][1]]
    deep_stmt = (select(*columns).where(table.c.deleted_at.is_(None),
                                        tuple_(table.c.created_at, table.c.id)
                                        < tuple_(bindparam("c", type_=table.c.created_at.type),
                                                 bindparam("i", type_=table.c.id.type)))
                 .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(50))

    def baseline(stmt, params):
        def call():
            with engine.connect() as conn:
                result = conn.execute(stmt, params).mappings().all()
            payload = json.dumps([dict(r) for r in result], default=json_default)
            return payload

        return call

    base_first = baseline(first_stmt, {})
    base_deep = baseline(deep_stmt, {"c": deep_values[0], "i": deep_values[1]})
    baseline_first_id = json.loads(base_deep())[0]["id"]
    assert baseline_first_id == first_deep["id"], (baseline_first_id, first_deep["id"])

    n, warm = args.requests, args.warmup
    log(f"  timing up to {n} requests per measurement (after up to {warm} warm-up; at most "
        f"~{args.max_seconds:g} s per measurement, at least {MIN_SAMPLES} samples) ...")
    for name, (path, params) in scenarios.items():
        api_call = client.getter(path, **params)
        db_call, raw = raw_replay(engine, *main_statement(statements.capture(api_call)))
        group = [api_call]
        if name == "list_first":
            group.append(base_first)
        elif name == "list_deep":
            group.append(base_deep)
        group.append(db_call)
        try:
            timings = bounded_interleaved(group, n, warm, args.max_seconds)
        finally:
            raw.close()
        out[name]["api"] = summary(timings[0])
        out[name]["db_only"] = summary(timings[-1])
        if len(group) == 3:
            out["baseline_" + name.split("_")[1]] = summary(timings[1])
    for name in ("list_first", "list_deep"):
        base = out["baseline_" + name.split("_")[1]]
        out[name]["baseline"] = base
        out[name]["ratio_p95_vs_baseline"] = round(out[name]["api"]["p95_ms"] / base["p95_ms"], 2)
    for name in scenarios:
        r = out[name]
        extra = f", baseline p95 {r['baseline']['p95_ms']:.2f} ms (x{r['ratio_p95_vs_baseline']})" if "baseline" in r else ""
        log(f"  {name}: API p50 {r['api']['p50_ms']:.2f} / p95 {r['api']['p95_ms']:.2f} ms; "
            f"its SQL alone p50 {r['db_only']['p50_ms']:.3f} / p95 {r['db_only']['p95_ms']:.3f} ms{extra}")
    statements.active = False
    return out


def measure_creates(app, setup, n, warmup, log, label):
    """Median of an API contact create vs a bare Core insert + commit of the same row."""
    from accord.core.db import db, utcnow
    from accord.core.models import Contact, SearchEntry
    from sqlalchemy import delete

    client = app.test_client()
    headers = {"Authorization": f"Bearer {setup['token']}", "Content-Type": "application/json"}
    maker = ContactMaker(99, setup["owners"], setup["admin_id"])
    total = n + warmup
    bodies = [json.dumps(maker.api_body(maker.values(10_000_000 + i, domain=CREATE_DOMAIN))).encode() for i in range(total)]
    bare_rows = []
    for i in range(total):
        columns, custom = maker.storage(maker.values(20_000_000 + i, domain=CREATE_DOMAIN))
        bare_rows.append({**columns, "custom": custom, "created_by": setup["admin_id"],
                          "owner_id": setup["admin_id"], "version": 1})
    with app.app_context():
        engine = db.engine
    table = Contact.__table__
    insert_stmt = table.insert()
    created_api, created_bare = [], []
    api_iter, bare_iter = iter(bodies), iter(bare_rows)

    def api_create():
        response = client.post("/api/v1/contacts", data=next(api_iter), headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"create answered {response.status_code}: {response.data[:300]!r}")
        created_api.append(response.get_json()["id"])

    def bare_create():
        now = utcnow()
        with engine.begin() as conn:
            result = conn.execute(insert_stmt, {**next(bare_iter), "created_at": now, "updated_at": now})
        created_bare.append(result.inserted_primary_key[0])

    # Informational: the same bare insert plus the row's search entry (the part of the
    # service layer's work that is the database's, not the framework's).
    from accord.core import search as search_module

    entry_rows = []
    for i in range(total):
        values = maker.values(30_000_000 + i, domain=CREATE_DOMAIN)
        columns, custom = maker.storage(values)
        title = " ".join(p for p in (values["first_name"], values["last_name"]) if p)
        body = " ".join(v for v in (values["email"], values["phone"], values["mobile"]) if v)
        entry_rows.append(({**columns, "custom": custom, "created_by": setup["admin_id"],
                            "owner_id": setup["admin_id"], "version": 1}, title, body))
    entry_iter = iter(entry_rows)
    upsert = (search_module._upsert(engine.dialect.name) if hasattr(search_module, "_upsert")
              else SearchEntry.__table__.insert())

    def bare_create_indexed():
        now = utcnow()
        row, title, body = next(entry_iter)
        with engine.begin() as conn:
            result = conn.execute(insert_stmt, {**row, "created_at": now, "updated_at": now})
            record_id = result.inserted_primary_key[0]
            conn.execute(upsert, {"record_type": "contact", "record_id": record_id, "title": title, "body": body})
        created_bare.append(record_id)

    api_t, bare_t, indexed_t = interleaved([api_create, bare_create, bare_create_indexed], n, warmup)
    # Remove what the measurement added, so the loaded database stays as it was.
    with engine.begin() as conn:
        ids = created_api + created_bare
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            conn.execute(delete(SearchEntry.__table__).where(SearchEntry.record_type == "contact",
                                                           SearchEntry.record_id.in_(chunk)))
            conn.execute(delete(table).where(table.c.id.in_(chunk)))
    api_s, bare_s, indexed_s = summary(api_t), summary(bare_t), summary(indexed_t)
    ratio = round(api_s["p50_ms"] / bare_s["p50_ms"], 2)
    ratio_indexed = round(api_s["p50_ms"] / indexed_s["p50_ms"], 2)
    log(f"  create ({label}): API p50 {api_s['p50_ms']:.2f} ms, bare Core insert+commit p50 "
        f"{bare_s['p50_ms']:.2f} ms -> x{ratio}; bare insert + search entry + commit p50 "
        f"{indexed_s['p50_ms']:.2f} ms -> x{ratio_indexed}")
    return {"api": api_s, "bare": bare_s, "ratio_p50": ratio,
            "bare_with_search_entry": indexed_s, "ratio_p50_vs_bare_with_search_entry": ratio_indexed}


def cleanup_created(app):
    """Remove rows a crashed earlier run's create measurement may have left behind."""
    from accord.core.db import db
    from sqlalchemy import text

    with app.app_context():
        db.session.execute(text(
            "DELETE FROM search_entry WHERE record_type = 'contact' AND record_id IN "
            "(SELECT id FROM contact WHERE email LIKE :d)"), {"d": f"%@{CREATE_DOMAIN}"})
        db.session.execute(text("DELETE FROM contact WHERE email LIKE :d"), {"d": f"%@{CREATE_DOMAIN}"})
        db.session.commit()
        db.session.remove()


def measure_forecast(app, setup, repeats, log):
    from accord.core.db import db
    from accord.core.forecast import forecast
    from accord.core.records import SYSTEM
    from accord.core.registry import current_accord

    timings = []
    groups = None
    with app.app_context():
        catalog = current_accord(app).catalog()
        forecast(catalog, SYSTEM)
        db.session.rollback()
        for _ in range(repeats):
            t = time.perf_counter()
            result = forecast(catalog, SYSTEM)
            timings.append(time.perf_counter() - t)
            db.session.rollback()
        groups = len(result["data"])
        db.session.remove()
    client = Client(app, setup["token"])
    call = client.getter("/forecast")
    call()
    api_timings = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        api_timings.append(time.perf_counter() - t)
    out = {"function_s": round(statistics.median(timings), 3), "function_min_s": round(min(timings), 3),
           "api_s": round(statistics.median(api_timings), 3), "groups": groups, "repeats": repeats}
    log(f"  forecast(): median {out['function_s']:.3f} s (min {out['function_min_s']:.3f}); "
        f"GET /api/v1/forecast median {out['api_s']:.3f} s; {groups:,} groups")
    return out


def measure_plugin_discovery(app, setup, log):
    """Count plugin-manager construction, hook registration and entry-point scans during requests."""
    import importlib.metadata

    import pluggy

    from accord.core import discovery
    from accord.core.registry import Accord

    calls = {"discover": 0, "Accord.plugin_manager": 0, "PluginManager.register": 0, "entry_points": 0,
             "Registrations built": 0}
    originals = {}

    def counting(owner, attr, key):
        original = getattr(owner, attr)
        originals[(owner, attr)] = original

        def wrapper(*a, **kw):
            calls[key] += 1
            return original(*a, **kw)

        setattr(owner, attr, wrapper)

    counting(discovery, "discover", "discover")
    counting(Accord, "plugin_manager", "Accord.plugin_manager")
    counting(pluggy.PluginManager, "register", "PluginManager.register")
    counting(importlib.metadata, "entry_points", "entry_points")
    counting(Accord, "_build", "Registrations built")
    try:
        client = Client(app, setup["token"])
        for _ in range(20):
            client.getter("/contacts", limit=50, **{FILTER_FIELD: FILTER_VALUE})()
            client.getter("/search", q="zzq")()
            client.getter("/types/contact")()
    finally:
        for (owner, attr), original in originals.items():
            setattr(owner, attr, original)
    total = sum(calls.values())
    log(f"  plugin discovery during 60 requests: {calls}")
    return {"calls": calls, "total": total, "requests": 60}


def measure_cli(repeats, log):
    env = {k: v for k, v in os.environ.items() if k != "ACCORD_PLUGINS"}
    commands = {"python -m accord.cli --help": [sys.executable, "-m", "accord.cli", "--help"],
                "python -c pass (interpreter alone)": [sys.executable, "-c", "pass"]}
    script = shutil.which("accord")
    if script:
        commands["accord --help"] = [script, "--help"]
    direct = Path(sys.executable).with_name("accord")
    if direct.exists() and str(direct) != script:
        commands[f"{direct} --help"] = [str(direct), "--help"]
    out = {}
    for label, command in commands.items():
        samples = []
        for _ in range(repeats + 1):
            t = time.perf_counter()
            done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/")
            samples.append(time.perf_counter() - t)
            if done.returncode != 0:
                raise RuntimeError(f"{command} failed: {done.stderr.decode()[-500:]}")
        samples = samples[1:]
        out[label] = {"median_s": round(statistics.median(samples), 3), "max_s": round(max(samples), 3),
                      "command": shlex.join(command)}
        log(f"  {label}: median {out[label]['median_s']:.3f} s (max {out[label]['max_s']:.3f})")
    return out


def profile_requests(app, setup, scenarios, n, log, engine_label):
    """Optional: pyinstrument (or cProfile) text profiles of the read endpoints."""
    client = Client(app, setup["token"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    for name, (path, params) in scenarios.items():
        call = client.getter(path, **params)
        for _ in range(20):
            call()
        target = RESULTS / f"profile-{engine_label}-{name}.txt"
        if Profiler is not None:
            profiler = Profiler(interval=0.0001)
            profiler.start()
            for _ in range(n):
                call()
            profiler.stop()
            target.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        else:
            import cProfile
            import io
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            for _ in range(n):
                call()
            profile.disable()
            buffer = io.StringIO()
            pstats.Stats(profile, stream=buffer).sort_stats("cumulative").print_stats(60)
            target.write_text(buffer.getvalue())
        log(f"  profile of {name}: {target}")


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts (and deals) to load")
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL),
                        help=f"database to load and measure (else ${ENV_URL}, else a SQLite file under bench/results/)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the loaded database and reuse it when it already holds --rows rows")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per read measurement")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests before each measurement")
    parser.add_argument("--creates", type=int, default=300, help="timed creates (API and bare, each)")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="cap on one read measurement: slow ones get fewer samples (never under 20)")
    parser.add_argument("--forecast-repeats", type=int, default=5)
    parser.add_argument("--cli-repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per executemany batch when loading")
    parser.add_argument("--search-prefix", default=SEARCH_PREFIX, help="3-letter prefix for /search?q=")
    parser.add_argument("--profile", action="store_true",
                        help="also write pyinstrument/cProfile text profiles of the read endpoints to bench/results/")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the figures (default bench/results/api-<engine>.json)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="allow a PostgreSQL database named 'test' or the one in ACCORD_TEST_DATABASE_URL "
                             "(the benchmark drops its schema)")
    return parser.parse_args(argv)


def reproduce_command(args):
    parts = ["python3", "bench/api.py", "--rows", str(args.rows)]
    for flag, value, default in (("--requests", args.requests, 300), ("--warmup", args.warmup, 30),
                                 ("--creates", args.creates, 300), ("--search-prefix", args.search_prefix, SEARCH_PREFIX)):
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
    url = args.database_url
    if not url:
        url = f"sqlite:///{RESULTS / f'sqlite-{args.rows}' / 'accord.db'}"
    from accord.core.config import _normalise_database_url
    from sqlalchemy.engine import make_url

    url = _normalise_database_url(url)
    engine = engine_name(url)
    if engine == "postgresql" and not args.allow_any_database:
        refuse_test_database(url)
    if engine == "postgresql":
        empty_url = make_url(url).set(database=make_url(url).database + "_empty").render_as_string(hide_password=False)
        instance = RESULTS / "instance-postgresql"
    else:
        empty_url = f"sqlite:///{RESULTS / 'sqlite-empty' / 'accord.db'}"
        instance = sqlite_path(url).parent
    log(f"engine {engine}: {safe_url(url)}; {args.rows:,} rows; empty-database twin {safe_url(empty_url)}")

    results = {
        "engine": engine, "database_url": safe_url(url), "rows": args.rows,
        "reproduce": reproduce_command(args), **run_environment(),
        "schema_fingerprint": schema_fingerprint(url),
    }
    commit = git_commit(["--", ".", ":!bench"])
    if commit is not None:
        results["git_commit"] = commit

    # 1. The empty-database twin: the create ratio "with none".
    log("create on an empty database ...")
    if engine == "postgresql":
        ensure_postgres_database(empty_url)
    reset_database(empty_url)
    empty_app = make_app(empty_url, RESULTS / f"instance-{engine}-empty")
    empty_setup = prepare_schema(empty_app)
    results["create_empty"] = measure_creates(empty_app, empty_setup, args.creates, args.warmup, log, "empty database")
    dispose(empty_app)
    fast_app = make_app(empty_url, RESULTS / f"instance-{engine}-empty", durable=False)
    results["create_empty_no_flush"] = measure_creates(fast_app, empty_setup, args.creates, args.warmup, log,
                                                       "empty database, no flush at commit")
    dispose(fast_app)

    # 2. The loaded database.
    if engine == "postgresql":
        ensure_postgres_database(url)
    app = make_app(url, instance)
    reuse = args.keep and loaded_state(app, args.rows, url)
    if reuse:
        log(f"reusing the loaded database ({args.rows:,} contacts and deals already there)")
        with app.app_context():
            from accord.core.db import db

            db.engine.dispose()
        app = make_app(url, instance)
        cleanup_created(app)
        setup = prepare_schema(app)
        load_seconds = None
    else:
        if args.keep:
            log("no reusable database here (none yet, another --rows, or the schema changed since): loading")
        app, setup, load_seconds = load_afresh(app, url, instance, args.rows, args.batch, log)
    results["load_seconds"] = load_seconds
    results["reused_database"] = bool(reuse)
    problems = verify_load(app, args.rows)
    if problems:
        for problem in problems:
            log(f"  LOAD PROBLEM: {problem}")
        results["load_problems"] = problems
    else:
        log("  load check: bulk rows match twins created through the service layer (columns, search entry, stage history)")

    log("reads (list first/deep page, custom-field filter, search) ...")
    gc.collect()
    results["reads"] = measure_reads(app, setup, args.rows, args, log)
    log(f"create with {args.rows:,} rows present ...")
    results["create_loaded"] = measure_creates(app, setup, args.creates, args.warmup, log, f"{args.rows:,} rows")
    fast_app = make_app(url, instance, durable=False)
    results["create_loaded_no_flush"] = measure_creates(fast_app, setup, args.creates, args.warmup, log,
                                                        f"{args.rows:,} rows, no flush at commit")
    dispose(fast_app)
    log("forecast ...")
    results["forecast"] = measure_forecast(app, setup, args.forecast_repeats, log)
    log("plugin discovery per request ...")
    results["plugin_discovery"] = measure_plugin_discovery(app, setup, log)
    log("CLI start-up ...")
    results["cli"] = measure_cli(args.cli_repeats, log)
    if args.profile:
        log("profiles ...")
        scenarios = {name: (results["reads"][name]["url"].split("?")[0][len("/api/v1"):],
                            dict(pair.split("=", 1) for pair in results["reads"][name]["url"].split("?")[1].split("&")))
                     for name in ("list_first", "list_deep", "filter_custom", "search")}
        from urllib.parse import unquote

        scenarios = {k: (p, {a: unquote(b) for a, b in q.items()}) for k, (p, q) in scenarios.items()}
        profile_requests(app, setup, scenarios, 200, log, engine)

    with app.app_context():
        from accord.core.db import db

        db.engine.dispose()
    if not args.keep:
        marker_path(url).unlink(missing_ok=True)
        if engine == "sqlite":
            shutil.rmtree(sqlite_path(url).parent, ignore_errors=True)
    results["checks"] = checks(results, engine)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    target = (args.output or RESULTS / f"api-{engine}.json").resolve()
    target.write_text(json.dumps(results, indent=2, default=json_default))
    print_summary(results, target)
    return 0 if all(c["pass"] for c in results["checks"]) else 1


def sort_in_plan(plan):
    """Whether a plan sorts (SQLite's temp B-tree, PostgreSQL's Sort node) instead of reading an index in order."""
    return any("TEMP B-TREE FOR ORDER BY" in line or line.strip().startswith(("Sort ", "->  Sort ")) or " Sort  (" in line
               for line in plan)


def checks(results, engine):
    reads = results["reads"]
    rows = []

    def add(metric, measured, target, ok, unit=""):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    for name, label in (("list_first", "list p50/p95, first page"), ("list_deep", "list p50/p95, deep page"),
                        ("filter_custom", f"filter {FILTER_FIELD}={FILTER_VALUE} (indexed custom) p50/p95"),
                        ("search", f"search q={results['reads']['search']['url'].split('q=')[1]} p50/p95")):
        api = reads[name]["api"]
        add(label + " (ms)", f"{api['p50_ms']:.2f} / {api['p95_ms']:.2f}", f"p95 <= {LIST_P95_MS:g}",
            api["p95_ms"] <= LIST_P95_MS)
    for name, label in (("list_first", "first"), ("list_deep", "deep")):
        r = reads[name]
        add(f"list p95 / Core keyset+json.dumps p95, {label} page",
            f"{r['ratio_p95_vs_baseline']:.2f}x ({r['api']['p95_ms']:.2f} vs {r['baseline']['p95_ms']:.2f} ms)",
            f"<= {LIST_VS_BASELINE:g}x", r["ratio_p95_vs_baseline"] <= LIST_VS_BASELINE)
    deep_ratio = reads["list_deep"]["api"]["p95_ms"] / reads["list_first"]["api"]["p95_ms"]
    add("list p95 deep page / first page (keyset)", f"{deep_ratio:.2f}x", f"~1 (<= {DEEP_VS_FIRST:g}x)",
        deep_ratio <= DEEP_VS_FIRST)
    for name, label in (("list_first", "contacts, 10 custom fields"), ("list_deep", "contacts, deep page"),
                        ("filter_custom", "contacts, custom-field filter"), ("deals_list", "deals, relation + 2 custom")):
        add(f"SQL statements per list page ({label})", str(reads[name]["statements"]), f"<= {MAX_STATEMENTS}",
            reads[name]["statements"] <= MAX_STATEMENTS)
    for name, label in (("list_first", "list, first page"), ("list_deep", "list, deep page"),
                        ("filter_custom", "custom-field filter")):
        plan = reads[name]["plan"]
        full_sort = sort_in_plan(plan)
        add(f"query plan walks an index in sort order ({label})", "sorts all matches" if full_sort else "yes",
            "yes", not full_sort)
    empty, loaded = results["create_empty"], results["create_loaded"]
    add("create: API / bare Core insert+commit (p50), empty db",
        f"{empty['ratio_p50']:.2f}x ({empty['api']['p50_ms']:.2f} vs {empty['bare']['p50_ms']:.2f} ms)",
        f"<= {CREATE_RATIO:g}x", empty["ratio_p50"] <= CREATE_RATIO)
    add(f"create: API / bare Core insert+commit (p50), {results['rows']:,} rows",
        f"{loaded['ratio_p50']:.2f}x ({loaded['api']['p50_ms']:.2f} vs {loaded['bare']['p50_ms']:.2f} ms)",
        f"<= {CREATE_RATIO:g}x", loaded["ratio_p50"] <= CREATE_RATIO)
    growth = loaded["ratio_p50"] / empty["ratio_p50"]
    add("create ratio, loaded / empty", f"{growth:.2f}", f"<= 1 (+{CREATE_GROWTH_TOLERANCE - 1:.0%} noise)",
        growth <= CREATE_GROWTH_TOLERANCE)
    forecast = results["forecast"]
    limit = FORECAST_S[engine]
    add(f"forecast over {results['rows']:,} deals, forecast() median (s)", f"{forecast['function_s']:.3f}",
        f"<= {limit:g}", forecast["function_s"] <= limit)
    add("forecast, GET /api/v1/forecast median (s)", f"{forecast['api_s']:.3f}", f"<= {limit:g}",
        forecast["api_s"] <= limit)
    for label, value in results["cli"].items():
        if "--help" in label:
            add(f"start-up: {label} median (s)", f"{value['median_s']:.3f}", f"<= {CLI_S:g}", value["median_s"] <= CLI_S)
    problems = results.get("load_problems") or []
    add("bulk rows identical to what the service layer writes (spot checks)",
        "yes" if not problems else f"{len(problems)} differences", "yes", not problems)
    discovery = results["plugin_discovery"]
    add(f"plugin discovery calls during {discovery['requests']} requests", str(discovery["total"]), "0",
        discovery["total"] == 0)
    return rows


def print_summary(results, target):
    rows = results["checks"]
    print()
    print(f"Accord API benchmark: {results['engine']} ({results['database_url']}), {results['rows']:,} contacts "
          f"and deals, Python {results['python']}, SQLAlchemy {results['sqlalchemy']}, {results['cpus']} CPUs, "
          f"commit {results.get('git_commit', '?')}")
    print_checks(rows)
    reads = results["reads"]
    print()
    print("the database's share (the API's own SQL replayed on the raw driver, p50 / p95 ms):")
    for name in ("list_first", "list_deep", "filter_custom", "search", "deals_list"):
        r = reads[name]
        print(f"  {name:<14} {r['db_only']['p50_ms']:8.3f} / {r['db_only']['p95_ms']:8.3f}   "
              f"(API {r['api']['p50_ms']:.2f} / {r['api']['p95_ms']:.2f})")
    print(f"search q={reads['search']['url'].split('q=')[1]} matches {reads['search']['matching_entries']:,} entries")
    print("create without the flush at commit (CPU share only; informational):")
    for key, label in (("create_empty_no_flush", "empty database"), ("create_loaded_no_flush", f"{results['rows']:,} rows")):
        r = results[key]
        print(f"  {label:<16} API p50 {r['api']['p50_ms']:.2f} ms vs bare {r['bare']['p50_ms']:.2f} ms -> x{r['ratio_p50']}"
              f" (vs bare + search entry {r['bare_with_search_entry']['p50_ms']:.2f} ms -> "
              f"x{r['ratio_p50_vs_bare_with_search_entry']})")
    for key, label in (("create_empty", "empty database"), ("create_loaded", f"{results['rows']:,} rows")):
        r = results[key]
        print(f"create with the flush, vs bare insert + search entry + commit: {label}: "
              f"x{r['ratio_p50_vs_bare_with_search_entry']} ({r['bare_with_search_entry']['p50_ms']:.2f} ms)")
    print("list query plan (first page): " + " | ".join(reads["list_first"]["plan"])[:400])
    print(f"load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']} "
          f"(other work on the machine skews wall-clock figures; cpu_mean_ms in the JSON is this process's CPU)")
    print_outcome(rows, target, results["reproduce"])


if __name__ == "__main__":
    sys.exit(main())
