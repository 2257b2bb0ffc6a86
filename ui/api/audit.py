"""Audit entries for the API: who (token name and role), what (route or job), when, and the outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.store import Store
from ui.api.auth import Caller


def record(
    store: Store, caller: Caller | str, action: str, outcome: str, details: Mapping[str, Any] | None = None
) -> None:
    """Write one audit entry; ``details`` must carry no patient identifier (keys and counts only)."""
    actor = caller.actor if isinstance(caller, Caller) else caller
    store.write_audit(actor, action, outcome, dict(details or {}))
