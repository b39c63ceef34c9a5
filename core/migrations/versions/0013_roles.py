"""Roles: a role per user, the custom roles admins and vertical packs add, sensitive custom
fields, and the owner of each search entry (so search shows a user only what their role
lets them read).

Revision ID: 0013_roles
Revises: 0012_privacy
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, JsonType, UTCDateTime

revision = '0013_roles'
down_revision = '0012_privacy'
branch_labels = None
depends_on = None

RECORD_TABLES = ('team', 'user', 'territory', 'organization', 'contact', 'deal', 'activity', 'consent')
LIVE = sa.text('deleted_at IS NULL')


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=64), nullable=True))
    op.execute("UPDATE \"user\" SET role = CASE WHEN is_admin THEN 'admin' ELSE 'user' END")
    op.create_table('role',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('grants', JsonType, nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_role'))
    )
    with op.batch_alter_table('custom_field', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sensitive', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('search_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', IdType, nullable=True))
        batch_op.create_index('ix_search_entry_owner', ['owner_id', 'record_type'], unique=False)
    for table in RECORD_TABLES:
        op.create_index(f'ix_{table}_live_owner', table, ['owner_id', 'created_at', 'id'], unique=False,
                        postgresql_where=LIVE, sqlite_where=LIVE)
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    for (record_type,) in bind.execute(sa.text('SELECT DISTINCT record_type FROM search_entry')).all():
        if record_type in tables:
            op.execute(f'UPDATE search_entry SET owner_id = (SELECT t.owner_id FROM "{record_type}" AS t '
                       f"WHERE t.id = search_entry.record_id) WHERE record_type = '{record_type}'")


def downgrade():
    for table in RECORD_TABLES:
        op.drop_index(f'ix_{table}_live_owner', table_name=table)
    with op.batch_alter_table('search_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_search_entry_owner')
        batch_op.drop_column('owner_id')
    with op.batch_alter_table('custom_field', schema=None) as batch_op:
        batch_op.drop_column('sensitive')
    op.drop_table('role')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('role')
