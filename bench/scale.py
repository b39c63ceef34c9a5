#!/usr/bin/env python3
"""Scale benchmark: Accord's API served as in production, under concurrent HTTP load, next
to a plain Flask + SQLAlchemy app doing the same queries in the same run.

PostgreSQL only. Loads ``--rows`` contacts and as many deals (the bulk loader of
``bench/common.py``; a kept database is reused with ``--keep``), then starts two servers
on loopback against that database:

* Accord: ``accord serve --workers 2 --threads 4`` (gunicorn, gthread), production
  settings, JSON access log to ``bench/results/scale-accord-server.log``;
* the baseline: ``bench/baseline_app.py`` (Flask + Flask-SQLAlchemy, no authentication,
  no validation, no hooks, no access log; the same SQL: the list's SELECT, the create's
  INSERT and search-entry upsert) under gunicorn with the same workers, threads and worker
  class, log to ``bench/results/scale-baseline-server.log``.

and drives both with wrk (2 threads, ``--connections`` connections, ``--duration`` seconds
per measurement, at most 30), interleaved: Accord ``GET /api/v1/contacts?limit=50``,
baseline GET, Accord ``POST /api/v1/contacts``, baseline POST, for ``--rounds`` rounds. It
prints requests/s (median of the rounds), latency p50/p99, CPU per request of each
server, of PostgreSQL and of wrk, and the ratios Accord / baseline against the target
(>= 0.7), plus the command that reproduces the run, and writes the figures to
``bench/results/scale-postgresql.json``. The exit status is 0 only when every check passes.

The script is made of sections (``--section``), each with its own options, measurement,
checks and report; ``http`` is the one above. ``jobs`` times no-op jobs (``bench/noop_jobs.py``)
through one ``accord worker`` on Celery over Redis (target >= 500 jobs/s); ``webhooks``
times webhook deliveries after commit at a steady 50 contact creates per second (target
p95 <= 1 s). Both use ``--broker-url`` (a Redis database, flushed at their start).

Run ``python3 bench/scale.py --help`` for the options; see ``bench/load.md``.
"""

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections import namedtuple
from pathlib import Path

from common import (load_afresh, RESULTS, ROOT, StatementLog, dispose, engine_name, ensure_postgres_database,
                    git_commit, json_default, loaded_state, make_app, marker_path, pct, prepare_schema, print_checks,
                    print_outcome, refuse_test_database, run_environment, safe_url)
from noop_jobs import NOOP_JOB

ENV_URL = "ACCORD_BENCH_DATABASE_URL"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/accord_bench_scale"
INSTANCE = RESULTS / "instance-scale-postgresql"  # the servers' ACCORD_INSTANCE_PATH (secret key, metrics)
MAX_DURATION = 30.0  # the issue bounds each load-tool run to 30 s

RATIO_TARGET = 0.7  # Accord's requests/s over the baseline's, list and create
LIST_PATH = "/api/v1/contacts?limit=50"
CREATE_PATH = "/api/v1/contacts"
CREATE_DOMAIN = "bench-scale.example"  # e-mail domain of the contacts the create measurements add (and remove)
WRK_THREADS = 2
WRK_TIMEOUT = "10s"  # a slower answer counts as a socket error (timeout)
READY_SECONDS = 60
STOP_SECONDS = 30
SIDES = ("accord", "baseline")
SIDE_LABELS = {"accord": "Accord", "baseline": "baseline"}
KINDS = {"list": f"GET {LIST_PATH}", "create": f"POST {CREATE_PATH}"}

WHAT_EACH_SIDE_DOES = {
    "accord": [
        "accord serve (gunicorn gthread, production settings, JSON access line per request to its log file, "
        "request id, metrics, embedded job runner with its default threads)",
        "every request: bearer-token lookup (1 SQL statement joining the token, its user and the schema "
        "generation), then the catalog of record types and fields (cached per process, checked against the "
        "generation)",
        "GET: parse and check the list arguments, the keyset query (same SQL as the baseline's), each row "
        "straight to its JSON by the field kinds with the role's hidden fields emptied, the cursor; JSON "
        "columns decoded and the page encoded with orjson",
        "POST: parse and validate every field by its kind (required, lengths, e-mail, choices, custom "
        "fields), record hooks (validate, before_save, after_commit), INSERT of the row, upsert of its search "
        "entry, 201 with Location and ETag",
    ],
    "baseline": [
        "bench/baseline_app.py under gunicorn with the same workers, threads, worker class and engine pool "
        "options (pool_pre_ping, pool_size 10); no authentication, no access log",
        "GET: the same SELECT (same columns, WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC "
        "LIMIT 51), rows as the same flat JSON objects, the same cursor text; JSON through the standard "
        "library (psycopg's and Flask's defaults)",
        "POST: the body's columns and custom fields as they come (no validation), one INSERT ... RETURNING, "
        "the same search-entry upsert as Accord's, commit, 201 with the row as JSON; no hooks",
    ],
}


# ---------------------------------------------------------------------------------------
# The database
# ---------------------------------------------------------------------------------------


def open_database(args, url, log):
    """The bench database with ``--rows`` contacts and deals: a kept one that matches is
    reused, else it is loaded. Returns ``(setup, load seconds or None)``; ``setup`` holds
    the bench user's new API token and id (``common.prepare_schema``)."""

    ensure_postgres_database(url)
    app = make_app(url, INSTANCE)
    remove_created(app)
    if loaded_state(app, args.rows, url):
        log(f"reusing the kept database ({args.rows:,} contacts and deals already there)")
        setup = prepare_schema(app)
        dispose(app)
        return setup, None
    log("no kept database matches (none yet, another --rows, or the schema changed since): loading")
    app, setup, seconds = load_afresh(app, url, INSTANCE, args.rows, args.batch, log)
    dispose(app)
    return setup, seconds


def remove_created(app):
    """Delete the contacts the create measurements added (and their search entries), then
    VACUUM ANALYZE the two tables: the new rows are the newest, so their dead index
    entries would sit at the head of the list order. Returns how many were deleted."""
    from accord.core.db import db
    from sqlalchemy import inspect, text

    with app.app_context():
        if not inspect(db.engine).has_table("contact"):
            return 0
        pattern = {"d": f"%@{CREATE_DOMAIN}"}
        db.session.execute(text("DELETE FROM search_entry WHERE record_type = 'contact' AND record_id IN "
                                "(SELECT id FROM contact WHERE email LIKE :d)"), pattern)
        deleted = db.session.execute(text("DELETE FROM contact WHERE email LIKE :d"), pattern).rowcount
        db.session.commit()
        db.session.remove()
        if deleted:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE contact"))
                conn.execute(text("VACUUM ANALYZE search_entry"))
    return deleted


# ---------------------------------------------------------------------------------------
# Servers and the CPU they use
# ---------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**settings):
    """This process's environment without ``ACCORD_*`` (a shell's settings must not change
    what is measured), plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORD_")}
    env.update({name: str(value) for name, value in settings.items()})
    return env


def accord_command():
    """The ``accord`` console script of this interpreter's environment, else the module."""
    script = Path(sys.executable).parent / "accord"
    return [str(script)] if script.exists() else [sys.executable, "-m", "accord.cli"]


