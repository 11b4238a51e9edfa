"""Lineage graph (ML Metadata shape) and versioned datasets.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(256), nullable=True, index=True),
        sa.Column("uri", sa.Text, nullable=True),
        sa.Column("properties", sa.JSON, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        _ts("created_at"),
        _ts("ended_at", nullable=True),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "artifact_id",
            sa.Integer,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "execution_id",
            sa.Integer,
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("path", sa.String(128), nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "contexts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        _ts("created_at"),
        sa.UniqueConstraint("type", "name", name="uq_contexts_type_name"),
    )
    op.create_table(
        "attributions",
        sa.Column(
            "context_id",
            sa.Integer,
            sa.ForeignKey("contexts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "artifact_id",
            sa.Integer,
            sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "associations",
        sa.Column(
            "context_id",
            sa.Integer,
            sa.ForeignKey("contexts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "execution_id",
            sa.Integer,
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer,
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("artifact_key", sa.String(64), nullable=False),
        sa.Column("num_rows", sa.Integer, nullable=False),
        sa.Column("num_bytes", sa.Integer, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("lineage_artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=True),
        _ts("created_at"),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
        sa.UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_hash"),
    )


def downgrade() -> None:
    for table in (
        "dataset_versions",
        "datasets",
        "associations",
        "attributions",
        "contexts",
        "events",
        "executions",
        "artifacts",
    ):
        op.drop_table(table)
