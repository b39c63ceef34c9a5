"""Outgoing webhooks: subscriptions, deliveries and their attempts.

Revision ID: 0007_webhooks
Revises: 0006_jobs
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0007_webhooks'
down_revision = '0006_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', JsonType, nullable=False),
    sa.Column('record_types', JsonType, nullable=True),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', IdType, nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_webhook_subscription_created_by_user'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscription'))
    )
    op.create_table('webhook_delivery',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('record_id', IdType, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('replays', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_attempt_at', UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscription.id'],
                            name=op.f('fk_webhook_delivery_subscription_id_webhook_subscription'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    op.create_index('ix_webhook_delivery_subscription', 'webhook_delivery', ['subscription_id', 'id'], unique=False)
    op.create_index('ix_webhook_delivery_subscription_status', 'webhook_delivery',
                    ['subscription_id', 'status', 'id'], unique=False)
    op.create_index('ix_webhook_delivery_event', 'webhook_delivery', ['event_id'], unique=False)
    op.create_table('webhook_attempt',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('delivery_id', IdType, nullable=False),
    sa.Column('replay', sa.Integer(), nullable=False),
    sa.Column('attempted_at', UTCDateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'],
                            name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    op.create_index('ix_webhook_attempt_delivery', 'webhook_attempt', ['delivery_id', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_webhook_attempt_delivery', table_name='webhook_attempt')
    op.drop_table('webhook_attempt')
    op.drop_index('ix_webhook_delivery_event', table_name='webhook_delivery')
    op.drop_index('ix_webhook_delivery_subscription_status', table_name='webhook_delivery')
    op.drop_index('ix_webhook_delivery_subscription', table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
    op.drop_table('webhook_subscription')
