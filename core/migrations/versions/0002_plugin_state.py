"""Plugin state and what each plugin owns.

Revision ID: 0002_plugins
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import JsonType, UTCDateTime

revision = '0002_plugins'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plugin_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('installed_version', sa.String(length=40), nullable=True),
    sa.Column('settings', JsonType, nullable=False),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.Column('changed_by', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_plugin_state'))
    )
    op.create_table('plugin_object',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plugin_object')),
    sa.UniqueConstraint('plugin', 'kind', 'name', name=op.f('uq_plugin_object_plugin_kind_name'))
    )
    op.create_index(op.f('ix_plugin_object_plugin'), 'plugin_object', ['plugin'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_plugin_object_plugin'), table_name='plugin_object')
    op.drop_table('plugin_object')
    op.drop_table('plugin_state')
