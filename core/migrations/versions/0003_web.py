"""Instance settings (the active theme) and saved views of list pages.

Revision ID: 0003_web
Revises: 0002_plugins
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0003_web'
down_revision = '0002_plugins'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('instance_setting',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', JsonType, nullable=True),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_instance_setting'))
    )
    op.create_table('saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', IdType, nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_saved_view_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_view')),
    sa.UniqueConstraint('user_id', 'record_type', 'name', name=op.f('uq_saved_view_user_id_record_type_name'))
    )


def downgrade():
    op.drop_table('saved_view')
    op.drop_table('instance_setting')
