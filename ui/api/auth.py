"""Who may do what: bearer tokens (hashed in the store) and the role of each route.

Roles (``ops.store.tokens.ROLES``):

- ``viewer``: reads aggregates (units, census, forecasts, KPIs, plans, alerts, scenarios, jobs);
- ``planner``: reads everything, pseudonymised twins included; saves scenarios; publishes plans; runs every
  job;
- ``executive``: reads aggregates, saves scenarios, runs what-ifs;
- ``admin``: everything;
- ``feed``: only sends FHIR bundles (``POST /fhir``), reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.store.tokens import ROLES

READ_ROLES = frozenset({"viewer", "planner", "executive", "admin"})
"""May read aggregates."""

PATIENT_ROLES = frozenset({"planner", "admin"})
"""May read patient-level (pseudonymised) twins."""

SCENARIO_WRITE_ROLES = frozenset({"planner", "executive", "admin"})
"""May save scenarios."""

FEED_ROLES = frozenset({"feed", "admin"})
"""May send FHIR bundles."""

PLAN_PUBLISH_ROLES = frozenset({"planner", "admin"})
"""May publish a plan version (e.g. a draft roster)."""

JOB_ROLES: dict[str, frozenset[str]] = {
    "whatif": frozenset({"planner", "executive", "admin"}),
    "roster": frozenset({"planner", "admin"}),
    "surgery": frozenset({"planner", "admin"}),
    "nightly": frozenset({"planner", "admin"}),
}
"""Who may submit (and cancel) each kind of job."""

JOB_SUBMIT_ROLES = frozenset().union(*JOB_ROLES.values())
"""May submit or cancel jobs of some kind."""

assert all(
    role in ROLES
    for roles in (READ_ROLES, PATIENT_ROLES, SCENARIO_WRITE_ROLES, FEED_ROLES, PLAN_PUBLISH_ROLES)
    for role in roles
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's name and role."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the caller appears in the audit log, e.g. ``"ward-dashboard (viewer)"``."""
        return f"{self.name} ({self.role})"


def may_run_job(caller: Caller, kind: str) -> bool:
    """True when the caller's role may submit or cancel a job of ``kind``."""
    return caller.role in JOB_ROLES.get(kind, frozenset({"admin"}))
