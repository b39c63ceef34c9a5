"""Privacy: consent records, and the one way to change an audit entry (redacting the
values of a person whose data is erased).

The append-only triggers of ``0009_audit_trail`` are replaced by ones that still refuse
every ``DELETE``, and every ``UPDATE`` except one that changes only ``changes`` of an
entry for which the same transaction holds a permit in ``audit_redaction``.

Revision ID: 0012_privacy
Revises: 0011_token_record_types
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0012_privacy'
down_revision = '0011_token_record_types'
branch_labels = None
depends_on = None

REFUSAL = 'audit entries are append-only'
KEPT = ('id', 'at', 'actor_id', 'actor_name', 'source', 'action', 'record_type', 'record_id', 'details',
        'request_id')
"""Every column of an entry but ``changes``: a redaction leaves them as they are."""
LIVE = sa.text('deleted_at IS NULL')
TRASHED = sa.text('deleted_at IS NOT NULL')


def upgrade():
    op.create_table('consent',
    sa.Column('contact_id', IdType, nullable=False),
    sa.Column('purpose', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', IdType, nullable=True),
    sa.Column('owner_id', IdType, nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('deleted_at', UTCDateTime(), nullable=True),
    sa.Column('deleted_by', IdType, nullable=True),
    sa.Column('custom', JsonType, nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_consent_contact_id_contact')),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_consent_created_by_user')),
    sa.ForeignKeyConstraint(['deleted_by'], ['user.id'], name=op.f('fk_consent_deleted_by_user')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_consent_owner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent'))
    )
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_consent_live_created', ['created_at', 'id'], unique=False,
                              postgresql_where=LIVE, sqlite_where=LIVE)
        batch_op.create_index('ix_consent_live_at', ['at', 'id'], unique=False,
                              postgresql_where=LIVE, sqlite_where=LIVE)
        batch_op.create_index('ix_consent_trash', ['deleted_at', 'id'], unique=False,
                              postgresql_where=TRASHED, sqlite_where=TRASHED)

    op.create_table('audit_redaction',
    sa.Column('entry_id', IdType, autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_audit_redaction'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        kept_new = ', '.join(f'NEW.{name}' for name in KEPT)
        kept_old = ', '.join(f'OLD.{name}' for name in KEPT)
        op.execute("CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN IF TG_OP = 'UPDATE' "
                   "AND EXISTS (SELECT 1 FROM audit_redaction WHERE entry_id = OLD.id) "
                   f"AND ({kept_new}) IS NOT DISTINCT FROM ({kept_old}) THEN RETURN NEW; END IF; "
                   f"RAISE EXCEPTION USING MESSAGE = '{REFUSAL}: ' || TG_OP || ' refused'; END $$")
    else:
        changed = ' OR '.join(f'new.{name} IS NOT old.{name}' for name in KEPT)
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
                   "WHEN NOT EXISTS (SELECT 1 FROM audit_redaction WHERE entry_id = old.id) "
                   f"OR {changed} "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: UPDATE refused'); END")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN RAISE EXCEPTION USING MESSAGE = '{REFUSAL}: ' || TG_OP || ' refused'; END $$")
    else:
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
                   f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}: UPDATE refused'); END")
    op.drop_table('audit_redaction')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_trash')
        batch_op.drop_index('ix_consent_live_at')
        batch_op.drop_index('ix_consent_live_created')
        batch_op.drop_index(batch_op.f('ix_consent_contact_id'))
    op.drop_table('consent')
