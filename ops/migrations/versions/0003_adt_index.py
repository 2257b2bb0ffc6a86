"""A partial, covering index of the ADT events by stay and time, for the open-stays query.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_VITAL_SIGNS = sa.text("kind != 'observation'")


def upgrade() -> None:
    op.create_index(
        "ix_events_adt_by_encounter",
        "events",
        ["encounter_id", "occurred_at", "kind"],
        sqlite_where=_NOT_VITAL_SIGNS,
        postgresql_where=_NOT_VITAL_SIGNS,
    )


def downgrade() -> None:
    op.drop_index("ix_events_adt_by_encounter", table_name="events")
