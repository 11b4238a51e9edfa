"""Custom training jobs, the journal of tuning studies (Optuna's journal storage), and an
index on the status of tracking runs.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("command", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("runner", sa.String(16), nullable=False),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("job_dir", sa.Text, nullable=False),
        sa.Column("data", sa.String(512), nullable=True),
        sa.Column("model", sa.String(512), nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("owner_host", sa.String(256), nullable=True),
        sa.Column("owner_pid", sa.Integer, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tracking_runs_status", "tracking_runs", ["status"])
    op.create_table(
        "tuning_journal",
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("log", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tuning_journal")
    op.drop_index("ix_tracking_runs_status", "tracking_runs")
    op.drop_table("training_jobs")