class Server:
    """A server process on loopback, its output in a log file, stopped with SIGTERM."""

    def __init__(self, name, command, port, env, log_path, ready_path):
        self.name, self.command, self.port, self.env = name, command, port, env
        self.log_path, self.ready_path = log_path, ready_path
        self.process = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=log_file,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self):
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                status, _ = http_json("GET", self.base + self.ready_path, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready on {self.ready_path} within {READY_SECONDS} s: "
                                   f"{self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def error_lines(self):
        """The log's records at level ERROR or above, each shortened to its message and the
        last line of its traceback (JSON lines of ``accord serve``, gunicorn's text lines)."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if "[ERROR]" in line or "[CRITICAL]" in line:
                    found.append(line.strip())
                continue
            if isinstance(entry, dict) and entry.get("level") in ("ERROR", "CRITICAL"):
                cause = (entry.get("exception") or "").strip().splitlines()[-1:]
                found.append(" / ".join([entry.get("message", ""), *cause]))
        return found

    def cpu_seconds(self):
        """CPU time of the server's process and its workers so far."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self):
        """SIGTERM (gunicorn finishes the requests in flight), a kill after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """``(parent pid, user + system CPU seconds)`` of a process from ``/proc``, or ``None``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu_seconds(root):
    """CPU seconds of ``root`` and every process under it (gunicorn's master and workers)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(entry.name)
            if found is not None:
                stats[int(entry.name)] = found
    children = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total


class DatabaseCpu:
    """CPU seconds of the PostgreSQL backends connected to the bench database (read from
    ``/proc``, so only when the server runs on this machine; else ``None``)."""

    def __init__(self, url):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.conn = self.engine.connect()

    def snapshot(self):
        from sqlalchemy import text

        pids = self.conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND pid <> pg_backend_pid()")).scalars().all()
        stats = {pid: _stat(pid) for pid in pids}
        if pids and all(s is None for s in stats.values()):
            return None
        return {pid: s[1] for pid, s in stats.items() if s is not None}

    @staticmethod
    def used(before, after):
        """CPU seconds between two snapshots (a backend that came and went in between is missed)."""
        if before is None or after is None:
            return None
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def close(self):
        self.conn.close()
        self.engine.dispose()


def http_json(method, url, headers=None, body=None, timeout=10):
    """``(status, parsed JSON or None)`` of one request; an error status is returned, not raised."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


# ---------------------------------------------------------------------------------------
# The load tool
# ---------------------------------------------------------------------------------------


WRK_DURATION = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
WRK_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
WRK_TOTAL = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.M)
WRK_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output):
    """requests, seconds, requests/s, latency percentiles (ms), non-2xx/3xx answers and
    socket errors from wrk's ``--latency`` report."""
    total = WRK_TOTAL.search(output)
    rate = WRK_RATE.search(output)
    if total is None or rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    socket_errors = WRK_SOCKET.search(output)
    non_2xx = WRK_NON_2XX.search(output)
    return {
        "requests": int(total.group(1)),
        "seconds": float(total.group(2)) * WRK_DURATION[total.group(3)] / 1000,
        "requests_per_s": float(rate.group(1)),
        "latency_ms": {f"p{q}": round(float(v) * WRK_DURATION[unit], 3) for q, v, unit in WRK_LATENCY.findall(output)},
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, socket_errors.groups()))) if socket_errors else {},
    }


POST_SCRIPT = """\
-- POST a new contact on every request (written by bench/scale.py). A last name and an
-- e-mail address unique to the run tag (wrk's argument after --), the thread and the
-- request; the domain marks the rows the benchmark deletes afterwards.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
local sent = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  tag = args[1] or "run"
end
function request()
  sent = sent + 1
  local last = string.format("Load-%s-%d-%d", tag, thread_number, sent)
  return wrk.format(nil, nil, nil, string.format('BODY', last, string.lower(last)))
end
"""
CREATE_BODY = {"first_name": "Ada", "last_name": "%s", "email": f"%s@{CREATE_DOMAIN}", "phone": "+1 555 200 3000",
               "job_title": "Buyer", "city": "Lisbon", "country": "Portugal", "tier": "gold", "score": 42,
               "newsletter": True}


def write_post_script(path):
    """The wrk Lua script of the create measurements: :data:`CREATE_BODY` with a new last
    name and e-mail address on every request."""
    body = json.dumps(CREATE_BODY, separators=(",", ":"))
    path.write_text(POST_SCRIPT.replace("BODY", body.replace("\\", "\\\\").replace("'", "\\'")))


def run_wrk(wrk, url, seconds, connections, headers=(), script=None, script_args=()):
    """One wrk run; returns its parsed report plus the CPU seconds wrk itself used."""
    command = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", WRK_TIMEOUT, "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    report = parse_wrk(done.stdout)
    report["wrk_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 3)
    return report


# ---------------------------------------------------------------------------------------
# Section "http": Accord's API against the plain Flask baseline
# ---------------------------------------------------------------------------------------


def add_http_options(parser):
    group = parser.add_argument_group("section http (Accord's API vs a plain Flask + SQLAlchemy app)")
    group.add_argument("--workers", type=positive, default=2, help="gunicorn workers of each server")
    group.add_argument("--threads", type=positive, default=4, help="threads per worker (gthread) of each server")
    group.add_argument("--connections", type=positive, default=16, help="wrk connections")
    group.add_argument("--duration", type=duration, default=10.0,
                       help=f"seconds of each measurement (at most {MAX_DURATION:g})")
    group.add_argument("--rounds", type=positive, default=2,
                       help="rounds of the four interleaved measurements; the median counts")
    group.add_argument("--warmup", type=duration, default=2.0,
                       help="seconds of untimed load per server and endpoint before the first round")
    group.add_argument("--wrk", default=shutil.which("wrk"), help="the wrk executable")
    group.add_argument("--profile", type=int, default=0, metavar="N",
                       help="also profile N requests per endpoint of each app in this process (Flask test client, "
                            "cProfile) and write the reports to bench/results/scale-profile-*.txt")


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def duration(text):
    value = float(text)
    if not 0 < value <= MAX_DURATION:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_DURATION:g} seconds")
    return value


def http_preflight(args):
    """Stop before loading anything when wrk is missing."""
    if not args.wrk or not Path(args.wrk).exists():
        sys.exit("wrk is not installed: apt-get install -y wrk (or pass --wrk /path/to/wrk)")
    if args.connections < WRK_THREADS:
        sys.exit(f"--connections must be at least {WRK_THREADS} (wrk's threads)")


def start_servers(args, url, setup):
    """Accord (``accord serve``) and the baseline (gunicorn ``baseline_app:app``) on free
    ports, not started yet."""
    accord_port, baseline_port = free_port(), free_port()
    accord = Server(
        "accord serve",
        [*accord_command(), "serve", "--workers", str(args.workers), "--threads", str(args.threads),
         "--port", str(accord_port)],
        accord_port, clean_environment(ACCORD_DATABASE_URL=url, ACCORD_INSTANCE_PATH=INSTANCE),
        RESULTS / "scale-accord-server.log", "/readyz")
    baseline = Server(
        "the baseline",
        [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT / "bench"), "--workers", str(args.workers),
         "--threads", str(args.threads), "--worker-class", "gthread" if args.threads > 1 else "sync",
         "--timeout", "60", "--graceful-timeout", "30", "--bind", f"127.0.0.1:{baseline_port}",
         "baseline_app:app"],
        baseline_port, clean_environment(BASELINE_DATABASE_URL=url, BASELINE_USER_ID=setup["admin_id"]),
        RESULTS / "scale-baseline-server.log", LIST_PATH.replace("50", "1"))
    return accord, baseline


