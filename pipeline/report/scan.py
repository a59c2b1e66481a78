"""A scan's trials for the report: ``<run-dir>/scan/*.parquet`` (written by the scan), read as they are.

The report renders whatever columns the table has; it needs none of them, and uses ``accuracy``,
``luts``, ``latency_cycles`` and ``on_front`` when present (the accuracy-versus-LUT figure and the
front table). An absent or unreadable scan is a note, never an error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list | tuple | dict) or value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def read_scan(scan_dir: Path | None) -> dict[str, Any] | None:
    """``{"files", "columns", "trials": [row, ...], "problems"}`` from the scan's parquet tables, or
    ``None`` when ``scan_dir`` does not exist. Rows keep the file's column order; NaN becomes ``None``."""
    if scan_dir is None or not Path(scan_dir).is_dir():
        return None
    files = sorted(Path(scan_dir).rglob("*.parquet"))
    document: dict[str, Any] = {"files": [], "columns": [], "trials": [], "problems": []}
    if not files:
        document["problems"].append(f"{scan_dir}: no parquet table")
        return document
    import pyarrow.parquet as parquet

    for path in files:
        try:
            table = parquet.read_table(path)
        except Exception as error:
            document["problems"].append(f"{path.name}: unreadable ({type(error).__name__}: {error})")
            continue
        document["files"].append(path.relative_to(scan_dir).as_posix())
        for column in table.column_names:
            if column not in document["columns"]:
                document["columns"].append(column)
        for row in table.to_pylist():
            document["trials"].append({key: _plain(value) for key, value in row.items()})
    return document


def front(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials marked ``on_front`` (truthy), cheapest first by ``luts`` when recorded."""
    marked = [row for row in trials if row.get("on_front")]
    return sorted(marked, key=lambda row: (row.get("luts") is None, row.get("luts") or 0))
