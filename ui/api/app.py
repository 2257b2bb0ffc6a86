"""The application factory: :func:`create_app` builds the service around a store and a job runner."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from ops.jobs import JobRunner
from ops.settings import ingest_salt
from ops.store import Store, open_store
from ui.api.answers import Answers, ForgetAfterWrites
from ui.api.deps import TokenCache
from ui.api.errors import NotFound, Unavailable
from ui.api.fhir import FhirIssue, FhirRejected, operation_outcome
from ui.api.routes import fhir, health, hospital, jobs, results, scenarios
from ui.api.services import TwinsSource
from ui.api.settings import ApiSettings

FHIR_PATH = "/fhir"

_logger = logging.getLogger(__name__)


def create_app(settings: ApiSettings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the API service.

    Parameters
    ----------
    settings
        How the service runs; from the environment when ``None``.
    store
        An open store to serve (kept open at shutdown); opened from ``settings.database_url`` when
        ``None`` (and closed at shutdown).

    Returns
    -------
    FastAPI
        The ASGI application; serve it with uvicorn (``hospital-twin serve``).

    Raises
    ------
    ops.settings.SaltNotConfigured
        When no secret pseudonymisation salt is configured for the store (``POST /fhir`` turns real
        identifiers into keys): the service refuses to start rather than use the public demo salt.
    """
    settings = settings or ApiSettings()
    owns_store = store is None
    served = (
        store if store is not None else open_store(settings.database_url, results_dir=settings.results_dir)
    )
    try:
        salt = ingest_salt(served, demo=settings.demo or None)
    except BaseException:
        if owns_store:
            served.close()
        raise
    runner = JobRunner(served, workers=settings.job_workers, replication_workers=settings.replication_workers)

    twins = TwinsSource(settings.twins_cache_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Build the twins while the service starts, so the first census read does not wait for it.
        threading.Thread(target=_warm_twins, args=(twins, served), daemon=True, name="twins-warm-up").start()
        yield
        runner.shutdown()
        if owns_store:
            served.close()

    app = FastAPI(
        title="Hospital twin API",
        summary="Census, patient twins (pseudonymised), forecasts, what-if KPIs, plans, scenarios and jobs.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = served
    app.state.jobs = runner
    app.state.twins = twins
    app.state.salt = salt
    app.state.tokens = TokenCache(settings.token_cache_seconds)
    app.state.answers = Answers(settings.answer_cache_seconds)
    app.add_middleware(ForgetAfterWrites, answers=app.state.answers)

    for module in (health, hospital, results, scenarios, jobs, fhir):
        app.include_router(module.router)

    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Unavailable, _unavailable)
    app.add_exception_handler(FhirRejected, _fhir_rejected)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


async def _http_error(request: Request, error: Exception) -> Response:
    """FastAPI's answer, except that a 405 lists every method of the path, not only the first route's."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and request.url.path == FHIR_PATH:  # e.g. a body that is not JSON text
        return JSONResponse(operation_outcome([FhirIssue("Bundle", "invalid", str(error.detail))]), 400)
    if error.status_code == 405:
        path = request.url.path
        methods = sorted(
            {
                method
                for route in request.app.routes
                if isinstance(route, APIRoute) and route.path_regex.match(path)
                for method in route.methods or ()
            }
        )
        error = StarletteHTTPException(405, detail=error.detail, headers={"Allow": ", ".join(methods)})
    return await http_exception_handler(request, error)


def _warm_twins(twins: TwinsSource, store: Store) -> None:
    try:
        twins.frame(store)
    except Unavailable:
        pass  # no events yet: built on the first read after they arrive
    except Exception as error:  # the reads will report it; the service starts anyway
        _logger.warning("patient twins could not be built at start: %s", type(error).__name__)


async def _not_found(_: Request, error: Exception) -> Response:
    return JSONResponse({"detail": str(error.args[0]) if error.args else "not found"}, status_code=404)


async def _unavailable(_: Request, error: Exception) -> Response:
    return JSONResponse({"detail": str(error)}, status_code=409)


async def _fhir_rejected(_: Request, error: Exception) -> Response:
    assert isinstance(error, FhirRejected)
    return JSONResponse(operation_outcome(error.issues), status_code=error.status)


async def _invalid_request(request: Request, error: Exception) -> Response:
    """FastAPI's 422, except on ``POST /fhir`` where a client expects a FHIR OperationOutcome."""
    assert isinstance(error, RequestValidationError)
    if request.url.path != FHIR_PATH:
        return await request_validation_exception_handler(request, error)
    issues = [
        FhirIssue(
            ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "Bundle",
            "invalid",
            str(item.get("msg", "invalid request")),
        )
        for item in error.errors()
    ]
    return JSONResponse(operation_outcome(issues), status_code=422)