def compare_answers(accord, baseline, token):
    """Whether the baseline answers what Accord answers: the same list page (every row,
    field and value, the cursor), and for the same create body the same fields and values
    but the id and the times. Returns the differences found."""
    problems = []
    auth = {"Authorization": f"Bearer {token}"}
    answers = {side: http_json("GET", server.base + LIST_PATH, headers=headers)
               for side, server, headers in (("accord", accord, auth), ("baseline", baseline, None))}
    for side, (status, _) in answers.items():
        if status != 200:
            problems.append(f"list: {side} answered {status}")
    if not problems and answers["accord"][1] != answers["baseline"][1]:
        a, b = answers["accord"][1], answers["baseline"][1]
        rows = [(x, y) for x, y in zip(a["data"], b["data"]) if x != y]
        if rows:
            detail = f"first differing row: Accord {rows[0][0]} / baseline {rows[0][1]}"
        else:
            detail = (f"{len(a['data'])} vs {len(b['data'])} rows, "
                      f"cursors {a['next_cursor']!r} / {b['next_cursor']!r}")
        problems.append(f"list: the pages differ; {detail}")
    body = {**CREATE_BODY, "last_name": "Compare", "email": f"compare@{CREATE_DOMAIN}"}
    created = {side: http_json("POST", server.base + CREATE_PATH, headers=headers, body=body)
               for side, server, headers in (("accord", accord, auth), ("baseline", baseline, None))}
    for side, (status, _) in created.items():
        if status != 201:
            problems.append(f"create: {side} answered {status}")
    if not any(p.startswith("create") for p in problems):
        volatile = {"id", "created_at", "updated_at"}
        a, b = ({k: v for k, v in created[side][1].items() if k not in volatile} for side in SIDES)
        if a != b:
            differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            problems.append(f"create: the answers differ in {differing}")
    return problems


def measure_once(args, seconds, server, kind, headers, database_cpu, post_script, tag):
    """One wrk run of ``seconds`` against ``server``, with the CPU its processes and the
    database's backends used meanwhile."""
    url = server.base + (LIST_PATH if kind == "list" else CREATE_PATH)
    cpu_before, db_before = server.cpu_seconds(), database_cpu.snapshot()
    report = run_wrk(args.wrk, url, seconds, args.connections, headers,
                     post_script if kind == "create" else None, (tag,) if kind == "create" else ())
    report["server_cpu_s"] = round(server.cpu_seconds() - cpu_before, 3)
    used = DatabaseCpu.used(db_before, database_cpu.snapshot())
    report["database_cpu_s"] = None if used is None else round(used, 3)
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return report


def per_request_ms(seconds, requests):
    return None if seconds is None or not requests else round(seconds / requests * 1000, 3)


