"""What the benchmark scripts (``bench/api.py``, ``bench/plugins.py``, ``bench/ui.py``,
``bench/scale.py``) share: database URLs and resets, making and disposing of an app, the
guard against the test database, the synthetic CRM data and its bulk loader (with the
marker that lets a kept database be reused), interleaved timing and percentiles, the SQL
statement log, the run's environment and the summary's check table.

Imported by the scripts as ``from common import ...`` (a script's own folder is on
``sys.path``). It imports only the standard library at module level, so that importing it
costs a start-up measurement nothing; SQLAlchemy and Accord are imported where used.
"""

import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout the benchmarks belong to
RESULTS = ROOT / "bench" / "results"  # git-ignored: figures, kept databases, their markers

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
# Synthetic data
# ---------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Aaliyah Aaron Abigail Ada Adam Adrian Aiden Alan Albert Alejandro Alexander Alice Alicia "
    "Amanda Amelia Amir Ana Andrea Andrew Angela Anna Anthony Antonio Aria Arthur Ava Barbara "
    "Beatriz Benjamin Bernard Bianca Brian Bruno Camila Carlos Carmen Caroline Catherine Charles "
    "Charlotte Chen Chloe Christian Christopher Claire Clara Daniel David Deborah Diana Diego "
    "Dmitri Dorothy Edward Elena Elijah Elizabeth Ella Emily Emma Eric Ethan Eva Fatima Felix "
    "Fernando Fiona Francesca Francisco Frank Gabriel George Grace Hana Hannah Harper Harry Henry "
    "Hiroshi Hugo Ian Ingrid Isaac Isabel Isabella Ivan Jack Jacob James Jane Javier Jennifer "
    "Jessica Joan John Jonas Jorge Jose Joseph Joshua Julia Julian Karen Kenji Kevin Laura Layla "
    "Leo Leon Liam Lina Linda Lucas Lucia Luis Luka Madison Maria Mariana Marie Marco Marcus "
    "Margaret Mark Marta Martin Mary Mason Mateo Matthew Maya Mei Mia Michael Michelle Miguel "
    "Mila Mohammed Natalia Nathan Nicholas Nina Noah Nora Olivia Omar Oscar Pablo Patricia Paul "
    "Pedro Peter Priya Rachel Rafael Rahul Rebecca Richard Robert Rosa Ryan Samuel Sara Sarah "
    "Sebastian Sofia Sophie Stefan Stephen Susan Thomas Tomas Valentina Victoria William Yuki Zoe"
).split()
LAST_NAMES = (
    "Abbott Adams Ahmed Alvarez Andersen Anderson Bailey Baker Barnes Becker Bell Bennett Berg "
    "Bianchi Brooks Brown Bruno Campbell Carter Castillo Chen Clark Collins Cook Cooper Costa Cox "
    "Cruz Davies Davis Diaz Dubois Edwards Evans Fischer Fisher Flores Fontaine Foster Garcia "
    "Gomez Gonzalez Gray Green Gupta Hall Hansen Harris Hernandez Hill Hoffmann Howard Hughes "
    "Ito Jackson Jansen Jensen Johansson Johnson Jones Kelly Khan Kim King Klein Kowalski Kumar "
    "Lambert Larsen Lee Lewis Li Lopez Marchetti Marin Markovic Marsh Marshall Martin Martinez "
    "Mason Meyer Miller Mitchell Moore Morales Moreau Morgan Morris Muller Murphy Nakamura Nelson "
    "Nguyen Nielsen Novak Olsen Ortiz Parker Patel Perez Peterson Petrov Phillips Popescu Price "
    "Ramirez Reed Reyes Richardson Rivera Roberts Robinson Rodriguez Rogers Romano Rossi Russo "
    "Sanchez Santos Schmidt Schneider Schulz Scott Silva Singh Smith Sokolov Stewart Sullivan "
    "Suzuki Tanaka Taylor Thomas Thompson Torres Turner Walker Wang Ward Watson Weber White "
    "Williams Wilson Wood Wright Yamamoto Young Zhang Zimmermann"
).split()
DOMAINS = (
    "example.com example.org example.net acme.test globex.test initech.test umbrella.test "
    "hooli.test stark.test wayne.test wonka.test cyberdyne.test soylent.test tyrell.test "
    "gringotts.test dunder.test vandelay.test oceanic.test massive.test aperture.test"
).split()
CITIES = (
    ("Berlin", "Germany"), ("Paris", "France"), ("Madrid", "Spain"), ("Lisbon", "Portugal"),
    ("Rome", "Italy"), ("Amsterdam", "Netherlands"), ("Vienna", "Austria"), ("Dublin", "Ireland"),
    ("London", "United Kingdom"), ("New York", "United States"), ("Toronto", "Canada"),
    ("Sydney", "Australia"), ("Tokyo", "Japan"), ("Sao Paulo", "Brazil"), ("Mexico City", "Mexico"),
    ("Stockholm", "Sweden"), ("Oslo", "Norway"), ("Warsaw", "Poland"), ("Prague", "Czechia"),
    ("Zurich", "Switzerland"),
)
JOB_TITLES = (
    "CEO", "CFO", "CTO", "Head of Sales", "Account Manager", "Buyer", "Procurement Lead",
    "Engineer", "Office Manager", "Marketing Director", "Consultant", "Owner", None, None,
)
COMPANIES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Cyberdyne",
    "Soylent", "Tyrell", "Vandelay", "Oceanic", "Massive Dynamic", "Aperture", "Gringotts",
    "Dunder Mifflin", "Pied Piper", "Prestige", "Monarch", "Nakatomi", "Blue Sun", "Virtucon",
)
PRODUCTS = ("licences", "renewal", "upgrade", "support plan", "pilot", "rollout", "expansion", "services")
TIERS = (("platinum", 5), ("gold", 15), ("silver", 30), ("bronze", 50))
INTERESTS = ("analytics", "automation", "billing", "crm", "events", "marketing", "security", "support")
SOURCES = ("web", "referral", "event", "partner", "ads", "cold call")
STAGES = (("lead", 25), ("qualified", 20), ("proposal", 15), ("negotiation", 10), ("won", 15), ("lost", 15))
CURRENCIES = (("EUR", 60), ("USD", 30), ("GBP", 10))
WON_REASONS = ("price", "product_fit", "relationship", "timing", "other")
LOST_REASONS = ("price", "competitor", "no_budget", "no_decision", "timing", "other")

