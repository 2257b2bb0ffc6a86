"""`hospital-twin scenario validate|show` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


def test_validate_accepts_a_shipped_scenario() -> None:
    result = runner.invoke(app, ["scenario", "validate", "winter_surge"])
    assert result.exit_code == 0, result.output
    assert "valid scenario 'Winter surge'" in result.output


def test_validate_rejects_with_file_path_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    base = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.toml"
    bad.write_text(
        f'[scenario]\nname = "x"\nbase = "{base}"\n[[overrides]]\nkind = "beds"\nunit = "MED-Z"\nchange = 1\n'
    )
    # run the real console script so the exit status is the one a shell sees
    completed = subprocess.run(
        [sys.executable, "-m", "ui.cli", "scenario", "validate", str(bad)], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert f"{bad}: overrides[0].unit: unknown unit 'MED-Z'" in completed.stderr


def test_show_summarises_beds_and_staff() -> None:
    result = runner.invoke(app, ["scenario", "show", "baseline"])
    assert result.exit_code == 0, result.output
    assert "490 inpatient beds" in result.output
    assert "critical_care_nurses" in result.output
    assert "MED-A" in result.output


def test_help_lists_only_working_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "scenario" in result.output
