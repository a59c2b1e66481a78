"""benchmarks/bench_default_run_speed.py on a tiny config: two fresh runs (1 worker, 2 workers) side by
side, per-stage times, the ratio, and the per-model comparison (which must notice a changed result)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "benchmarks" / "tiny_speed.yaml"


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_default_run_speed", REPO / "benchmarks" / "bench_default_run_speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timing_fields_are_left_out_of_the_comparison() -> None:
    bench = load_benchmark()
    record = {"accuracy": 0.7, "timings": {"yosys_seconds": 3.0, "luts": 10}, "yosys_cached": True}
    assert bench.without_timings(record) == {"accuracy": 0.7, "timings": {"luts": 10}}


@pytest.mark.slow  # two tiny runs through train on 2 cores: ~40 s (tests/test_model_work.py: all stages)
def test_two_runs_side_by_side_on_a_tiny_config(tmp_path: Path) -> None:
    bench = load_benchmark()
    output = tmp_path / "speed.json"
    arguments = ["--config", str(TINY), "--runs-dir", str(tmp_path / "runs"), "--output", str(output)]
    assert bench.main([*arguments, "--workers", "2", "--until", "train"]) == 0
    record = json.loads(output.read_text())
    serial, parallel = record["runs"]["serial"], record["runs"]["parallel"]
    assert serial["workers"] == 1 and parallel["workers"] == 2 and record["parallel_workers"] == 2
    stages = ["data", "train"]
    assert sorted(serial["stage_wall_seconds"]) == sorted(stages) == sorted(parallel["stage_wall_seconds"])
    assert record["ratio_parallel_over_serial"] == pytest.approx(
        parallel["wall_seconds"] / serial["wall_seconds"], rel=1e-2
    )
    assert len(serial["load_average_before"]) == 3 and len(parallel["load_average_after"]) == 3
    comparison = record["comparison"]
    assert comparison["per_model_results_identical"] and comparison["per_model_results_compared"] == 2
    assert all(comparison["stage_outputs_byte_identical"].values())
    # the comparison notices a changed per-model result
    metrics = tmp_path / "runs" / "parallel" / "train" / "tiny_q4" / "metrics.json"
    changed = json.loads(metrics.read_text())
    changed["physics"]["accuracy"] += 0.01
    metrics.chmod(0o644)
    metrics.write_text(json.dumps(changed))
    again = bench.compare(tmp_path / "runs" / "serial", tmp_path / "runs" / "parallel")
    assert not again["per_model_results_identical"] and again["differing"] == ["train/tiny_q4"]
    assert not again["stage_outputs_byte_identical"]["train"]
