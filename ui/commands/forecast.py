"""``hospital-twin forecast ...``: arrival forecasting from the command line.

Register with ``app.add_typer(forecast_app, name="forecast")``, or a single command with
``forecast_app.command("backtest-series")(backtest_series)`` (or ``"backtest"``, :func:`backtest`) on
another Typer app.
"""

from __future__ import annotations

import json
import shlex
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from patients.forecast import SeriesError, backtest_arrivals, read_arrival_series_csv, write_backtest_report

forecast_app = typer.Typer(
    help="Arrival forecasting: backtests against naive baselines.", no_args_is_help=True
)


@forecast_app.callback()
def forecast() -> None:
    """Arrival forecasting: backtests against naive baselines."""


class FrequencyChoice(StrEnum):
    """Period length of the series to forecast."""

    hour = "hour"
    day = "day"


def _columns(text: str | None) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()] if text else []


def _command_line(arguments: dict[str, object]) -> str:
    words = ["hospital-twin", "forecast", "backtest-series", str(arguments.pop("file"))]
    for option, value in arguments.items():
        if value is not None:
            words += [f"--{option.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(word) for word in words)


@forecast_app.command("backtest-series")
def backtest_series(
    file: Annotated[Path, typer.Argument(help="CSV file with one row per hour or day.", show_default=False)],
    time_col: Annotated[
        str,
        typer.Option(
            "--time-col", help="Column with the period start (date or date-time).", show_default=False
        ),
    ],
    value_col: Annotated[
        str, typer.Option("--value-col", help="Column with the arrivals in the period.", show_default=False)
    ],
    freq: Annotated[
        FrequencyChoice,
        typer.Option(
            "--freq",
            help="Forecast hourly or daily arrivals (hourly rows are summed to days).",
            show_default=False,
        ),
    ],
    test_start: Annotated[
        str,
        typer.Option("--test-start", help="First day of the test period (YYYY-MM-DD).", show_default=False),
    ],
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, help="Periods forecast from each origin.", show_default=False)
    ],
    regressors: Annotated[
        str | None,
        typer.Option("--regressors", help="Regressor columns, comma separated (e.g. temp,holiday)."),
    ] = None,
    report: Annotated[
        Path, typer.Option("--report", help="Folder for the markdown report and its plots.")
    ] = Path("var/reports/backtest"),
    hour_col: Annotated[
        str | None,
        typer.Option("--hour-col", help="Column with the hour of day (0–23) when the date is apart."),
    ] = None,
    step: Annotated[int, typer.Option("--step", min=1, help="Periods between forecast origins.")] = 1,
    refit_every: Annotated[
        int | None, typer.Option("--refit-every", min=1, help="Periods between refits (default: four weeks).")
    ] = None,
    holiday_country: Annotated[
        str | None,
        typer.Option("--holiday-country", help="Add public holidays of this country (e.g. US, GB)."),
    ] = None,
) -> None:
    """Backtest arrival forecasts on a series file; print JSON metrics for our model and the baselines.

    The model is chosen on the data before --test-start, then forecasts --horizon periods ahead from rolling
    origins through the test period, beside the seasonal naive and weekly mean baselines. A markdown report
    with plots is written to --report.
    """
    columns = _columns(regressors)
    try:
        series = read_arrival_series_csv(
            file,
            time_col=time_col,
            value_col=value_col,
            freq=freq.value,
            regressors=columns,
            hour_col=hour_col,
        )
        result = backtest_arrivals(
            series,
            freq.value,
            test_start,
            horizon,
            step=step,
            refit_every=refit_every,
            regressors=columns,
            holiday_country=holiday_country,
        )
    except (SeriesError, FileNotFoundError) as exc:
        print(f"error: {file}: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    command = _command_line(
        {
            "file": file,
            "time_col": time_col,
            "value_col": value_col,
            "hour_col": hour_col,
            "freq": freq.value,
            "test_start": test_start,
            "horizon": horizon,
            "step": step if step != 1 else None,
            "refit_every": refit_every,
            "regressors": regressors,
            "holiday_country": holiday_country,
            "report": report,
        }
    )
    path = write_backtest_report(result, report, source=str(file), command=command)
    summary = result.summary()
    summary["report"] = str(path)
    print(json.dumps(summary, indent=2, default=str))


@forecast_app.command("backtest")
def backtest(
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL. Default: DATABASE_URL, else var/hospital_twin.db."),
    ] = None,
    scenario: Annotated[
        str, typer.Option("--scenario", help="Scenario TOML file or shipped scenario name.")
    ] = "baseline",
    origins: Annotated[int, typer.Option("--origins", min=1, help="Forecast origins, a week apart.")] = 8,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, max=14, help="Days forecast from each origin.")
    ] = 7,
    paths: Annotated[int, typer.Option("--paths", min=10, help="Monte Carlo paths per origin.")] = 200,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the Monte Carlo.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the markdown report, its plots and metrics.json.")
    ] = Path("var/reports/census-backtest"),
) -> None:
    """Backtest the census forecast by unit on the store's history; print JSON metrics.

    At rolling origins, our Monte Carlo census forecast and the seasonal-naive and hour-of-week-mean
    baselines (computed in the same run) are scored against the census the stored events show: MAE, RMSE,
    MASE, 90 % interval coverage and pinball loss. A markdown report with plots is written to --out.
    """
    from ops.forecasting import census_backtest_from_store
    from ops.store import open_store
    from patients.census.backtest import write_census_backtest_report
    from ui.cli import load_or_exit

    loaded = load_or_exit(scenario)
    try:
        with open_store(database) as store:
            result = census_backtest_from_store(
                store, loaded, origins=origins, horizon_days=horizon_days, n_paths=paths, seed=seed
            )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    words = ["hospital-twin", "forecast", "backtest", "--origins", str(origins)]
    words += [
        "--horizon-days",
        str(horizon_days),
        "--paths",
        str(paths),
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    report = write_census_backtest_report(result, out, command=" ".join(shlex.quote(word) for word in words))
    summary = result.summary()
    summary["report"] = str(report)
    print(json.dumps(summary, indent=2, default=str))
