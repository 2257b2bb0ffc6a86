"""The API service's tables: hashed bearer tokens and long jobs with their progress and results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the UTC type at this revision: a migration never imports the live schema module.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False, comment="Who or what holds the token"),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False, comment="SHA-256 of the secret, hexadecimal"),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_token_hash"), "api_tokens", ["token_hash"], unique=True)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(), nullable=False, comment="Random hexadecimal id"),
        sa.Column("kind", sa.String(), nullable=False, comment="whatif, roster, surgery, nightly"),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False, comment="JSON text"),
        sa.Column("submitted_by", sa.String(), nullable=False),
        sa.Column("submitted_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True, comment="JSON text, once finished"),
        sa.Column("error", sa.Text(), nullable=True, comment="Why it failed"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'failed', 'cancelled', 'interrupted')",
            name=op.f("ck_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_submitted_at"), "jobs", ["submitted_at"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("api_tokens")
