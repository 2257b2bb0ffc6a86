"""Long jobs: submit a what-if, roster, surgical plan or nightly plan; follow its progress; cancel it.

A :class:`JobRunner` runs job functions in a thread pool; every job's status, progress and result are
rows of the store (:mod:`ops.store.jobs`), so the status survives the process and anyone with the store
can read it. A job function is ``f(store, params, context) -> result`` where ``result`` is a JSON-like
dict; it reports progress with ``context.progress(done, total)`` and stops early when
``context.cancel_event`` is set (or raises :class:`JobCancelled`). Its end, with the result, is one update
of the store: a reader sees the job running, or ended with its result, never half.

The job kinds the service offers are in :data:`JOB_KINDS`; a kind whose pipeline is not part of this
installation raises :class:`JobUnavailable` when asked for.

Examples
--------
>>> runner = JobRunner(store, workers=1)  # doctest: +SKIP
>>> job = runner.submit("whatif", {"scenario": "winter_surge"}, submitted_by="ana")  # doctest: +SKIP
>>> runner.status(job.id).progress_done  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import math
import re
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.store import Store
from ops.store.jobs import (
    JobRecord,
    finish_job,
    get_job,
    insert_job,
    mark_interrupted,
    mark_started,
    record_progress,
    request_cancel,
)
from scenarios import Problem, Scenario, ScenarioError, load_scenario, parse_scenario, scenario_path

_logger = logging.getLogger(__name__)

JOB_KINDS: tuple[str, ...] = ("whatif", "roster", "surgery", "nightly")
"""Kinds of long job the service runs."""

PROGRESS_WRITE_SECONDS = 0.25
"""At most one progress write to the store per job in this interval [seconds] (the last one always)."""

CANCEL_CHECK_SECONDS = 1.0
"""How often a job's progress report looks for a cancel asked through the store [seconds]."""


class JobCancelled(Exception):
    """Raised inside a job function to stop at once after a cancel request."""


class JobUnavailable(LookupError):
    """The job kind is unknown, or its pipeline is not part of this installation."""


