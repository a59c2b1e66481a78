"""Stored records of one model in the layout the stages write them (test inputs for the checks)."""

from __future__ import annotations

import json
from pathlib import Path


def metrics(accuracy: float, bops: float = 1000.0, auc_t: float = 0.9, efficiency: float = 0.4) -> dict:
    """A ``metrics.json`` of :mod:`pipeline.measure` with the fields the checks read."""
    return {
        "physics": {
            "accuracy": accuracy,
            "auc": {"g": 0.85, "t": auc_t},
            "background_efficiency": {"g": 0.1, "t": 0.0},
            "background_rejection": {"g": 10.0, "t": None},
        },
        "cost": {"bops": bops, "weight_sparsity": 0.5},
        "information": {"network_efficiency": efficiency, "aiq": accuracy * efficiency**2},
    }


FIRMWARE = {
    "cycles": 5,
    "latency_ns": 25.0,
    "luts": 17_280,
    "flip_flops": 3000,
    "dsps": 0,
    "mismatched_jets": 0,
}


def quantized_records() -> dict:
    """A quantized model through every stage: 73 % -> 72 % after pruning -> 71.5 % after A2Q."""
    return {
        "train": {"metrics": metrics(0.73, bops=2e5)},
        "prune": {"metrics": metrics(0.72, bops=1e5)},
        "constrain": {"metrics": metrics(0.715, bops=1e5)},
        "export": {"metrics": metrics(0.715, bops=1e5), "check": {"mismatches": 0, "jets": 100}},
        "convert": {"metrics": metrics(0.715, bops=1e5), "bit_exact": {"mismatches": 2, "jets": 100}},
        "firmware": {"metrics": dict(FIRMWARE), "firmware": {"part": "xcvu13p-flga2577-2-e"}},
    }


def float_records() -> dict:
    skipped = {"metrics": {"skipped": "float model: no fixed-point form"}}
    return {
        "train": {"metrics": metrics(0.74, bops=4.6e6)},
        "prune": {"metrics": metrics(0.74, bops=4.6e6)},
        **{stage: skipped for stage in ("constrain", "export", "convert", "firmware")},
    }


def write_run(run_dir: Path, models: dict[str, dict]) -> None:
    """Write ``<run>/<stage>/<model>/<record>.json`` for every record."""
    for model, stages in models.items():
        for stage, records in stages.items():
            for name, record in records.items():
                path = run_dir / stage / model / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(record))
