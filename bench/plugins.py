#!/usr/bin/env python3
"""Plugin benchmark: start-up with 20 installed plugins, the cost of record hooks on a
save, and the per-request check of which plugins are enabled.

SQLite by default; PostgreSQL when ``--database-url`` or ``ACCORD_BENCH_DATABASE_URL`` is
set. It generates 20 synthetic plugin packages (a manifest, a record type with its own
table and migration, a blueprint, registration and record hooks) plus a dist-info folder
with their entry points in ``bench/results/plugins-<engine>/site/`` (removed at the end
unless ``--keep``), put on ``sys.path``, enables them with the built-in plugins, and
measures:

1. start-up, in fresh subprocesses: ``import accord.core`` + ``create_app`` + the first
   request, and ``create_app`` alone (median of ``--runs``);
2. a contact save with 10 plugins implementing ``accord_record_validate``,
   ``accord_record_before_save`` and ``accord_record_after_commit`` against the same
   save with no plugin enabled, interleaved in one run (median of ``--saves``);
3. what a request pays to learn the enabled plugins: ``catalog()`` on a fresh ``g`` at
   an unchanged generation, and a plugin's route against an identical core-style route.

It prints each figure with its target and the command that reproduces it, and writes the
figures to ``bench/results/plugins-<engine>.json``. See ``bench/README.md``.
"""

import argparse
import importlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import (dispose, engine_name, ensure_postgres_database, git_commit, interleaved, make_app, print_checks,
                    print_outcome, refuse_test_database, reset_database, run_environment, safe_url)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ENV_URL = "ACCORD_BENCH_DATABASE_URL"

START_S = 1.0
HOOK_RATIO = 1.15
CHECK_MS = 0.2

SYNTHETIC = 20
HOOKED = 10
DIST = "accord_bench_plugins-1.0.dist-info"
CORE_STYLE = "accord_bench_core_style"
ADMIN_EMAIL, ADMIN_PASSWORD = "bench@example.com", "bench-password"

# ---------------------------------------------------------------------------------------
# Synthetic plugins
# ---------------------------------------------------------------------------------------

PLUGIN_INIT = '''\
"""Synthetic plugin {number} of bench/plugins.py: a record type, a blueprint, a
permission, navigation, and the three record hooks with trivial bodies."""

from flask import Blueprint
from sqlalchemy import text

from accord.core import RecordInvalid, db, hookimpl

from .models import Item

KEY = "{name}_item"
routes = Blueprint("{name}", __name__, url_prefix="/{slug}")


@routes.get("/ping")
def ping():
    return {{"ok": True}}


@routes.get("/ping-db")
def ping_db():
    return {{"ok": db.session.execute(text("SELECT 1")).scalar() == 1}}


@hookimpl
def accord_record_types(app):
    return [Item]


@hookimpl
def accord_blueprints(app):
    return [routes]


@hookimpl
def accord_navigation(app):
    return [{{"label": "Bench {number}", "url": "/{slug}", "order": {order}}}]


@hookimpl
def accord_record_validate(app, record_type, values, record, actor):
    if record_type.key == KEY and (values.get("amount") or 0) < 0:
        raise RecordInvalid({{"amount": ["Must not be negative."]}})


@hookimpl
def accord_record_before_save(app, record, changes, event, actor):
    if record.type.key == KEY and event == "create" and record["level"] is None:
        record["level"] = "low"


@hookimpl
def accord_record_after_commit(app, record, changes, event, actor):
    if record.type.key == KEY and event == "delete":
        return None
    return None
'''

PLUGIN_MODELS = '''\
from accord.core import RecordColumns, RecordTypeOptions, db, live_indexes, record_field


class Item(RecordColumns, db.Model):
    __tablename__ = "{name}_item"
    __accord__ = RecordTypeOptions(
        key="{name}_item", label="Bench {number} item", plural_label="Bench {number} items",
        plural="{slug}-items", title_fields=("title",),
    )
    __table_args__ = live_indexes("{name}_item")

    title = record_field("text", required=True, searchable=True, max_length=200)
    amount = record_field("integer")
    level = record_field("choice", choices=("low", "high"))
    note = record_field("long_text")
'''

PLUGIN_MIGRATION = '''\
"""The item table of {name}.

Revision ID: {name}_0001
"""
from alembic import op

revision = "{name}_0001"
down_revision = None
branch_labels = ("{name}",)
depends_on = None


def upgrade():
    from {package}.models import Item

    Item.__table__.create(op.get_bind())


def downgrade():
    op.drop_table("{name}_item")
'''