def aggregate(runs):
    """The rounds of one side and endpoint: medians, and the errors summed."""
    def median(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "requests_per_s": median(r["requests_per_s"] for r in runs),
        "requests_per_s_rounds": [r["requests_per_s"] for r in runs],
        "latency_ms": {q: median(r["latency_ms"].get(q) for r in runs) for q in ("p50", "p75", "p90", "p99")},
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(sum(r["socket_errors"].values()) for r in runs),
        "server_cpu_ms_per_request": median(per_request_ms(r["server_cpu_s"], r["requests"]) for r in runs),
        "database_cpu_ms_per_request": median(per_request_ms(r["database_cpu_s"], r["requests"]) for r in runs),
        "wrk_cpu_ms_per_request": median(per_request_ms(r["wrk_cpu_s"], r["requests"]) for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "rounds": runs,
    }


def run_http(args, bench, log):
    """Start both servers, check they answer alike, warm them up, then the interleaved
    rounds; stop them and remove the contacts the creates added."""
    url, setup = bench["url"], bench["setup"]
    post_script = RESULTS / "scale-post.lua"
    write_post_script(post_script)
    accord, baseline = start_servers(args, url, setup)
    auth = f"Authorization: Bearer {setup['token']}"
    headers = {"accord": (auth,), "baseline": ()}
    servers = {"accord": accord, "baseline": baseline}
    out = {"workers": args.workers, "threads": args.threads, "connections": args.connections,
           "wrk_threads": WRK_THREADS, "duration_s": args.duration, "rounds": args.rounds, "warmup_s": args.warmup,
           "ratio_target": RATIO_TARGET, "accord_command": shlex.join(accord.command),
           "baseline_command": shlex.join(baseline.command), "create_body": CREATE_BODY,
           "server_logs": {side: str(s.log_path.relative_to(ROOT)) for side, s in servers.items()},
           "what_each_side_does": WHAT_EACH_SIDE_DOES}
    database_cpu = DatabaseCpu(url)
    local = InProcess(url, setup)
    try:
        out["statements"] = {kind: {side: local.statements(side, kind) for side in SIDES} for kind in KINDS}
        for side, server in servers.items():
            server.start()
        accord.wait_ready()
        baseline.wait_ready()
        log(f"servers ready: Accord on {accord.base} (pid {accord.process.pid}), "
            f"the baseline on {baseline.base} (pid {baseline.process.pid})")
        out["answer_problems"] = compare_answers(accord, baseline, setup["token"])
        log("  the baseline answers as Accord does (list page, create)" if not out["answer_problems"]
            else "  ANSWERS DIFFER: " + "; ".join(out["answer_problems"]))
        log(f"warm-up: {args.warmup:g} s of load per server and endpoint ...")
        out["warmup"] = {f"{side} {kind}": measure_once(args, args.warmup, servers[side], kind, headers[side],
                                                        database_cpu, post_script, f"warm{side}")
                         for kind in KINDS for side in SIDES}
        runs = {(side, kind): [] for kind in KINDS for side in SIDES}
        log(f"{args.rounds} rounds of {len(runs)} measurements, {args.duration:g} s each, wrk {WRK_THREADS} threads "
            f"and {args.connections} connections ...")
        for round_ in range(1, args.rounds + 1):
            for kind in KINDS:
                for side in SIDES:
                    report = measure_once(args, args.duration, servers[side], kind, headers[side], database_cpu,
                                          post_script, f"{side}{round_}")
                    runs[(side, kind)].append(report)
                    log(f"  round {round_}: {SIDE_LABELS[side]:<8} {KINDS[kind]:<34} "
                        f"{report['requests_per_s']:8.1f} req/s, p50 {report['latency_ms'].get('p50', 0):6.1f} / "
                        f"p99 {report['latency_ms'].get('p99', 0):6.1f} ms, server CPU "
                        f"{per_request_ms(report['server_cpu_s'], report['requests'])} ms/req, "
                        f"non-2xx {report['non_2xx']}, load {report['load_average'][0]}")
        out["results"] = {kind: {side: aggregate(runs[(side, kind)]) for side in SIDES} for kind in KINDS}
        for kind in KINDS:
            r = out["results"][kind]
            r["ratio"] = round(r["accord"]["requests_per_s"] / r["baseline"]["requests_per_s"], 3)
            # Informational: the ratio when the servers and PostgreSQL are CPU-bound on a machine
            # with nothing else to do (what CPU each request costs them, inverted).
            r["cpu_ms_per_request"] = {side: round(sum(r[side][key] or 0 for key in (
                "server_cpu_ms_per_request", "database_cpu_ms_per_request")), 3) for side in SIDES}
            r["cpu_ratio"] = round(r["cpu_ms_per_request"]["baseline"] / r["cpu_ms_per_request"]["accord"], 3)
        if args.profile:
            log(f"profiles: {args.profile} requests per endpoint through the test client, Accord and the baseline ...")
            out["profiles"] = profile_http(args, local, log)
    finally:
        local.close()
        database_cpu.close()
        for server in servers.values():
            server.stop()
        out["exit_status"] = {side: s.process.returncode if s.process else None for side, s in servers.items()}
        out["log_errors"] = {side: s.error_lines() if s.process else [] for side, s in servers.items()}
        app = make_app(url, INSTANCE)
        out["created_rows_deleted"] = remove_created(app)
        dispose(app)
        log(f"servers stopped (exit status {out['exit_status']}); {out['created_rows_deleted']:,} created contacts "
            "deleted again, contact and search_entry vacuumed")
    return out


class InProcess:
    """Both apps in this process, driven through the Flask test client: for the SQL
    statements each request runs and for ``--profile``."""

    def __init__(self, url, setup):
        import importlib
        import itertools

        os.environ.update(BASELINE_DATABASE_URL=url, BASELINE_USER_ID=str(setup["admin_id"]))
        self.baseline = importlib.import_module("baseline_app")
        self.accord = make_app(url, INSTANCE)
        self.clients = {"accord": (self.accord.test_client(), {"Authorization": f"Bearer {setup['token']}"}),
                        "baseline": (self.baseline.app.test_client(), {})}
        self.numbers = itertools.count()

    def engine(self, side):
        from accord.core.db import db

        app, handle = (self.accord, db) if side == "accord" else (self.baseline.app, self.baseline.db)
        with app.app_context():
            return handle.engine

    def caller(self, side, kind):
        """One request to ``side``'s ``kind`` endpoint (a new contact on every create)."""
        client, headers = self.clients[side]

        def call():
            if kind == "list":
                response, expected = client.get(LIST_PATH, headers=headers), 200
            else:
                n = next(self.numbers)
                body = {**CREATE_BODY, "last_name": f"InProcess-{n}", "email": f"in-process-{n}@{CREATE_DOMAIN}"}
                response, expected = client.post(CREATE_PATH, json=body, headers=headers), 201
            if response.status_code != expected:
                raise RuntimeError(f"{side} {kind} answered {response.status_code}: {response.data[:300]!r}")

        return call

    def statements(self, side, kind):
        """The SQL statements of one request (after a first one), each as its verb and tables."""
        from sqlalchemy import event

        call = self.caller(side, kind)
        call()
        log = StatementLog(self.engine(side))
        try:
            seen = log.capture(call)
        finally:
            event.remove(log.engine, "before_cursor_execute", log._record)
        return [describe_statement(statement) for statement, _ in seen]

    def close(self):
        dispose(self.accord)
        with self.baseline.app.app_context():
            self.baseline.db.engine.dispose()


def describe_statement(sql):
    """``SELECT contact``, ``INSERT search_entry``: a statement's verb and the tables it names."""
    flat = " ".join(sql.split())
    verb = flat.split(" ", 1)[0].upper()
    tables = re.findall(r"\b(?:FROM|INTO|JOIN|(?<!DO )UPDATE) (\"?\w+\"?)", flat, re.I)
    named = list(dict.fromkeys(t.strip('"') for t in tables))
    return f"{verb} {'+'.join(named)}" + (" ON CONFLICT" if " ON CONFLICT " in flat else "")


def profile_http(args, local, log):
    """Where a request's time goes, in this process: ``--profile`` requests of each endpoint
    through the Flask test client, to Accord (its JSON log lines written to a file, as
    ``accord serve`` writes them) and to the baseline app. First this process's CPU per
    request without a profiler, then a cProfile (wall clock, so the database's share shows
    as psycopg's ``wait``) written to ``bench/results/scale-profile-<app>-<endpoint>.txt``."""
    import cProfile
    import io
    import logging.config
    import pstats

    from accord.core.logs import logging_config

    config = logging_config("json")
    config["handlers"]["stderr"] = {"class": "logging.FileHandler", "formatter": "accord", "mode": "w",
                                    "filename": str(RESULTS / "scale-profile-access.log")}
    logging.config.dictConfig(config)
    out = {}
    for kind in KINDS:
        for side in SIDES:
            call = local.caller(side, kind)
            for _ in range(20):
                call()
            started = time.process_time()
            for _ in range(args.profile):
                call()
            cpu_ms = (time.process_time() - started) / args.profile * 1000
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.profile):
                call()
            profiler.disable()
            report = io.StringIO()
            report.write(f"{SIDE_LABELS[side]} {KINDS[kind]}: {args.profile} requests through the Flask test client; "
                         f"{cpu_ms:.3f} ms of CPU per request without the profiler. Wall-clock profile: psycopg's "
                         "wait() is the time spent waiting on PostgreSQL.\n")
            stats = pstats.Stats(profiler, stream=report)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(80)
            path = RESULTS / f"scale-profile-{side}-{kind}.txt"
            path.write_text(report.getvalue())
            out[f"{side} {kind}"] = {"cpu_ms_per_request": round(cpu_ms, 3), "report": str(path.relative_to(ROOT))}
            log(f"  {SIDE_LABELS[side]:<8} {KINDS[kind]:<34} {cpu_ms:6.2f} ms CPU per request in-process; "
                f"profile in {out[f'{side} {kind}']['report']}")
    return out


def http_checks(out):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    for kind, label in (("list", "list (GET ?limit=50)"), ("create", "create (POST)")):
        r = out["results"][kind]
        add(f"{label} req/s, Accord / baseline", f"{r['ratio']:.2f} ({r['accord']['requests_per_s']:.0f} vs "
            f"{r['baseline']['requests_per_s']:.0f})", f">= {RATIO_TARGET:g}", r["ratio"] >= RATIO_TARGET)
    for kind in KINDS:
        for side in SIDES:
            r = out["results"][kind][side]
            add(f"{SIDE_LABELS[side]} {KINDS[kind]}: non-2xx / socket errors", f"{r['non_2xx']} / {r['socket_errors']}",
                "0 / 0", r["non_2xx"] == 0 and r["socket_errors"] == 0)
    problems = out["answer_problems"]
    add("the baseline answers as Accord does (list page, create)", "yes" if not problems else "; ".join(problems)[:80],
        "yes", not problems)
    errors = out["log_errors"]
    first = next((lines[0] for lines in errors.values() if lines), "")
    add("ERROR lines in the server logs (warm-up included), Accord / baseline",
        f"{len(errors['accord'])} / {len(errors['baseline'])}" + (f": {first[:50]}" if first else ""), "0 / 0",
        not any(errors.values()))
    add("servers stopped cleanly on SIGTERM (exit status)",
        " / ".join(str(out["exit_status"][side]) for side in SIDES), "0 / 0",
        all(out["exit_status"][side] == 0 for side in SIDES))
    return rows


