"""Where the command view reads from: the store itself (embedded) or the API over HTTP.

Both sources answer the same questions with the same shapes (polars frames with the schemas the producers
declare, plan payloads as dicts) and answer ``None`` when the data is not there yet, so a page can say so in
plain words instead of failing.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import polars as pl

from ops.sim.compare import COMPARISON_SCHEMA
from ops.store import Store, open_store
from patients.census.schema import CENSUS_FORECAST_SCHEMA
from scenarios import Scenario
from ui.api import services
from ui.api.services import (
    ACUITY_BAND_COLUMNS,
    CENSUS_HISTORY_SCHEMA,
    HISTORY_LOOKBACK_DAYS,
    HISTORY_STEP_HOURS,
)

API_URL_ENV = "HOSPITAL_TWIN_API_URL"
"""Environment variable with the API's base URL; when set the view reads from the API."""

API_TOKEN_ENV = "HOSPITAL_TWIN_API_TOKEN"
"""Environment variable with the bearer token the view sends to the API."""

SCENARIO_ENV = "HOSPITAL_TWIN_VIEW_SCENARIO"
"""Environment variable naming the hospital scenario of the embedded view (default ``baseline``)."""

VIEW_USER_ENV = "HOSPITAL_TWIN_VIEW_USER"
"""Environment variable naming who uses the embedded view, for its audit entries (default: the OS user)."""

VIEW_ACTOR_ROLE = "command-view"
"""How the embedded view appears after the user's name in the audit log, e.g. ``"ana (command-view)"``."""

CENSUS_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "name": pl.String(),
    "kind": pl.String(),
    "beds": pl.Int32(),
    "census": pl.Int32(),
    "free_beds": pl.Int32(),
    "high_acuity": pl.Int32(),
    "boarding": pl.Int32(),
}
"""One row per unit: the census now as the view shows it (``ops.live.CENSUS_NOW_SCHEMA`` plus the name)."""

__all__ = [
    "ACUITY_BAND_COLUMNS",
    "API_TOKEN_ENV",
    "API_URL_ENV",
    "CENSUS_HISTORY_SCHEMA",
    "CENSUS_SCHEMA",
    "HISTORY_LOOKBACK_DAYS",
    "HISTORY_STEP_HOURS",
    "RUNS_SCHEMA",
    "SCENARIO_ENV",
    "VIEW_USER_ENV",
    "ApiSource",
    "CensusForecastView",
    "CensusNow",
    "EmbeddedSource",
    "JobView",
    "PlanView",
    "ViewSource",
    "ViewSourceError",
    "source_from_environment",
    "view_user",
]

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.Int64(),
    "scenario_name": pl.String(),
    "scenario_version": pl.Int64(),
    "against": pl.String(),
    "status": pl.String(),
    "replications": pl.Int64(),
    "started_at": pl.Datetime("us", "UTC"),
    "has_results": pl.Boolean(),
}
"""One row per what-if run, newest first (``GET /runs``)."""

TWINS_MAX_AGE_SECONDS = 30.0
"""The embedded view recomputes the twins' elapsed stays at least this often [seconds]."""

WARM_UP_THREAD = "view-twins-warm-up"
"""Name of the thread that builds the twins as an embedded view starts."""

JOB_FINAL_STATUSES = frozenset({"finished", "failed", "cancelled", "interrupted"})


_logger = logging.getLogger(__name__)


class ViewSourceError(RuntimeError):
    """The source could not answer (API down, token refused, ...); the message is for the planner."""


def view_user() -> str:
    """Who uses the view: ``HOSPITAL_TWIN_VIEW_USER``, else the operating system's user name."""
    configured = os.environ.get(VIEW_USER_ENV, "").strip()
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        return "unknown-user"


@dataclass(frozen=True)
class CensusNow:
    """The census by unit at a moment (:data:`CENSUS_SCHEMA`)."""

    as_of: datetime
    units: pl.DataFrame


@dataclass(frozen=True)
class CensusForecastView:
    """A stored census forecast (``CENSUS_FORECAST_SCHEMA``) and its origin [UTC]."""

    as_of: datetime
    points: pl.DataFrame


