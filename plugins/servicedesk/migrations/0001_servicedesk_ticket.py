"""The ticket table.

Revision ID: servicedesk_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "servicedesk_0001"
down_revision = None
branch_labels = ("servicedesk",)
depends_on = None

TABLE = "servicedesk_ticket"
# Column types written out as plain SQLAlchemy, so this file keeps describing the table it
# created whatever later happens to the model or the core's type helpers.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
LIVE = sa.text("deleted_at IS NULL")
TRASHED = sa.text("deleted_at IS NOT NULL")
AWAITING_RESPONSE = sa.text("deleted_at IS NULL AND first_responded_at IS NULL")


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Column("deleted_by", ID, nullable=True),
        sa.Column("custom", JSON, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("organization_id", ID, nullable=True),
        sa.Column("pipeline", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("first_response_due_at", TIMESTAMP, nullable=True),
        sa.Column("first_responded_at", TIMESTAMP, nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.Column("close_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_servicedesk_ticket_created_by_user")),
        sa.ForeignKeyConstraint(["deleted_by"], ["user.id"], name=op.f("fk_servicedesk_ticket_deleted_by_user")),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"], name=op.f("fk_servicedesk_ticket_owner_id_user")),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_servicedesk_ticket_contact_id_contact")),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"],
                                name=op.f("fk_servicedesk_ticket_organization_id_organization")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_servicedesk_ticket")),
    )
    op.create_index("ix_servicedesk_ticket_live_created", TABLE, ["created_at", "id"],
                    postgresql_where=LIVE, sqlite_where=LIVE)
    op.create_index("ix_servicedesk_ticket_live_updated_at", TABLE, ["updated_at", "id"],
                    postgresql_where=LIVE, sqlite_where=LIVE)
    op.create_index("ix_servicedesk_ticket_trash", TABLE, ["deleted_at", "id"],
                    postgresql_where=TRASHED, sqlite_where=TRASHED)
    op.create_index("ix_servicedesk_ticket_live_stage", TABLE, ["pipeline", "stage", "priority", "id"],
                    postgresql_where=LIVE, sqlite_where=LIVE)
    op.create_index("ix_servicedesk_ticket_awaiting_response", TABLE, ["first_response_due_at", "id"],
                    postgresql_where=AWAITING_RESPONSE, sqlite_where=AWAITING_RESPONSE)
    op.create_index(op.f("ix_servicedesk_ticket_contact_id"), TABLE, ["contact_id"])
    op.create_index(op.f("ix_servicedesk_ticket_organization_id"), TABLE, ["organization_id"])


def downgrade():
    for name in ("ix_servicedesk_ticket_organization_id", "ix_servicedesk_ticket_contact_id",
                 "ix_servicedesk_ticket_awaiting_response", "ix_servicedesk_ticket_live_stage",
                 "ix_servicedesk_ticket_trash", "ix_servicedesk_ticket_live_updated_at",
                 "ix_servicedesk_ticket_live_created"):
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)
