"""Bring a database to the current schema: Alembic migrations for the core tables, then
the pipelines plugins declare."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from .db import db
from .pipelines import sync_pipelines
from .registry import bump_generation, current_accord

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection=None):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(app):
    """Run pending migrations and add declared pipelines that are missing."""
    with app.app_context():
        with db.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
        accord = current_accord(app)
        if sync_pipelines(db.session, accord.pipeline_definitions):
            bump_generation(db.session)
        db.session.commit()


def current_revision(app):
    from alembic.runtime.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