@dataclass(frozen=True)
class PlanView:
    """One stored plan: kind, version, status and its payload."""

    kind: str
    version: int
    status: str
    created_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class JobView:
    """A long job's state: status, progress and (once finished) its result."""

    job_id: str
    status: str
    progress_done: int
    progress_total: int
    message: str
    result: dict[str, Any] | None
    error: str | None

    @property
    def final(self) -> bool:
        """True once the job has ended, however it ended."""
        return self.status in JOB_FINAL_STATUSES

    @property
    def fraction_done(self) -> float:
        """Share of the job done (0–1)."""
        if self.status == "finished":
            return 1.0
        return min(1.0, self.progress_done / self.progress_total) if self.progress_total else 0.0


class ViewSource(Protocol):
    """What the pages need to know; every read returns ``None`` (or empty) when the data is missing."""

    label: str

    def hospital(self) -> Scenario | None:
        """The hospital scenario the view shows."""
        ...

    def census_now(self) -> CensusNow | None:
        """The census by unit now."""
        ...

    def census_forecast(self) -> CensusForecastView | None:
        """The newest census forecast."""
        ...

    def census_history(self, until: datetime, days: int = 3) -> pl.DataFrame | None:
        """The census by unit at past moments before ``until`` (:data:`CENSUS_HISTORY_SCHEMA`)."""
        ...

    def plan(self, kind: str, version: int | None = None) -> PlanView | None:
        """The published plan of ``kind`` (or one version of it)."""
        ...

    def draft_plan(self, kind: str) -> PlanView | None:
        """The newest version of ``kind`` when it is a draft not yet published."""
        ...

    def last_nightly_failure(self) -> dict[str, Any] | None:
        """What went wrong in the last nightly plan, when the last one failed."""
        ...

    def publish_plan(self, kind: str, version: int) -> PlanView:
        """Publish a version of a plan."""
        ...

    def scenario_names(self) -> list[str]:
        """Saved scenario names, then the shipped ones not saved."""
        ...

    def scenario_text(self, name: str) -> str | None:
        """The TOML text of the newest version of a scenario."""
        ...

    def save_scenario(self, name: str, toml_text: str) -> int:
        """Save a scenario as its next version; returns the version."""
        ...

    def submit_whatif(self, params: dict[str, Any]) -> str:
        """Start a what-if job; returns its id."""
        ...

    def job(self, job_id: str) -> JobView:
        """A job's state."""
        ...

    def comparison(self, run_id: int) -> pl.DataFrame | None:
        """The KPI comparison of a what-if run (``COMPARISON_SCHEMA``)."""
        ...

    def whatif_runs(self, limit: int = 20) -> pl.DataFrame:
        """The newest what-if runs (:data:`RUNS_SCHEMA`)."""
        ...


