"""Write the command-line reference (``docs/reference/cli.md``) from the ``hospital-twin`` command itself.

Regenerate after changing a command or an option::

    .venv/bin/python -m ui.cli_reference > docs/reference/cli.md

``tests/ui/test_cli_reference.py`` fails when the committed page and the commands disagree.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import typer

from ui.cli import app

HEADER = """# Command line reference

Every command of `hospital-twin` with its options, generated from the commands themselves by
`.venv/bin/python -m ui.cli_reference > docs/reference/cli.md` (a test checks that this page is current).
`hospital-twin COMMAND --help` says the same on the terminal. Commands that run long (what-if, nightly, plans,
benchmarks) show progress and stop cleanly on Ctrl+C.
"""


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, [*path, name])
    else:
        yield path, command


def _default(parameter: Any) -> str:
    default = parameter.default
    if default in (None, False, ()) or callable(default):
        return ""
    return f" Default: `{default}`."


def cli_reference() -> str:
    """The command-line reference as markdown."""
    lines = [HEADER]
    for path, command in _commands(typer.main.get_command(app), []):
        lines.append(f"## `hospital-twin {' '.join(path)}`\n")
        text = " ".join((command.help or "").strip().split("\n\n")[0].split())
        lines.append(f"{text}\n")
        for parameter in command.params:
            if parameter.name == "help":
                continue
            if parameter.param_type_name == "argument":
                lines.append(f"- `{parameter.name.upper()}` (argument)")
                continue
            names = ", ".join(f"`{name}`" for name in (*parameter.opts, *parameter.secondary_opts))
            help_text = " ".join((parameter.help or "").split())
            lines.append(f"- {names}: {help_text}{_default(parameter)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Print the reference on standard output."""
    sys.stdout.write(cli_reference())


if __name__ == "__main__":
    main()
