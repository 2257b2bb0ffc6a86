"""Census and acuity forecasts by unit: Monte Carlo over the twins' remaining stays and forecast arrivals.

The contract with the staffing demand, the nightly plan, the API and the command view is the two frame
schemas below; everything else in this package may change.
"""

from patients.census.schema import ACUITY_BANDS, CENSUS_FORECAST_SCHEMA, CENSUS_PATHS_SCHEMA

__all__ = ["ACUITY_BANDS", "CENSUS_FORECAST_SCHEMA", "CENSUS_PATHS_SCHEMA"]
