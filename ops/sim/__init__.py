"""The hospital model: a SimPy simulation of ED, beds, theatres and nurses, warm-started from the twins.

Public entry points:

* :func:`simulate` - one run, a pure function of (scenario, start state, seed);
* :func:`run_replications` - many runs with common random numbers, serially, in a process pool or on Dask;
* :func:`compare_scenarios` / :func:`paired_differences` - a what-if against a baseline, with t intervals;
* :mod:`ops.sim.validation` - the model reduced to M/M/c and Erlang loss queues, against exact results.
"""

from ops.sim.compare import COMPARISON_SCHEMA, WhatIfComparison, compare_scenarios, paired_differences
from ops.sim.kpis import HEADLINE_METRICS, KPI_SCHEMA, METRICS, kpi_frame, kpi_values, metric_info
from ops.sim.model import simulate
from ops.sim.replications import (
    SUMMARY_SCHEMA,
    Precision,
    ReplicationResult,
    confidence_intervals,
    replication_seed,
    run_replications,
)
from ops.sim.results import (
    ED_HOURLY_SCHEMA,
    EVENT_LOG_SCHEMA,
    NURSING_SCHEMA,
    OCCUPANCY_SCHEMA,
    THEATRE_SCHEMA,
    UNIT_FLOW_SCHEMA,
    PatientFlow,
    SimulationResult,
)
from ops.sim.state import (
    ARRIVAL_FORECAST_SCHEMA,
    DEFAULT_AMBULANCE_SHARE,
    DEFAULT_START,
    SURGICAL_PLAN_SCHEMA,
    EdPatientAtStart,
    InpatientAtStart,
    SimulationOptions,
    StartState,
)
from ops.sim.streams import STREAM_NAMES, RandomStreams

__all__ = [
    "ARRIVAL_FORECAST_SCHEMA",
    "COMPARISON_SCHEMA",
    "DEFAULT_AMBULANCE_SHARE",
    "DEFAULT_START",
    "ED_HOURLY_SCHEMA",
    "EVENT_LOG_SCHEMA",
    "HEADLINE_METRICS",
    "KPI_SCHEMA",
    "METRICS",
    "NURSING_SCHEMA",
    "OCCUPANCY_SCHEMA",
    "STREAM_NAMES",
    "SUMMARY_SCHEMA",
    "SURGICAL_PLAN_SCHEMA",
    "THEATRE_SCHEMA",
    "UNIT_FLOW_SCHEMA",
    "EdPatientAtStart",
    "InpatientAtStart",
    "PatientFlow",
    "Precision",
    "RandomStreams",
    "ReplicationResult",
    "SimulationOptions",
    "SimulationResult",
    "StartState",
    "WhatIfComparison",
    "compare_scenarios",
    "confidence_intervals",
    "kpi_frame",
    "kpi_values",
    "metric_info",
    "paired_differences",
    "replication_seed",
    "run_replications",
    "simulate",
]
