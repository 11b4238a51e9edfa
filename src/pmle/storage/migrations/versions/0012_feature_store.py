"""The feature store: entities, versioned feature views, and materialization runs (the
chunks written to the online store, so a killed run resumes where it stopped); deployed
models may name the features they look up at prediction time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_entities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_feature_entities_name_version"),
    )
    op.create_table(
        "feature_views",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("artifact_id", sa.Integer, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_feature_views_name_version"),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("view", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("store", sa.String(256), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("chunks", sa.JSON, nullable=False),
        sa.Column("done", sa.JSON, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feature_materializations_view", "feature_materializations", ["view"])
    with op.batch_alter_table("deployed_models") as batch:
        batch.add_column(sa.Column("features", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployed_models") as batch:
        batch.drop_column("features")
    op.drop_index("ix_feature_materializations_view", "feature_materializations")
    op.drop_table("feature_materializations")
    op.drop_table("feature_views")
    op.drop_table("feature_entities")
