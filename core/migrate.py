"""Bring a database to the current schema: the core's Alembic migrations and the pipelines
it declares, then the pending migrations of every enabled plugin.

The core's history is kept in ``alembic_version``, each plugin's in its own
``alembic_version_<plugin>`` (its own branch, from its own ``migrations/`` folder), so a
plugin's migrations can run, be previewed or be undone alone.
"""

import io
from pathlib import Path

from . import pipeline_totals
from .db import db
from .pipelines import sync_pipelines
from .registry import bump_generation, current_accord

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection=None, manifest=None):
    """Alembic settings for the core, or for the plugin whose ``manifest`` is given.
    (Alembic is imported here and below, not at the top: web workers never need it.)"""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if manifest is not None:
        config.set_main_option("version_locations", str(manifest.migrations))
        config.attributes["version_table"] = version_table(manifest.name)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def version_table(plugin_name):
    return f"alembic_version_{plugin_name}"


def upgrade(app):
    """Run pending core migrations, add declared pipelines that are missing, bring every
    enabled plugin up to date (each plugin in its own transaction), count the pipeline
    totals of types that have none yet and, on SQLite, gather the planner's statistics;
    returns ``{plugin: why it was skipped}`` for
    enabled plugins that are broken or no longer installed."""
    from alembic import command

    with app.app_context():
        with db.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "heads")
        accord = current_accord(app)
        if sync_pipelines(db.session, accord.registrations().pipeline_definitions):
            bump_generation(db.session)
        db.session.commit()
        from .lifecycle import upgrade_enabled_plugins
        from .records import write_unit

        skipped = upgrade_enabled_plugins()
        with write_unit() as session:
            pipeline_totals.build_missing(session, accord.catalog().types.values())
        if db.engine.dialect.name == "sqlite":
            # SQLite's planner weighs indexes by the statistics ANALYZE gathers, and has none
            # unless asked (PostgreSQL's autovacuum keeps its own).
            with db.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        return skipped


def current_revision(app):
    from alembic.runtime.migration import MigrationContext

    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def plugin_revisions(manifest, connection):
    """``(current revision or None, [pending revision scripts, oldest first])`` of a plugin."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    if manifest.migrations is None:
        return None, []
    script = ScriptDirectory.from_config(alembic_config(manifest=manifest))
    context = MigrationContext.configure(connection, opts={"version_table": version_table(manifest.name)})
    current = context.get_current_revision()
    pending = list(script.iterate_revisions("heads", current))
    return current, list(reversed(pending))


def upgrade_plugin(manifest, connection):
    """Run a plugin's pending migrations on ``connection`` (inside the caller's transaction)."""
    from alembic import command

    if manifest.migrations is not None:
        command.upgrade(alembic_config(connection, manifest), "heads")


def downgrade_plugin(manifest, connection):
    """Undo every migration of a plugin (its tables go); only for ``uninstall --purge``."""
    from alembic import command

    if manifest.migrations is not None:
        command.downgrade(alembic_config(connection, manifest), "base")


def upgrade_sql(manifest, url, current):
    """The SQL a plugin's pending migrations would run, without running it."""
    from alembic import command

    config = alembic_config(manifest=manifest)
    config.attributes["url"] = url
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, f"{current or 'base'}:heads", sql=True)
    return buffer.getvalue()
