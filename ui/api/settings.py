"""Settings of the API service, from the environment (``HOSPITAL_TWIN_API_*``) or given in code."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """How the API service runs.

    Every field can be set by an environment variable ``HOSPITAL_TWIN_API_<FIELD>``, e.g.
    ``HOSPITAL_TWIN_API_JOB_WORKERS=2``; the database comes from ``--database``, else ``DATABASE_URL``,
    else the embedded SQLite file (see :func:`ops.store.open_store`).
    """

    model_config = SettingsConfigDict(env_prefix="HOSPITAL_TWIN_API_", frozen=True, extra="forbid")

    database_url: str | None = Field(None, description="Store URL; DATABASE_URL or var/ SQLite when absent")
    results_dir: str | None = Field(
        None, description="Folder for Parquet results (store default when absent)"
    )
    scenario: str = Field("baseline", description="Scenario describing the hospital (saved or shipped name)")
    job_workers: int = Field(1, ge=1, le=16, description="Long jobs run at the same time")
    replication_workers: int = Field(1, ge=1, le=64, description="Local processes per what-if")
    twins_cache_seconds: float = Field(
        30.0, ge=0.0, description="Twins are rebuilt at most this often while no new event arrives [seconds]"
    )
    answer_cache_seconds: float = Field(
        1.0,
        ge=0.0,
        le=300.0,
        description="Read answers are sent from memory this long, then refreshed behind the requests; a "
        "change made by another process shows at most this much (plus one build) late [seconds]",
    )
    token_cache_seconds: float = Field(
        1.0,
        ge=0.0,
        le=60.0,
        description="A checked bearer token is trusted this long before the store is asked again; a revoked "
        "token is refused at most this late [seconds]",
    )
    forecast_hours: int = Field(14 * 24, ge=1, le=60 * 24, description="Forecast hours returned by default")
    demo: bool = Field(
        False,
        description="Demo mode: allow the public demo salt (also HOSPITAL_TWIN_DEMO=1); never with real data",
    )
