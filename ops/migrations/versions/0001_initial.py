"""The first schema of the store: events, snapshots, forecasts, plans, scenarios, runs, audit, quarantine.

Revision ID: 0001
Revises:
Create Date: 2025-11-22 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision: a migration never imports the live schema module.
UTC_DATETIME = sa.DateTime(timezone=True)
SEQUENCE_NUMBER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQUENCE_NUMBER, autoincrement=True, nullable=False, comment="Order of arrival"),
        sa.Column("event_id", sa.String(), nullable=False, comment="Source message id (idempotency key)"),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("patient_key", sa.String(), nullable=False),
        sa.Column("encounter_id", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("bed", sa.String(), nullable=True),
        sa.Column("service", sa.String(), nullable=True),
        sa.Column("admission_type", sa.String(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False, comment="JSON text"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_events_occurred_at"), "events", ["occurred_at"])
    op.create_index(op.f("ix_events_encounter_id"), "events", ["encounter_id"])

    op.create_table(
        "twin_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", UTC_DATETIME, nullable=False, comment="State of the patient twins at this time"),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=False, comment="Parquet bytes"),
        sa.Column("details", sa.Text(), nullable=False, comment="JSON text"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twin_snapshots")),
    )
    op.create_index(op.f("ix_twin_snapshots_as_of"), "twin_snapshots", ["as_of"])

    op.create_table(
        "forecasts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False, comment="What is forecast, e.g. census or arrivals"),
        sa.Column("as_of", UTC_DATETIME, nullable=False, comment="Forecast origin"),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=False, comment="Parquet bytes"),
        sa.Column("details", sa.Text(), nullable=False, comment="JSON text"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecasts")),
    )
    op.create_index(op.f("ix_forecasts_name_as_of"), "forecasts", ["name", "as_of"])

    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False, comment="roster, admissions, supplies, ..."),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False, comment="JSON text"),
        sa.CheckConstraint("status IN ('draft', 'published', 'superseded')", name=op.f("ck_plans_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_plans_kind_version")),
    )
    op.create_index(
        op.f("uq_plans_published_kind"),
        "plans",
        ["kind"],
        unique=True,
        sqlite_where=sa.text("status = 'published'"),
        postgresql_where=sa.text("status = 'published'"),
    )

    op.create_table(
        "scenario_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scenario_name", sa.String(), nullable=False),
        sa.Column(
            "scenario_version",
            sa.Integer(),
            nullable=True,
            comment="Version in the scenarios table, when saved there",
        ),
        sa.Column("scenario_digest", sa.String(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("replications", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column(
            "result_name",
            sa.String(),
            nullable=True,
            comment="Parquet result under the store's results_dir",
        ),
        sa.Column("details", sa.Text(), nullable=False, comment="JSON text"),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'cancelled')", name=op.f("ck_scenario_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario_runs")),
    )
    op.create_index(
        op.f("ix_scenario_runs_scenario_name_started_at"), "scenario_runs", ["scenario_name", "started_at"]
    )

    op.create_table(
        "scenarios",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False, comment="SHA-256 of the TOML text"),
        sa.Column("toml_text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenarios")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_scenarios_name_version")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False, comment="When"),
        sa.Column("actor", sa.String(), nullable=False, comment="Who (user or job)"),
        sa.Column("action", sa.String(), nullable=False, comment="What"),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False, comment="JSON text"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_recorded_at"), "audit_log", ["recorded_at"])

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False, comment="The message exactly as received"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_received_at"), "quarantine", ["received_at"])


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("audit_log")
    op.drop_table("scenarios")
    op.drop_table("scenario_runs")
    op.drop_table("plans")
    op.drop_table("forecasts")
    op.drop_table("twin_snapshots")
    op.drop_table("events")
