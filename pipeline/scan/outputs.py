"""What a finished scan leaves in ``<run-dir>/scan/``: plots, ``front.md``, ``summary.json``, best spec.

* ``accuracy_vs_luts.png``: every done trial (da4ml LUT estimate), the (accuracy, LUTs) front as a
  line, Yosys LUTs of the synthesized front points, the accuracy floor;
* ``accuracy_vs_latency.png``: accuracy against latency (cycles at the clock), front marked;
* ``parameter_effects.png``: per scanned parameter, accuracy and LUTs of each trial by its value;
* ``front.md``: the front points (parameters, accuracy, LUTs da4ml / Yosys, latency as cycles x period
  and, for synthesized points, Yosys ``sta``'s critical path and cycles x max(period, critical path),
  bit-exactness, the da4ml ``hard_dc`` of the estimate and firmware);
* ``summary.json``: counts, the front, the best point and da4ml-vs-Yosys per synthesized point;
* ``<best_model_name>.yaml``: the best point under ``accuracy_floor`` as a model spec. The point's
  ``hard_dc`` is a firmware setting (``firmware.hard_dc`` of ``pipeline.yaml``), not a spec key: it is in
  the spec file's header comment, ``summary.json`` (``best.hard_dc``) and the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pipeline.manifest import write_text_atomic
from pipeline.scan.front import best_point, write_best_spec

FRONT_FIELDS = (
    "key",
    "accuracy",
    "luts",
    "yosys_luts",
    "adder_depth",
    "latency_cycles",
    "latency_ns",
    "verilator_mismatched_jets",
    "verilator_jets",
    "firmware_cycles",
    "sta_critical_path_ns",
    "sta_max_clock_mhz",
    "sta_lut_levels",
    "latency_ns_sta",
    "firmware_error",
    "hard_dc",
    "params",
)


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def plot_scan(table: pd.DataFrame, scan_dir, accuracy_floor: float | None) -> list[str]:
    """Write the three figures; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = table[table["status"] == "done"]
    names = []
    for column, label, front_column, file_name in (
        ("luts", "LUTs (da4ml estimate)", "on_front_luts", "accuracy_vs_luts.png"),
        ("latency_cycles", "latency (cycles at the clock)", "on_front_latency", "accuracy_vs_latency.png"),
    ):
        figure, axes = plt.subplots(figsize=(6.4, 4.4))
        axes.scatter(done[column], 100 * done["accuracy"], s=14, color="0.6", label="trials")
        front = done[done[front_column]].sort_values(column)
        axes.step(front[column], 100 * front["accuracy"], where="post", color="C0", marker="o", label="front")
        if column == "luts" and "yosys_luts" in done and done["yosys_luts"].notna().any():
            synth = done[done["yosys_luts"].notna()]
            axes.scatter(
                synth["yosys_luts"], 100 * synth["accuracy"], marker="x", color="C3", s=40, label="Yosys LUTs"
            )
        if column == "luts":
            axes.set_xscale("log")
        if accuracy_floor is not None:
            axes.axhline(100 * accuracy_floor, color="C2", linestyle="--", label="accuracy floor")
        axes.set_xlabel(label)
        axes.set_ylabel("integer accuracy (%)")
        axes.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(scan_dir / file_name, dpi=110)
        plt.close(figure)
        names.append(file_name)
    params = [c for c in done.columns if c.startswith("param.") and done[c].nunique() > 1]
    if params:
        figure, grid = plt.subplots(2, len(params), figsize=(2.6 * len(params), 5.0), squeeze=False)
        for index, column in enumerate(params):
            labels = sorted(done[column].unique(), key=lambda v: (isinstance(v, str), v))
            position = done[column].map({value: k for k, value in enumerate(labels)})
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(done))
            grid[0][index].scatter(position + jitter, 100 * done["accuracy"], s=8)
            grid[1][index].scatter(position + jitter, done["luts"], s=8, color="C1")
            for row in (0, 1):
                grid[row][index].set_xticks(
                    range(len(labels)), [str(v) for v in labels], rotation=45, fontsize=7
                )
            grid[1][index].set_yscale("log")
            grid[0][index].set_title(column.removeprefix("param."), fontsize=8)
        grid[0][0].set_ylabel("accuracy (%)")
        grid[1][0].set_ylabel("LUTs (da4ml)")
        figure.tight_layout()
        figure.savefig(scan_dir / "parameter_effects.png", dpi=100)
        plt.close(figure)
        names.append("parameter_effects.png")
    return names


def _text(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.0f}"


def front_markdown(front: pd.DataFrame) -> str:
    """The front as a Markdown table."""
    lines = [
        "| key | accuracy | LUTs (da4ml) | LUTs (Yosys) | latency (cycles x period) | critical path (sta) "
        "| latency (cycles x max(period, critical path)) | RTL mismatches | hard_dc | parameters |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in front.sort_values("luts").iterrows():
        yosys = _text(row.get("yosys_luts"))
        mismatches = _text(row.get("verilator_mismatched_jets"))
        critical = row.get("sta_critical_path_ns")
        critical = "-" if critical is None or pd.isna(critical) else f"{critical:.1f} ns"
        sta_latency = _text(row.get("latency_ns_sta"))
        lines.append(
            f"| {row['key'][:10]} | {100 * row['accuracy']:.2f} % | {row['luts']:.0f} | "
            f"{yosys} | {int(row['latency_cycles'])} cycles, {row['latency_ns']:.0f} ns | {critical} | "
            f"{sta_latency if sta_latency == '-' else sta_latency + ' ns'} | {mismatches} | "
            f"{_text(row.get('hard_dc'))} | `{row['params']}` |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(scan, table: pd.DataFrame, log: Callable[[str], None]) -> dict[str, Any]:
    """Plots, front table, best spec and ``summary.json`` of a finished scan; returns the summary."""
    config = scan.config
    scan_dir = scan.scan_dir
    figures = plot_scan(table, scan_dir, config.accuracy_floor) if (table["status"] == "done").any() else []
    front = table[table["on_front"]]
    (scan_dir / "front.md").write_text(front_markdown(front))
    best = best_point(table, config.accuracy_floor)
    best_record = None
    if best is not None:
        note = (
            f"found by trigger-pipeline scan '{config.name}' (trial {best['key']}): scan accuracy "
            f"{100 * best['accuracy']:.2f} %, {best['luts']:.0f} da4ml LUTs, "
            f"{int(best['latency_cycles'])} cycles"
        )
        if pd.notna(best.get("hard_dc")):  # a firmware setting, not a spec key: pipeline.yaml's firmware
            note += f"; firmware.hard_dc {int(best['hard_dc'])} (da4ml delay constraint of these figures)"
        path = scan_dir / f"{config.best_model_name}.yaml"
        write_best_spec(best, config.best_model_name, path, note)
        best_record = {field: _clean(best.get(field)) for field in FRONT_FIELDS} | {"spec_file": path.name}
        log(f"best point under the accuracy floor: {path}")
    synthesized = front[front["yosys_luts"].notna()] if "yosys_luts" in front else front.iloc[0:0]
    summary = {
        "name": config.name,
        "strategy": config.strategy,
        "sampler": config.sampler if config.strategy == "optuna" else None,
        "trials": len(table),
        "done": int((table["status"] == "done").sum()),
        "failed": int((table["status"] == "failed").sum()),
        "accuracy_floor": config.accuracy_floor,
        "trial_budget": config.trial.model_dump(),
        "code_version": scan.code,
        "data_hash": scan.data_hash,
        "front": [
            {field: _clean(row.get(field)) for field in FRONT_FIELDS}
            for _, row in front.sort_values("luts").iterrows()
        ],
        "da4ml_vs_yosys": [
            {
                "key": row["key"],
                "da4ml_luts": float(row["luts"]),
                "yosys_luts": float(row["yosys_luts"]),
                "ratio": float(row["yosys_luts"] / row["luts"]),
            }
            for _, row in synthesized.iterrows()
        ],
        "best": best_record,
        "figures": figures,
        "table": "trials.parquet",
    }
    write_text_atomic(scan_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    log(f"scan: {summary['done']} done, {summary['failed']} failed, {len(front)} on the front -> {scan_dir}")
    return summary
