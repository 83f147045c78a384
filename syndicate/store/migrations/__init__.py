"""Alembic migrations of the state store; run with ``syndicate db upgrade``."""
