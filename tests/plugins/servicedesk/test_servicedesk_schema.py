"""The table the service desk's migration creates is the table its model describes: a
column, index or foreign key changed on one side only fails here, on SQLite and on
PostgreSQL alike."""

import re

import pytest
from accord.core.db import db
from accord.core.lifecycle import upgrade_preview
from accord.plugins.servicedesk.models import Ticket
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

PLUGIN = "servicedesk"
TABLE = Ticket.__tablename__


@pytest.fixture
def app(with_enabled_plugins):
    return with_enabled_plugins(PLUGIN)


def _table_of(obj, type_):
    return obj.name if type_ == "table" else obj.table.name


def test_alembic_finds_no_difference_between_the_migrated_table_and_the_model(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_name": lambda name, type_, parents: type_ != "table" or name == TABLE,
            "include_object": lambda obj, name, type_, reflected, compare_to: _table_of(obj, type_) == TABLE,
        })
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_migrated_columns_indexes_and_foreign_keys_are_the_models(app):
    model = Ticket.__table__
    with app.app_context(), db.engine.connect() as connection:
        inspector = inspect(connection)
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(TABLE)}
        indexes = {i["name"]: (tuple(i["column_names"]), _where(i.get("dialect_options", {})))
                   for i in inspector.get_indexes(TABLE)}
        foreign_keys = {(tuple(fk["constrained_columns"]), fk["referred_table"]) for fk in inspector.get_foreign_keys(TABLE)}
        dialect = connection.dialect.name
    assert columns == {c.name: c.nullable for c in model.columns}
    assert indexes == {
        i.name: (tuple(c.name for c in i.columns), _normal(i.dialect_options[dialect].get("where")))
        for i in model.indexes
    }
    assert foreign_keys == {((fk.parent.name,), fk.column.table.name) for fk in model.foreign_keys}


def test_the_partial_indexes_are_partial(app):
    model = {i.name: i for i in Ticket.__table__.indexes}
    assert _normal(model[f"ix_{TABLE}_awaiting_response"].dialect_options["sqlite"]["where"]) == \
        "deleted_at is null and first_responded_at is null"
    assert all(model[name].dialect_options["postgresql"]["where"] is not None
               for name in (f"ix_{TABLE}_live_created", f"ix_{TABLE}_live_stage", f"ix_{TABLE}_trash"))


def test_the_migration_previews_as_sql_before_it_runs(accord_app_factory):
    fresh = accord_app_factory()
    with fresh.app_context():
        preview = upgrade_preview(PLUGIN)
    assert [m["revision"] for m in preview["migrations"]] == ["servicedesk_0001", "servicedesk_0002"]
    assert preview["current_revision"] is None
    assert f"CREATE TABLE {TABLE}" in preview["sql"]
    assert f"CREATE INDEX ix_{TABLE}_awaiting_response" in preview["sql"]


def _where(options):
    return _normal(next((value for key, value in options.items() if key.endswith("_where")), None))


def _normal(clause):
    """A partial index's condition as text, without the parentheses and spacing each
    database adds when it reports it back."""
    if clause is None:
        return None
    return re.sub(r"\s+", " ", str(clause).replace("(", "").replace(")", "")).strip().lower()
