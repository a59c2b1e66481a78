"""benchmarks/bench_default_run_vs_baseline.py on a tiny config: a git worktree of a baseline commit and
this checkout run side by side; the ratio, the goal flag and the per-model comparison."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_default_run_vs_baseline", REPO / "benchmarks" / "bench_default_run_vs_baseline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # two tiny runs through the train stage: ~40 s
def test_baseline_and_current_side_by_side(tmp_path: Path) -> None:
    bench = load_benchmark()
    output = tmp_path / "vs.json"
    arguments = ["--baseline-ref", "HEAD", "--config", "tests/benchmarks/tiny_speed.yaml", "--until", "train"]
    assert bench.main([*arguments, "--runs-dir", str(tmp_path / "runs"), "--output", str(output)]) == 0
    record = json.loads(output.read_text())
    baseline, current = record["runs"]["baseline"], record["runs"]["current"]
    assert (
        record["baseline_commit"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert "baseline-" in baseline["command"] and str(REPO) in current["command"]
    stages = ["data", "train"]
    assert sorted(baseline["stage_wall_seconds"]) == stages == sorted(current["stage_wall_seconds"])
    assert record["ratio_current_over_baseline"] == pytest.approx(
        current["wall_seconds"] / baseline["wall_seconds"], rel=1e-2
    )
    assert record["goal_met"] == (current["wall_seconds"] <= 420)
    comparison = record["comparison"]
    assert comparison["per_model_results_identical"] and comparison["per_model_results_compared"] == 2
    # the temporary worktree is gone
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=REPO, capture_output=True, text=True).stdout
    assert "baseline-" not in worktrees


def test_provenance_notes_are_left_out_of_the_comparison() -> None:
    from benchmarks.bench_default_run_speed import without_keys

    bench = load_benchmark()
    record = {"details": {"same_result_as": "a", "epochs": 3}, "list": [{"same_result_as": "b"}]}
    assert without_keys(record, bench.PROVENANCE_KEYS) == {"details": {"epochs": 3}, "list": [{}]}


def test_differences_are_named_by_field() -> None:
    bench = load_benchmark()
    left = {"luts": 10, "cells": {"LUT5": 247, "LUT6": 911}, "path": [1, 2]}
    right = {"luts": 10, "cells": {"LUT5": 246, "LUT6": 912}, "path": [1, 3], "new": 1}
    assert bench.leaf_differences(left, right) == ["cells.LUT5", "cells.LUT6", "new", "path"]
    assert bench.leaf_differences(left, left) == []
    record = {
        "comparison": {"per_model_results_identical": False},
        "differing_fields": {"firmware/a": ["timing.critical_path_ns"], "report/b": ["cells.LUT5"]},
    }
    assert bench.identical(record) == "no, 2 records differ in `LUT5`, `critical_path_ns`"
    record["comparison"]["per_model_results_identical"] = True
    assert bench.identical(record) == "yes"
