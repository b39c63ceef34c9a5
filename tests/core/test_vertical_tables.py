"""The vertical-pack tables that migration 0014 creates match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from accord.core import db

TABLES = {"record_type_definition", "term", "picklist_value", "dashboard_widget_definition",
          "help_topic_definition", "automation_rule", "automation_run", "vertical_changeset", "saved_view"}


def _table_of(difference):
    if isinstance(difference, list):
        return _table_of(difference[0])
    operation, subject = difference[0], difference[1]
    if operation.endswith("_table"):
        return subject.name
    if operation.endswith("_index") or operation.endswith("_constraint"):
        return subject.table.name
    return difference[2]


def test_the_migration_creates_the_tables_the_models_declare(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, db.metadata) if _table_of(d) in TABLES]
    assert differences == []
