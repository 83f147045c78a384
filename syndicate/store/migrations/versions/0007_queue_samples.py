"""Per-minute samples of the delivery queue, for the console's queue-depth chart.

Revision ID: 0007_queue_samples
Revises: 0006_console
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_queue_samples"
down_revision = "0006_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``queue_samples``: one row per minute (its key, so processes sampling the same
    minute write one row), pending and due deliveries, the oldest due one's wait."""
    op.create_table(
        "queue_samples",
        sa.Column("minute", sa.DateTime, primary_key=True),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("due", sa.Integer, nullable=False),
        sa.Column("oldest_due_seconds", sa.Float, nullable=True),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("queue_samples")
