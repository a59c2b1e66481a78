"""A front point's firmware flow (real da4ml RTL, Verilator, Yosys ``synth_xilinx`` + ``sta``).

A tiny trial (16-8-4-4-5, a few hundred jets) is trained by the scan's own trial code, then built:
the record holds Yosys LUTs, 0 Verilator mismatches and both latency measures.
"""

from __future__ import annotations

import pytest

from pipeline.models.spec import load_spec
from pipeline.scan.firmware import FirmwareTask, run_firmware
from pipeline.scan.space import SearchSpace, resolve_spec
from pipeline.scan.trial import TrialTask, run_trial
from tests.scan.conftest import REPO, TINY_SCAN

pytestmark = pytest.mark.slow


def test_front_point_firmware_reports_luts_bit_exactness_and_both_latencies(tmp_path):
    from pipeline.config import load_config
    from pipeline.runner import run_pipeline
    from tests.scan.conftest import write_scan

    write_scan(tmp_path)
    run_pipeline(load_config(tmp_path / "pipeline.yaml"), tmp_path / "run", ["data"], quiet=True)
    data_dir = tmp_path / "run" / "data"
    point = {"input_bits": 8, "weight_bits": 4, "width_multiplier": 0.125, "target_sparsity": 0.5}
    space = SearchSpace.model_validate({name: [value] for name, value in point.items()})
    spec = resolve_spec(load_spec(REPO / "models" / "jet_dnn_q6_qap.yaml"), point, space, "scan_trial")
    settings = {**TINY_SCAN["trial"], "learning_rate": None, "patience": 1}
    firmware = {
        "clock_period_ns": 5.0,
        "adder_levels_per_ns": 1.0,
        "hard_dc": 2,
        "synthesize": True,
        "yosys_family": "xcup",
        "max_test_jets": 200,
    }
    trial_dir = tmp_path / "run" / "scan" / "trials" / "k"
    row = run_trial(TrialTask("k", 0, point, spec, str(data_dir), str(trial_dir), settings, firmware, 7))
    assert row["status"] == "done", row["error"]
    assert row["cpu_seconds"] > 0 and row["latency_ns"] == row["latency_cycles"] * 5.0
    record = run_firmware(FirmwareTask("k", str(trial_dir), str(data_dir), firmware))
    assert record["firmware_error"] == "", record["firmware_error"]
    assert record["yosys_luts"] > 0 and record["verilator_jets"] == 200
    assert record["verilator_mismatched_jets"] == 0
    assert record["firmware_cycles"] == row["latency_cycles"]
    assert record["sta_critical_path_ns"] > 0 and record["sta_lut_levels"] >= 1
    assert record["sta_max_clock_mhz"] == pytest.approx(1000 / record["sta_critical_path_ns"], rel=0.01)
    period = max(5.0, record["sta_critical_path_ns"])
    assert record["latency_ns_sta"] == pytest.approx(record["firmware_cycles"] * period)
    assert record["sta_meets_clock"] == float(record["sta_critical_path_ns"] <= 5.0)
