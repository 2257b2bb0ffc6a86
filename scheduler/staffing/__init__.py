"""Staffing demand: nurses per unit, day, shift and skill from Monte Carlo census paths.

The planner picks a quantile (e.g. 0.8); the scenario gives the nurse-to-patient ratio of each unit and
shift and the nursing workload of each acuity band. See :func:`staffing_demand`.
"""

from scheduler.staffing.demand import (
    DEFAULT_ACUITY_WEIGHTS,
    STAFFING_DEMAND_SCHEMA,
    StaffingDemandError,
    extend_weekly,
    shift_of_hours,
    staffing_demand,
)

__all__ = [
    "DEFAULT_ACUITY_WEIGHTS",
    "STAFFING_DEMAND_SCHEMA",
    "StaffingDemandError",
    "extend_weekly",
    "shift_of_hours",
    "staffing_demand",
]
