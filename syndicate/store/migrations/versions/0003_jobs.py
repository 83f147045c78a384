"""Scheduled jobs: run history, named leases (scheduler leader, job locks), the job store.

Revision ID: 0003_jobs
Revises: 0002_api
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_jobs"
down_revision = "0002_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``job_runs``, ``leases`` and APScheduler's ``apscheduler_jobs``."""
    op.create_table(
        "job_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("scheduled_for", sa.DateTime, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("host", sa.String(200), nullable=True),
        sa.UniqueConstraint("job", "scheduled_for", name="uq_job_runs_tick"),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job", "started_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    """Drop the tables of this revision."""
    op.drop_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_table("leases")
    op.drop_index("ix_job_runs_job_started", "job_runs")
    op.drop_table("job_runs")