PLUGIN_TOML = '''\
name = "{name}"
version = "1.0.0"
title = "Bench plugin {number}"
summary = "A synthetic plugin of bench/plugins.py."
accord = ">=0.1"
hook_contract = 1

[permissions]
"{name}.item.approve" = "Approve items"

[settings.threshold]
kind = "integer"
default = 3
min = 0
'''

CORE_STYLE_MODULE = '''\
"""A static plugin (the PLUGINS setting, as the core's own routes are) whose blueprint has
the same trivial views as the synthetic plugins' /ping and /ping-db: the baseline of
figure 3."""

from flask import Blueprint
from sqlalchemy import text

from accord.core import db, hookimpl

name = "bench_core_style"
routes = Blueprint("bench_core_style", __name__, url_prefix="/bench-core-style")


@routes.get("/ping")
def ping():
    return {"ok": True}


@routes.get("/ping-db")
def ping_db():
    return {"ok": db.session.execute(text("SELECT 1")).scalar() == 1}


@hookimpl
def accord_blueprints(app):
    return [routes]
'''


def plugin_names(count=SYNTHETIC):
    return [f"bench_p{i:02d}" for i in range(1, count + 1)]


def write_plugins(site, count=SYNTHETIC):
    """``count`` plugin packages and the dist-info that lists them as entry points."""
    site.mkdir(parents=True, exist_ok=True)
    entry_points = ["[accord.plugins]"]
    for number, name in enumerate(plugin_names(count), start=1):
        package = f"accord_{name}"
        slug = name.replace("_", "-")
        folder = site / package
        (folder / "migrations").mkdir(parents=True)
        fill = {"name": name, "number": f"{number:02d}", "slug": slug, "package": package, "order": 100 + number}
        (folder / "__init__.py").write_text(PLUGIN_INIT.format(**fill))
        (folder / "models.py").write_text(PLUGIN_MODELS.format(**fill))
        (folder / "plugin.toml").write_text(PLUGIN_TOML.format(**fill))
        (folder / "migrations" / f"0001_{name}_item.py").write_text(PLUGIN_MIGRATION.format(**fill))
        entry_points.append(f"{name} = {package}")
    dist = site / DIST
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: accord-bench-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("\n".join(entry_points) + "\n")
    (site / f"{CORE_STYLE}.py").write_text(CORE_STYLE_MODULE)


# ---------------------------------------------------------------------------------------
# Databases and apps
# ---------------------------------------------------------------------------------------


