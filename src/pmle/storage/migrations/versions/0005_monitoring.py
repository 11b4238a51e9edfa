"""Monitoring: monitors with their stored baselines and schedule, their runs and alerts;
explanation baselines and fairness reports of model versions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("baseline", sa.JSON, nullable=False),
        sa.Column("schedule", sa.String(128), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("histograms", sa.JSON, nullable=False),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "monitor_id",
            sa.Integer,
            sa.ForeignKey("monitors.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("monitor_runs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("objective", sa.String(32), nullable=False),
        sa.Column("feature", sa.String(256), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("deliveries", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "model_explanations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("baseline", sa.JSON, nullable=False),
        sa.Column("expected_value", sa.JSON, nullable=False),
        sa.Column("global_importance", sa.JSON, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model_name", "model_version", "method"),
    )
    op.create_table(
        "model_fairness",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("sensitive", sa.String(256), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "model_fairness",
        "model_explanations",
        "monitor_alerts",
        "monitor_runs",
        "monitors",
    ):
        op.drop_table(name)
