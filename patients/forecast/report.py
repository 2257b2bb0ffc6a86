"""Markdown report of a backtest, with PNG plots (matplotlib, Agg backend: no display needed).

The report folder holds ``backtest.md``, ``metrics.json``, ``forecast_vs_actual.png`` and
``error_by_horizon.png``; each file is written to a temporary name and renamed, so a reader never sees half.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.figure import Figure

from patients.forecast.backtest import BASELINE_ROLE, MODEL_ROLE, BacktestResult

REPORT_FILE = "backtest.md"
METRICS_FILE = "metrics.json"
FORECAST_PLOT = "forecast_vs_actual.png"
HORIZON_PLOT = "error_by_horizon.png"

_PLOT_PERIODS = {"hour": 24 * 14, "day": 366}
"""Periods shown in the forecast-vs-actual plot (the end of the test): two weeks of hours, a year of days."""


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _save(figure: Figure, path: Path) -> None:
    _atomic_write(path, lambda target: figure.savefig(target, dpi=110, format="png"))
    plt.close(figure)


def forecast_figure(result: BacktestResult) -> Figure:
    """Forecast against actual arrivals, with the p05–p95 band, one step ahead and ``horizon`` steps ahead."""
    steps = sorted({1, result.horizon})
    figure, axes = plt.subplots(len(steps), 1, figsize=(11, 3.4 * len(steps)), squeeze=False, sharex=True)
    ours = result.forecasts.filter(pl.col("model") == result.selected_model)
    for axis, step in zip(axes[:, 0], steps, strict=True):
        rows = ours.filter(pl.col("step_ahead") == step).sort("t").tail(_PLOT_PERIODS[result.freq])
        t = rows.get_column("t").to_numpy()
        axis.fill_between(
            t, rows["p05"].to_numpy(), rows["p95"].to_numpy(), color="tab:blue", alpha=0.25, label="p05–p95"
        )
        axis.plot(
            t, rows["mean"].to_numpy(), color="tab:blue", linewidth=1.2, label=f"{result.selected_model} mean"
        )
        axis.plot(
            t,
            rows["actual"].to_numpy(),
            color="black",
            linewidth=0.8,
            marker=".",
            markersize=2,
            label="actual",
        )
        axis.set_ylabel(f"arrivals per {result.freq}")
        ahead = "1 step" if step == 1 else f"{step} steps"
        axis.set_title(f"Forecast made {ahead} ahead ({result.freq}s) vs actual", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8, ncols=3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def horizon_figure(result: BacktestResult) -> Figure:
    """MAE and 90 % interval coverage by step ahead, our model against the baselines."""
    figure, (error_axis, coverage_axis) = plt.subplots(1, 2, figsize=(11, 3.6))
    for model in result.metrics.get_column("model").to_list():
        rows = result.metrics_by_step.filter(pl.col("model") == model).sort("step_ahead")
        style = "-" if rows["role"][0] == MODEL_ROLE else "--"
        step = rows["step_ahead"].to_numpy()
        error_axis.plot(step, rows["mae"].to_numpy(), style, marker="o", markersize=3, label=model)
        coverage_axis.plot(step, rows["coverage_90"].to_numpy(), style, marker="o", markersize=3, label=model)
    coverage_axis.axhline(0.9, color="grey", linewidth=0.8, linestyle=":", label="nominal 90 %")
    error_axis.set_title("Mean absolute error by step ahead", fontsize=10)
    error_axis.set_ylabel(f"MAE [arrivals per {result.freq}]")
    coverage_axis.set_title("p05–p95 coverage by step ahead", fontsize=10)
    coverage_axis.set_ylim(0.5, 1.0)
    for axis in (error_axis, coverage_axis):
        axis.set_xlabel(f"step ahead [{result.freq}s]")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _table(frame: pl.DataFrame, columns: dict[str, str], digits: int = 3) -> str:
    """A markdown table of ``frame``'s ``columns`` (column → header)."""
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for row in frame.iter_rows(named=True):
        cells = []
        for column in columns:
            value = row[column]
            if isinstance(value, float):
                cells.append("—" if value != value else f"{value:.{digits}f}")
            elif isinstance(value, bool):
                cells.append("**yes**" if value else "")
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown(result: BacktestResult, title: str, source: str | None, command: str | None) -> str:
    summary = result.summary()
    protocol = summary["protocol"]
    baselines = result.metrics.filter(pl.col("role") == BASELINE_ROLE)["model"].to_list()
    skill_lines = [
        f"- against **{name}**: MASE {100 * result.skill(name, 'mase'):+.1f} %, "
        f"RMSE {100 * result.skill(name, 'rmse'):+.1f} %, "
        f"pinball loss {100 * result.skill(name, 'mean_pinball_loss'):+.1f} % (positive = ours better)"
        for name in baselines
    ]
    by_step = result.metrics_by_step
    if result.horizon > 28:
        shown = sorted(
            {1, 2, 3, 6, 12, 24, 48, 72, 96, 120, 144, 168, result.horizon}
            & set(range(1, result.horizon + 1))
        )
        by_step = by_step.filter(pl.col("step_ahead").is_in(shown))
    wide = by_step.pivot(on="model", index="step_ahead", values="mae").sort("step_ahead")
    models = [c for c in wide.columns if c != "step_ahead"]
    parts = [
        f"# {title}",
        "",
        *([f"Series: `{source}`.", ""] if source else []),
        *(["Command:", "", "```", command, "```", ""] if command else []),
        "## Protocol",
        "",
        f"- {'Hourly' if result.freq == 'hour' else 'Daily'} arrivals; "
        f"training {protocol['training'][0]} – {protocol['training'][1]}, "
        f"test {protocol['test'][0]} – {protocol['test'][1]}.",
        f"- Rolling origins through the test period: one every {result.step} {result.freq}(s), "
        f"{result.origins} origins, each forecasting the next {result.horizon} {result.freq}(s) "
        "from the data before it.",
        f"- The chosen model's parameters are re-estimated every {result.refit_every} {result.freq}s "
        f"({result.refits} estimations); at every other origin its state is updated with the new arrivals.",
        "- The model was chosen on the training data only, by rolling-origin forecasts over the last weeks "
        "of training (table below); in-sample fit played no part.",
        f"- Regressors: {', '.join(result.regressors) if result.regressors else 'none'} "
        "(future values taken as known: observed values over the test period).",
        f"- Baselines, same origins: {', '.join(baselines)} (the weekly mean is the training data's).",
        "- MASE is scaled by the in-sample seasonal naive MAE of the training data "
        f"({result.mase_scale:.3f}); "
        "coverage is the share of actual arrivals inside p05–p95 (nominal 90 %); pinball loss is averaged "
        "over p05, p50, p95.",
        "",
        "## Results",
        "",
        _table(
            result.metrics,
            {
                "model": "model",
                "role": "role",
                "forecasts": "forecasts",
                "mae": "MAE",
                "rmse": "RMSE",
                "mase": "MASE",
                "mean_pinball_loss": "pinball",
                "coverage_90": "coverage 90 %",
                "interval_width_90": "band width",
            },
        ),
        "",
        f"Our model (**{result.selected_model}**) relative to the baselines:",
        "",
        *skill_lines,
        "",
        "## Model selection (training data only)",
        "",
        _table(
            result.selection,
            {
                "model": "candidate",
                "mae": "MAE",
                "rmse": "RMSE",
                "mean_pinball_loss": "pinball",
                "coverage_90": "coverage 90 %",
                "forecasts": "forecasts",
                "selected": "chosen",
                "note": "note",
            },
        ),
        "",
        "## Error by step ahead",
        "",
        f"![MAE and coverage by step ahead]({HORIZON_PLOT})",
        "",
        _table(wide, {"step_ahead": "step ahead", **{m: f"MAE {m}" for m in models}}),
        "",
        "## Forecast against actual",
        "",
        f"![forecast vs actual]({FORECAST_PLOT})",
        "",
        f"Backtest time: {result.seconds:.1f} s.",
        "",
    ]
    return "\n".join(parts)


def write_backtest_report(
    result: BacktestResult,
    directory: Path,
    *,
    title: str = "Arrival forecast backtest",
    source: str | None = None,
    command: str | None = None,
) -> Path:
    """Write the markdown report, its plots and ``metrics.json`` into ``directory`` (created if needed).

    Parameters
    ----------
    result
        A finished backtest.
    directory
        Report folder.
    title
        First heading.
    source
        Where the series came from, quoted in the report.
    command
        The command that produced it, quoted so the report can be reproduced.

    Returns
    -------
    pathlib.Path
        Path of the markdown file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _save(forecast_figure(result), directory / FORECAST_PLOT)
    _save(horizon_figure(result), directory / HORIZON_PLOT)
    summary: dict[str, Any] = result.summary()
    _atomic_write(
        directory / METRICS_FILE,
        lambda target: _write_text(target, json.dumps(summary, indent=2, default=str) + "\n"),
    )
    report = directory / REPORT_FILE
    text = _markdown(result, title, source, command)
    _atomic_write(report, lambda target: _write_text(target, text))
    return report
