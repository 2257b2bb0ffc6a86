"""Load scenarios from TOML files, with errors that name the file, the key path and the reason.

A scenario file is either a whole hospital::

    [scenario]
    name = "Baseline"
    [[units]]
    id = "ED"
    ...

or a what-if on top of another file::

    [scenario]
    name = "Winter surge"
    base = "baseline.toml"      # relative to this file
    [[overrides]]
    kind = "arrivals"
    ...
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scenarios.schema import OVERRIDE_KINDS, Hospital, Scenario, ScenarioRuleError

_DISTRIBUTION_TAGS = frozenset({"lognormal", "exponential", "gamma", "fixed"})
_OVERRIDE_TAGS = frozenset(OVERRIDE_KINDS)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.reason}"


class ScenarioError(ValueError):
    """A scenario file was rejected; ``problems`` lists every reason, each naming file and key path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"scenario rejected ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  - {p}" for p in self.problems)]))


class _ScenarioHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    base: str | None = None
    horizon_days: int = Field(default=28, ge=1, le=366)


def key_path(loc: Iterable[int | str]) -> str:
    """Render a pydantic location like ``('units', 3, 'beds')`` as ``units[3].beds``.

    Pydantic puts the tag of a discriminated union member into the location (``overrides.0.beds.unit``,
    ``length_of_stay.lognormal.sigma``); the file never spells it as a key, so it is left out.
    """
    parts = list(loc)
    text = ""
    for i, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        is_override_tag = part in _OVERRIDE_TAGS and i >= 2 and parts[i - 2] == "overrides"
        if is_override_tag or part in _DISTRIBUTION_TAGS:
            continue
        text += f".{part}" if text else str(part)
    return text


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def problems_from_validation(error: ValidationError, file: str, prefix: str = "") -> list[Problem]:
    """Turn a pydantic error into problems naming the key path in the file."""
    problems: list[Problem] = []
    for item in error.errors():
        location = _join(prefix, key_path(item["loc"]))
        original = (item.get("ctx") or {}).get("error")
        if isinstance(original, ScenarioRuleError):
            for sub_path, reason in original.problems:
                problems.append(Problem(file, _join(location, sub_path), reason))
            continue
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # name the discriminating key itself, e.g. overrides[1].kind
            tag_key = str((item.get("ctx") or {}).get("discriminator", "")).strip("'")
            location = _join(location, tag_key)
        problems.append(Problem(file, location, _reason(item)))
    return problems


def _reason(item: Any) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown key (not part of the scenario schema; check its spelling)"
    if kind == "missing":
        return "required key is missing"
    message = str(item["msg"])
    message = message.removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message} (got {type(item.get('input')).__name__} {item.get('input')!r})"
    return message


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(str(path), "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem(str(path), "", f"not UTF-8 text ({exc.reason})")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message of tomllib ends with "(at line L, column C)"
        raise ScenarioError([Problem(str(path), "", f"invalid TOML: {exc}")]) from None


def parse_scenario(data: dict[str, Any], file: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate an already-parsed TOML document as a :class:`Scenario`.

    Parameters
    ----------
    data
        The document as a dict (e.g. from ``tomllib``).
    file
        The name used in error messages.
    base_dir
        Folder against which ``scenario.base`` is resolved.

    Raises
    ------
    ScenarioError
        Naming the file, each key path at fault and why.
    """
    document = dict(data)
    header_data = document.pop("scenario", None)
    if header_data is None:
        raise ScenarioError([Problem(file, "scenario", "required table [scenario] with a name is missing")])
    try:
        header = _ScenarioHeader.model_validate(header_data)
    except ValidationError as exc:
        raise ScenarioError(problems_from_validation(exc, file, "scenario")) from None
    overrides = document.pop("overrides", [])

    if header.base is not None:
        base_path = (base_dir or Path.cwd()) / header.base
        if document:
            keys = ", ".join(sorted(document))
            raise ScenarioError(
                [
                    Problem(
                        file,
                        sorted(document)[0],
                        f"a what-if on base '{header.base}' may only hold [scenario] and [[overrides]]; "
                        f"found {keys}",
                    )
                ]
            )
        hospital = load_scenario(base_path).hospital
        hospital_value: Hospital | dict[str, Any] = hospital
    else:
        hospital_value = document

    try:
        scenario = Scenario.model_validate(
            {
                "name": header.name,
                "description": header.description,
                "horizon_days": header.horizon_days,
                "hospital": hospital_value,
                "overrides": overrides,
            }
        )
    except ValidationError as exc:
        problems = [
            Problem(problem.file, _file_key_path(problem.path), problem.reason)
            for problem in problems_from_validation(exc, file)
        ]
        raise ScenarioError(problems) from None
    return scenario


def _file_key_path(path: str) -> str:
    """Map a path in the :class:`Scenario` model onto the key path as written in the file."""
    if path == "hospital":
        return ""
    if path.startswith("hospital."):
        return path.removeprefix("hospital.")  # hospital keys sit at the top level of the file
    if path.split(".")[0].split("[")[0] in ("name", "description", "horizon_days"):
        return f"scenario.{path}"
    return path


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file.

    Examples
    --------
    >>> from scenarios import load_scenario, scenario_path
    >>> load_scenario(scenario_path("baseline")).hospital.total_beds > 400
    True
    """
    path = Path(path)
    data = _read_toml(path)
    return parse_scenario(data, file=str(path), base_dir=path.parent)


def scenario_path(name: str) -> Path:
    """Path of a scenario shipped with the product, e.g. ``scenario_path("baseline")``."""
    folder = Path(str(resources.files("scenarios")))
    candidate = folder / (name if name.endswith(".toml") else f"{name}.toml")
    if not candidate.is_file():
        shipped = ", ".join(sorted(p.stem for p in folder.glob("*.toml")))
        raise FileNotFoundError(f"no shipped scenario '{name}' (shipped: {shipped})")
    return candidate


def shipped_scenarios() -> list[Path]:
    """Every scenario file shipped with the product."""
    folder = Path(str(resources.files("scenarios")))
    return sorted(folder.glob("*.toml"))