class JobParamsError(ValueError):
    """A job's parameters are wrong; ``problems`` lists (parameter, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"params.{where}: {reason}" for where, reason in problems))


@dataclass
class JobContext:
    """What a running job function gets besides its parameters.

    Attributes
    ----------
    job_id
        The job's id.
    cancel_event
        Set when a cancel is requested; long loops check it (or pass it on, e.g. to
        :func:`ops.sim.compare_scenarios`).
    replication_workers
        Local processes a what-if may use (1: in the job's thread).
    submitted_by
        Who asked for the job (for the audit entries a pipeline writes).
    """

    job_id: str
    store: Store
    cancel_event: threading.Event = field(default_factory=threading.Event)
    replication_workers: int = 1
    submitted_by: str = "api"
    _last_write: float = 0.0
    _last_cancel_check: float = 0.0

    @property
    def cancelled(self) -> bool:
        """True once a cancel was requested."""
        return self.cancel_event.is_set()

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        """Report progress: ``done`` of ``total`` steps (written to the store, throttled)."""
        moment = time.monotonic()
        if done < total and moment - self._last_write < PROGRESS_WRITE_SECONDS:
            return
        self._last_write = moment
        record_progress(self.store, self.job_id, done, total, message)
        if moment - self._last_cancel_check >= CANCEL_CHECK_SECONDS:
            self._last_cancel_check = moment
            self.poll_cancel()

    def poll_cancel(self) -> bool:
        """Look in the store for a cancel requested by another process; returns :attr:`cancelled`."""
        if not self.cancel_event.is_set() and get_job(self.store, self.job_id).cancel_requested:
            self.cancel_event.set()
        return self.cancelled

    def raise_if_cancelled(self) -> None:
        """Raise :class:`JobCancelled` when a cancel was requested."""
        if self.poll_cancel():
            raise JobCancelled


class JobFunction(Protocol):
    """A long job: ``(store, params, context) -> result`` (a JSON-like dict)."""

    def __call__(self, store: Store, params: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
        """Run the job."""
        ...


@dataclass(frozen=True)
class JobKind:
    """A kind of job: how to check its parameters before queueing it, and how to run it."""

    name: str
    check: Callable[[Store, Mapping[str, Any]], dict[str, Any]]
    run: JobFunction


class JobRunner:
    """Runs jobs in a thread pool and keeps their state in the store.

    Parameters
    ----------
    store
        Where jobs are recorded.
    workers
        Jobs run at the same time (more are queued).
    replication_workers
        Local processes each what-if may use for its replications.
    kinds
        Job kinds by name; by default :func:`job_kind` for each of :data:`JOB_KINDS` on demand.
    recover_interrupted
        Mark jobs left queued or running in the store as ``interrupted`` (the default). Only the one
        process that runs the store's jobs should do so: a second runner on the same store (another
        service process, the command view in embedded mode) passes ``False``, or it would mark the first
        one's running jobs.
    """

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 1,
        replication_workers: int = 1,
        kinds: Mapping[str, JobKind] | None = None,
        recover_interrupted: bool = True,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.store = store
        self.replication_workers = replication_workers
        self._kinds = dict(kinds) if kinds is not None else None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hospital-twin-job")
        self._contexts: dict[str, JobContext] = {}
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        interrupted = mark_interrupted(store) if recover_interrupted else []
        if interrupted:
            _logger.warning(
                "%d job(s) left unfinished by the previous process marked interrupted", len(interrupted)
            )

    def kind(self, name: str) -> JobKind:
        """The job kind ``name`` (:class:`JobUnavailable` when unknown or not installed)."""
        if self._kinds is not None:
            if name not in self._kinds:
                raise JobUnavailable(f"unknown job kind {name!r}; known: {', '.join(sorted(self._kinds))}")
            return self._kinds[name]
        return job_kind(name)

    def submit(self, kind: str, params: Mapping[str, Any], *, submitted_by: str) -> JobRecord:
        """Check the parameters, record the job as queued and start it when a worker is free.

        Raises
        ------
        JobUnavailable
            Unknown kind, or its pipeline is not installed.
        JobParamsError
            Wrong parameters (nothing is recorded).
        """
        job_kind_ = self.kind(kind)
        checked = job_kind_.check(self.store, params)
        job_id = uuid.uuid4().hex
        record = insert_job(self.store, job_id, kind, checked, submitted_by=submitted_by)
        context = JobContext(
            job_id, self.store, replication_workers=self.replication_workers, submitted_by=submitted_by
        )
        with self._lock:
            self._contexts[job_id] = context
            self._futures[job_id] = self._pool.submit(self._run, job_kind_, checked, context)
        return record

    def status(self, job_id: str) -> JobRecord:
        """A job's record (:class:`KeyError` when unknown)."""
        return get_job(self.store, job_id)

    def cancel(self, job_id: str) -> JobRecord:
        """Ask a job to stop (:class:`KeyError` when unknown); returns its record afterwards."""
        record = request_cancel(self.store, job_id)
        with self._lock:
            context = self._contexts.get(job_id)
        if context is not None:
            context.cancel_event.set()
        return record

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        """Wait for a job started by this runner to end (for tests and the CLI); returns its record."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)
        return get_job(self.store, job_id)

    def shutdown(self, *, cancel_running: bool = True) -> None:
        """Stop taking jobs; cancel the running ones (by default) and wait for them to end."""
        if cancel_running:
            with self._lock:
                contexts = list(self._contexts.values())
            for context in contexts:
                request_cancel(self.store, context.job_id)
                context.cancel_event.set()
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _run(self, kind: JobKind, params: dict[str, Any], context: JobContext) -> None:
        outcome = "cancelled"
        try:
            if not mark_started(self.store, context.job_id):
                return  # cancelled while queued
            try:
                result = kind.run(self.store, params, context)
            except JobCancelled:
                finish_job(self.store, context.job_id, "cancelled", message="cancelled")
                return
            except Exception as error:  # the job fails; the service goes on
                _logger.error("job %s (%s) failed: %s", context.job_id, kind.name, type(error).__name__)
                outcome = "failed"
                finish_job(
                    self.store,
                    context.job_id,
                    "failed",
                    error=f"{type(error).__name__}: {error}",
                    message="failed",
                )
                return
            outcome = "cancelled" if context.cancelled else "finished"
            finish_job(self.store, context.job_id, outcome, result=json_safe(result), message=outcome)
        finally:
            with self._lock:
                self._contexts.pop(context.job_id, None)
            job = get_job(self.store, context.job_id)
            self.store.write_audit(
                job.submitted_by,
                f"run {kind.name} job",
                outcome,
                {"job_id": context.job_id, "status": job.status},
            )


def json_safe(value: Any) -> Any:
    """The value with NaN and infinities replaced by ``None`` (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


# -- job kinds -------------------------------------------------------------------------------------------


def job_kind(name: str) -> JobKind:
    """The job kind ``name`` with its pipeline.

    Raises
    ------
    JobUnavailable
        Unknown kind, or its pipeline module is not part of this installation.
    """
    if name == "whatif":
        return JobKind("whatif", check_whatif_params, run_whatif)
    if name == "surgery":
        if _pipeline_function("ops.surgery", "run_surgery_plan") is None:
            raise JobUnavailable(
                "the surgical plan pipeline (ops.surgery) is not available in this installation"
            )
        return JobKind("surgery", check_surgery_params, run_surgery)
    if name == "roster":
        return JobKind("roster", check_roster_params, run_roster)
    if name in _PIPELINES:
        module_name, function_name = _PIPELINES[name]
        function = _pipeline_function(module_name, function_name)
        if function is None:
            raise JobUnavailable(
                f"the {name} pipeline ({module_name}.{function_name}) is not available in this installation"
            )
        return JobKind(name, check_nightly_params, function)
    raise JobUnavailable(f"unknown job kind {name!r}; known: {', '.join(JOB_KINDS)}")


_PIPELINES: dict[str, tuple[str, str]] = {
    "nightly": ("ops.nightly", "run_nightly_job"),
}
"""Job kinds run by other pipelines: (module, function with the :class:`JobFunction` signature)."""


def _pipeline_function(module_name: str, function_name: str) -> Any:
    """The pipeline's function, or ``None`` when its module is absent or cannot be imported."""
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # absent, or broken: either way the kind is unavailable, not a crash
        _logger.warning("job pipeline %s cannot be imported: %s", module_name, type(error).__name__)
        return None
    function = getattr(module, function_name, None)
    return function if callable(function) else None


class WhatIfParams(BaseModel):
    """Parameters of a what-if job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field(min_length=1, max_length=200, description="Saved or shipped scenario name")
    scenario_version: int | None = Field(None, ge=1, description="Saved version (newest when absent)")
    against: str = Field("baseline", min_length=1, max_length=200, description="Scenario compared against")
    replications: int = Field(10, ge=2, le=200, description="Runs of each scenario")
    days: int = Field(28, ge=1, le=365, description="Days simulated [days]")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Base seed")
    cold: bool = Field(False, description="Start from an empty hospital after a warm-up, not from the twins")
    warm_up_days: int = Field(
        21, ge=0, le=365, description="Warm-up of a cold start [days] (at least 1 without history)"
    )


SCENARIO_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,99}$"
"""Names of saved scenarios: letters, digits, ``_`` and ``-`` (no path separators)."""

_SCENARIO_NAME = re.compile(SCENARIO_NAME_PATTERN)


def parse_scenario_text(name: str, toml_text: str) -> Scenario:
    """Validate a scenario file's text; a ``base`` may only name a shipped scenario file.

    Parameters
    ----------
    name
        The scenario's saved name (used in error messages).
    toml_text
        The TOML text.

    Raises
    ------
    ScenarioError
        Every problem with the key path at fault (invalid TOML included).
    """
    try:
        data = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError([Problem(name, "", f"not valid TOML: {error}")]) from None
    header = data.get("scenario")
    base = header.get("base") if isinstance(header, dict) else None
    shipped_folder = scenario_path("baseline").parent
    if base is not None and (
        not isinstance(base, str) or "/" in base or "\\" in base or not (shipped_folder / base).is_file()
    ):
        shipped = ", ".join(path.name for path in sorted(shipped_folder.glob("*.toml")))
        raise ScenarioError(
            [Problem(name, "scenario.base", f"must name a shipped scenario file ({shipped})")]
        )
    return parse_scenario(data, file=name, base_dir=shipped_folder)


def resolve_scenario(store: Store, name: str, version: int | None = None) -> tuple[Scenario, int | None]:
    """A scenario saved in the store (that version, or the newest), else a shipped one of that name.

    Returns
    -------
    tuple
        The scenario and its saved version (``None`` for a shipped scenario).

    Raises
    ------
    KeyError
        When there is no such scenario (or version).
    ScenarioError
        When the saved text is no longer a valid scenario.
    """
    try:
        saved = store.scenario_version(name, version)
    except KeyError:
        if version is not None:
            raise
    else:
        return parse_scenario_text(f"{name} v{saved.version}", saved.toml_text), saved.version
    if not _SCENARIO_NAME.match(name):
        raise KeyError(f"no saved or shipped scenario {name!r}")
    try:
        path = scenario_path(name)
    except FileNotFoundError:
        raise KeyError(f"no saved or shipped scenario {name!r}") from None
    return load_scenario(path), None


def check_whatif_params(store: Store, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate what-if parameters and check both scenarios exist (:class:`JobParamsError` if not)."""
    checked = _validated(WhatIfParams, params)
    assert isinstance(checked, WhatIfParams)
    problems: list[tuple[str, str]] = []
    for where, name, version in (
        ("scenario", checked.scenario, checked.scenario_version),
        ("against", checked.against, None),
    ):
        try:
            resolve_scenario(store, name, version)
        except KeyError as error:
            problems.append((where, str(error.args[0])))
        except ScenarioError as error:
            problems.append((where, f"saved scenario is not valid: {error}"))
    if problems:
        raise JobParamsError(problems)
    return checked.model_dump()


def run_whatif(store: Store, params: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Run a what-if against its baseline; keep the KPIs as a scenario run of the store.

    The KPIs of every replication go to the Parquet result ``runs/<run id>/kpis`` and the paired
    comparison to ``runs/<run id>/comparison``; the run is recorded with :meth:`Store.start_scenario_run`.

    Both scenarios start from the hospital now when the store holds enough history (the twins in their
    units with their own remaining stays, and arrivals forecast by service: :func:`ops.twin_run
    .choose_start`), else (or with ``cold``) from an empty hospital after ``warm_up_days`` of warm-up;
    ``start`` in the result says which.

    Returns
    -------
    dict
        ``run_id``, ``replications`` finished, ``cancelled``, ``start`` and the headline comparison rows.
    """
    from ops.sim import compare_scenarios  # the simulator is heavy: import it when a what-if runs
    from ops.twin_run import choose_start

    checked = WhatIfParams.model_validate(dict(params))
    scenario, version = resolve_scenario(store, checked.scenario, checked.scenario_version)
    against, _ = resolve_scenario(store, checked.against)
    # Start from the hospital now (the store's twins and forecast arrivals); from an empty hospital after
    # a warm-up when the store has no history to start from.
    context.progress(0, checked.replications, "reading the twins")
    begin = choose_start(
        store,
        against,
        cold=checked.cold,
        warm_up_days=checked.warm_up_days,
        horizon_days=checked.days,
        compatible_with=(against, scenario),
    )
    run_id = store.start_scenario_run(
        scenario.name,
        scenario.digest(),
        seed=checked.seed,
        replications=checked.replications,
        scenario_version=version,
        details={
            "against": against.name,
            "days": checked.days,
            "job_id": context.job_id,
            "start": begin.description,
        },
    )
    context.progress(0, checked.replications, "running replications")
    try:
        comparison = compare_scenarios(
            scenario,
            against,
            checked.replications,
            horizon_days=checked.days,
            base_seed=checked.seed,
            start=begin.start,
            options=begin.options(),
            executor="serial" if context.replication_workers <= 1 else "pool",
            workers=context.replication_workers,
            progress=lambda done, planned: context.progress(done, planned, "running replications"),
            cancel=context.cancel_event,
        )
    except BaseException:
        store.finish_scenario_run(run_id, "failed")
        raise
    kpis_name = f"runs/{run_id}/kpis"
    store.put_result_parquet(kpis_name, comparison.kpis)
    store.put_result_parquet(f"runs/{run_id}/comparison", comparison.comparison)
    headline = json_safe(comparison.headline().to_dicts())
    store.finish_scenario_run(
        run_id,
        "cancelled" if comparison.cancelled else "finished",
        result_name=kpis_name,
        details={
            "against": comparison.against,
            "days": checked.days,
            "job_id": context.job_id,
            "replications_finished": comparison.replications,
            "elapsed_seconds": comparison.elapsed_seconds,
            "start": begin.description,
        },
    )
    return {
        "run_id": run_id,
        "scenario": comparison.scenario,
        "against": comparison.against,
        "replications": comparison.replications,
        "cancelled": comparison.cancelled,
        "start": begin.description,
        "headline": headline,
    }


class SurgeryParams(BaseModel):
    """Parameters of a surgical admission plan job."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field("baseline", min_length=1, max_length=200, description="Saved or shipped scenario")
    scenario_version: int | None = Field(None, ge=1, description="Saved version (newest when absent)")
    start: datetime | None = Field(None, description="Start of day 0 [UTC]; the model's default when absent")
    days: int = Field(14, ge=1, le=28, description="Days planned [days]")
    time_limit_s: float = Field(60.0, gt=0, le=3600, description="Solver budget [seconds]")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the waiting list and the search")


def _validated(model: type[BaseModel], params: Mapping[str, Any]) -> BaseModel:
    try:
        return model.model_validate(dict(params))
    except ValidationError as error:
        raise JobParamsError(
            [
                (".".join(str(part) for part in item["loc"]) or "params", item["msg"])
                for item in error.errors()
            ]
        ) from None


def check_surgery_params(store: Store, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate surgical plan parameters and check the scenario exists (:class:`JobParamsError` if not)."""
    checked = _validated(SurgeryParams, params)
    assert isinstance(checked, SurgeryParams)
    if checked.start is not None and (checked.start.tzinfo is None or checked.start.utcoffset() is None):
        raise JobParamsError([("start", "needs a time zone, e.g. 2026-01-05T00:00:00Z")])
    try:
        resolve_scenario(store, checked.scenario, checked.scenario_version)
    except KeyError as error:
        raise JobParamsError([("scenario", str(error.args[0]))]) from None
    except ScenarioError as error:
        raise JobParamsError([("scenario", f"saved scenario is not valid: {error}")]) from None
    return checked.model_dump(mode="json")


def run_surgery(store: Store, params: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Plan elective admissions (``ops.surgery.run_surgery_plan``) and publish the plan in the store.

    Progress is the solver's elapsed time over its budget [seconds]; a cancel keeps the best plan so far.
    """
    run_surgery_plan = _pipeline_function("ops.surgery", "run_surgery_plan")
    if run_surgery_plan is None:
        raise JobUnavailable("the surgical plan pipeline (ops.surgery) is not available")
    checked = SurgeryParams.model_validate(dict(params))
    scenario, _ = resolve_scenario(store, checked.scenario, checked.scenario_version)
    budget = max(1, math.ceil(checked.time_limit_s))
    context.progress(0, budget, "planning elective admissions")
    options: dict[str, Any] = {} if checked.start is None else {"start": checked.start}
    run = run_surgery_plan(
        scenario,
        days=checked.days,
        time_limit_s=checked.time_limit_s,
        workers=1,
        seed=checked.seed,
        store=store,
        actor=context.submitted_by,
        progress=lambda report: context.progress(
            min(budget, int(report.elapsed_seconds)), budget, f"best cost {report.best_total_cost}"
        ),
        cancel=context.cancel_event,
        **options,
    )
    summary = run.summary
    return {
        "plan_kind": run.saved.kind if run.saved is not None else None,
        "plan_version": run.saved.version if run.saved is not None else None,
        "status": str(getattr(run.status, "value", run.status)),
        "cancelled": run.cancelled,
        "cases_listed": summary.cases_listed,
        "cases_planned": summary.cases_planned,
        "cases_unscheduled": summary.cases_unscheduled,
        "theatre_utilisation": summary.theatre_utilisation,
        "peak_elective_beds": summary.peak_elective_beds,
        "total_cost": summary.total_cost,
    }


class NightlyParams(BaseModel):
    """Parameters of a nightly plan (or roster) job; the files go to the pipeline's default folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field("baseline", min_length=1, max_length=200, description="Saved or shipped scenario")
    date: dt.date | None = Field(
        None, description="First day of the roster (the hospital's today when absent)"
    )
    days: int = Field(28, ge=1, le=42, description="Days rostered [days]")
    quantile: float | None = Field(None, gt=0, lt=1, description="Census quantile staffed for")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the forecast and the roster search")


def check_nightly_params(store: Store, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate nightly plan parameters and check the scenario exists (:class:`JobParamsError` if not)."""
    checked = _validated(NightlyParams, params)
    assert isinstance(checked, NightlyParams)
    try:
        resolve_scenario(store, checked.scenario)
    except KeyError as error:
        raise JobParamsError([("scenario", str(error.args[0]))]) from None
    except ScenarioError as error:
        raise JobParamsError([("scenario", f"saved scenario is not valid: {error}")]) from None
    return checked.model_dump(mode="json", exclude_none=True)


# -- roster ---------------------------------------------------------------------------------------------

ROSTER_PLAN_KIND = "roster"
"""Kind of the roster plans (the nightly plan publishes the same kind)."""


class RosterParams(BaseModel):
    """Parameters of a roster job: roster again against the staffing demand of the newest roster plan.

    The nightly plan forecasts the census, turns it into nurses per unit, day and shift, and rosters; a
    roster job does the last step only (e.g. after a change of contracts, leave or a published day), with
    the demand kept in the newest roster plan, and saves the result as a **draft** for a planner to publish.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field("baseline", min_length=1, max_length=200, description="Saved or shipped scenario")
    date: dt.date | None = Field(
        None, description="First day of the roster (the demand's first day when absent)"
    )
    days: int = Field(28, ge=1, le=42, description="Days rostered [days]")
    seconds_per_team: float = Field(
        15.0, gt=0, le=600, description="Solver budget per team of nurses [deterministic seconds]"
    )
    explain_seconds: float = Field(
        10.0, ge=0, le=600, description="Budget to explain an infeasible team's roster [seconds]; 0: none"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the roster search")


def _demand_plan(store: Store) -> Any:
    """The newest roster plan (any status) that keeps a staffing demand, else ``None``."""
    for plan in reversed(store.plan_versions(ROSTER_PLAN_KIND)):
        if isinstance(plan.payload.get("demand"), list) and plan.payload["demand"]:
            return plan
    return None


def check_roster_params(store: Store, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate roster parameters, check the scenario and a stored staffing demand exist.

    Raises
    ------
    JobParamsError
        Wrong parameters or an unknown scenario.
    JobUnavailable
        No roster plan with a staffing demand yet (run the nightly plan first).
    """
    checked = _validated(RosterParams, params)
    assert isinstance(checked, RosterParams)
    try:
        resolve_scenario(store, checked.scenario)
    except KeyError as error:
        raise JobParamsError([("scenario", str(error.args[0]))]) from None
    except ScenarioError as error:
        raise JobParamsError([("scenario", f"saved scenario is not valid: {error}")]) from None
    if _demand_plan(store) is None:
        raise JobUnavailable("no staffing demand stored yet: run the nightly plan (kind nightly) first")
    return checked.model_dump(mode="json", exclude_none=True)


def run_roster(store: Store, params: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Roster every nurse against the stored staffing demand and save the roster as a draft plan.

    Days already published (by the plan in force) from the first day on are kept, as the nightly plan
    keeps them. Progress is teams rostered of all teams; a cancel stops before anything is saved. When a
    team has no roster, the draft says why (``explanation``: the fewest extra nurses, or the rules that
    conflict) so the Staffing page can show it.

    Returns
    -------
    dict
        ``plan_kind``, ``plan_version`` (the draft), ``status``, ``summary`` and ``unfilled_shifts``.
    """
    from dataclasses import replace

    import polars as pl

    from ops.nightly import roster_summary, unfilled_alerts
    from scheduler.roster import explain_infeasibility
    from scheduler.roster.from_scenario import RosterSettings, TeamProgress, roster_from_scenario
    from scheduler.roster.solution import RosterStatus
    from scheduler.staffing import extend_weekly
    from scheduler.staffing.demand import STAFFING_DEMAND_SCHEMA

    checked = RosterParams.model_validate(dict(params))
    scenario, _ = resolve_scenario(store, checked.scenario)
    demand_plan = _demand_plan(store)
    if demand_plan is None:
        raise JobUnavailable("no staffing demand stored yet: run the nightly plan (kind nightly) first")
    stored = pl.DataFrame(demand_plan.payload["demand"], infer_schema_length=None)
    demand = stored.select(
        pl.col(name).str.to_date()
        if dtype == pl.Date() and stored.schema[name] == pl.String()
        else pl.col(name)
        for name, dtype in STAFFING_DEMAND_SCHEMA.items()
    ).cast(STAFFING_DEMAND_SCHEMA)  # type: ignore[arg-type]
    first_day = checked.date or demand.get_column("day").min()
    assert isinstance(first_day, dt.date)
    demand = extend_weekly(demand, scenario, first_day, checked.days)
    published_rows, published_until = _published_days(store, first_day)
    settings = replace(
        RosterSettings(),
        seed=checked.seed,
        workers=1,
        max_deterministic_seconds=checked.seconds_per_team,
        deterministic_seconds_per_nurse=checked.seconds_per_team,
        wall_seconds_per_team=max(30.0, 8 * checked.seconds_per_team),
    )

    def report(update: TeamProgress) -> None:
        context.progress(update.teams_done, update.teams_total, f"rostering {update.team_id}")

    context.progress(0, 1, "rostering")
    roster = roster_from_scenario(
        scenario,
        demand,
        first_day=first_day,
        days=checked.days,
        published=published_rows,
        published_until=published_until,
        settings=settings,
        progress=report,
        cancel=context.cancel_event,
    )
    if context.cancelled:
        raise JobCancelled
    explanation: list[str] = []
    for team in roster.teams:
        status = getattr(team, "status", team.solution.status)
        if status not in (RosterStatus.INFEASIBLE, RosterStatus.TIMEOUT):
            continue
        if status is RosterStatus.TIMEOUT:
            explanation.append(f"Team {team.team.team_id}: the search found no roster in its time budget.")
            continue
        explanation.append(f"Team {team.team.team_id}: the hard rules of its contracts cannot all be met.")
        why = getattr(team, "explanation", None) or team.solution.explanation
        if why is None and checked.explain_seconds > 0:
            why = explain_infeasibility(team.problem, time_limit_seconds=checked.explain_seconds)
        if why is not None:
            explanation += why.summary()
    cover = roster.cover_frame()
    assignments = roster.assignments_frame()
    alerts = unfilled_alerts(scenario, cover)
    payload = {
        "plan_date": first_day.isoformat(),
        "first_day": first_day.isoformat(),
        "days": checked.days,
        "scenario": scenario.name,
        "scenario_digest": scenario.digest(),
        "seed": checked.seed,
        "made_by": "roster job",
        "demand_from_version": demand_plan.version,
        "published_until": published_until.isoformat() if published_until is not None else None,
        "status": roster.status.value,
        "objective": roster.objective,
        "summary": roster_summary(cover),
        "explanation": " ".join(line.strip() for line in explanation) or None,
        "assignments": _json_records(assignments),
        "cover": _json_records(cover),
        "demand": _json_records(demand),
        "alerts": alerts,
    }
    draft = store.save_plan(ROSTER_PLAN_KIND, payload, status="draft", created_by=context.submitted_by)
    context.progress(1, 1, f"saved roster draft version {draft.version}")
    return {
        "plan_kind": draft.kind,
        "plan_version": draft.version,
        "status": roster.status.value,
        "summary": payload["summary"],
        "unfilled_shifts": len(alerts),
        "explanation": payload["explanation"],
    }


def _published_days(store: Store, first_day: dt.date) -> tuple[list[dict[str, Any]], dt.date | None]:
    """Assignments of the roster in force from ``first_day`` on, and its last day (None: nothing kept)."""
    plan = store.latest_plan(ROSTER_PLAN_KIND)
    if plan is None or "first_day" not in plan.payload or "days" not in plan.payload:
        return [], None
    start = dt.date.fromisoformat(str(plan.payload["first_day"]))
    last = start + dt.timedelta(days=int(plan.payload["days"]) - 1)
    if last < first_day:
        return [], None
    rows = [
        {**row, "day": dt.date.fromisoformat(str(row["day"]))}
        for row in plan.payload.get("assignments", [])
        if dt.date.fromisoformat(str(row["day"])) >= first_day
    ]
    return rows, last


def _json_records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a polars frame as JSON-ready dicts (dates as ISO text, NaN as None)."""
    rows: list[dict[str, Any]] = frame.to_dicts()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, dt.date):
                row[key] = value.isoformat()
    return [json_safe(row) for row in rows]
