"""API: partner tokens, subscriber owners, WebSub subscriptions.

Adds ``api_tokens`` (hashed per-partner API tokens), and to ``subscribers`` the owning partner,
the kind (``webhook`` or ``websub``), the WebSub topic and lease expiry. ``events.seq`` (from
0001) already gives the catch-up API its monotonic cursor.

Revision ID: 0002_api
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_api"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``api_tokens`` and add the owner and WebSub columns to ``subscribers``."""
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_api_tokens_partner", "api_tokens", ["partner"])
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="webhook")
        )
        batch.add_column(sa.Column("topic", sa.Text, nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime, nullable=True))
        batch.create_index("ix_subscribers_owner", ["owner"])
        batch.create_index("ix_subscribers_kind", ["kind"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_index("ix_subscribers_kind")
        batch.drop_index("ix_subscribers_owner")
        batch.drop_column("lease_expires_at")
        batch.drop_column("topic")
        batch.drop_column("kind")
        batch.drop_column("owner")
    op.drop_index("ix_api_tokens_partner", "api_tokens")
    op.drop_table("api_tokens")