CONTACT_FIELDS = [
    {"name": "tier", "kind": "choice", "choices": [t for t, _ in TIERS], "indexed": True},
    {"name": "score", "kind": "integer"},
    {"name": "lifetime_value", "kind": "decimal"},
    {"name": "birthday", "kind": "date"},
    {"name": "last_seen_at", "kind": "datetime"},
    {"name": "newsletter", "kind": "boolean"},
    {"name": "interests", "kind": "multi_choice", "choices": list(INTERESTS)},
    {"name": "lead_source", "kind": "text"},
    {"name": "linkedin", "kind": "url"},
    {"name": "budget", "kind": "money"},
]
DEAL_FIELDS = [
    {"name": "segment", "kind": "choice", "choices": ["smb", "mid_market", "enterprise"], "indexed": True},
    {"name": "next_step", "kind": "text"},
]



def _weighted(rng, pairs):
    population = [key for key, _ in pairs]
    weights = [weight for _, weight in pairs]
    cum = []
    total = 0
    for w in weights:
        total += w
        cum.append(total)
    return lambda: population[_bisect(cum, rng.random() * total)]


def _bisect(cum, x):
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _decimal_text(value):
    from accord.core.fields import _decimal_text as text

    return text(value)


class ContactMaker:
    """Contact rows as the service layer would store them (columns, ``custom``, search entry)."""

    def __init__(self, seed, owners, creator_id):
        self.rng = random.Random(seed)
        self.owners = owners
        self.creator_id = creator_id
        self.tier = _weighted(self.rng, TIERS)

    def values(self, i, domain=None):
        """API-level values (Python-typed) of contact number ``i``."""
        rng = self.rng
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        city, country = rng.choice(CITIES)
        email = f"{first}.{last}{i}@{domain or rng.choice(DOMAINS)}".lower()
        values = {
            "first_name": first, "last_name": last, "email": email,
            "phone": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            "mobile": f"+44 7700 {rng.randrange(100000, 999999)}" if rng.random() < 0.3 else None,
            "job_title": rng.choice(JOB_TITLES), "city": city, "country": country,
            "postal_code": str(rng.randrange(10000, 99999)),
        }
        custom = {"tier": self.tier(), "score": rng.randrange(0, 101),
                  "newsletter": rng.random() < 0.4, "lead_source": rng.choice(SOURCES)}
        custom["lifetime_value"] = Decimal(rng.randrange(0, 5_000_000)) / 100
        if rng.random() < 0.6:
            custom["birthday"] = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 20000))
        if rng.random() < 0.7:
            custom["last_seen_at"] = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(0, 60_000_000))
        if rng.random() < 0.5:
            custom["interests"] = sorted(rng.sample(INTERESTS, rng.randrange(1, 4)))
        if rng.random() < 0.3:
            custom["linkedin"] = f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{i}"
        if rng.random() < 0.2:
            custom["budget"] = {"amount": Decimal(rng.randrange(1000, 100000)), "currency": "EUR"}
        values.update(custom)
        return values

    @staticmethod
    def storage(values):
        """``(columns, custom JSON)`` as ``RecordService._storage`` writes them."""
        from accord.core.fields import format_datetime

        columns = {name: values.get(name) for name in (
            "first_name", "last_name", "email", "phone", "mobile", "job_title", "organization_id",
            "street", "city", "postal_code", "country", "description")}
        custom = {}
        for name, value in values.items():
            if name in columns or value is None:
                continue
            if isinstance(value, Decimal):
                value = _decimal_text(value)
            elif isinstance(value, datetime):
                value = format_datetime(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = {"amount": _decimal_text(value["amount"]), "currency": value["currency"]}
            custom[name] = value
        return columns, custom

    @staticmethod
    def api_body(values):
        """The JSON body a client would POST for ``values``."""
        from accord.core.fields import format_datetime

        body = {}
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, datetime):
                value = format_datetime(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, dict):
                value = {"amount": str(value["amount"]), "currency": value["currency"]}
            body[name] = value
        return body

    def row(self, i, record_id, created_at):
        values = self.values(i)
        columns, custom = self.storage(values)
        row = {**columns, "id": record_id, "created_at": created_at, "updated_at": created_at,
               "created_by": self.creator_id, "owner_id": self.creator_id, "version": 1,
               "deleted_at": None, "deleted_by": None, "custom": custom}
        title = " ".join(p for p in (values["first_name"], values["last_name"]) if p)
        body = " ".join(v for v in (values["email"], values["phone"], values["mobile"]) if v)
        return row, {"record_type": "contact", "record_id": record_id, "title": title, "body": body}


