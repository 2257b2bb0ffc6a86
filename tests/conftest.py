"""Shared test fixtures.

Tests that need something this machine may lack (``../shared/data``, a PostgreSQL server, Chromium) call
:func:`require`: on a laptop the test is skipped with the reason; when ``CI=true`` it fails instead, so that
nothing real is silently skipped where it matters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def in_ci() -> bool:
    """True when running under CI (``CI=true``)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) the calling test when ``condition`` is false."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skips locally and fails in CI when it is absent."""
    require(SHARED_DATA.is_dir(), f"external data folder {SHARED_DATA} is absent")
    return SHARED_DATA
