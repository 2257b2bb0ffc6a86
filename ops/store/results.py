"""Large results as Parquet files, written so that a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import polars as pl

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def result_path(results_dir: Path, name: str) -> Path:
    """Where the result called ``name`` lives: ``<results_dir>/<name>.parquet``.

    Parameters
    ----------
    results_dir
        Folder of the store's Parquet results.
    name
        Letters, digits, ``.``, ``_`` and ``-``, optionally in ``/``-separated folders
        (``"whatif/winter-surge/kpis"``); a trailing ``.parquet`` is optional.

    Raises
    ------
    ValueError
        For a name that could leave ``results_dir`` (``..``, an absolute path) or is otherwise unsafe.
    """
    stem = name.removesuffix(".parquet")
    if not _NAME.fullmatch(stem) or any(part.startswith("..") for part in stem.split("/")):
        raise ValueError(
            f"result name {name!r} is not allowed: use letters, digits, '.', '_', '-' and '/' folders"
        )
    return results_dir / f"{stem}.parquet"


def write_parquet_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The data is flushed to disk before the rename, and the rename is flushed after it, so after a crash
    the path holds either the previous file or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            frame.write_parquet(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes the file private; results are for every reader
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover - folders cannot be opened for fsync on Windows
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