def _typed(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows (from JSON) as a frame of ``schema``: missing columns become nulls, extra ones are dropped."""
    if not rows:
        return pl.DataFrame(schema=schema)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    columns = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
        elif dtype == pl.Datetime("us", "UTC") and frame.schema[name] == pl.String():
            columns.append(pl.col(name).str.to_datetime(time_zone="UTC").cast(dtype))
        else:
            columns.append(pl.col(name).cast(dtype, strict=False))
    return frame.select(columns)


def _known_scenario(name: str, store: Store | None = None) -> Scenario:
    """A saved scenario (newest version) or a shipped one of that name."""
    from ops.jobs import resolve_scenario

    if store is not None:
        return resolve_scenario(store, name)[0]
    from scenarios import load_scenario, scenario_path

    return load_scenario(scenario_path(name))


class EmbeddedSource:
    """Reads the store directly and runs what-ifs in a background job runner of this process.

    Parameters
    ----------
    store
        The open store (shared by every session of the view).
    scenario_name
        The hospital shown: a saved or shipped scenario name.
    now
        The moment "now" [UTC]; default the time of the newest event (a demo store holds a past history),
        or the clock when the store is empty.
    user
        Who uses the view, recorded with every save, run and publication (default :func:`view_user`).
    """

    label = "embedded"

    def __init__(
        self,
        store: Store,
        scenario_name: str = "baseline",
        now: datetime | None = None,
        user: str | None = None,
    ) -> None:
        self.store = store
        self.scenario_name = scenario_name
        self._now = now
        self.user = user or view_user()
        self._runner: Any = None
        self._lock = threading.Lock()
        # The twins of the patients inside, kept up to date with the events stored since (as the API
        # does): replaying the open stays of a large store takes seconds, applying new events milliseconds.
        self._twins = services.TwinsSource(TWINS_MAX_AGE_SECONDS, clock=self.now)

    @property
    def actor(self) -> str:
        """How this view's user appears in the audit log, e.g. ``"ana (command-view)"``."""
        return f"{self.user} ({VIEW_ACTOR_ROLE})"

    @classmethod
    def from_environment(cls) -> EmbeddedSource:
        """Open the store named by ``DATABASE_URL`` (else the SQLite file under ``var/``).

        The patient twins start building in the background at once, so that the first look at the Now page
        after the view starts rarely waits for them.
        """
        source = cls(open_store(), os.environ.get(SCENARIO_ENV, "baseline"))
        threading.Thread(target=source.warm_up, daemon=True, name=WARM_UP_THREAD).start()
        return source

    def warm_up(self) -> None:
        """Build the patient twins now (the census reads then only apply the events since)."""
        try:
            if self.store.last_seq() > 0:
                self._twins.frame(self.store, wait=True)
        except Exception as error:  # the page that needs them will say what is wrong
            _logger.warning("the patient twins could not be built in advance: %s", type(error).__name__)

    def now(self) -> datetime:
        """The view's "now" [UTC]."""
        if self._now is not None:
            return self._now
        clock = datetime.now(UTC)
        newest = services.newest_event_time(self.store)
        return clock if newest is None else min(clock, newest)

    def hospital(self) -> Scenario | None:
        """The hospital scenario (saved version first, else the shipped file)."""
        try:
            return _known_scenario(self.scenario_name, self.store)
        except Exception:
            return None

    def census_now(self) -> CensusNow | None:
        """The census by unit at :meth:`now`, from the twins rebuilt from the event log."""
        from ops.live import census_now

        scenario = self.hospital()
        if scenario is None or self.store.last_seq() == 0:
            return None
        moment, twins = self._twins.frame(self.store, wait=True)
        frame = census_now(scenario, twins, moment)
        names = {unit.id: unit.name for unit in scenario.hospital.units}
        units = frame.with_columns(
            pl.col("unit_id").replace_strict(names, default=pl.col("unit_id")).alias("name")
        )
        return CensusNow(moment, units.select(list(CENSUS_SCHEMA)).cast(CENSUS_SCHEMA))  # type: ignore[arg-type]

    def census_history(self, until: datetime, days: int = 3) -> pl.DataFrame | None:
        """The census every :data:`HISTORY_STEP_HOURS` hours over the ``days`` before ``until``.

        The same count as ``GET /census/history`` (:func:`ui.api.services.census_history`); readings
        later than :meth:`now` are left out.
        """
        scenario = self.hospital()
        if scenario is None or self.store.last_seq() == 0:
            return None
        return services.census_history(self.store, scenario, until, days, now=self.now())

    def census_forecast(self) -> CensusForecastView | None:
        """The newest stored census forecast."""
        stored = self.store.latest_forecast("census")
        if stored is None:
            return None
        return CensusForecastView(stored.as_of, _forecast_frame(stored.frame.to_dicts()))

    def plan(self, kind: str, version: int | None = None) -> PlanView | None:
        """The published plan of ``kind`` (else its newest draft), or the given version."""
        if version is not None:
            found = self.store.plan(kind, version)
        else:
            found = self.store.latest_plan(kind) or self.store.latest_plan(kind, status=None)
        if found is None:
            return None
        return PlanView(found.kind, found.version, found.status, found.created_at, found.payload)

    def draft_plan(self, kind: str) -> PlanView | None:
        """The newest version of ``kind`` when it is a draft."""
        found = self.store.latest_plan(kind, status=None)
        if found is None or found.status != "draft":
            return None
        return PlanView(found.kind, found.version, found.status, found.created_at, found.payload)

    def last_nightly_failure(self) -> dict[str, Any] | None:
        """The audit details of the newest nightly plan run when it did not end well (stage and error)."""
        entries = self.store.audit_entries(action="nightly_plan", limit=1)
        if not entries or entries[0].outcome == "ok":
            return None
        return {"outcome": entries[0].outcome, "recorded_at": entries[0].recorded_at, **entries[0].details}

    def publish_plan(self, kind: str, version: int) -> PlanView:
        """Publish a plan version and record who did it."""
        try:
            found = self.store.publish_plan(kind, version)
        except KeyError:
            details = {"plan_kind": kind, "version": version}
            self.store.write_audit(self.actor, "publish plan", "rejected", details)
            raise
        self.store.write_audit(self.actor, "publish plan", "ok", {"plan_kind": kind, "version": version})
        return PlanView(found.kind, found.version, found.status, found.created_at, found.payload)

    def scenario_names(self) -> list[str]:
        """Saved scenarios, then the shipped ones not saved yet."""
        saved = self.store.scenario_names()
        shipped = [row["name"] for row in services.shipped_scenarios()]
        return saved + [name for name in shipped if name not in saved]

    def scenario_text(self, name: str) -> str | None:
        """The TOML of a saved scenario's newest version, else of the shipped file."""
        try:
            return self.store.scenario_version(name).toml_text
        except KeyError:
            pass
        from scenarios import scenario_path

        try:
            return scenario_path(name).read_text(encoding="utf-8")
        except (FileNotFoundError, OSError):
            return None

    def save_scenario(self, name: str, toml_text: str) -> int:
        """Check and save a scenario as its next version (``ValueError`` naming the fault).

        Every save, and every refusal, leaves an audit entry with the view's user (as the API does).
        """
        from ops.jobs import SCENARIO_NAME_PATTERN, parse_scenario_text
        from scenarios import ScenarioError

        try:
            if not re.match(SCENARIO_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a scenario name (letters, digits, _ and -)")
            parse_scenario_text(name, toml_text)
        except (ScenarioError, ValueError) as error:
            problems = len(error.problems) if isinstance(error, ScenarioError) else 1
            self.store.write_audit(
                self.actor, "save scenario", "rejected", {"name": name[:100], "problems": problems}
            )
            raise
        saved = self.store.save_scenario(name, toml_text, created_by=self.actor)
        self.store.write_audit(
            self.actor, "save scenario", "ok", {"name": saved.name, "version": saved.version}
        )
        return saved.version

    def _job_runner(self) -> Any:
        with self._lock:
            if self._runner is None:
                from ops.jobs import JobRunner

                # Not the process that recovers orphaned jobs: the API may be running jobs on this store.
                self._runner = JobRunner(self.store, recover_interrupted=False)
            return self._runner

    def submit_whatif(self, params: dict[str, Any]) -> str:
        """Queue a what-if in this process's job runner (a background thread), audited as the API does."""
        from ops.jobs import JobParamsError, JobUnavailable

        try:
            job = self._job_runner().submit("whatif", params, submitted_by=self.actor)
        except (JobParamsError, JobUnavailable) as error:
            self.store.write_audit(self.actor, "submit whatif job", "rejected", {"reason": str(error)[:300]})
            raise ValueError(str(error)) from None
        self.store.write_audit(self.actor, "submit whatif job", "ok", {"job_id": job.id})
        return str(job.id)

    def job(self, job_id: str) -> JobView:
        """A job's state from the store."""
        from ops.store.jobs import get_job

        record = get_job(self.store, job_id)
        return JobView(
            record.id,
            record.status,
            record.progress_done,
            record.progress_total,
            record.message,
            record.result,
            record.error,
        )

    def comparison(self, run_id: int) -> pl.DataFrame | None:
        """The paired KPI comparison kept for a what-if run."""
        try:
            frame = self.store.read_result_parquet(f"runs/{run_id}/comparison")
        except (FileNotFoundError, KeyError, OSError):
            return None
        return _typed(frame.to_dicts(), COMPARISON_SCHEMA)

    def whatif_runs(self, limit: int = 20) -> pl.DataFrame:
        """The newest what-if runs of the store."""
        return _typed(services.whatif_runs(self.store, limit), RUNS_SCHEMA)


class ApiSource:
    """Reads the hospital twin's API (``docs/reference/api.md``) with a bearer token.

    Parameters
    ----------
    url
        Base URL of the API, e.g. ``http://127.0.0.1:8000``.
    token
        Bearer token (``hospital-twin token create``); ``None`` sends none.
    timeout_s
        Per-request timeout [seconds].
    client
        An HTTP client to use instead of a new one (tests pass FastAPI's in-process client).
    """

    label = "API"

    def __init__(
        self, url: str, token: str | None = None, timeout_s: float = 10.0, client: httpx.Client | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        if client is None:
            client = httpx.Client(base_url=self.url, timeout=timeout_s)
        client.headers.update(headers)
        self._client = client

    @classmethod
    def from_environment(cls) -> ApiSource:
        """URL and token from ``HOSPITAL_TWIN_API_URL`` and ``HOSPITAL_TWIN_API_TOKEN``."""
        return cls(os.environ[API_URL_ENV], os.environ.get(API_TOKEN_ENV) or None)

    def _get(self, path: str, **params: Any) -> Any | None:
        try:
            answer = self._client.get(path, params={k: v for k, v in params.items() if v is not None} or None)
        except httpx.HTTPError as error:
            raise ViewSourceError(f"The API at {self.url} did not answer ({type(error).__name__}).") from None
        if answer.status_code in (404, 409):
            return None
        if answer.status_code in (401, 403):
            raise ViewSourceError(f"The API at {self.url} refused the token ({answer.status_code}).")
        if answer.status_code >= 400:
            raise ViewSourceError(f"The API at {self.url} answered {answer.status_code} for {path}.")
        return answer.json()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            answer = self._client.post(path, json=body)
        except httpx.HTTPError as error:
            raise ViewSourceError(f"The API at {self.url} did not answer ({type(error).__name__}).") from None
        if answer.status_code in (401, 403):
            raise ViewSourceError(
                f"The API at {self.url} does not let this token do that ({answer.status_code}): "
                f"{_detail(answer)}"
            )
        if answer.status_code >= 400:
            raise ViewSourceError(f"The API refused {path} ({answer.status_code}): {_detail(answer)}")
        return answer.json()

    def hospital(self) -> Scenario | None:
        """The hospital scenario the API runs with (its saved ``baseline``, else the shipped one)."""
        text = self.scenario_text(os.environ.get(SCENARIO_ENV, "baseline"))
        if text is not None:
            from ops.jobs import parse_scenario_text

            try:
                return parse_scenario_text("baseline", text)
            except ValueError:
                pass
        try:
            return _known_scenario("baseline")
        except Exception:
            return None

    def census_now(self) -> CensusNow | None:
        """``GET /census/now``."""
        body = self._get("/census/now")
        if not body:
            return None
        names = {}
        for unit in self._get("/units") or []:
            names[unit["id"]] = unit["name"]
        rows = [
            {**unit, "unit_id": unit["unit"], "name": names.get(unit["unit"], unit["unit"])}
            for unit in body["units"]
        ]
        return CensusNow(datetime.fromisoformat(body["as_of"]), _typed(rows, CENSUS_SCHEMA))

    def census_history(self, until: datetime, days: int = 3) -> pl.DataFrame | None:
        """``GET /census/history``."""
        body = self._get("/census/history", until=until.astimezone(UTC).isoformat(), days=days)
        if not body:
            return None
        return _typed(body["readings"], CENSUS_HISTORY_SCHEMA)

    def census_forecast(self) -> CensusForecastView | None:
        """``GET /forecasts/census``."""
        body = self._get("/forecasts/census")
        if not body:
            return None
        return CensusForecastView(datetime.fromisoformat(body["as_of"]), _forecast_frame(body["points"]))

    def plan(self, kind: str, version: int | None = None) -> PlanView | None:
        """``GET /plans/{kind}/latest`` (else the draft, as the embedded view shows) or a version."""
        if version is not None:
            return _plan_view(self._get(f"/plans/{kind}/{version}"))
        return _plan_view(self._get(f"/plans/{kind}/latest") or self._get(f"/plans/{kind}/draft"))

    def draft_plan(self, kind: str) -> PlanView | None:
        """``GET /plans/{kind}/draft``."""
        return _plan_view(self._get(f"/plans/{kind}/draft"))

    def last_nightly_failure(self) -> dict[str, Any] | None:
        """``GET /nightly/last-run``, when that run did not end well."""
        body = self._get("/nightly/last-run")
        if not body or body.get("outcome") == "ok":
            return None
        return {**body, "recorded_at": datetime.fromisoformat(body["recorded_at"])}

    def publish_plan(self, kind: str, version: int) -> PlanView:
        """``POST /plans/{kind}/{version}/publish`` (a planner's or an admin's token)."""
        published = _plan_view(self._post(f"/plans/{kind}/{version}/publish"))
        assert published is not None
        return published

    def scenario_names(self) -> list[str]:
        """``GET /scenarios``, then ``GET /shipped-scenarios`` for the shipped ones not saved."""
        saved = [row["name"] for row in self._get("/scenarios") or []]
        shipped = [row["name"] for row in self._get("/shipped-scenarios") or []]
        return saved + [name for name in shipped if name not in saved]

    def scenario_text(self, name: str) -> str | None:
        """``GET /scenarios/{name}``, else ``GET /shipped-scenarios/{name}``."""
        body = self._get(f"/scenarios/{name}") or self._get(f"/shipped-scenarios/{name}")
        return None if not body else str(body["toml_text"])

    def save_scenario(self, name: str, toml_text: str) -> int:
        """``POST /scenarios``."""
        return int(self._post("/scenarios", {"name": name, "toml_text": toml_text})["version"])

    def submit_whatif(self, params: dict[str, Any]) -> str:
        """``POST /jobs`` with kind ``whatif``."""
        return str(self._post("/jobs", {"kind": "whatif", "params": params})["id"])

    def job(self, job_id: str) -> JobView:
        """``GET /jobs/{id}`` (and its result once finished)."""
        body = self._get(f"/jobs/{job_id}")
        if not body:
            raise ViewSourceError(f"The API knows no job {job_id}.")
        result = None
        if body["status"] == "finished":
            answer = self._get(f"/jobs/{job_id}/result")
            result = None if not answer else answer.get("result")
        return JobView(
            body["id"],
            body["status"],
            int(body["progress_done"]),
            int(body["progress_total"]),
            body.get("message", ""),
            result,
            body.get("error"),
        )

    def comparison(self, run_id: int) -> pl.DataFrame | None:
        """``GET /kpis/{run_id}``."""
        body = self._get(f"/kpis/{run_id}")
        if not body:
            return None
        return _typed(body["comparison"], COMPARISON_SCHEMA)

    def whatif_runs(self, limit: int = 20) -> pl.DataFrame:
        """``GET /runs``."""
        return _typed(self._get("/runs", limit=limit) or [], RUNS_SCHEMA)


def _forecast_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Forecast rows as ``CENSUS_FORECAST_SCHEMA``, plus the acuity band columns when any row has them."""
    schema: dict[str, pl.DataType] = dict(CENSUS_FORECAST_SCHEMA)
    for column in ACUITY_BAND_COLUMNS:
        if any(row.get(column) is not None for row in rows):
            schema[column] = pl.Float64()
    return _typed(rows, schema)


def _plan_view(body: Any) -> PlanView | None:
    """A plan answer of the API as a :class:`PlanView` (``None`` for no answer)."""
    if not body:
        return None
    return PlanView(
        body["kind"],
        int(body["version"]),
        body["status"],
        datetime.fromisoformat(body["created_at"]),
        body["payload"],
    )


def _detail(answer: httpx.Response) -> str:
    """The ``detail`` of an error answer in words (the first problem of a 422), at most 300 characters."""
    try:
        detail = answer.json().get("detail", answer.text)
    except ValueError:
        detail = answer.text
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        where = ".".join(str(part) for part in detail[0].get("loc", ()) if part not in ("body", "toml_text"))
        detail = f"{where}: {detail[0].get('msg', '')}" if where else str(detail[0].get("msg", ""))
    return str(detail)[:300]


def source_from_environment() -> ViewSource:
    """The API source when ``HOSPITAL_TWIN_API_URL`` is set, else the embedded one."""
    if os.environ.get(API_URL_ENV):
        return ApiSource.from_environment()
    return EmbeddedSource.from_environment()
