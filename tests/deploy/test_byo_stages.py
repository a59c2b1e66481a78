"""Bring-your-own models through every stage to the report, as a user gives them in
``export.external_models``:

* ``published``: a published-style QKeras tagger (6-bit weights, quantized_relu(6), no input
  quantizer, ending in ``Activation('softmax')``), as an ``.h5`` file;
* ``roundtrip``: a QONNX file exported from one of our QKeras models, given back;
* ``brevitas``: a hand-built QONNX graph in Brevitas's export style (Gemm with transposed weights,
  unsigned activation Quant, input Quant, trailing Softmax).

export -> convert (hls4ml C-sim) -> firmware (da4ml + Verilator; no Yosys) -> report: 0 C-sim and
0 RTL mismatches, firmware figures, metrics, plots and score exports for each. Also: a stale integer
network (altered ``network.json``) makes convert fail, naming the first jet where the emulator and the
C-simulation differ (issue 15.1)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs
from pipeline.stages import convert, export, firmware, report
from tests.deploy.qonnx_graphs import brevitas_style_mlp
from tests.deploy.test_byo import _published_style_tagger
from tests.deploy.tiny_model import build_tiny_model

pytestmark = pytest.mark.slow  # three hls4ml C-sim compiles, three Verilator builds

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
REPO_ROOT = Path(__file__).resolve().parents[2]
N_TEST = 300
EXTERNAL = ("brevitas", "published", "roundtrip")


def _run(module, root: Path, upstream: dict[str, Path], config, models=()) -> Path:
    """Run a stage as the runner does: into a staging directory, renamed into place on success."""
    staging = root / f".staging-{module.NAME}"
    staging.mkdir()
    inputs = StageInputs(
        output_dir=staging,
        upstream=upstream,
        models=models,
        model_specs={},
        repo_root=root,
        seed=1,
        quiet=True,
    )
    module.run(inputs, config)
    final = root / module.NAME
    staging.rename(final)
    return final


@pytest.fixture(scope="module")
def byo_run(tmp_path_factory):
    from pipeline.deploy.export_qonnx import export_qonnx
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    root = tmp_path_factory.mktemp("byo")
    rng = np.random.default_rng(3)
    sizes = {"train": 100, "val": 50, "test": N_TEST}
    features = {split: rng.normal(0, 1.5, (n, 16)).astype(np.float32) for split, n in sizes.items()}
    labels = {split: rng.integers(0, 5, n) for split, n in sizes.items()}
    write_dataset(root / "data", RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    (root / "constrain").mkdir()
    users = root / "user_models"
    users.mkdir()
    _published_style_tagger().save(users / "published.h5")
    ours = build_tiny_model()
    export_qonnx(ours, integer_network_from_qkeras(ours)).save(str(users / "roundtrip.onnx"))
    (users / "brevitas.onnx").write_bytes(brevitas_style_mlp().SerializeToString())
    (root / "hls4ml_configs").mkdir()
    shutil.copy(REPO_ROOT / "hls4ml_configs" / "vitis_latency.yml", root / "hls4ml_configs")

    external = {
        "published": {
            "path": "user_models/published.h5",
            "input_quantizer": {"bits": 16, "integer_bits": 5},
        },
        "roundtrip": {"path": "user_models/roundtrip.onnx"},
        "brevitas": {"path": "user_models/brevitas.onnx", "accumulator_bits": {"fc1": 16}},
    }
    upstream = {"data": root / "data", "constrain": root / "constrain"}
    upstream["export"] = _run(export, root, upstream, export.Config(external_models=external))
    upstream["convert"] = _run(convert, root, upstream, convert.Config(testbench_jets=20))
    firmware_config = firmware.Config(
        rtl_models=EXTERNAL, clock_period_ns=5.0, synthesize=False, vendor=False
    )
    upstream["firmware"] = _run(firmware, root, upstream, firmware_config)
    upstream["report"] = _run(report, root, upstream, report.Config())
    return root, upstream


def test_export_records_the_source_and_the_removed_softmax(byo_run):
    _, stages = byo_run
    published = json.loads((stages["export"] / "published" / "source.json").read_text())
    assert published["format"] == "qkeras" and published["softmax_removed"] is True
    brevitas = json.loads((stages["export"] / "brevitas" / "source.json").read_text())
    assert brevitas["format"] == "qonnx" and brevitas["softmax_removed"] is True
    roundtrip = json.loads((stages["export"] / "roundtrip" / "source.json").read_text())
    assert roundtrip["format"] == "qonnx" and roundtrip["softmax_removed"] is False
    for name in EXTERNAL:
        assert json.loads((stages["export"] / name / "check.json").read_text())["mismatches"] == 0
        metrics = json.loads((stages["export"] / name / "metrics.json").read_text())
        assert metrics["physics"]["n_samples"] == N_TEST and metrics["cost"]["bops"] > 0


def test_every_model_converts_bit_exactly(byo_run):
    _, stages = byo_run
    for name in EXTERNAL:
        record = json.loads((stages["convert"] / name / "bit_exact.json").read_text())
        assert record["jets"] == N_TEST, name
        assert record["mismatches"] == 0 and record["emulator_vs_csim_mismatches"] == 0, name
    details = json.loads((stages["convert"] / "brevitas" / "metrics.json").read_text())["details"]
    assert details["accumulator_types"]["MatMul_1"] == "fixed<16,7>"  # fc1: 16 bits, f_x + f_w = 4 + 5


def test_firmware_builds_every_named_model_bit_exactly(byo_run):
    _, stages = byo_run
    summary = json.loads((stages["firmware"] / "report.json").read_text())
    assert set(summary["models"]) == set(EXTERNAL) and summary["skipped"] == {}
    for name in EXTERNAL:
        row = summary["models"][name]
        assert row["bit_exact"] is True and row["mismatched_jets"] == 0 and row["cycles"] >= 1, name


def test_report_has_rows_figures_and_scores_for_every_model(byo_run):
    _, stages = byo_run
    out = stages["report"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(EXTERNAL) <= set(metrics["models"])
    for name in EXTERNAL:
        summary = metrics["models"][name]["summary"]
        assert summary["rtl_mismatched_jets"]["value"] == 0, name
        assert summary["bit_exact_mismatches"]["value"] == 0, name
        assert summary["latency_cycles"]["value"] >= 1, name
        assert metrics["models"][name]["performance"]["exact"]["n_jets"] == N_TEST, name
    page = (out / "index.html").read_text()
    assert all(name in page for name in EXTERNAL)
    with h5py.File(out / "scores.h5") as scores:
        for name in EXTERNAL:
            exact = scores[f"{name}/exact_scores"][()]
            assert exact.shape == (N_TEST, 5) and np.allclose(exact.sum(axis=1), 1.0)
    points = json.loads((out / "working_points.json").read_text())
    assert all(points["models"][name]["scores"] == "exact" for name in EXTERNAL)


def test_stale_integer_network_fails_convert_naming_the_jet(byo_run, tmp_path):
    """Issue 15.1: the emulator (whose logits the report's firmware-exact scores are) must equal the
    C-simulation; a network.json that no longer matches the QONNX model fails the stage."""
    root, stages = byo_run
    stale_export = tmp_path / "export"
    shutil.copytree(stages["export"] / "roundtrip", stale_export / "roundtrip")
    network_file = stale_export / "roundtrip" / "network.json"
    network = json.loads(network_file.read_text())
    network["layers"][-1]["bias_raw"][0] += 7  # the first logit moves on every jet
    network_file.write_text(json.dumps(network))
    staging = tmp_path / "convert_staging"
    staging.mkdir()
    inputs = StageInputs(
        output_dir=staging,
        upstream={"data": stages["data"], "constrain": stages["constrain"], "export": stale_export},
        models=(),
        model_specs={},
        repo_root=root,
        seed=1,
        quiet=True,
    )
    with pytest.raises(PipelineError) as error:
        convert.run(inputs, convert.Config(testbench_jets=5))
    assert "integer emulator of roundtrip" in error.value.problem
    assert "first: jet 0" in error.value.problem
    record = json.loads((staging / "roundtrip" / "bit_exact.json").read_text())
    assert record["mismatches"] == 0 and record["emulator_vs_csim_mismatches"] == N_TEST
