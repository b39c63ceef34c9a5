"""Alembic environment for the core tables: runs on the app's own engine."""

from alembic import context
from flask import current_app

from accord.core.db import db

config = context.config
target_metadata = db.metadata


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with current_app.app_context(), db.engine.connect() as connection:
        _run(connection)
        connection.commit()


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table="alembic_version",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
