"""The table of finished trials: ``<run-dir>/scan/trials.parquet``, one row per trial key.

Only the scan's client writes it, one row at a time, by writing the whole table to a temporary file
and renaming it into place (``os.replace``): a killed scan leaves the previous complete table, never
a half-written one. Schema (documented in the README's scan section):

========================  =======  ==========================================================
column                    type     meaning
========================  =======  ==========================================================
key                       str      hash of (resolved spec, data hash, code version, budget)
number                    int      trial number in this scan (order of submission)
status                    str      ``done`` | ``failed``
error                     str      the failed trial's exception (empty when done)
accuracy                  float    integer-emulator accuracy on the test split (fraction)
luts                      float    da4ml LUT estimate (``comb.cost``)
adder_depth               float    da4ml combinational depth in adder levels
latency_cycles            int      pipeline stages at the clock (da4ml ``to_pipeline``)
latency_ns                float    ``latency_cycles * clock_period_ns``
on_front                  bool     Pareto-optimal in (accuracy, luts) or (accuracy, latency_cycles)
on_front_luts             bool     Pareto-optimal in (accuracy, luts)
on_front_latency          bool     Pareto-optimal in (accuracy, latency_cycles)
param.<name>              f64/str  the point: numbers as float, lists/strings/bools as JSON text
params                    str      the point as JSON
hard_dc                   int      da4ml delay constraint of the estimate (and firmware): the
                                   point's ``hard_dc`` if the space scans it, else ``firmware.hard_dc``
spec                      str      the resolved model spec as JSON
worker                    str      the Dask worker that ran the trial
started_at, finished_at   float    UNIX times
train_seconds, prune_seconds, constrain_seconds, evaluate_seconds, estimate_seconds,
total_seconds             float    per-phase wall times of the trial
cpu_seconds               float    CPU time of the worker process during the trial
yosys_luts, yosys_flip_flops, verilator_mismatched_jets, verilator_jets, firmware_cycles,
sta_critical_path_ns, sta_max_clock_mhz, sta_lut_levels, sta_meets_clock, latency_ns_sta,
firmware_seconds, firmware_error
                          float/str  filled for front points that went through the firmware flow
                                     (``latency_ns_sta``: cycles x max(period, sta critical path))
========================  =======  ==========================================================
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_FILE = "trials.parquet"
FRONT_COLUMNS = ("on_front", "on_front_luts", "on_front_latency")


def read_table(scan_dir: Path) -> pd.DataFrame:
    """The trials table (empty frame if there is none yet)."""
    path = Path(scan_dir) / TABLE_FILE
    if not path.is_file():
        return pd.DataFrame({"key": pd.Series(dtype=str), "status": pd.Series(dtype=str)})
    return pd.read_parquet(path)


def write_table(scan_dir: Path, table: pd.DataFrame) -> None:
    """Write the whole table atomically (temporary file + ``os.replace``)."""
    path = Path(scan_dir) / TABLE_FILE
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    table.reset_index(drop=True).to_parquet(temporary, index=False)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def param_value(value: Any) -> float | str:
    """A point's value as stored in a ``param.<name>`` column."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value)
    return float(value)


def append_row(scan_dir: Path, row: dict[str, Any]) -> pd.DataFrame:
    """Append ``row`` (replacing an earlier row of the same key) and write the table atomically."""
    table = read_table(scan_dir)
    if len(table) and "key" in table:
        table = table[table["key"] != row["key"]]
    new = pd.DataFrame([row])
    table = new if table.empty else pd.concat([table, new], ignore_index=True)
    write_table(scan_dir, table)
    return table


def finished_keys(table: pd.DataFrame) -> set[str]:
    """Keys of trials that finished (done or failed): a rerun does not run them again."""
    if table.empty:
        return set()
    return set(table["key"])
