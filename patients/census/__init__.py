"""Census and acuity forecasts by unit: Monte Carlo over the twins' remaining stays and forecast arrivals.

The contract with the staffing demand, the nightly plan, the API and the command view is the two frame
schemas below; everything else in this package may change.

- :func:`fit_census_model` learns arrival rates, routes and unit stays from history (:class:`CensusModel`);
- :func:`census_forecast` runs the Monte Carlo and gives a :class:`CensusForecast`;
- :func:`observed_census` counts the census of a history by unit and hour (for backtests).
"""

from patients.census.forecast import CensusForecast, ForecastCancelled, census_forecast
from patients.census.model import CensusModel, fit_census_model
from patients.census.observed import OBSERVED_CENSUS_SCHEMA, observed_census
from patients.census.schema import (
    ACUITY_BANDS,
    CENSUS_FORECAST_SCHEMA,
    CENSUS_PATHS_SCHEMA,
    CENSUS_SUMMARY_SCHEMA,
    HIGH_ACUITY_BAND_SCHEMA,
)

__all__ = [
    "ACUITY_BANDS",
    "CENSUS_FORECAST_SCHEMA",
    "CENSUS_PATHS_SCHEMA",
    "CENSUS_SUMMARY_SCHEMA",
    "HIGH_ACUITY_BAND_SCHEMA",
    "OBSERVED_CENSUS_SCHEMA",
    "CensusForecast",
    "CensusModel",
    "ForecastCancelled",
    "census_forecast",
    "fit_census_model",
    "observed_census",
]
