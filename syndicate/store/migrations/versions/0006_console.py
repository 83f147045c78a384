"""The web console: operators' and translators' credentials, sessions, indexes for its charts.

Revision ID: 0006_console
Revises: 0005_ready_index
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_console"
down_revision = "0005_ready_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``console_credentials`` and ``console_sessions``; keep the first bytes of each
    attempt's answer (``delivery_attempts.response``); index attempts by time,
    deliveries by creation time (the console's charts count the last day's per minute) and
    events by type (its event catalog shows the latest of each), renditions by language
    (the subscription form offers those published; the operator's view counts them)."""
    op.create_table(
        "console_credentials",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.String(32), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_at"])
    op.add_column("delivery_attempts", sa.Column("response", sa.Text, nullable=True))
    op.create_index("ix_delivery_attempts_time", "delivery_attempts",
                    ["attempted_at", "status_code"])
    op.create_index("ix_events_type_seq", "events", ["type", "seq"])
    op.create_index("ix_deliveries_created", "deliveries", ["created_at"])
    op.create_index("ix_renditions_language", "renditions",
                    ["language", "condition_slug", "withdrawn", "stale", "review_due"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_renditions_language", table_name="renditions")
    op.drop_index("ix_deliveries_created", table_name="deliveries")
    op.drop_index("ix_events_type_seq", table_name="events")
    op.drop_index("ix_delivery_attempts_time", table_name="delivery_attempts")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("response")
    op.drop_index("ix_console_sessions_expires", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_credentials")
