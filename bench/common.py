"""What the benchmark scripts (``bench/api.py``, ``bench/plugins.py``) share: database URLs
and resets, making and disposing of an app, the guard against the test database,
interleaved timing, the run's environment and the summary's check table.

Imported by the scripts as ``from common import ...`` (a script's own folder is on
``sys.path``). It imports only the standard library at module level, so that importing it
costs a start-up measurement nothing; SQLAlchemy and Accord are imported where used.
"""

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout the benchmarks belong to

# ---------------------------------------------------------------------------------------
# Databases and apps
# ---------------------------------------------------------------------------------------


def engine_name(url):
    return "postgresql" if url.startswith("postgresql") else "sqlite"


def safe_url(url):
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url):
    from sqlalchemy.engine import make_url

    return Path(make_url(url).database)


def refuse_test_database(url):
    """Exit when the PostgreSQL database of ``url`` is named ``test`` or is the one in
    ``ACCORD_TEST_DATABASE_URL``: a benchmark drops its schema."""
    from sqlalchemy.engine import make_url

    from accord.core.config import _normalise_database_url

    test_url = os.environ.get("ACCORD_TEST_DATABASE_URL")
    name = make_url(url).database
    if name == "test" or (test_url and make_url(_normalise_database_url(test_url)).database == name):
        sys.exit(f"refusing to drop the schema of the test database {name!r}; "
                 "create one for the benchmark (createdb accord_bench) or pass --allow-any-database")


def reset_database(url):
    """An empty database at ``url`` (schema dropped on PostgreSQL, file removed on SQLite)."""
    from sqlalchemy import create_engine, text

    if engine_name(url) == "sqlite":
        path = sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            candidate = Path(str(path) + suffix)
            if candidate.exists():
                candidate.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def ensure_postgres_database(url):
    """Create the database of ``url`` if it is missing (connects to the ``postgres`` database)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def make_app(url, instance, durable=True, plugins=None):
    """An app on ``url`` with the product's default settings (``instance`` is created if
    missing). ``durable=False`` turns off the flush to disk at commit (SQLite
    ``synchronous=OFF``, PostgreSQL ``synchronous_commit=off``) to see a save's cost
    without the disk's share. ``plugins``, when given, is the ``PLUGINS`` setting (the
    static plugins), in place of any from ``ACCORD_PLUGINS``."""
    from accord.core import create_app

    instance.mkdir(parents=True, exist_ok=True)
    config = {"INSTANCE_PATH": str(instance), "DATABASE_URL": url}
    if plugins is not None:
        config["PLUGINS"] = tuple(plugins)
    if not durable and engine_name(url) == "sqlite":
        config["SQLITE_SYNCHRONOUS"] = "OFF"
    app = create_app(config)
    if not durable and engine_name(url) == "postgresql":
        from sqlalchemy import event

        from accord.core.db import db

        with app.app_context():
            engine = db.engine
            engine.dispose()

        @event.listens_for(engine, "connect")
        def _no_flush(dbapi_connection, record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
            dbapi_connection.commit()

    return app


def dispose(app):
    from accord.core.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------


class Samples(list):
    """Wall-clock timings, plus the mean CPU time of this process per call."""

    def __init__(self, timings, cpu_mean):
        super().__init__(timings)
        self.cpu_mean = cpu_mean


def interleaved(functions, n, warmup, reverse_every_other=False):
    """Time each of ``functions`` ``n`` times (after ``warmup`` untimed rounds), alternating
    them so drift hits all alike; with ``reverse_every_other``, in reverse order every other
    round (a commit right after another's can wait on the same log flush). Returns one
    :class:`Samples` per function."""
    for _ in range(warmup):
        for fn in functions:
            fn()
    timings = [[] for _ in functions]
    cpu = [0.0 for _ in functions]
    perf, process = time.perf_counter, time.process_time
    slots = list(enumerate(functions))
    for round_ in range(n):
        for slot, fn in (slots[::-1] if reverse_every_other and round_ % 2 else slots):
            c = process()
            t = perf()
            fn()
            timings[slot].append(perf() - t)
            cpu[slot] += process() - c
    return [Samples(t, c / n) for t, c in zip(timings, cpu)]


# ---------------------------------------------------------------------------------------
# The run and its summary
# ---------------------------------------------------------------------------------------


def run_environment():
    """The versions and the machine a run's figures belong to (keys of its JSON)."""
    import sqlalchemy

    import accord

    return {
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__, "accord": getattr(accord, "__version__", "?"),
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit(status_args):
    """The checkout's short commit, plus ``+uncommitted changes`` when ``git status
    --porcelain`` with ``status_args`` lists anything; ``None`` when git cannot run."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", *status_args], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return commit + ("+uncommitted changes" if dirty else "")


def print_checks(rows):
    """The summary's table: metric, measured, target and PASS/FAIL, a row per check."""
    width = max(len(r["metric"]) for r in rows)
    mwidth = max(len(r["measured"]) for r in rows)
    twidth = max(len(r["target"]) for r in rows)
    print(f"{'metric':<{width}}  {'measured':<{mwidth}}  {'target':<{twidth}}  result")
    print(f"{'-' * width}  {'-' * mwidth}  {'-' * twidth}  ------")
    for r in rows:
        print(f"{r['metric']:<{width}}  {r['measured']:<{mwidth}}  {r['target']:<{twidth}}  {'PASS' if r['pass'] else 'FAIL'}")


def print_outcome(rows, target, reproduce):
    """The summary's last lines: checks passed and failed, where the figures went, and the
    command that reproduces the run."""
    passed = sum(r["pass"] for r in rows)
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    print(f"\n{passed} passed, {len(rows) - passed} failed  (figures: {shown})")
    print(f"reproduce: {reproduce}")
