"""A scan trial with learned precision: trained with trainable bit widths, frozen into plain QKeras
(as the train stage does), saved with the learned widths, and bit-exact in Verilator."""

from __future__ import annotations

import pytest
import yaml

from pipeline.models.spec import load_spec, parse_spec
from pipeline.scan.firmware import FirmwareTask, run_firmware
from pipeline.scan.space import SearchSpace, resolve_spec
from pipeline.scan.trial import TrialTask, run_trial
from tests.scan.conftest import REPO, TINY_SCAN

pytestmark = pytest.mark.slow


def test_learned_precision_trial_is_frozen_saved_and_bit_exact(tmp_path):
    from pipeline.config import load_config
    from pipeline.runner import run_pipeline
    from tests.scan.conftest import write_scan

    write_scan(tmp_path)
    run_pipeline(load_config(tmp_path / "pipeline.yaml"), tmp_path / "run", ["data"], quiet=True)
    data_dir = tmp_path / "run" / "data"
    point = {
        "width_multiplier": 0.125,
        "target_sparsity": 0.5,
        "learned_precision": True,
        "learned_beta": 1e-6,
    }
    space = SearchSpace.model_validate({name: [value] for name, value in point.items()})
    spec = resolve_spec(load_spec(REPO / "models" / "jet_dnn_q6_qap.yaml"), point, space, "scan_trial")
    assert parse_spec(spec, "test").learned_precision and spec["precision"]["beta"] == 1e-6
    settings = {**TINY_SCAN["trial"], "learning_rate": None, "patience": 1}
    firmware = {
        "clock_period_ns": 5.0,
        "adder_levels_per_ns": 1.0,
        "hard_dc": 2,
        "synthesize": False,
        "yosys_family": "xcup",
        "max_test_jets": 200,
    }
    trial_dir = tmp_path / "run" / "scan" / "trials" / "k"
    row = run_trial(TrialTask("k", 0, point, spec, str(data_dir), str(trial_dir), settings, firmware, 7))
    assert row["status"] == "done", row["error"]
    saved = parse_spec(yaml.safe_load((trial_dir / "spec.yaml").read_text()), "saved")
    assert not saved.learned_precision  # frozen: the widths the training learned, as plain QKeras
    assert len(saved.input_feature_quantizers) == 16  # deployed per feature: scored and traced with them
    assert saved.pruning.target_sparsity == 0.5
    record = run_firmware(FirmwareTask("k", str(trial_dir), str(data_dir), firmware))
    assert record["firmware_error"] == "", record["firmware_error"]
    assert record["verilator_jets"] == 200 and record["verilator_mismatched_jets"] == 0
