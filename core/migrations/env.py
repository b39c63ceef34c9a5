"""Alembic environment for the core's tables and each plugin's: runs on the app's own
engine (or the connection handed in, so a migration joins the caller's transaction).

Each plugin keeps its own version table (``alembic_version_<plugin>``) beside the core's
``alembic_version``, so one plugin's history never depends on another being installed.
"""

from alembic import context
from flask import current_app

from accord.core.db import db

config = context.config
target_metadata = db.metadata
version_table = config.attributes.get("version_table", "alembic_version")


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with current_app.app_context(), db.engine.connect() as connection:
        _run(connection)
        connection.commit()


def run_migrations_offline():
    """Print the SQL an upgrade would run (``accord plugins upgrade --dry-run``)."""
    context.configure(url=config.attributes["url"], literal_binds=True, version_table=version_table,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=version_table,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
