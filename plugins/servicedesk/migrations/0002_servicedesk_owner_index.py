"""Live tickets by owner then creation, for agents who read only their own or their
team's tickets.

Revision ID: servicedesk_0002
Revises: servicedesk_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "servicedesk_0002"
down_revision = "servicedesk_0001"
branch_labels = None
depends_on = None

TABLE = "servicedesk_ticket"
LIVE = sa.text("deleted_at IS NULL")


def upgrade():
    op.create_index("ix_servicedesk_ticket_live_owner", TABLE, ["owner_id", "created_at", "id"],
                    postgresql_where=LIVE, sqlite_where=LIVE)


def downgrade():
    op.drop_index("ix_servicedesk_ticket_live_owner", table_name=TABLE)
