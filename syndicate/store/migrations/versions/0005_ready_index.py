"""Ready and leased deliveries in separate indexes: a claim never walks others' claims.

``ix_deliveries_claim`` (migration 0004) held every pending delivery in claim order, claimed
ones included, so every claim walked past the deliveries other workers held (and their dead
index entries) before reaching free ones: with N workers each holding up to 2 x
``delivery_concurrency``, a claim's cost grew with N. Now:

- ``ix_deliveries_ready``: ``(due_at, id)`` of pending deliveries nobody holds, in claim order;
  a claim takes a delivery out of it (``claimed_until`` set) and a release, a retry or an
  expired lease taken again brings it back;
- ``ix_deliveries_leased``: ``claimed_until`` of pending deliveries somebody holds, so the
  leases of a worker that died are found by their expiry without walking the rest.

Revision ID: 0005_ready_index
Revises: 0004_claim_index
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ready_index"
down_revision = "0004_claim_index"
branch_labels = None
depends_on = None

READY = sa.text("state = 'pending' AND claimed_until IS NULL")
LEASED = sa.text("state = 'pending' AND claimed_until IS NOT NULL")
PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    """Replace ``ix_deliveries_claim`` by ``ix_deliveries_ready`` and ``ix_deliveries_leased``."""
    op.create_index("ix_deliveries_ready", "deliveries", ["due_at", "id"],
                    postgresql_where=READY, sqlite_where=READY)
    op.create_index("ix_deliveries_leased", "deliveries", ["claimed_until"],
                    postgresql_where=LEASED, sqlite_where=LEASED)
    op.drop_index("ix_deliveries_claim", "deliveries")


def downgrade() -> None:
    """Back to ``ix_deliveries_claim``."""
    op.create_index("ix_deliveries_claim", "deliveries", ["due_at", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.drop_index("ix_deliveries_leased", "deliveries")
    op.drop_index("ix_deliveries_ready", "deliveries")
