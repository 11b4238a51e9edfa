"""Artifacts by URI; pipeline runs: who runs them, how often they were retried, the schedule
that started them; pipeline schedules.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_artifacts_uri", "artifacts", ["uri"])  # pipeline artifacts by URI
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("owner_host", sa.String(256), nullable=True))
        batch.add_column(sa.Column("owner_pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("schedule_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("trigger", sa.String(256), nullable=True))
    op.create_table(
        "pipeline_schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("cron", sa.String(256), nullable=True),
        sa.Column("monitor", sa.String(256), nullable=True),
        sa.Column("last_alert_id", sa.Integer, nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_runs", sa.Integer, nullable=True),
        sa.Column("max_concurrent", sa.Integer, nullable=False, server_default="1"),
        sa.Column("catch_up", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("no_cache", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pipeline_schedules")
    with op.batch_alter_table("pipeline_runs") as batch:
        for name in ("trigger", "schedule_id", "attempt", "owner_pid", "owner_host"):
            batch.drop_column(name)
    op.drop_index("ix_artifacts_uri", "artifacts")
