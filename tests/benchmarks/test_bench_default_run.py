"""benchmarks/bench_default_run.py: the README's results table comes from the report's figures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_default_run", REPO / "benchmarks" / "bench_default_run.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summary_of_a_finished_run_matches_the_report(tmp_path: Path) -> None:
    from tests.report.report_fixture import finished_run

    bench = load_benchmark()
    run_dir = finished_run()
    output = tmp_path / "default_run.json"
    assert bench.main(["--no-run", "--run-dir", str(run_dir), "--output", str(output)]) == 0
    record = json.loads(output.read_text())
    report = json.loads((run_dir / "report" / "metrics.json").read_text())
    rows = {row["model"]: row for row in record["models"]}
    assert list(rows) == report["models_order"]
    quantized = report["models"]["tiny_q6"]
    assert rows["tiny_q6"]["scores"] == "exact"
    assert rows["tiny_q6"]["accuracy"] == quantized["performance"]["exact"]["accuracy"]
    aucs = [entry["auc"] for entry in quantized["performance"]["exact"]["classes"].values()]
    assert rows["tiny_q6"]["mean_auc"] == pytest.approx(sum(aucs) / len(aucs))
    assert rows["tiny_q6"]["luts"] == quantized["summary"]["luts"]["value"] == 1234
    assert rows["tiny_float"]["scores"] == "float" and rows["tiny_float"]["luts"] is None
    assert record["stage_wall_time_seconds"]["firmware"] == 95.0
    assert record["machine"]["cpu_count"] >= 1 and record["benchmark"] == "benchmarks/bench_default_run.py"


def test_ratios_against_each_baseline() -> None:
    bench = load_benchmark()
    rows = [
        {"model": "jet_dnn_float", "bops": 4.65e6, "luts": None, "accuracy": 0.7373},
        {"model": "jet_dnn_q6", "bops": 288e3, "luts": 44000, "accuracy": 0.7365},
        {"model": "jet_dnn_q6_qap", "bops": 137e3, "luts": 20000, "accuracy": 0.7341},
    ]
    versus_float = bench.ratios(rows, "jet_dnn_float")
    versus_six_bit = bench.ratios(rows, "jet_dnn_q6")
    assert versus_float["jet_dnn_q6_qap"]["bops_fewer_x"] == pytest.approx(4.65e6 / 137e3)
    assert versus_six_bit["jet_dnn_q6_qap"]["bops_fewer_x"] == pytest.approx(288 / 137)
    assert versus_six_bit["jet_dnn_q6_qap"]["luts_fewer_x"] == pytest.approx(2.2)
    assert versus_six_bit["jet_dnn_q6_qap"]["accuracy_minus_baseline_points"] == pytest.approx(-0.24)
    assert "luts_fewer_x" not in versus_float["jet_dnn_q6"]
