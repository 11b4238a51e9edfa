"""Monitor runs record how their window was chosen: only continuous runs (each window starting
where the previous one ended) move the next window's start.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitor_runs") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="continuous")
        )


def downgrade() -> None:
    with op.batch_alter_table("monitor_runs") as batch:
        batch.drop_column("kind")
