"""Webhook subscriptions made to get every event also get the new ``erased`` event.

Revision ID: 0015_erased_event
Revises: 0014_verticals
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import JsonType

revision = '0015_erased_event'
down_revision = '0014_verticals'
branch_labels = None
depends_on = None

EARLIER_EVENTS = {'created', 'updated', 'deleted', 'restored', 'stage_changed'}
SUBSCRIPTION = sa.table('webhook_subscription', sa.column('id', sa.Integer), sa.column('events', JsonType),
                        sa.column('active', sa.Boolean))


def upgrade():
    bind = op.get_bind()
    for row in bind.execute(sa.select(SUBSCRIPTION.c.id, SUBSCRIPTION.c.events)).all():
        if EARLIER_EVENTS <= set(row.events) and 'erased' not in row.events:
            bind.execute(sa.update(SUBSCRIPTION).where(SUBSCRIPTION.c.id == row.id)
                         .values(events=[*row.events, 'erased']))


def downgrade():
    bind = op.get_bind()
    for row in bind.execute(sa.select(SUBSCRIPTION.c.id, SUBSCRIPTION.c.events)).all():
        if 'erased' in row.events:
            kept = [event for event in row.events if event != 'erased']
            values = {'events': kept} if kept else {'events': kept, 'active': False}
            bind.execute(sa.update(SUBSCRIPTION).where(SUBSCRIPTION.c.id == row.id).values(**values))
