"""docs/reference/cli.md is what the commands say: every command and option, and nothing else."""

from __future__ import annotations

from tests.conftest import PROJECT_ROOT
from ui.cli_reference import cli_reference

PAGE = PROJECT_ROOT / "docs" / "reference" / "cli.md"


def test_the_reference_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == cli_reference(), (
        "docs/reference/cli.md is stale: run `.venv/bin/python -m ui.cli_reference > docs/reference/cli.md`"
    )


def test_every_command_has_a_section_and_a_sentence() -> None:
    text = cli_reference()
    for command in (
        "demo",
        "nightly",
        "whatif",
        "listen",
        "serve",
        "view",
        "up",
        "roster repair",
        "plan surgery",
    ):
        section = text.split(f"## `hospital-twin {command}`\n", 1)
        assert len(section) == 2, command
        first_line = section[1].strip().splitlines()[0]
        assert len(first_line) > 20 and not first_line.startswith("-"), command