def print_http(out):
    print()
    print(f"HTTP on loopback: {out['workers']} gunicorn workers x {out['threads']} threads (gthread) per server; "
          f"wrk {out['wrk_threads']} threads, {out['connections']} connections, {out['duration_s']:g} s per "
          f"measurement, {out['rounds']} interleaved rounds (median); CPU per request from /proc:")
    print(f"  {'':<8} {'endpoint':<34} {'req/s':>8}  {'rounds':<17} {'p50 ms':>7} {'p99 ms':>7}  "
          f"{'server':>7} {'postgres':>8} {'wrk':>6}  (CPU ms per request)")
    def ms(value):
        return "-" if value is None else f"{value:.2f}"

    for kind in KINDS:
        for side in SIDES:
            r = out["results"][kind][side]
            rounds = ", ".join(f"{x:.0f}" for x in r["requests_per_s_rounds"])
            latency = r["latency_ms"]
            print(f"  {SIDE_LABELS[side]:<8} {KINDS[kind]:<34} {r['requests_per_s']:8.1f}  {rounds:<17} "
                  f"{latency['p50']:7.1f} {latency['p99']:7.1f}  {ms(r['server_cpu_ms_per_request']):>7} "
                  f"{ms(r['database_cpu_ms_per_request']):>8} {ms(r['wrk_cpu_ms_per_request']):>6}")
    ratios = []
    for kind in KINDS:
        r = out["results"][kind]
        ratios.append(f"{kind} {r['cpu_ratio']:.2f} ({r['cpu_ms_per_request']['baseline']:.2f} vs "
                      f"{r['cpu_ms_per_request']['accord']:.2f} ms)")
    print("CPU per request of the server and PostgreSQL together, baseline / Accord (the requests/s ratio to expect "
          "when they have the CPUs to themselves; informational): " + ", ".join(ratios))
    print("SQL statements per request (one request in this process after a first; transaction control left out):")
    for kind in KINDS:
        for side in SIDES:
            print(f"  {SIDE_LABELS[side]:<8} {KINDS[kind]:<34} {', '.join(out['statements'][kind][side])}")
    print("what each side does:")
    for side in SIDES:
        for n, line in enumerate(out["what_each_side_does"][side]):
            print(f"  {SIDE_LABELS[side] if n == 0 else '':<8} {line}")
    print(f"server logs: {out['server_logs']['accord']} (Accord's JSON lines, one access line per request), "
          f"{out['server_logs']['baseline']}")
    if "profiles" in out:
        print("in this process, through the Flask test client (CPU per request; cProfile reports):")
        for name, p in out["profiles"].items():
            side, kind = name.split()
            print(f"  {SIDE_LABELS[side]:<8} {KINDS[kind]:<34} {p['cpu_ms_per_request']:6.2f} ms  {p['report']}")


# ---------------------------------------------------------------------------------------
# Celery over Redis: shared by the sections "jobs" and "webhooks"
# ---------------------------------------------------------------------------------------


DEFAULT_BROKER = "redis://127.0.0.1:6379/7"
PLUGIN_MODULE = "noop_jobs"  # bench/noop_jobs.py, on the processes' PYTHONPATH
DRAIN_SECONDS = 60  # the longest wait for the last job or delivery
JOBS_TARGET = 500.0  # no-op jobs/s through one `accord worker`
WEBHOOK_P95_TARGET = 1.0  # seconds from a write's commit to its event at the receiver


