"""Errors the routes raise, and how each becomes an HTTP answer (never a 500 for something missing)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NotFound(LookupError):
    """The thing asked for does not exist (404)."""


class Unavailable(RuntimeError):
    """The thing asked for cannot be given now: not built yet, not installed, not finished (409)."""


class ErrorPublic(BaseModel):
    """Body of an error answer."""

    detail: str = Field(description="What is wrong, in plain words")


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` entries for the given error status codes."""
    meaning = {
        400: "The request body cannot be read (not UTF-8 JSON text)",
        401: "No valid bearer token",
        403: "The token's role may not use this route",
        404: "Not found",
        409: "Not available now (see detail)",
    }
    return {code: {"model": ErrorPublic, "description": meaning.get(code, "Error")} for code in codes}


AUTH_ERRORS = error_responses(401, 403)
"""Every protected route can answer these."""