class DealMaker:
    def __init__(self, seed, owners, territories, creator_id, first_month):
        self.rng = random.Random(seed)
        self.owners = owners
        self.territories = territories
        self.creator_id = creator_id
        self.first_month = first_month
        self.stage = _weighted(self.rng, STAGES)
        self.currency = _weighted(self.rng, CURRENCIES)

    def row(self, i, record_id, created_at):
        rng = self.rng
        stage = self.stage()
        name = f"{rng.choice(COMPANIES)} {rng.choice(PRODUCTS)} {i}"
        month = rng.randrange(0, 24)
        year = self.first_month.year + (self.first_month.month - 1 + month) // 12
        close = date(year, (self.first_month.month - 1 + month) % 12 + 1, rng.randrange(1, 29))
        outcome = "open" if stage not in ("won", "lost") else stage
        reason = None
        if outcome == "won":
            reason = rng.choice(WON_REASONS)
        elif outcome == "lost":
            reason = rng.choice(LOST_REASONS)
        custom = {"segment": rng.choice(("smb", "smb", "mid_market", "enterprise"))}
        if rng.random() < 0.5:
            custom["next_step"] = rng.choice(("demo", "call back", "send quote", "legal review"))
        row = {
            "id": record_id, "name": name, "organization_id": None,
            "amount": Decimal(rng.randrange(50_000, 10_000_000)) / 100, "currency": self.currency(),
            "pipeline": "sales", "stage": stage, "expected_close_date": close,
            "expected_close_month": close.strftime("%Y-%m"),
            "closed_at": created_at if outcome != "open" else None, "close_reason": reason,
            "territory_id": rng.choice(self.territories), "description": None,
            "created_at": created_at, "updated_at": created_at, "created_by": self.creator_id,
            "owner_id": rng.choice(self.owners), "version": 1, "deleted_at": None, "deleted_by": None,
            "custom": custom,
        }
        history = {"record_type": "deal", "record_id": record_id, "pipeline": "sales", "from_stage": None,
                   "to_stage": stage, "changed_at": created_at, "changed_by": self.creator_id,
                   "seconds_in_previous": None, "reason": reason}
        entry = {"record_type": "deal", "record_id": record_id, "title": name, "body": ""}
        return {k: v for k, v in row.items() if k in DEAL_COLUMNS}, history, entry


