"""Background jobs.

Revision ID: 0006_jobs
Revises: 0005_pipeline_totals
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0006_jobs'
down_revision = '0005_pipeline_totals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('arguments', JsonType, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', UTCDateTime(), nullable=False),
    sa.Column('lease_until', UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=True),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('dispatched_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('name', 'key', name=op.f('uq_job_name_key'))
    )
    op.create_index('ix_job_due', 'job', ['state', 'run_at'], unique=False)


def downgrade():
    op.drop_index('ix_job_due', table_name='job')
    op.drop_table('job')
