"""API tokens limited to some record types (NULL: every type).

Revision ID: 0011_token_record_types
Revises: 0010_web_sessions
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import JsonType

revision = '0011_token_record_types'
down_revision = '0010_web_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_token', sa.Column('record_types', JsonType, nullable=True))


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('record_types')
