"""Alembic versions of the service desk's own tables (version table ``alembic_version_servicedesk``)."""
