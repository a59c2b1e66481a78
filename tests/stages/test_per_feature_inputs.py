"""Per-feature input precision through the export, convert and firmware stages (issue 13: "per-feature
input precision survives export"): a tiny 16-8-5 model whose spec gives every input feature its own
format inside the input container. Real tools throughout: qonnx's executor on the raw features equals
QKeras on the per-feature-quantized ones, the hls4ml C-simulation (per-feature Quant nodes stripped,
features at their formats) and Verilator match with 0 mismatches, and da4ml / Yosys spend fewer LUTs
than on the same network traced with the container alone."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.stage_api import StageInputs
from pipeline.stages import convert, export, firmware

pytestmark = pytest.mark.slow  # one hls4ml C-sim compile, one Verilator build, two Yosys runs

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
N_TEST = 500
NAME = "tiny_pf"
# container {bits: 10, integer_bits: 3}: 6 fractional bits, range +-8; each feature narrower
FORMATS = [{"bits": 2 + k % 4 + (k // 4) % 4 + k // 8, "integer_bits": k % 4} for k in range(16)]
SPEC = {
    "name": NAME,
    "input_features": 16,
    "input_quantizer": {"bits": 10, "integer_bits": 3},
    "input_feature_quantizers": FORMATS,
    "defaults": {
        "weight": {"bits": 6, "integer_bits": 0},
        "bias": {"bits": 6, "integer_bits": 0},
        "activation": {"bits": 6, "integer_bits": 0},
    },
    "layers": [{"units": 8, "activation": "relu"}, {"units": 5, "activation": "linear"}],
}


def _inputs(output_dir: Path, upstream: dict, root: Path, spec_path: Path) -> StageInputs:
    output_dir.mkdir()
    return StageInputs(
        output_dir=output_dir,
        upstream=upstream,
        models=(NAME,),
        model_specs={NAME: spec_path},
        repo_root=root,
        seed=1,
        quiet=True,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import yaml

    from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
    from pipeline.models.build import build_model
    from pipeline.models.io import save_model
    from pipeline.models.spec import load_spec

    root = tmp_path_factory.mktemp("per_feature")
    rng = np.random.default_rng(3)
    sizes = {"train": 200, "val": 50, "test": N_TEST}
    features = {split: rng.normal(0, 2.0, (n, 16)).astype(np.float32) for split, n in sizes.items()}
    labels = {split: rng.integers(0, 5, n) for split, n in sizes.items()}
    write_dataset(root / "data", RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    spec_path = root / f"{NAME}.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    model = build_model(load_spec(spec_path), seed=0)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.3, bias.shape)])
    save_model(model, root / "constrain" / NAME / "model.h5")
    upstream = {"data": root / "data", "constrain": root / "constrain"}
    export.run(_inputs(root / "export", upstream, root, spec_path), export.Config())
    (root / "repo" / "hls4ml_configs").mkdir(parents=True)
    shutil.copy(
        convert.__file__.rsplit("/pipeline/", 1)[0] + "/hls4ml_configs/vitis_latency.yml",
        root / "repo" / "hls4ml_configs",
    )
    upstream["export"] = root / "export"
    convert.run(
        _inputs(root / "convert", upstream, root / "repo", spec_path), convert.Config(testbench_jets=50)
    )
    upstream["convert"] = root / "convert"
    config = firmware.Config(clock_period_ns=5.0, vendor=False, cache=False, workers=1)
    firmware.run(_inputs(root / "firmware", upstream, root / "repo", spec_path), config)
    return root, model, load_spec(spec_path)


def test_export_qonnx_executor_on_raw_features_equals_qkeras_on_model_inputs(run):
    from qonnx.core.modelwrapper import ModelWrapper

    from pipeline.data.io import load_dataset
    from pipeline.deploy.export_qonnx import execute_qonnx, integer_logits, output_fractional_bits
    from pipeline.deploy.feature_quant import find_feature_quantizers
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.inputs import input_formats, model_inputs

    root, model, spec = run
    check = json.loads((root / "export" / NAME / "check.json").read_text())
    assert check["jets"] == N_TEST and check["mismatches"] == 0
    assert check["input_feature_formats"][5] == "fixed<4,2>"  # {bits: 4, integer_bits: 1} + sign
    wrapper = ModelWrapper(str(root / "export" / NAME / "model.onnx"))
    assert find_feature_quantizers(wrapper).formats == input_formats(spec)
    x = load_dataset(root / "data").x_test
    fractional = output_fractional_bits(integer_network_from_qkeras(model))
    expected = integer_logits(model.predict(model_inputs(spec, x), verbose=0), fractional)
    np.testing.assert_array_equal(integer_logits(execute_qonnx(wrapper, x), fractional), expected)
    # the per-feature formats matter on these jets: the container alone scores differently
    assert np.any(integer_logits(model.predict(x, verbose=0), fractional) != expected)
    metrics = json.loads((root / "export" / NAME / "metrics.json").read_text())
    accuracy = np.mean(expected.argmax(1) == load_dataset(root / "data").y_test)
    assert metrics["physics"]["accuracy"] == pytest.approx(accuracy)


def test_convert_csim_is_bit_exact_on_per_feature_inputs(run):
    root, _, _ = run
    record = json.loads((root / "convert" / NAME / "bit_exact.json").read_text())
    assert record["jets"] == N_TEST
    assert record["mismatches"] == 0 and record["emulator_vs_csim_mismatches"] == 0
    assert record["csim_input"] == convert.PER_FEATURE_CSIM_INPUT
    details = json.loads((root / "convert" / NAME / "metrics.json").read_text())["details"]
    assert details["input"] == "per-feature"
    assert details["input_feature_formats"][5] == "fixed<4,2>"  # {bits: 4, integer_bits: 1} + sign
    project_graph = (root / "convert" / NAME / "hls4ml_prj" / "model.onnx").read_bytes()
    assert b"Quant_feature_" not in project_graph  # hls4ml got the graph without them


def test_firmware_is_bit_exact_and_cheaper_than_the_container(run, tmp_path):
    from pipeline.deploy.integer_network import load_network
    from pipeline.rtl.design import write_design
    from pipeline.rtl.trace import trace_network
    from pipeline.rtl.yosys import synthesize

    root, _, _ = run
    record = json.loads((root / "firmware" / NAME / "firmware.json").read_text())
    assert record["bit_exact"]["samples"] == N_TEST and record["bit_exact"]["mismatched_samples"] == 0
    network = load_network(root / "convert" / NAME / "network.json")
    cutoff = record["design"]["latency_cutoff_adder_levels"]
    container = trace_network(network, cutoff, {"hard_dc": 2})
    assert record["design"]["da4ml_lut_estimate"] < container.comb.cost
    design = write_design(container, tmp_path / "rtl", 5.0, record["part"])
    container_luts = synthesize(design.rtl_dir, design.top, tmp_path / "yosys").luts
    assert record["synthesis"]["luts"] <= container_luts
