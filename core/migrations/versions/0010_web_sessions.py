"""Server-side web sessions, so signing out, deactivation and timeouts take effect at once;
requests for password-reset emails, counted to limit them.

Revision ID: 0010_web_sessions
Revises: 0009_audit_trail
"""
from alembic import op
import sqlalchemy as sa

from accord.core.db import IdType, UTCDateTime

revision = '0010_web_sessions'
down_revision = '0009_audit_trail'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('web_session',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', IdType, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', UTCDateTime(), nullable=False),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_web_session_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash'))
    )
    op.create_index('ix_web_session_user', 'web_session', ['user_id', 'revoked_at'], unique=False)
    op.create_index('ix_web_session_created', 'web_session', ['created_at'], unique=False)
    op.create_table('password_reset_request',
    sa.Column('id', IdType, autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_request'))
    )
    op.create_index('ix_password_reset_request_email', 'password_reset_request', ['email', 'at'], unique=False)
    op.create_index('ix_password_reset_request_address', 'password_reset_request', ['address', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_password_reset_request_address', table_name='password_reset_request')
    op.drop_index('ix_password_reset_request_email', table_name='password_reset_request')
    op.drop_table('password_reset_request')
    op.drop_index('ix_web_session_created', table_name='web_session')
    op.drop_index('ix_web_session_user', table_name='web_session')
    op.drop_table('web_session')
