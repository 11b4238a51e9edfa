"""Alembic migrations of the metadata database, applied automatically when a workspace opens."""
