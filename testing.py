"""Pytest fixtures for Accord and for plugins built on it (a pytest plugin, loaded
automatically once ``accord-crm`` is installed).

Each test gets a fresh app on a clean database: SQLite by default (a copy of a database
migrated once per session), or PostgreSQL when ``ACCORD_TEST_DATABASE_URL`` is set (a
database of the session's own, created on that server, migrated once and emptied
between tests).

Background jobs run when a test runs them (``accord.core.jobs.run_due``), not on the
embedded runner's threads: ``ACCORD_JOBS_THREADS`` is 0 for every app a test makes,
unless the test asks for threads, so no app's runner takes the jobs of another test.
"""

import os
import shutil
from contextlib import contextmanager

import pytest

TEST_DATABASE_ENV = "ACCORD_TEST_DATABASE_URL"
os.environ.setdefault("ACCORD_JOBS_THREADS", "0")


def close_app(app):
    """Stop an app's job runner and give back its database connections (SQLite files can
    then be removed)."""
    from accord.core.db import db
    from accord.core.jobs import stop_runner

    stop_runner(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _postgres_url():
    url = os.environ.get(TEST_DATABASE_ENV)
    return url or None


@pytest.fixture(scope="session")
def accord_database_template(tmp_path_factory):
    """Migrate one database per session; tests start from a copy or an emptied version of it."""
    from sqlalchemy import inspect

    from accord.core import create_app
    from accord.core.db import db
    from accord.core.migrate import upgrade

    url = _postgres_url()
    folder = tmp_path_factory.mktemp("accord-template")
    if url:
        base, url = _private_database(url)
        app = create_app({"INSTANCE_PATH": str(folder), "DATABASE_URL": url})
        upgrade(app)
        with app.app_context():
            tables = tuple(inspect(db.engine).get_table_names())
        close_app(app)
        yield {"url": url, "tables": tables}
        _drop_private_database(base, url)
        return
    path = folder / "accord.db"
    app = create_app({"INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{path}",
                      "SQLITE_SYNCHRONOUS": "OFF"})
    upgrade(app)
    with app.app_context():
        db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    close_app(app)
    yield {"path": path}


def _private_database(url):
    """A database of this test session's own (created beside the one named by the URL),
    so that test runs sharing one server never collide."""
    from sqlalchemy import create_engine, make_url, text

    from accord.core.config import _normalise_database_url

    base = make_url(_normalise_database_url(url))
    name = f"accord_test_{os.getpid()}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base, base.set(database=name).render_as_string(hide_password=False)


def _drop_private_database(base, url):
    from sqlalchemy import create_engine, make_url, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def _empty_postgres(app, core_tables):
    """Back to a freshly migrated database: tables that plugins created go, core tables are
    emptied, indexes on custom fields are dropped."""
    from sqlalchemy import inspect, text

    from accord.core.db import db
    from accord.core.migrate import upgrade

    with app.app_context():
        present = inspect(db.engine).get_table_names()
        for table in present:
            if table not in core_tables:
                db.session.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        indexes = db.session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix_cf_%'"
        )).scalars().all()
        for name in indexes:
            db.session.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        emptied = [t for t in core_tables if t != "alembic_version"]
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in emptied) + " RESTART IDENTITY CASCADE"))
        db.session.execute(text("INSERT INTO schema_generation (id, value) VALUES (1, 0)"))
        db.session.commit()
    upgrade(app)


@pytest.fixture
def accord_app_factory(accord_database_template, tmp_path):
    """``make(plugins=(), **settings)`` → a new app on a clean database."""
    from accord.core import create_app

    made = []

    def make(plugins=(), **settings):
        instance = tmp_path / f"instance{len(made)}"
        instance.mkdir()
        config = {"INSTANCE_PATH": str(instance), "PLUGINS": tuple(plugins), **settings}
        if "url" in accord_database_template:
            config.setdefault("DATABASE_URL", accord_database_template["url"])
            app = create_app(config)
            _empty_postgres(app, accord_database_template["tables"])
        else:
            path = instance / "accord.db"
            shutil.copyfile(accord_database_template["path"], path)
            config.setdefault("DATABASE_URL", f"sqlite:///{path}")
            config.setdefault("SQLITE_SYNCHRONOUS", "OFF")
            app = create_app(config)
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


@pytest.fixture
def app(accord_app_factory):
    """An Accord app with the core only, on a clean database."""
    return accord_app_factory()


@pytest.fixture
def with_plugins(accord_app_factory):
    """``with_plugins(plugin, ...)`` → an app with those hook implementations registered."""

    def make(*plugins, **settings):
        return accord_app_factory(plugins=plugins, **settings)

    return make


@pytest.fixture
def with_enabled_plugins(accord_app_factory):
    """``with_enabled_plugins("name", ...)`` → an app on a clean database with those
    installed plugins (and what they require) switched on, their migrations run: the way
    a plugin's own tests get an app with the plugin in it."""

    def make(*names, **settings):
        app = accord_app_factory(**settings)
        enable_plugins(app, *names)
        return app

    return make


def enable_plugins(app, *names):
    """Switch installed plugins on in ``app``'s database, as ``accord plugins enable`` does."""
    from accord.core.lifecycle import enable

    with app.app_context():
        for name in names:
            enable(name, by="test")


@pytest.fixture
def admin(app):
    """An active administrator of ``app``."""
    return make_user(app, "admin@example.com", "Ada Admin", is_admin=True)


def make_user(app, email, name, is_admin=False, password=None, role=None, team_id=None):
    """A committed active user; ``role`` (a role key) defaults to admin or user as
    ``is_admin`` says."""
    from accord.core.db import db
    from accord.core.models import User
    from accord.core.passwords import hash_password

    with app.app_context():
        user = User(email=email, name=name, is_admin=is_admin or role == "admin", is_active=True,
                    role=role or ("admin" if is_admin else "user"), team_id=team_id,
                    password_hash=hash_password(password) if password else None)
        db.session.add(user)
        db.session.commit()
        return user


class ApiClient:
    """The test client with a bearer token: ``api.get("/contacts")`` means ``/api/v1/contacts``."""

    def __init__(self, app, token):
        self.app = app
        self.token = token
        self.client = app.test_client()

    def _headers(self, headers):
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def _url(self, path):
        return path if path.startswith("/api/") else "/api/v1" + path

    def request(self, method, path, headers=None, **kwargs):
        return self.client.open(self._url(path), method=method, headers=self._headers(headers), **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def api_client(app, user, scopes=("read", "write")):
    from accord.core.tokens import create_token

    with app.app_context():
        token = create_token(user, name="test", scopes=scopes)
    return ApiClient(app, token)


@pytest.fixture
def api(app, admin):
    """An :class:`ApiClient` acting as ``admin``."""
    return api_client(app, admin)


@pytest.fixture
def make_record(app, admin):
    """``make_record("contact", last_name="Doe")`` → a committed record, through the service layer."""
    from accord.core.records import Actor
    from accord.core.registry import current_accord

    actor = Actor(user_id=admin.id, source="test", is_admin=True, name=admin.name)

    def make(type_key, **values):
        with app.test_request_context():
            return current_accord(app).records.create(type_key, values, actor)

    return make


@pytest.fixture
def count_statements(app):
    """``with count_statements() as seen: ...`` then ``len(seen)`` is the SQL statements run."""
    from sqlalchemy import event

    from accord.core.db import db

    @contextmanager
    def counting():
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
                seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting
