"""The Pareto front of a scan and its best point under an accuracy floor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def pareto_mask(maximise: np.ndarray, minimise: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in both objectives and better in one.

    ``maximise`` (e.g. accuracy) and ``minimise`` (e.g. LUTs) are 1-d arrays of equal length.
    """
    maximise = np.asarray(maximise, dtype=float)
    minimise = np.asarray(minimise, dtype=float)
    mask = np.ones(len(maximise), dtype=bool)
    for index in range(len(maximise)):
        no_worse = (maximise >= maximise[index]) & (minimise <= minimise[index])
        better = (maximise > maximise[index]) | (minimise < minimise[index])
        mask[index] = not np.any(no_worse & better)
    return mask


def mark_front(table: pd.DataFrame) -> pd.DataFrame:
    """Set ``on_front_luts``, ``on_front_latency`` and ``on_front`` (either) over the done trials."""
    table = table.copy()
    for column in ("on_front", "on_front_luts", "on_front_latency"):
        table[column] = False
    if table.empty or "accuracy" not in table:
        return table
    done = (table["status"] == "done").to_numpy()
    if not done.any():
        return table
    accuracy = table.loc[done, "accuracy"].to_numpy()
    luts = pareto_mask(accuracy, table.loc[done, "luts"].to_numpy())
    latency = pareto_mask(accuracy, table.loc[done, "latency_cycles"].to_numpy())
    table.loc[done, "on_front_luts"] = luts
    table.loc[done, "on_front_latency"] = latency
    table.loc[done, "on_front"] = luts | latency
    return table


def firmware_candidates(
    table: pd.DataFrame, accuracy_floor: float | None, max_points: int | None
) -> pd.DataFrame:
    """Front points for the full firmware flow: those at ``accuracy >= accuracy_floor`` with the fewest
    LUTs first, then (when fewer clear the floor) the most accurate other front points."""
    front = table[table["on_front"]]
    floor = accuracy_floor if accuracy_floor is not None else -1.0
    above = front[front["accuracy"] >= floor].sort_values("luts")
    below = front[front["accuracy"] < floor].sort_values("accuracy", ascending=False)
    ordered = pd.concat([above, below])
    return ordered if max_points is None else ordered.head(max_points)


def best_point(table: pd.DataFrame, accuracy_floor: float | None) -> pd.Series | None:
    """The done trial with the fewest LUTs (Yosys LUTs where measured, else da4ml's) at
    ``accuracy >= accuracy_floor``; ties by accuracy. ``None`` if no trial clears the floor."""
    done = table[table["status"] == "done"]
    if accuracy_floor is not None:
        done = done[done["accuracy"] >= accuracy_floor]
    if done.empty:
        return None
    luts = done["luts"]
    if "yosys_luts" in done:
        luts = done["yosys_luts"].fillna(done["luts"])
    order = np.lexsort((-done["accuracy"].to_numpy(), luts.to_numpy()))
    return done.iloc[int(order[0])]


def write_best_spec(row: pd.Series, name: str, path: Path, note: str) -> dict[str, Any]:
    """Write the best point's spec as a ``models/<name>.yaml`` file ``trigger-pipeline run`` accepts."""
    import yaml

    from pipeline.models.spec import parse_spec

    spec = json.loads(row["spec"])
    spec["name"] = name
    spec["description"] = note
    parse_spec(spec, str(path), expected_name=name)  # the file must load unchanged
    text = f"# {note}\n" + yaml.safe_dump(spec, sort_keys=False)
    path.write_text(text)
    return spec