DEAL_COLUMNS = set()  # filled with the deal table's columns before loading


# ---------------------------------------------------------------------------------------
# The bulk loader: the bench database of --rows contacts and deals, kept between runs
# ---------------------------------------------------------------------------------------


def prepare_schema(app):
    """Migrate, add the custom fields, and make the users and territories; returns the
    admin user's token and the ids of owners and territories."""
    from accord.core.customfields import add_field
    from accord.core.db import db
    from accord.core.migrate import upgrade
    from accord.core.models import Territory, User
    from accord.core.records import SYSTEM
    from accord.core.registry import current_accord
    from accord.core.tokens import create_token
    from accord.testing import make_user
    from sqlalchemy import select

    upgrade(app)
    with app.test_request_context():
        catalog = current_accord(app).catalog()
        fields = catalog.type("contact").custom_fields
        if not fields:
            for spec in CONTACT_FIELDS:
                add_field("contact", spec, SYSTEM)
            for spec in DEAL_FIELDS:
                add_field("deal", spec, SYSTEM)
        records = current_accord(app).records
        if not db.session.execute(select(User.id).where(User.email == "bench-admin@example.com")).first():
            db.session.rollback()
            admin = make_user(app, "bench-admin@example.com", "Bench Admin", is_admin=True)
            for n in range(20):
                records.create("user", {"email": f"owner{n}@example.com", "name": f"Owner {n}"}, SYSTEM)
            for n in range(10):
                records.create("territory", {"name": f"Territory {n}"}, SYSTEM)
        admin = db.session.execute(select(User).where(User.email == "bench-admin@example.com")).scalar_one()
        owners = db.session.execute(select(User.id).where(User.email.like("owner%@example.com"))).scalars().all()
        territories = db.session.execute(select(Territory.id)).scalars().all()
        token = create_token(admin, name="bench")
        admin_id = admin.id
        db.session.remove()
    return {"token": token, "admin_id": admin_id, "owners": owners, "territories": territories}


LOADER_VERSION = 1


def schema_fingerprint(url):
    """What a kept database must have been loaded under: the migrations, the search DDL,
    the custom fields and this loader. Any change means loading again."""
    import hashlib

    from accord.core import search
    from accord.core.migrate import MIGRATIONS

    digest = hashlib.sha256(f"loader {LOADER_VERSION}".encode())
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    digest.update(json.dumps([CONTACT_FIELDS, DEAL_FIELDS, search.SQLITE_DDL, search.POSTGRES_DDL]).encode())
    return digest.hexdigest()[:16]


def marker_path(url):
    """A small file next to the results that records what a kept database holds."""
    import hashlib

    if engine_name(url) == "sqlite":
        return Path(str(sqlite_path(url)) + ".bench.json")
    return RESULTS / f"loaded-{hashlib.sha1(safe_url(url).encode()).hexdigest()[:10]}.json"


def write_marker(url, rows):
    marker_path(url).write_text(json.dumps({"url": safe_url(url), "rows": rows, "schema": schema_fingerprint(url)}))


def loaded_state(app, rows, url):
    """Whether the database already holds the bulk rows of a previous ``--keep`` run,
    loaded under the current schema."""
    try:
        marker = json.loads(marker_path(url).read_text())
    except (OSError, ValueError):
        return False
    if marker.get("rows") != rows or marker.get("schema") != schema_fingerprint(url):
        return False
    from accord.core.db import db
    from sqlalchemy import text

    with app.app_context():
        try:
            contacts = db.session.execute(text("SELECT count(*) FROM contact")).scalar()
            deals = db.session.execute(text("SELECT count(*) FROM deal")).scalar()
            entries = db.session.execute(text("SELECT count(*) FROM search_entry")).scalar()
            fields = db.session.execute(text("SELECT count(*) FROM custom_field")).scalar()
        except Exception:  # noqa: BLE001 - no schema yet
            db.session.rollback()
            return False
        finally:
            db.session.remove()
    return contacts == rows and deals == rows and entries >= 2 * rows and fields == len(CONTACT_FIELDS) + len(DEAL_FIELDS)


