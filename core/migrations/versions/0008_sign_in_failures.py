"""Failed sign-ins, counted per account and per address to slow down password guessing.

Revision ID: 0008_sign_in_failures
Revises: 0007_webhooks
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, UTCDateTime

revision = '0008_sign_in_failures'
down_revision = '0007_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_failure',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure'))
    )
    op.create_index('ix_sign_in_failure_email', 'sign_in_failure', ['email', 'at'], unique=False)
    op.create_index('ix_sign_in_failure_address', 'sign_in_failure', ['address', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_sign_in_failure_address', table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_email', table_name='sign_in_failure')
    op.drop_table('sign_in_failure')