def broker_preflight(args):
    """Stop before loading anything when the broker is not a Redis one that answers."""
    if not args.broker_url.startswith("redis://"):
        sys.exit("--broker-url must be a redis:// URL (its database is flushed at start)")
    try:
        import redis

        redis.Redis.from_url(args.broker_url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same: no broker to use
        sys.exit(f"the Redis broker {args.broker_url} does not answer ({exc}); start redis-server or pass "
                 "--broker-url")


def flush_broker(url):
    import redis

    redis.Redis.from_url(url).flushdb()


def broker_environment(url, broker):
    """The environment of ``accord serve``/``worker``/``scheduler`` with the broker and the
    no-op job's plugin."""
    path = os.pathsep.join(p for p in (str(ROOT / "bench"), os.environ.get("PYTHONPATH")) if p)
    return clean_environment(ACCORD_DATABASE_URL=url, ACCORD_INSTANCE_PATH=INSTANCE, ACCORD_BROKER_URL=broker,
                             ACCORD_PLUGINS=PLUGIN_MODULE, PYTHONPATH=path)


def broker_process(name, arguments, env, log_name):
    """``accord <arguments>`` as a :class:`Server` without a port (started, never polled)."""
    return Server(name, [*accord_command(), *arguments], None, env, RESULTS / log_name, None)


def delete_bench_jobs(app):
    """Remove the no-op jobs of earlier runs (a run counts its own only)."""
    from accord.core.db import db
    from accord.core.models import Job
    from sqlalchemy import delete

    with app.app_context():
        removed = db.session.execute(delete(Job).where(Job.name == NOOP_JOB)).rowcount
        db.session.commit()
        db.session.remove()
    return removed


def add_broker_options(parser):
    group = parser.add_argument_group("sections jobs and webhooks (Celery over Redis)")
    group.add_argument("--broker-url", default=DEFAULT_BROKER,
                       help="Redis broker of the jobs; its database is flushed at the start of each section")
    group.add_argument("--worker-concurrency", type=positive, default=os.cpu_count() or 1,
                       help="pool processes of the one `accord worker` (its --concurrency)")


# ---------------------------------------------------------------------------------------
# Section "jobs": no-op jobs through one `accord worker`
# ---------------------------------------------------------------------------------------


def add_jobs_options(parser):
    add_broker_options(parser)
    group = parser.add_argument_group("section jobs (no-op jobs through one accord worker)")
    group.add_argument("--jobs", type=positive, default=5000, help="no-op jobs queued in one transaction")
    group.add_argument("--single-jobs", type=positive, default=1000,
                       help="no-op jobs queued one per transaction (a message each)")


def run_jobs(args, bench, log):
    """Time no-op jobs through one ``accord worker`` twice: ``--jobs`` queued in one
    transaction (sent after its commit, many to a message), then ``--single-jobs`` queued
    one per transaction (a message each), as separate requests queue them."""
    from accord.core import create_app, jobs
    from accord.core.db import db
    from accord.core.records import write_unit

    url = bench["url"]
    app = create_app({"INSTANCE_PATH": str(INSTANCE), "DATABASE_URL": url, "BROKER_URL": args.broker_url,
                      "PLUGINS": (PLUGIN_MODULE,), "JOBS_THREADS": 0})

    def together(count):
        with app.app_context(), write_unit():
            ids = [jobs.enqueue(NOOP_JOB, n=n) for n in range(count)]
        return ids

    def one_per_commit(count):
        with app.app_context():
            return [jobs.enqueue(NOOP_JOB, n=n) for n in range(count)]

    out = {"concurrency": args.worker_concurrency, "target_jobs_per_s": JOBS_TARGET, "broker": args.broker_url}
    try:
        for key, queue_them, count in (("together", together, args.jobs),
                                       ("one_per_commit", one_per_commit, args.single_jobs)):
            out[key] = time_worker(args, app, url, count, queue_them, key, log)
            with app.app_context():
                db.session.remove()
    finally:
        delete_bench_jobs(app)
        dispose(app)
    out["in_process"] = run_jobs_in_process(url, min(args.jobs, 1000))
    return out


def time_worker(args, app, url, count, queue_them, key, log):
    """Queue ``count`` no-op jobs with ``queue_them`` (their messages are sent after each
    commit), then start one ``accord worker`` and time the jobs from the first start to
    the last finish (the ``job`` rows' times)."""
    from accord.core.db import db
    from accord.core.models import Job
    from sqlalchemy import func, select

    broker = args.broker_url
    flush_broker(broker)
    removed = delete_bench_jobs(app)
    log(f"jobs ({key}): broker {broker} flushed, {removed:,} no-op jobs of earlier runs deleted; "
        f"queuing {count:,} ...")
    started = time.perf_counter()
    ids = queue_them(count)
    queue_s = time.perf_counter() - started
    out = {"jobs": count, "queue_s": round(queue_s, 3)}
    log(f"  queued and sent in {queue_s:.2f} s ({count / queue_s:.0f} jobs/s)")
    worker = broker_process("accord worker", ["worker", "--concurrency", str(args.worker_concurrency)],
                            broker_environment(url, broker), f"scale-jobs-{key}-worker.log")
    database_cpu = DatabaseCpu(url)
    mine = (Job.name == NOOP_JOB) & Job.id.between(min(ids), max(ids))
    try:
        worker.start()
        log(f"  accord worker started (pid {worker.process.pid}, --concurrency {args.worker_concurrency}); "
            "waiting for every job to finish ...")
        db_before, clock = database_cpu.snapshot(), time.monotonic()
        deadline = clock + DRAIN_SECONDS + count / 50
        with app.app_context():
            while True:
                states = dict(db.session.execute(select(Job.state, func.count()).where(mine)
                                                 .group_by(Job.state)).all())
                db.session.rollback()
                finished = states.get("succeeded", 0) + states.get("failed", 0)
                if finished >= count or time.monotonic() > deadline or worker.process.poll() is not None:
                    break
                time.sleep(0.2)
            out["worker_cpu_s"] = round(worker.cpu_seconds(), 3)
            used = DatabaseCpu.used(db_before, database_cpu.snapshot())
            out["database_cpu_s"] = None if used is None else round(used, 3)
            span = db.session.execute(select(func.min(Job.started_at), func.max(Job.finished_at),
                                             func.max(Job.attempts)).where(mine)).one()
            db.session.remove()
    finally:
        database_cpu.close()
        worker.stop()
    out["exit_status"] = worker.process.returncode if worker.process else None
    out["log_errors"] = worker.error_lines() if worker.process else []
    out["states"] = states
    out["succeeded"] = states.get("succeeded", 0)
    out["most_attempts"] = span[2]
    seconds = (span[1] - span[0]).total_seconds() if span[0] and span[1] else None
    out["run_s"] = None if seconds is None else round(seconds, 3)
    out["jobs_per_s"] = round(out["succeeded"] / seconds, 1) if seconds else 0.0
    out["worker_cpu_ms_per_job"] = per_request_ms(out["worker_cpu_s"], out["succeeded"])
    out["database_cpu_ms_per_job"] = per_request_ms(out["database_cpu_s"], out["succeeded"])
    out["worker_log"] = str(worker.log_path.relative_to(ROOT))
    log(f"  {out['succeeded']:,} of {count:,} succeeded in {out['run_s']} s: {out['jobs_per_s']:.0f} jobs/s; "
        f"worker stopped (exit status {out['exit_status']})")
    return out


def run_jobs_in_process(url, count):
    """``count`` no-op jobs through ``jobs.run`` in this process, one after another, with no
    broker: what the claim, the run and the finish cost without Celery."""
    from accord.core import create_app, jobs
    from accord.core.records import write_unit

    app = create_app({"INSTANCE_PATH": str(INSTANCE), "DATABASE_URL": url, "PLUGINS": (PLUGIN_MODULE,),
                      "JOBS_THREADS": 0})
    try:
        with app.app_context(), write_unit():
            ids = [jobs.enqueue(NOOP_JOB, n=n) for n in range(count)]
        wall, cpu = time.perf_counter(), time.process_time()
        states = [jobs.run(app, job_id) for job_id in ids]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        delete_bench_jobs(app)
        dispose(app)
    return {"jobs": count, "succeeded": states.count("succeeded"), "jobs_per_s": round(count / wall, 1),
            "wall_ms_per_job": round(wall / count * 1000, 3), "cpu_ms_per_job": round(cpu / count * 1000, 3)}


def jobs_checks(out):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    together, single = out["together"], out["one_per_commit"]
    add(f"no-op jobs/s, one accord worker (--concurrency {out['concurrency']}), queued in one transaction",
        f"{together['jobs_per_s']:.0f}", f">= {JOBS_TARGET:g}", together["jobs_per_s"] >= JOBS_TARGET)
    for label, run in (("in one transaction", together), ("one per transaction", single)):
        add(f"no-op jobs queued {label} that succeeded on their first attempt",
            f"{run['succeeded']:,} / {run['jobs']:,}", "all",
            run["succeeded"] == run["jobs"] and run["most_attempts"] == 1)
        add(f"ERROR lines in the worker's log; its exit status on SIGTERM (jobs queued {label})",
            f"{len(run['log_errors'])}; {run['exit_status']}", "0; 0",
            not run["log_errors"] and run["exit_status"] == 0)
    return rows


def print_jobs(out):
    def ms(value):
        return "-" if value is None else f"{value:.2f}"

    together, single, local = out["together"], out["one_per_commit"], out["in_process"]
    print()
    print(f"Jobs on Celery over Redis ({out['broker']}): no-op jobs queued first, then ONE `accord worker "
          f"--concurrency {out['concurrency']}` (one worker process with a prefork pool of {out['concurrency']} "
          "processes); timed from the first job's started_at to the last one's finished_at. For each job the worker "
          "runs one transaction that claims it (UPDATE ... state 'running' RETURNING; the schema generation is read "
          "once per message), the job, and one transaction that records its end; a message is acknowledged once "
          "its jobs ran.")
    for label, run, how in (
        (f"{together['jobs']:,} queued in one transaction", together,
         "after the commit: one UPDATE per 500 jobs, up to 20 jobs to a message"),
        (f"{single['jobs']:,} queued one per transaction", single,
         "after each commit: one UPDATE and one message for its job"),
    ):
        print(f"  {label}: {run['jobs_per_s']:.0f} jobs/s ({run['succeeded']:,} in {run['run_s']} s); CPU per job: "
              f"worker {ms(run['worker_cpu_ms_per_job'])} ms, PostgreSQL {ms(run['database_cpu_ms_per_job'])} ms; "
              f"queued and sent in {run['queue_s']:.2f} s ({how}); worker log: {run['worker_log']}")
    print(f"  without Celery: jobs.run on {local['jobs']:,} no-op jobs in this process, one after another: "
          f"{local['jobs_per_s']:.0f} jobs/s, {local['wall_ms_per_job']:.2f} ms wall and {local['cpu_ms_per_job']:.2f} "
          "ms CPU of this process per job (the rest of the worker's CPU per job is Celery's: the message, the "
          "prefork pool's hand-over, the acknowledgement)")


# ---------------------------------------------------------------------------------------
# Section "webhooks": delivery latency after commit at a steady write rate
# ---------------------------------------------------------------------------------------


def add_webhooks_options(parser):
    group = parser.add_argument_group("section webhooks (delivery latency after commit)")
    group.add_argument("--webhook-rate", type=positive, default=50, help="contact creates (events) per second")
    group.add_argument("--webhook-seconds", type=positive, default=20, help="seconds of steady creates")
    group.add_argument("--webhook-writers", type=positive, default=4,
                       help="threads sharing the paced creates (each sends its share on a fixed schedule)")


class Receiver:
    """A webhook receiver on loopback: records each POST's arrival time and event."""

    def __init__(self):
        import http.server
        import threading

        self.arrivals = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    event = json.loads(body)
                except ValueError:
                    event = {}
                with receiver.lock:
                    receiver.arrivals.append((arrived, event.get("event_id"), event.get("record_id")))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def received(self):
        with self.lock:
            return list(self.arrivals)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def paced_creates(base, token, rate, seconds, writers, tag):
    """Contact creates at ``rate`` per second for ``seconds``, shared by ``writers``
    threads on one schedule (write ``i`` is due at ``start + i / rate``; a late one goes at
    once). Returns ``({record id: created_at as Unix time}, errors, seconds taken)``."""
    import threading
    from datetime import datetime

    total = rate * seconds
    created, errors, lock = {}, [], threading.Lock()
    auth = {"Authorization": f"Bearer {token}"}
    start = time.monotonic() + 0.2

    def write(number):
        for i in range(number, total, writers):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            body = {**CREATE_BODY, "last_name": f"Hook-{tag}-{i}", "email": f"hook-{tag}-{i}@{CREATE_DOMAIN}"}
            try:
                status, answer = http_json("POST", base + CREATE_PATH, headers=auth, body=body)
            except OSError as exc:
                status, answer = None, str(exc)
            with lock:
                if status == 201:
                    created[answer["id"]] = datetime.fromisoformat(answer["created_at"].replace("Z", "+00:00")).timestamp()
                else:
                    errors.append(f"{status}: {str(answer)[:200]}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created, errors, time.monotonic() - start


def wait_delivered(receiver, record_ids, seconds):
    """Wait until an event for each of ``record_ids`` arrived, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if record_ids <= {record_id for _, _, record_id in receiver.received()}:
            return True
        time.sleep(0.1)
    return False


def run_webhooks(args, bench, log):
    """Serve Accord with the broker, one worker and a scheduler; subscribe a loopback
    receiver to contact creates; create contacts at ``--webhook-rate`` for
    ``--webhook-seconds`` and time each event from its record's commit to its arrival."""
    url, setup, broker = bench["url"], bench["setup"], args.broker_url
    flush_broker(broker)
    env = broker_environment(url, broker)
    port = free_port()
    server = Server("accord serve", [*accord_command(), "serve", "--workers", str(args.workers), "--threads",
                                     str(args.threads), "--port", str(port)],
                    port, env, RESULTS / "scale-webhooks-server.log", "/readyz")
    processes = [server,
                 broker_process("accord worker", ["worker", "--concurrency", str(args.worker_concurrency)], env,
                                "scale-webhooks-worker.log"),
                 broker_process("accord scheduler", ["scheduler"], env, "scale-webhooks-scheduler.log")]
    auth = {"Authorization": f"Bearer {setup['token']}"}
    receiver = Receiver()
    out = {"rate": args.webhook_rate, "seconds": args.webhook_seconds, "writers": args.webhook_writers,
           "expected": args.webhook_rate * args.webhook_seconds, "concurrency": args.worker_concurrency,
           "workers": args.workers, "threads": args.threads, "broker": broker,
           "target_p95_s": WEBHOOK_P95_TARGET,
           "logs": [str(p.log_path.relative_to(ROOT)) for p in processes]}
    subscription = None
    try:
        for process in processes:
            process.start()
        server.wait_ready()
        status, answer = http_json("POST", server.base + "/api/v1/admin/webhooks", headers=auth, body={
            "url": receiver.url, "events": ["created"], "record_types": ["contact"],
            "description": "bench/scale.py --section webhooks"})
        if status != 201:
            raise RuntimeError(f"subscribing the receiver answered {status}: {answer}")
        subscription = answer["id"]
        log(f"webhooks: accord serve on {server.base}, accord worker (--concurrency {args.worker_concurrency}), "
            f"accord scheduler, broker {broker}; receiver {receiver.url} subscribed (webhook {subscription})")
        warm, errors, _ = paced_creates(server.base, setup["token"], 10, 1, 2, "warm")
        if errors or not wait_delivered(receiver, set(warm), DRAIN_SECONDS):
            raise RuntimeError(f"the warm-up events did not arrive (create errors: {errors[:3]})")
        log(f"  warm-up: {len(warm)} events delivered; {out['expected']:,} creates at {args.webhook_rate}/s over "
            f"{args.webhook_writers} threads ...")
        created, errors, took = paced_creates(server.base, setup["token"], args.webhook_rate, args.webhook_seconds,
                                              args.webhook_writers, "run")
        last_write = time.monotonic()
        out["write_s"], out["create_errors"] = round(took, 2), errors
        out["achieved_rate"] = round(len(created) / took, 1)
        log(f"  {len(created):,} created in {took:.1f} s ({out['achieved_rate']}/s), {len(errors)} errors; waiting "
            f"up to {DRAIN_SECONDS} s for the last events ...")
        wait_delivered(receiver, set(created), DRAIN_SECONDS)
        out["drain_s"] = round(time.monotonic() - last_write, 2)
    finally:
        if subscription is not None:
            http_json("DELETE", f"{server.base}/api/v1/admin/webhooks/{subscription}", headers=auth)
        receiver.close()
        for process in reversed(processes):
            process.stop()
        out["exit_status"] = {p.name: p.process.returncode if p.process else None for p in processes}
        out["log_errors"] = {p.name: p.error_lines() if p.process else [] for p in processes}
        app = make_app(url, INSTANCE)
        out["created_rows_deleted"] = remove_created(app)
        dispose(app)
    arrivals = {}
    duplicates = 0
    for arrived, _, record_id in receiver.received():
        if record_id in created:
            duplicates += record_id in arrivals
            arrivals.setdefault(record_id, arrived)
    latencies = sorted(arrivals[r] - created[r] for r in arrivals)
    out["delivered"], out["duplicates"] = len(arrivals), duplicates
    out["latency_s"] = {"p50": round(pct(latencies, 50), 3), "p95": round(pct(latencies, 95), 3),
                        "max": round(latencies[-1], 3)} if latencies else None
    log(f"  {out['delivered']:,} of {out['expected']:,} delivered; latency {out['latency_s']}; processes stopped "
        f"(exit status {out['exit_status']}); {out['created_rows_deleted']:,} created contacts deleted")
    return out


def webhooks_checks(out):
    rows = []

    def add(metric, measured, target, ok):
        rows.append({"metric": metric, "measured": measured, "target": target, "pass": bool(ok)})

    latency = out["latency_s"] or {}
    p95 = latency.get("p95")
    add(f"webhook delivery after commit at {out['rate']} events/s, p95 s", "-" if p95 is None else f"{p95:.3f}",
        f"<= {WEBHOOK_P95_TARGET:g}", p95 is not None and p95 <= WEBHOOK_P95_TARGET)
    add("webhook events delivered (once each) / expected", f"{out['delivered']:,} / {out['expected']:,}"
        + (f", {out['duplicates']} twice" if out["duplicates"] else ""), "all",
        out["delivered"] == out["expected"] and not out["create_errors"])
    add("creates per second achieved", f"{out['achieved_rate']:.1f}", f">= {0.95 * out['rate']:g}",
        out["achieved_rate"] >= 0.95 * out["rate"])
    errors = [line for lines in out["log_errors"].values() for line in lines]
    add("ERROR lines in the logs (serve, worker, scheduler); exit statuses",
        f"{len(errors)}; {' / '.join(str(s) for s in out['exit_status'].values())}"
        + (f": {errors[0][:40]}" if errors else ""), "0; 0 / 0 / 0",
        not errors and all(s == 0 for s in out["exit_status"].values()))
    return rows


def print_webhooks(out):
    latency = out["latency_s"] or {}
    print()
    print(f"Webhooks: accord serve ({out['workers']} workers x {out['threads']} threads), one accord worker "
          f"(--concurrency {out['concurrency']}) and accord scheduler on Celery over Redis ({out['broker']}); "
          f"{out['expected']:,} contact creates through the API at {out['rate']}/s ({out['writers']} paced threads), "
          "each one event 'created' to a receiver on loopback (http.server):")
    print(f"  latency from the contact's created_at (taken in its write transaction, just before the commit) to "
          f"the event's arrival: p50 {latency.get('p50')} s, p95 {latency.get('p95')} s, max {latency.get('max')} s")
    print(f"  delivered {out['delivered']:,} of {out['expected']:,} ({out['duplicates']} twice); creates "
          f"{out['achieved_rate']}/s achieved, {len(out['create_errors'])} errors; the last event "
          f"{out['drain_s']} s after the last write; logs: {', '.join(out['logs'])}")


# ---------------------------------------------------------------------------------------
# Sections and main
# ---------------------------------------------------------------------------------------

Section = namedtuple("Section", "add_options preflight run checks report")
"""A part of the benchmark: ``add_options(parser)`` (its own argument group),
``preflight(args)`` (exits before anything is loaded when a tool is missing),
``run(args, bench, log)`` (its figures, a dict), ``checks(figures)`` (rows of the summary
table) and ``report(figures)`` (printed below the table)."""

SECTIONS = {
    "http": Section(add_http_options, http_preflight, run_http, http_checks, print_http),
    "jobs": Section(add_jobs_options, broker_preflight, run_jobs, jobs_checks, print_jobs),
    "webhooks": Section(add_webhooks_options, broker_preflight, run_webhooks, webhooks_checks, print_webhooks),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--section", action="append", choices=list(SECTIONS),
                        help="run only this section (repeatable; default: every section)")
    parser.add_argument("--rows", type=int, default=100_000, help="contacts (and deals) in the bench database")
    parser.add_argument("--database-url", default=os.environ.get(ENV_URL) or DEFAULT_URL,
                        help=f"PostgreSQL database to load and serve (else ${ENV_URL}); created if missing")
    parser.add_argument("--keep", action="store_true",
                        help="keep the loaded database and reuse it when it already holds --rows rows")
    parser.add_argument("--batch", type=int, default=20_000, help="rows per executemany batch when loading")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the figures (default bench/results/scale-postgresql.json)")
    parser.add_argument("--allow-any-database", action="store_true",
                        help="allow a database named 'test' or the one in ACCORD_TEST_DATABASE_URL "
                             "(the benchmark drops its schema when it loads)")
    for section in SECTIONS.values():
        section.add_options(parser)
    args = parser.parse_args(argv)
    args.section = args.section or list(SECTIONS)
    return args


def reproduce_command(args, url):
    parts = ["python3", "bench/scale.py", "--rows", str(args.rows)]
    defaults = parse_args([])
    for name in ("workers", "threads", "connections", "duration", "rounds", "warmup", "batch", "profile", "jobs",
                 "worker_concurrency", "webhook_rate", "webhook_seconds", "webhook_writers"):
        if getattr(args, name) != getattr(defaults, name):
            parts += [f"--{name.replace('_', '-')}", f"{getattr(args, name):g}"]
    for name in args.section if args.section != list(SECTIONS) else ():
        parts += ["--section", name]
    if args.broker_url != DEFAULT_BROKER:
        parts += ["--broker-url", args.broker_url]
    if args.output:
        parts += ["--output", str(args.output)]
    if args.keep:
        parts.append("--keep")
    command = shlex.join(parts)
    if url != DEFAULT_URL:
        command = f"{ENV_URL}={shlex.quote(safe_url(url))} " + command
    return command


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*Decimal objects natively.*")
    started = time.perf_counter()

    def log(message):
        print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)

    from accord.core.config import _normalise_database_url

    url = _normalise_database_url(args.database_url)
    if engine_name(url) != "postgresql":
        sys.exit("bench/scale.py runs on PostgreSQL only: pass a postgresql:// URL")
    if not args.allow_any_database:
        refuse_test_database(url)
    for name in args.section:
        SECTIONS[name].preflight(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    log(f"PostgreSQL {safe_url(url)}; {args.rows:,} contacts and deals; sections {', '.join(args.section)}")
    results = {"engine": "postgresql", "database_url": safe_url(url), "rows": args.rows, "sections": args.section,
               "reproduce": reproduce_command(args, url), **run_environment()}
    commit = git_commit(["--", ".", ":!bench"])
    if commit is not None:
        results["git_commit"] = commit
    setup, load_seconds = open_database(args, url, log)
    results["load_seconds"] = load_seconds
    results["reused_database"] = load_seconds is None
    bench = {"url": url, "setup": setup}
    checks = []
    try:
        for name in args.section:
            results[name] = SECTIONS[name].run(args, bench, log)
            checks += SECTIONS[name].checks(results[name])
    finally:
        if not args.keep:
            marker_path(url).unlink(missing_ok=True)
    results["checks"] = checks
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    target = (args.output or RESULTS / "scale-postgresql.json").resolve()
    target.write_text(json.dumps(results, indent=2, default=json_default))
    print_summary(results, target)
    return 0 if all(c["pass"] for c in checks) else 1


def print_summary(results, target):
    print()
    print(f"Accord scale benchmark: PostgreSQL ({results['database_url']}), {results['rows']:,} contacts and deals, "
          f"Python {results['python']}, SQLAlchemy {results['sqlalchemy']}, {results['cpus']} CPUs (shared by the "
          f"servers, PostgreSQL and the load tool), commit {results.get('git_commit', '?')}")
    print_checks(results["checks"])
    for name in results["sections"]:
        SECTIONS[name].report(results[name])
    print()
    print(f"load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']} "
          "(other work on the machine lowers both sides' requests/s; the interleaved rounds share it out)")
    if results["load_average_at_start"][0] > results["cpus"] / 2:
        print(f"note: the machine was busy before the run began (load {results['load_average_at_start'][0]} on "
              f"{results['cpus']} CPUs), so the requests/s of either side can swing with that work from one "
              "measurement to the next; the CPU per request above varies much less")
    print_outcome(results["checks"], target, results["reproduce"])


if __name__ == "__main__":
    sys.exit(main())
