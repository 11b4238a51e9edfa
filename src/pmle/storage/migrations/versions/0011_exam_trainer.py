"""The exam trainer: attempts (mock exams and practice sessions) and their responses, the
spaced-repetition cards of missed items, and problem reports on items.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("blueprint", sa.String(64), nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("deadline_at", sa.Float, nullable=True),
        sa.Column("submitted_at", sa.Float, nullable=True),
        sa.Column("submitted_by", sa.String(16), nullable=True),
        sa.Column("current", sa.Integer, nullable=False),
        sa.Column("viewing_since", sa.Float, nullable=True),
    )
    op.create_index("ix_exam_attempts_mode", "exam_attempts", ["mode"])
    op.create_table(
        "exam_responses",
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("exam_attempts.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("option_order", sa.JSON, nullable=False),
        sa.Column("answer", sa.JSON, nullable=True),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float, nullable=True),
        sa.Column("correct", sa.Boolean, nullable=True),
    )
    op.create_index("ix_exam_responses_item_id", "exam_responses", ["item_id"])
    op.create_table(
        "exam_cards",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("due", sa.Float, nullable=False),
        sa.Column("reviews", sa.Integer, nullable=False),
        sa.Column("lapses", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "exam_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("attempt_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("exam_reports")
    op.drop_table("exam_cards")
    op.drop_index("ix_exam_responses_item_id", "exam_responses")
    op.drop_table("exam_responses")
    op.drop_index("ix_exam_attempts_mode", "exam_attempts")
    op.drop_table("exam_attempts")
