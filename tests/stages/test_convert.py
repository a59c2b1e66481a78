"""The convert stage end to end on a tiny model (one real hls4ml C-sim compile per model).

Two models: ``tiny_q`` with an A2Q-style accumulators.json whose output layer gets the narrowest
accumulator that cannot overflow (bit-exact, 0 mismatches), and ``tiny_wrap`` whose output layer
(dense_2) accumulator is 13 bits (wraps: the stage must fail naming the jet and the layer)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs
from pipeline.stages import convert, export

N_TEST = 600


SPEC = """
name: tiny_q
input_features: 16
input_quantizer: {bits: 8, integer_bits: 3}
defaults:
  weight: {bits: 6, integer_bits: 0}
  bias: {bits: 6, integer_bits: 0}
  activation: {bits: 6, integer_bits: 0}
layers:
  - {units: 8, activation: relu}
  - {units: 5, activation: linear}
"""


def _tiny_model(spec_path):
    """The spec's model (layer names dense_1, relu_1, dense_2) with seeded wide random weights."""
    from pipeline.models.build import build_model
    from pipeline.models.spec import load_spec

    model = build_model(load_spec(spec_path), seed=0)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.3, bias.shape)])
    return model


def _no_overflow_bits(model) -> int:
    """Narrowest signed accumulator for the output layer over all relu inputs in [0, 63] (raw)."""
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    layer = integer_network_from_qkeras(model).layers[1]
    weights, bias = layer.weight_raw, layer.bias_raw << (6 + 5 - layer.bias_fractional_bits)
    high = int((np.clip(weights, 0, None).sum(axis=0) * 63 + bias).max())
    low = int((np.clip(weights, None, 0).sum(axis=0) * 63 + bias).min())
    return max(high.bit_length(), (-low - 1).bit_length()) + 1


def _inputs(output_dir, upstream, models, root, specs):
    output_dir.mkdir()
    return StageInputs(
        output_dir=output_dir,
        upstream=upstream,
        models=models,
        model_specs=specs,
        repo_root=root,
        seed=1,
        quiet=True,
    )


@pytest.fixture(scope="module")
def convert_run(tmp_path_factory):
    from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
    from pipeline.models.io import save_model

    root = tmp_path_factory.mktemp("convert")
    rng = np.random.default_rng(3)
    sizes = {"train": 200, "val": 50, "test": N_TEST}
    features = {split: rng.normal(0, 1.5, (n, 16)).astype(np.float32) for split, n in sizes.items()}
    labels = {split: rng.integers(0, 5, n) for split, n in sizes.items()}
    write_dataset(root / "data", RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    specs = {}
    for name in ("tiny_q", "tiny_wrap"):
        specs[name] = root / f"{name}.yaml"
        specs[name].write_text(SPEC.replace("name: tiny_q", f"name: {name}"))
    model = _tiny_model(specs["tiny_q"])
    bits = _no_overflow_bits(model)
    for name, target in (("tiny_q", bits), ("tiny_wrap", 13)):
        save_model(model, root / "constrain" / name / "model.h5")
        layers = [{"name": "dense_1", "target_bits": None}, {"name": "dense_2", "target_bits": target}]
        (root / "constrain" / name / "accumulators.json").write_text(json.dumps({"layers": layers}))
    upstream = {"data": root / "data", "constrain": root / "constrain"}
    models = ("tiny_q", "tiny_wrap")
    export.run(_inputs(root / "export", upstream, models, root, specs), export.Config())
    (root / "repo" / "hls4ml_configs").mkdir(parents=True)
    shutil.copy(
        convert.__file__.rsplit("/pipeline/", 1)[0] + "/hls4ml_configs/vitis_latency.yml",
        root / "repo" / "hls4ml_configs",
    )
    staging = root / "convert_staging"
    inputs = _inputs(staging, {**upstream, "export": root / "export"}, models, root / "repo", specs)
    with pytest.raises(PipelineError) as error:
        convert.run(inputs, convert.Config(testbench_jets=50))
    final = root / "convert"
    staging.rename(final)  # as the runner does after a successful stage
    return final, error.value, bits


def test_constrained_model_is_bit_exact_on_every_test_jet(convert_run):
    final, _, bits = convert_run
    record = json.loads((final / "tiny_q" / "bit_exact.json").read_text())
    assert (
        record["jets"] == N_TEST and record["mismatches"] == 0 and record["emulator_vs_csim_mismatches"] == 0
    )
    metrics = json.loads((final / "tiny_q" / "metrics.json").read_text())
    assert metrics["stage"] == "convert" and 0 <= metrics["physics"]["accuracy"] <= 1
    details = metrics["details"]
    assert details["accumulator_types"] == {"dense_1": None, "dense_2": f"fixed<{bits},{bits - 11}>"}
    assert details["accumulator_overflows"] == {"dense_1": 0, "dense_2": 0}
    assert bits < 16  # narrower than hls4ml's inferred fixed<16,5>: the P-bit type really is used
    defines = (final / "tiny_q" / "hls4ml_prj" / "firmware" / "defines.h").read_text()
    assert f"ap_fixed<{bits},{bits - 11}>" in defines


def test_wrapping_model_fails_naming_jet_and_layer(convert_run):
    final, error, _ = convert_run
    assert "tiny_wrap" in error.problem and "jet " in error.problem and "layer dense_2" in error.problem
    record = json.loads((final / "tiny_wrap" / "bit_exact.json").read_text())
    assert record["mismatches"] > 0 and record["emulator_vs_csim_mismatches"] == 0
    assert record["first_mismatch"]["layer"].startswith("dense_2")


def test_project_is_kept_whole_and_relocatable(convert_run):
    final, _, _ = convert_run
    project = final / "tiny_q" / "hls4ml_prj"
    for needed in ("build_prj.tcl", "firmware/myproject.cpp", "tb_data/tb_input_features.dat", "model.onnx"):
        assert (project / needed).is_file(), needed
    assert len((project / "tb_data" / "tb_input_features.dat").read_text().splitlines()) == 50
    assert not list(project.rglob("*.so"))
    config = yaml.safe_load((project / "hls4ml_config.yml").read_text())
    assert config["OutputDir"] == "." and config["InputData"] == "tb_data/tb_input_features.dat"
    for path in project.rglob("*"):
        if path.is_file():
            assert b"convert_staging" not in path.read_bytes(), path
