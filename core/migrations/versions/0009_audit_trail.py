"""The audit trail: who did what to which record, and when (append-only).

Revision ID: 0009_audit_trail
Revises: 0008_sign_in_failures
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0009_audit_trail'
down_revision = '0008_sign_in_failures'
branch_labels = None
depends_on = None

REFUSAL = 'audit entries are append-only'


def upgrade():
    op.create_table('audit_entry',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('actor_id', IdType, nullable=True),
    sa.Column('actor_name', sa.String(length=120), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('record_type', sa.String(length=64), nullable=False),
    sa.Column('record_id', IdType, nullable=True),
    sa.Column('changes', JsonType, nullable=True),
    sa.Column('details', JsonType, nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    op.create_index('ix_audit_entry_record', 'audit_entry', ['record_type', 'record_id', 'id'], unique=False)
    op.create_index('ix_audit_entry_actor', 'audit_entry', ['actor_id', 'id'], unique=False)
    op.create_index('ix_audit_entry_at', 'audit_entry', ['at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION USING MESSAGE = '{REFUSAL}: ' || TG_OP || ' refused'; END $$")
        op.execute("CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
                   "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"CREATE TRIGGER audit_entry_no_{operation.lower()} BEFORE {operation} ON audit_entry "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} refused'); END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entry_no_delete")
        op.execute("DROP TRIGGER audit_entry_no_update")
    op.drop_index('ix_audit_entry_at', table_name='audit_entry')
    op.drop_index('ix_audit_entry_actor', table_name='audit_entry')
    op.drop_index('ix_audit_entry_record', table_name='audit_entry')
    op.drop_table('audit_entry')
