"""Deal indexes for the pipeline board (columns by last change) and won/lost by month.

Revision ID: 0004_deal_board
Revises: 0003_web
"""
from alembic import op
import sqlalchemy as sa

revision = '0004_deal_board'
down_revision = '0003_web'
branch_labels = None
depends_on = None

LIVE = sa.text('deleted_at IS NULL')


def upgrade():
    with op.batch_alter_table('deal') as batch_op:
        batch_op.create_index('ix_deal_live_stage_updated', ['pipeline', 'stage', 'updated_at', 'id'],
                              postgresql_where=LIVE, sqlite_where=LIVE)
        batch_op.create_index('ix_deal_closed', ['pipeline', 'stage', 'closed_at'],
                              postgresql_where=LIVE, sqlite_where=LIVE)


def downgrade():
    with op.batch_alter_table('deal') as batch_op:
        batch_op.drop_index('ix_deal_closed')
        batch_op.drop_index('ix_deal_live_stage_updated')