def loader_engine(url):
    """A separate engine for the bulk load, tuned for it (never used for measurements)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if engine_name(url) == "sqlite":
        engine = create_engine(url, poolclass=NullPool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, record):
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-1000000",
                           "temp_store=MEMORY", "foreign_keys=OFF"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        return engine
    engine = create_engine(url, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection, record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")
        dbapi_connection.commit()

    return engine


def load_afresh(app, url, instance, rows, batch, log):
    """Empty the bench database, migrate it, bulk-load ``rows`` contacts and deals and
    mark it as loaded; returns ``(app on the loaded database, setup, seconds)``. ``app`` is
    the caller's app on the old database, whose connections are given back first."""
    dispose(app)
    marker_path(url).unlink(missing_ok=True)
    reset_database(url)
    app = make_app(url, instance)
    setup = prepare_schema(app)
    log(f"loading {rows:,} contacts and {rows:,} deals ...")
    t0 = time.perf_counter()
    bulk_load(app, url, rows, setup, batch, log)
    seconds = round(time.perf_counter() - t0, 1)
    write_marker(url, rows)
    log(f"loaded in {seconds} s")
    dispose(app)  # connections opened before the load forget nothing useful
    return make_app(url, instance), setup, seconds


def bulk_load(app, url, rows, setup, batch, log):
    """Insert ``rows`` contacts and ``rows`` deals (with links, stage history and search
    entries) the way the service layer would have stored them, in batches of ``batch``,
    then run ``upgrade(app)`` as ``accord db upgrade`` would."""
    from accord.core import search
    from accord.core.migrate import upgrade
    from accord.core.models import Contact, Deal, SearchEntry, StageHistory, deal_contact
    from sqlalchemy import func, select, text

    engine = loader_engine(url)
    is_pg = engine_name(url) == "postgresql"
    contact_t, deal_t = Contact.__table__, Deal.__table__
    entry_t, history_t = SearchEntry.__table__, StageHistory.__table__
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = timedelta(days=3 * 365)
    start = now - span - timedelta(days=1)
    step = span / max(rows, 1)
    owners, territories, creator = setup["owners"], setup["territories"], setup["admin_id"]

    with engine.connect() as conn:
        first_contact = (conn.execute(select(func.max(contact_t.c.id))).scalar() or 0) + 1
        first_deal = (conn.execute(select(func.max(deal_t.c.id))).scalar() or 0) + 1
        conn.rollback()

    # Search entries go in without the FTS trigger and the FTS index is rebuilt once at the
    # end (SQLite); on PostgreSQL the GIN indexes are dropped and created again. Either way
    # the end state is the one the service layer's per-row writes would have left.
    with engine.begin() as conn:
        if is_pg:
            conn.execute(text("DROP INDEX IF EXISTS ix_search_entry_document"))
            conn.execute(text("DROP INDEX IF EXISTS ix_search_entry_title_trgm"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS search_entry_ai"))

    t0 = time.perf_counter()
    maker = ContactMaker(1, owners, creator)
    insert_batches(engine, rows, batch, lambda i: maker.row(i, first_contact + i, start + step * i),
             [contact_t, entry_t], log, "contacts")
    log(f"  contacts: {rows:,} rows in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    DEAL_COLUMNS.update(deal_t.c.keys())
    deals = DealMaker(2, owners, territories, creator, date(now.year, now.month, 1))
    contact_count = rows

    def deal_rows(i):
        row, history, entry = deals.row(i, first_deal + i, start + step * i + timedelta(seconds=1))
        links = [{"deal_id": first_deal + i, "contact_id": first_contact + (i * 7919) % max(contact_count, 1)}]
        if i % 4 == 0 and contact_count > 1:
            links.append({"deal_id": first_deal + i, "contact_id": first_contact + (i * 104729 + 1) % contact_count})
            if links[1]["contact_id"] == links[0]["contact_id"]:
                links.pop()
        return row, history, entry, links

    insert_batches(engine, rows, batch, deal_rows, [deal_t, history_t, entry_t, deal_contact], log, "deals")
    log(f"  deals: {rows:,} rows (+ stage history, contact links) in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    with engine.begin() as conn:
        if is_pg:
            for name in ("contact", "deal"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM \"{name}\"))"))
            for statement in search.POSTGRES_DDL:
                if statement.startswith("CREATE INDEX"):
                    conn.execute(text(statement))
        else:
            conn.execute(text(search.SQLITE_DDL[1]))  # the insert trigger, exactly as migrated
            conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    log(f"  search index built in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    # What a deployment runs after loading records around the service layer: it counts
    # the deals' pipeline totals and, on SQLite, gathers the planner's statistics.
    upgrade(app)
    dispose(app)
    log(f"  accord db upgrade (pipeline totals{'' if is_pg else ', ANALYZE'}) in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    if is_pg:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        log(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        log(f"  WAL checkpoint in {time.perf_counter() - t0:.1f} s")
    engine.dispose()


def insert_batches(engine, rows, batch, make, tables, log, label):
    """Build rows with ``make(i)`` (a tuple, one item per table; lists are spread) and
    insert them with Core executemany, committing every few batches."""
    commit_every = max(batch, 200_000)
    done = 0
    conn = engine.connect()
    try:
        while done < rows:
            size = min(batch, rows - done)
            columns = [[] for _ in tables]
            for i in range(done, done + size):
                for slot, item in enumerate(make(i)):
                    if isinstance(item, list):
                        columns[slot].extend(item)
                    else:
                        columns[slot].append(item)
            for table, values in zip(tables, columns):
                if values:
                    conn.execute(table.insert(), values)
            done += size
            if done % commit_every < batch or done == rows:
                conn.commit()
                log(f"    {label}: {done:,}/{rows:,}")
        conn.commit()
    finally:
        conn.close()


def verify_load(app, rows, types=("contact", "deal")):
    """Check that bulk rows of ``types`` are what the service layer would have written: for
    a few of them, create a twin through ``RecordService.create`` from the same writable
    values and compare every stored column (but the times the service layer sets itself),
    the search entry and the stage history; then remove the twins. Also check that search
    finds a loaded name and that the pipeline totals match a fresh count."""
    from accord.core import search
    from accord.core.db import db
    from accord.core.models import SearchEntry, StageHistory
    from accord.core import pipeline_totals
    from accord.core.records import Actor, write_unit
    from accord.core.registry import current_accord
    from sqlalchemy import delete, func, select, text

    problems = []
    volatile = {"id", "created_at", "updated_at", "closed_at", "done_at"}
    twins = []
    with app.test_request_context():
        accord = current_accord(app)
        records = accord.records
        for type_key in types:
            rt = accord.catalog().type(type_key)
            table = rt.table
            ids = db.session.execute(text(f"SELECT min(id), max(id) FROM {type_key}")).first()
            for record_id in (ids[0], (ids[0] + ids[1]) // 2, ids[1]):
                record = records.get(type_key, record_id)
                data = {k: v for k, v in record.to_json().items()
                        if (k in rt.writable_fields or k in {r.name for r in rt.relations}) and v is not None}
                twin = records.create(type_key, data, Actor(user_id=record.values["created_by"], source="import"))
                twins.append((rt, twin))
                bulk_row, twin_row = (db.session.execute(select(table).where(table.c.id == i)).mappings().one()
                                      for i in (record_id, twin.id))
                for column in table.c.keys():
                    if column not in volatile and bulk_row[column] != twin_row[column]:
                        problems.append(f"{type_key} {record_id}: column {column} is {bulk_row[column]!r} in the "
                                        f"bulk row but {twin_row[column]!r} through the service layer")
                entries = [db.session.execute(select(SearchEntry.title, SearchEntry.body).where(
                    SearchEntry.record_type == type_key, SearchEntry.record_id == i)).first() for i in (record_id, twin.id)]
                if entries[0] != entries[1]:
                    problems.append(f"search entry of {type_key} {record_id}: {entries[0]} (bulk) != {entries[1]} (service)")
                history = [db.session.execute(select(func.count()).select_from(StageHistory).where(
                    StageHistory.record_type == type_key, StageHistory.record_id == i)).scalar() for i in (record_id, twin.id)]
                if history[0] != history[1]:
                    problems.append(f"stage history of {type_key} {record_id}: {history[0]} rows (bulk) != {history[1]} (service)")
            hits = search.search(db.session, record.title.split()[0], limit=5)
            if not hits:
                problems.append(f"search finds nothing for {record.title.split()[0]!r}")
        db.session.rollback()
        with write_unit() as session:
            for rt, twin in twins:
                pipeline_totals.track(session, rt, twin.values, None)
        for rt, twin in twins:
            twin_id = twin.id
            db.session.execute(delete(SearchEntry).where(SearchEntry.record_type == rt.key, SearchEntry.record_id == twin_id))
            db.session.execute(delete(StageHistory).where(StageHistory.record_type == rt.key, StageHistory.record_id == twin_id))
            for relation in rt.relations:
                db.session.execute(delete(relation.table).where(relation.table.c[relation.local_column] == twin_id))
            db.session.execute(delete(rt.table).where(rt.table.c.id == twin_id))
        db.session.commit()
        problems += totals_problems(accord, types)
        db.session.remove()
    return problems


def totals_problems(accord, types):
    """Whether the pipeline totals of ``types`` match a fresh count of their records
    (counted in a transaction that is rolled back)."""
    from accord.core import pipeline_totals
    from accord.core.db import db
    from accord.core.models import PipelineTotal
    from sqlalchemy import select

    def stored():
        return set(db.session.execute(select(*PipelineTotal.__table__.c).where(PipelineTotal.records != 0)).all())

    kept = stored()
    for type_key in types:
        pipeline_totals.rebuild(db.session, accord.catalog().type(type_key))
    counted = stored()
    db.session.rollback()
    return [f"pipeline totals differ from a fresh count: kept only {sorted(kept - counted)[:3]}, "
            f"counted only {sorted(counted - kept)[:3]}"] if kept != counted else []


# ---------------------------------------------------------------------------------------
# Measurement helpers
# ---------------------------------------------------------------------------------------


def pct(samples, q):
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples):
    out = {"p50_ms": round(pct(samples, 50) * 1000, 3), "p95_ms": round(pct(samples, 95) * 1000, 3),
           "mean_ms": round(statistics.fmean(samples) * 1000, 3), "n": len(samples)}
    if getattr(samples, "cpu_mean", None) is not None:
        out["cpu_mean_ms"] = round(samples.cpu_mean * 1000, 3)
    return out


MIN_SAMPLES = 10


def bounded_interleaved(functions, n, warmup, max_seconds):
    """:func:`interleaved`, with fewer rounds when one round is slow (a full sort at 1M rows)."""
    t = time.perf_counter()
    for fn in functions:
        fn()
    one_round = time.perf_counter() - t
    if one_round * (n + warmup) > max_seconds:
        warmup = min(warmup, 3)
        n = max(MIN_SAMPLES, int(max_seconds / max(one_round, 1e-6)) - warmup)
    return interleaved(functions, n, warmup)


class StatementLog:
    """SQL statements (without transaction control) seen on an engine."""

    SKIP = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")

    def __init__(self, engine):
        from sqlalchemy import event

        self.engine = engine
        self.seen = []
        self.active = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.active and not statement.lstrip().upper().startswith(self.SKIP):
            self.seen.append((statement, parameters))

    def capture(self, fn):
        self.seen = []
        self.active = True
        try:
            fn()
        finally:
            self.active = False
        return list(self.seen)


def raw_replay(engine, statement, parameters):
    """Run one captured statement on a raw driver connection: the database's own cost."""
    raw = engine.raw_connection()
    dbapi = raw.driver_connection if hasattr(raw, "driver_connection") else raw
    is_pg = engine.dialect.name == "postgresql"

    def call():
        cursor = dbapi.cursor()
        cursor.execute(statement, parameters)
        cursor.fetchall()
        cursor.close()
        if is_pg:
            dbapi.rollback()

    return call, raw


def explain(engine, statement, parameters):
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        cursor = dbapi.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [r[0] for r in cursor.fetchall()]
            dbapi.rollback()
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines = [r[-1] for r in cursor.fetchall()]
        cursor.close()
        return lines
    finally:
        raw.close()


def json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


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
