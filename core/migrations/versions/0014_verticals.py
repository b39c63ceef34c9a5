"""Vertical packs: record types declared without code, renamed terms, added picklist values, dashboard widgets and
help topics as data, automation rules and their runs, shared saved views, and the
changesets that packs are applied as.

Revision ID: 0014_verticals
Revises: 0013_roles
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0014_verticals'
down_revision = '0013_roles'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('record_type_definition',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('plural_label', sa.String(length=120), nullable=False),
    sa.Column('plural', sa.String(length=64), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('title_fields', JsonType, nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('pipeline', sa.String(length=64), nullable=True),
    sa.Column('timeline', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_record_type_definition')),
    sa.UniqueConstraint('plural', name=op.f('uq_record_type_definition_plural')),
    sa.UniqueConstraint('table_name', name=op.f('uq_record_type_definition_table_name'))
    )
    op.create_table('term',
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('plural_label', sa.String(length=120), nullable=True),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('target', name=op.f('pk_term'))
    )
    op.create_table('picklist_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=63), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_picklist_value')),
    sa.UniqueConstraint('record_type', 'field', 'key', name=op.f('uq_picklist_value_record_type_field_key'))
    )
    op.create_table('dashboard_widget_definition',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('measure', sa.String(length=16), nullable=False),
    sa.Column('field', sa.String(length=63), nullable=True),
    sa.Column('group_by', sa.String(length=63), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_dashboard_widget_definition'))
    )
    op.create_table('help_topic_definition',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('pages', JsonType, nullable=False),
    sa.Column('group', sa.String(length=120), nullable=True),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_help_topic_definition'))
    )
    op.create_table('automation_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('trigger_value', sa.String(length=64), nullable=True),
    sa.Column('conditions', JsonType, nullable=False),
    sa.Column('actions', JsonType, nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_rule')),
    sa.UniqueConstraint('key', name=op.f('uq_automation_rule_key'))
    )
    op.create_index(op.f('ix_automation_rule_record_type'), 'automation_rule', ['record_type'], unique=False)
    op.create_table('automation_run',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('rule_key', sa.String(length=64), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('record_id', IdType, nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_run'))
    )
    op.create_index('ix_automation_run_rule', 'automation_run', ['rule_key', 'id'], unique=False)
    op.create_table('vertical_changeset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pack', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('operations', JsonType, nullable=False),
    sa.Column('applied_at', UTCDateTime(), nullable=False),
    sa.Column('applied_by', sa.String(length=120), nullable=True),
    sa.Column('reverted_at', UTCDateTime(), nullable=True),
    sa.Column('reverted_by', sa.String(length=120), nullable=True),
    sa.Column('export_path', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vertical_changeset'))
    )
    op.create_index(op.f('ix_vertical_changeset_pack'), 'vertical_changeset', ['pack'], unique=False)
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=64), nullable=True))
        batch_op.alter_column('user_id', existing_type=IdType, nullable=True)


def downgrade():
    op.execute('DELETE FROM saved_view WHERE user_id IS NULL')
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=IdType, nullable=False)
        batch_op.drop_column('origin')
    op.drop_index(op.f('ix_vertical_changeset_pack'), table_name='vertical_changeset')
    op.drop_table('vertical_changeset')
    op.drop_index('ix_automation_run_rule', table_name='automation_run')
    op.drop_table('automation_run')
    op.drop_index(op.f('ix_automation_rule_record_type'), table_name='automation_rule')
    op.drop_table('automation_rule')
    op.drop_table('help_topic_definition')
    op.drop_table('dashboard_widget_definition')
    op.drop_table('picklist_value')
    op.drop_table('term')
    op.drop_table('record_type_definition')
