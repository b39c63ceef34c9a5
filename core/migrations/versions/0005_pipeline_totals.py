"""Running totals per pipeline stage, read by the board, the funnel and the forecast.

The table starts empty; ``accord db upgrade`` counts each pipelined type into it once
(:func:`accord.core.pipeline_totals.build_missing`).

Revision ID: 0005_pipeline_totals
Revises: 0004_deal_board
"""
from alembic import op
import sqlalchemy as sa

revision = '0005_pipeline_totals'
down_revision = '0004_deal_board'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pipeline_total',
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('pipeline', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=16), nullable=False),
    sa.Column('close_month', sa.String(length=7), nullable=False),
    sa.Column('closed_month', sa.String(length=7), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('amount_units', sa.BigInteger(), nullable=False),
    sa.Column('amount_micros', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('record_type', 'pipeline', 'stage', 'currency', 'close_month', 'closed_month',
                            name=op.f('pk_pipeline_total'))
    )


def downgrade():
    op.drop_table('pipeline_total')
