"""Long jobs: submit, list, status with progress, cancel, result (``/jobs``).

The routes are plain functions: FastAPI runs them in its thread pool, so their database work never holds up
the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError

from ops.jobs import JobParamsError, JobUnavailable
from ops.store.jobs import JobRecord, list_jobs
from ui.api.audit import record
from ui.api.auth import may_run_job
from ui.api.deps import JobSubmitter, Reader, RunnerDep, StoreDep, deny
from ui.api.errors import AUTH_ERRORS, NotFound, Unavailable, error_responses
from ui.api.schemas import JobCreate, JobPublic, JobResultPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Job id")]


def _public(job: JobRecord) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        params=job.params,
        submitted_by=job.submitted_by,
        submitted_at=job.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        message=job.message,
        cancel_requested=job.cancel_requested,
        error=job.error,
    )


def _job(runner: RunnerDep, job_id: str) -> JobRecord:
    try:
        return runner.status(job_id)
    except KeyError:
        raise NotFound(f"no job {job_id}") from None


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a long job",
    responses={**AUTH_ERRORS, **error_responses(400, 409)},
)
def submit_job(
    caller: JobSubmitter, request: Request, store: StoreDep, runner: RunnerDep, job: JobCreate
) -> JobPublic:
    """Queue a what-if, roster, surgical plan or nightly plan; follow it at ``GET /jobs/{id}``.

    409 when the kind's pipeline is not part of this installation; 422 for wrong parameters.
    """
    if not may_run_job(caller, job.kind):
        raise deny(store, request, caller, f"role {caller.role!r} may not run {job.kind} jobs")
    try:
        submitted = runner.submit(job.kind, job.params, submitted_by=caller.actor)
    except JobUnavailable as error:
        record(store, caller, f"submit {job.kind} job", "unavailable", {"reason": str(error)})
        raise Unavailable(str(error)) from None
    except JobParamsError as error:
        record(store, caller, f"submit {job.kind} job", "rejected", {"problems": len(error.problems)})
        raise RequestValidationError(
            [
                {"loc": ("body", "params", *where.split(".")), "msg": reason, "type": "job_params"}
                for where, reason in error.problems
            ]
        ) from None
    record(store, caller, f"submit {job.kind} job", "ok", {"job_id": submitted.id})
    return _public(submitted)


@router.get("", summary="Recent jobs", responses=AUTH_ERRORS)
def recent_jobs(
    caller: Reader, store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[JobPublic]:
    """The newest jobs first."""
    return [_public(job) for job in list_jobs(store, limit=limit)]


@router.get(
    "/{job_id}", summary="A job's status and progress", responses={**AUTH_ERRORS, **error_responses(404)}
)
def job_status(caller: Reader, runner: RunnerDep, job_id: JobId) -> JobPublic:
    """Status, ``progress_done`` of ``progress_total``, and the last message."""
    return _public(_job(runner, job_id))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a job",
    responses={**AUTH_ERRORS, **error_responses(404, 409)},
)
def cancel_job(
    caller: JobSubmitter, request: Request, store: StoreDep, runner: RunnerDep, job_id: JobId
) -> JobPublic:
    """Ask a job to stop: a queued job is cancelled at once, a running one at its next progress step.

    409 when the job has already ended.
    """
    job = _job(runner, job_id)
    if not may_run_job(caller, job.kind):
        raise deny(store, request, caller, f"role {caller.role!r} may not cancel {job.kind} jobs")
    if job.final:
        raise Unavailable(f"job {job_id} has already ended ({job.status})")
    cancelled = runner.cancel(job_id)
    record(store, caller, f"cancel {job.kind} job", "ok", {"job_id": job_id})
    return _public(cancelled)


@router.get(
    "/{job_id}/result", summary="A job's result", responses={**AUTH_ERRORS, **error_responses(404, 409)}
)
def job_result(caller: Reader, runner: RunnerDep, job_id: JobId) -> JobResultPublic:
    """The result of a finished job (or what a cancelled job finished); 409 while it runs or if it failed."""
    job = _job(runner, job_id)
    if job.result is None:
        why = job.error or job.message
        raise Unavailable(f"job {job_id} has no result: {job.status}" + (f" ({why})" if why else ""))
    return JobResultPublic(id=job.id, kind=job.kind, status=job.status, result=job.result)
