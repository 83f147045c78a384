"""Claim index: due pending deliveries in claim order, so a claim stops at its limit.

The worker's claim asks for ``state = 'pending' AND due_at <= now ORDER BY due_at, id LIMIT n``
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL). ``ix_deliveries_due`` on ``(state, due_at)`` finds
the due rows but not in ``(due_at, id)`` order: a fan-out makes thousands of deliveries due at
the same instant, and every claim sorted all of them. This partial index holds only pending
deliveries, in claim order, so the claim walks it and stops after ``n`` rows; delivered and
dead deliveries leave it.

Revision ID: 0004_claim_index
Revises: 0003_jobs
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_claim_index"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    """Create ``ix_deliveries_claim``."""
    op.create_index("ix_deliveries_claim", "deliveries", ["due_at", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    """Drop ``ix_deliveries_claim``."""
    op.drop_index("ix_deliveries_claim", "deliveries")