def drop_postgres(url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    server.dispose()


def prepare(app, enable=()):
    """Migrate, make the administrator, switch on ``enable``; returns (admin id, token)."""
    from accord.core.accounts import ensure_admin
    from accord.core.lifecycle import enable as enable_plugin
    from accord.core.migrate import upgrade
    from accord.core.tokens import create_token

    upgrade(app)
    with app.app_context():
        user, _ = ensure_admin(ADMIN_EMAIL, ADMIN_PASSWORD, "Bench")
        token = create_token(user, name="bench")
        for name in enable:
            enable_plugin(name, by="bench")
        return user.id, token


# ---------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------


def median_ms(samples):
    return round(statistics.median(samples) * 1000, 4)


def startup_child(spec):
    """Runs in a fresh interpreter (the synthetic plugins on PYTHONPATH): time the import,
    ``create_app`` and the first request, and print them as JSON."""
    spec = json.loads(spec)
    perf = time.perf_counter
    c0 = time.process_time()
    t0 = perf()
    from accord.core import create_app

    t1 = perf()
    app = create_app({"INSTANCE_PATH": spec["instance"], "DATABASE_URL": spec["url"]})
    t2 = perf()
    response = app.test_client().get("/api/v1/types", headers={"Authorization": f"Bearer {spec['token']}"})
    t3 = perf()
    cpu = time.process_time() - c0
    if response.status_code != 200:
        raise SystemExit(f"GET /api/v1/types answered {response.status_code}: {response.data[:300]!r}")
    accord = app.extensions["accord"]
    with app.test_request_context():
        active = len(accord.catalog().active_plugins)
    print(json.dumps({"import_s": t1 - t0, "create_app_s": t2 - t1, "first_request_s": t3 - t2, "cpu_s": cpu,
                      "types": len(response.get_json()["data"]), "installed": len(accord.installed),
                      "active": active}))


def measure_startup(variants, runs, log):
    """Medians of ``runs`` fresh interpreters per variant (see :func:`startup_child`), the
    variants alternating so that other work on the machine hits them alike. Each variant
    is ``(label, url, instance, token, site)``; ``site`` (the synthetic plugins) goes first
    on the child's ``PYTHONPATH``, or nothing when ``None``."""
    commands = []
    for label, url, instance, token, site in variants:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site) if site else None, env.get("PYTHONPATH")]))
        spec = json.dumps({"url": url, "instance": str(instance), "token": token})
        commands.append((label, [sys.executable, str(Path(__file__).resolve()), "--startup-child", spec], env))
    samples = {label: [] for label, _, _ in commands}
    for run in range(runs + 1):  # the first round writes the synthetic plugins' .pyc files; not counted
        for label, command, env in commands:
            t = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd="/")
            wall = time.perf_counter() - t
            if done.returncode != 0:
                raise RuntimeError(f"start-up child failed: {done.stderr[-2000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            figures["process_wall_s"] = wall
            figures["import_create_first_request_s"] = (figures["import_s"] + figures["create_app_s"]
                                                        + figures["first_request_s"])
            if run:
                samples[label].append(figures)
    results = {}
    for label, command, env in commands:
        taken = samples[label]
        out = {key: round(statistics.median(s[key] for s in taken), 4)
               for key in ("import_s", "create_app_s", "first_request_s", "import_create_first_request_s",
                           "cpu_s", "process_wall_s")}
        out["max_import_create_first_request_s"] = round(max(s["import_create_first_request_s"] for s in taken), 4)
        out.update(runs=runs, types=taken[0]["types"], installed=taken[0]["installed"], active=taken[0]["active"],
                   command=f"PYTHONPATH={shlex.quote(env['PYTHONPATH'])} {shlex.join(command)}")
        log(f"  {label}: import {out['import_s']:.3f} s + create_app {out['create_app_s']:.3f} s + first request "
            f"{out['first_request_s']:.3f} s = {out['import_create_first_request_s']:.3f} s, CPU {out['cpu_s']:.3f} s "
            f"(medians of {runs}); {out['active']} plugins active of {out['installed']} installed, "
            f"{out['types']} record types")
        results[label] = out
    return results


def hook_counts(app):
    names = ("accord_record_validate", "accord_record_before_save", "accord_record_after_commit")
    accord = app.extensions["accord"]
    with app.test_request_context():
        hook = accord.catalog().pm.hook
        return {name: sum(1 for impl in getattr(hook, name).get_hookimpls() if impl.plugin_name.startswith("bench_p"))
                for name in names}


def measure_saves(pairs, n, warmup, log):
    """For each ``(label, with_hooks, without)`` pair of ``(app, admin id, token)``: the
    median of a contact save through the service layer (fresh request context each) and
    through ``POST /api/v1/contacts``, both apps interleaved."""
    from accord.core.records import Actor

    out = {}
    counter = iter(range(10**9))
    for label, hooked, bare in pairs:
        savers = {}
        for side, (app, admin_id, token) in (("with", hooked), ("without", bare)):
            accord = app.extensions["accord"]
            actor = Actor(user_id=admin_id, source="bench", is_admin=True, name="Bench")
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            def service(app=app, records=accord.records, actor=actor):
                with app.test_request_context():
                    records.create("contact", {"first_name": "Ada", "last_name": f"Bench {next(counter)}",
                                               "email": f"ada{next(counter)}@example.com"}, actor)

            def api(client=client, headers=headers):
                body = json.dumps({"first_name": "Ada", "last_name": f"Bench {next(counter)}",
                                   "email": f"ada{next(counter)}@example.com"})
                response = client.post("/api/v1/contacts", data=body, headers=headers)
                if response.status_code != 201:
                    raise RuntimeError(f"create answered {response.status_code}: {response.data[:300]!r}")

            savers[side] = (service, api)
        result = {"hooks_with": hook_counts(hooked[0]), "hooks_without": hook_counts(bare[0])}
        for index, way in ((0, "service"), (1, "api")):
            with_t, without_t = interleaved([savers["with"][index], savers["without"][index]], n, warmup,
                                            reverse_every_other=True)
            ratio = statistics.median(with_t) / statistics.median(without_t)
            result[way] = {"with_ms": median_ms(with_t), "without_ms": median_ms(without_t), "ratio": round(ratio, 3),
                           "n": n}
            log(f"  save ({label}, {way}): {HOOKED} hooked plugins {result[way]['with_ms']:.3f} ms vs none "
                f"{result[way]['without_ms']:.3f} ms -> x{ratio:.3f}")
        out[label] = result
    return out


def measure_check(app, core_style_app, n, log):
    """Figure 3: ``catalog()`` on a fresh ``g`` at an unchanged generation (with the
    generation carried by the token lookup, as API requests have it, and without, when it
    costs a query of its own), and a plugin's routes against identical routes of a static
    plugin, which the enabled-state gate skips as it skips the core's."""
    from flask import g
    from sqlalchemy import select

    from accord.core.db import db
    from accord.core.registry import current_generation

    accord = app.extensions["accord"]
    with app.app_context():
        generation = db.session.execute(select(current_generation())).scalar_one()
    perf = time.perf_counter

    def catalog_call(carried):
        def call():
            with app.test_request_context("/api/v1/types"):
                if carried:
                    g.accord_generation = generation
                t = perf()
                catalog = accord.catalog()
                elapsed = perf() - t
            if catalog.generation != generation:
                raise RuntimeError("the generation moved during the measurement")
            return elapsed
        return call

    carried, uncarried = catalog_call(True), catalog_call(False)
    for _ in range(50):
        carried(), uncarried()
    carried_t, uncarried_t = [], []
    for _ in range(n):
        carried_t.append(carried())
        uncarried_t.append(uncarried())
    with app.test_request_context():
        active = len(accord.catalog().active_plugins)

    plugin_client, core_client = app.test_client(), core_style_app.test_client()

    def getter(client, url):
        def call():
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
        return call

    out = {"active_plugins": active, "n": n,
           "catalog_generation_carried_ms": median_ms(carried_t),
           "catalog_generation_queried_ms": median_ms(uncarried_t)}
    for view, label in (("ping", "a view without SQL"), ("ping-db", "a view running SELECT 1")):
        plugin_t, core_t = interleaved([getter(plugin_client, f"/bench-p01/{view}"),
                                        getter(core_client, f"/bench-core-style/{view}")], n, 50,
                                       reverse_every_other=True)
        out[view] = {"plugin_route_ms": median_ms(plugin_t), "core_style_route_ms": median_ms(core_t),
                     "difference_ms": round(median_ms(plugin_t) - median_ms(core_t), 4)}
        log(f"  GET /bench-p01/{view} {out[view]['plugin_route_ms']:.3f} ms vs the identical core-style route "
            f"{out[view]['core_style_route_ms']:.3f} ms -> {out[view]['difference_ms']:+.3f} ms ({label})")
    log(f"  catalog() on a fresh g, generation unchanged: carried by the token lookup "
        f"{out['catalog_generation_carried_ms']:.4f} ms, read by its own query "
        f"{out['catalog_generation_queried_ms']:.4f} ms ({active} plugins active)")
    return out


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL),
                        help=f"PostgreSQL database to use (its schema is dropped; else ${ENV_URL}, "
                             "else SQLite files under bench/results/)")
    parser.add_argument("--runs", type=int, default=10, help="start-up subprocess runs (plus one not counted)")
    parser.add_argument("--saves", type=int, default=300, help="timed saves per side and way")
    parser.add_argument("--warmup", type=int, default=20, help="untimed saves per side and way first")
    parser.add_argument("--checks", type=int, default=2000, help="timed catalog() calls and route requests each")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the figures (default bench/results/plugins-<engine>.json)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated plugins and databases (under bench/results/plugins-<engine>/)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="allow a PostgreSQL database named 'test' or the one in ACCORD_TEST_DATABASE_URL")
    parser.add_argument("--startup-child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def reproduce_command(args):
    parts = ["python3", "bench/plugins.py"]
    for flag, value, default in (("--runs", args.runs, 10), ("--saves", args.saves, 300),
                                 ("--warmup", args.warmup, 20), ("--checks", args.checks, 2000)):
        if value != default:
            parts += [flag, str(value)]
    if args.output:
        parts += ["--output", str(args.output)]
    if args.keep:
        parts.append("--keep")
    command = shlex.join(parts)
    if args.database_url:
        command += " --database-url " + shlex.quote(safe_url(args.database_url))
    return command


def main(argv=None):
    args = parse_args(argv)
    if args.startup_child:
        return startup_child(args.startup_child)
    started = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    from sqlalchemy.engine import make_url

    from accord.core.config import _normalise_database_url

    url = _normalise_database_url(args.database_url) if args.database_url else None
    engine = engine_name(url) if url else "sqlite"
    work = RESULTS / f"plugins-{engine}"
    if url and engine == "postgresql" and not args.allow_any_database:
        refuse_test_database(url)
    shutil.rmtree(work, ignore_errors=True)
    site = work / "site"
    write_plugins(site)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    if engine == "sqlite":
        main_url = f"sqlite:///{work / 'with-plugins' / 'accord.db'}"
        bare_url = f"sqlite:///{work / 'without-plugins' / 'accord.db'}"
    else:
        main_url = url
        parsed = make_url(url)
        bare_url = parsed.set(database=parsed.database + "_noplugins").render_as_string(hide_password=False)
        for database_url in (main_url, bare_url):
            ensure_postgres_database(database_url)
            reset_database(database_url)
    main_instance, bare_instance = work / "with-plugins", work / "without-plugins"
    log(f"engine {engine}: {safe_url(main_url)} (plugins enabled) and {safe_url(bare_url)} (none enabled); "
        f"{SYNTHETIC} synthetic plugins in {site}")

    results = {
        "engine": engine, "database_url": safe_url(main_url), "twin_database_url": safe_url(bare_url),
        "reproduce": reproduce_command(args), **run_environment(),
    }
    commit = git_commit(["--untracked-files=no"])
    if commit is not None:
        results["git_commit"] = commit

    apps = []
    try:
        main_app = make_app(main_url, main_instance, plugins=())
        apps.append(main_app)
        installed = main_app.extensions["accord"].installed
        builtin = sorted(n for n, p in installed.items() if p.distribution == "accord-crm")
        synthetic = plugin_names()
        broken = {n: p.problem for n, p in installed.items() if p.broken and n in builtin + synthetic}
        if broken:
            raise RuntimeError(f"plugins failed to load: {broken}")
        others = sorted(set(installed) - set(builtin) - set(synthetic))
        results["plugins"] = {"built_in": builtin, "synthetic": len(synthetic), "other_installed": others}
        log(f"built-in plugins (entry points of accord-crm): {len(builtin)} {builtin or ''}; "
            f"other installed plugins (not enabled): {others or 'none'}")
        main_admin, main_token = prepare(main_app, enable=builtin + synthetic)
        bare_app = make_app(bare_url, bare_instance, plugins=())
        apps.append(bare_app)
        bare_admin, bare_token = prepare(bare_app)
        log(f"prepared: {len(builtin) + len(synthetic)} plugins enabled (migrations run) on the first database")

        log(f"1. start-up in fresh subprocesses ({args.runs} runs)")
        with_label, without_label = "with the plugins", "without the synthetic plugins, none enabled"
        startups = measure_startup([(with_label, main_url, main_instance, main_token, site),
                                    (without_label, bare_url, bare_instance, bare_token, None)], args.runs, log)
        results["startup"], results["startup_without_plugins"] = startups[with_label], startups[without_label]

        log(f"3. the enabled-state check per request ({args.checks} calls each)")
        core_style_app = make_app(main_url, main_instance, plugins=(CORE_STYLE,))
        apps.append(core_style_app)
        results["check"] = measure_check(main_app, core_style_app, args.checks, log)

        from accord.core.lifecycle import disable

        with main_app.app_context():
            for name in synthetic[HOOKED:] + builtin:
                disable(name, by="bench")
        log(f"2. saves: {HOOKED} plugins with record hooks enabled vs none ({args.saves} saves per side, interleaved)")
        fast_main = make_app(main_url, main_instance, durable=False, plugins=())
        fast_bare = make_app(bare_url, bare_instance, durable=False, plugins=())
        apps += [fast_main, fast_bare]
        results["saves"] = measure_saves([
            ("durable", (main_app, main_admin, main_token), (bare_app, bare_admin, bare_token)),
            ("no flush", (fast_main, main_admin, main_token), (fast_bare, bare_admin, bare_token)),
        ], args.saves, args.warmup, log)
    finally:
        for app in apps:
            dispose(app)
        if engine == "postgresql":
            drop_postgres(bare_url)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["checks"] = checks(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = (args.output or RESULTS / f"plugins-{engine}.json").resolve()
    target.write_text(json.dumps(results, indent=2))
    print_summary(results, target)
    return 0 if all(row["pass"] for row in results["checks"]) else 1


def checks(results):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    s = results["startup"]
    plugins = f"{len(results['plugins']['built_in'])} built-in + {results['plugins']['synthetic']} synthetic plugins"
    add(f"1. start-up, import + create_app + first request, {plugins} (median s)",
        f"{s['import_create_first_request_s']:.3f}", f"<= {START_S:g}", s["import_create_first_request_s"] <= START_S)
    add(f"1. start-up, create_app alone, {plugins} (median s)", f"{s['create_app_s']:.3f}", f"<= {START_S:g}",
        s["create_app_s"] <= START_S)
    for way, label in (("service", "RecordService.create"), ("api", "POST /api/v1/contacts")):
        r = results["saves"]["durable"][way]
        add(f"2. contact save, {HOOKED} plugins x 3 record hooks / none ({label}, median)",
            f"{r['ratio']:.3f}x ({r['with_ms']:.2f} vs {r['without_ms']:.2f} ms)", f"<= {HOOK_RATIO:g}x",
            r["ratio"] <= HOOK_RATIO)
    hooks = results["saves"]["durable"]
    firing, idle = sum(hooks["hooks_with"].values()), sum(hooks["hooks_without"].values())
    add("2. hook implementations firing (with / without)", f"{firing} / {idle}", f"{HOOKED * 3} / 0",
        firing == HOOKED * 3 and idle == 0)
    c = results["check"]
    add("3. catalog() per request, generation carried by the token lookup (median ms)",
        f"{c['catalog_generation_carried_ms']:.4f}", f"<= {CHECK_MS:g}", c["catalog_generation_carried_ms"] <= CHECK_MS)
    for view, label in (("ping", "no SQL in the view"), ("ping-db", "the view runs SELECT 1")):
        r = c[view]
        add(f"3. plugin route - identical core-style route, {label} (median ms)",
            f"{r['difference_ms']:.4f} ({r['plugin_route_ms']:.3f} vs {r['core_style_route_ms']:.3f})",
            f"<= {CHECK_MS:g}", r["difference_ms"] <= CHECK_MS)
    return rows


def print_summary(results, target):
    rows = results["checks"]
    print()
    print(f"Accord plugin benchmark: {results['engine']} ({results['database_url']}), Python {results['python']}, "
          f"SQLAlchemy {results['sqlalchemy']}, {results['cpus']} CPUs, commit {results.get('git_commit', '?')}")
    print_checks(rows)
    s, c = results["startup"], results["check"]
    print()
    print(f"start-up medians: import {s['import_s']:.3f} s, create_app {s['create_app_s']:.3f} s, first request "
          f"{s['first_request_s']:.3f} s (CPU {s['cpu_s']:.3f} s); whole process (interpreter start to exit) "
          f"{s['process_wall_s']:.3f} s; "
          f"slowest run {s['max_import_create_first_request_s']:.3f} s; {s['active']} active of {s['installed']} "
          f"installed, {s['types']} record types")
    b = results["startup_without_plugins"]
    enabled = results["plugins"]["synthetic"] + len(results["plugins"]["built_in"])
    per_plugin = (s["import_create_first_request_s"] - b["import_create_first_request_s"]) / enabled
    print(f"without the synthetic plugins, none enabled: import {b['import_s']:.3f} s, create_app "
          f"{b['create_app_s']:.3f} s, first request {b['first_request_s']:.3f} s, together "
          f"{b['import_create_first_request_s']:.3f} s (CPU {b['cpu_s']:.3f} s); "
          f"about {per_plugin * 1000:.1f} ms per enabled plugin")
    print(f"catalog() when the generation costs its own query (non-API routes): "
          f"{c['catalog_generation_queried_ms']:.4f} ms median")
    r = results["saves"]["no flush"]
    print(f"saves without the flush at commit (CPU share; informational): service x{r['service']['ratio']:.3f} "
          f"({r['service']['with_ms']:.2f} vs {r['service']['without_ms']:.2f} ms), API x{r['api']['ratio']:.3f} "
          f"({r['api']['with_ms']:.2f} vs {r['api']['without_ms']:.2f} ms)")
    print(f"load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']}; "
          f"took {results['seconds']} s")
    print_outcome(rows, target, results["reproduce"])


if __name__ == "__main__":
    sys.exit(main())
