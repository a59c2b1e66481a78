"""The export stage on hand-made upstream directories: a quantized model, a float model (skipped) and
a bring-your-own model (JSON + weights, no input quantizer: added from the config)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs
from pipeline.stages import export

N_TEST = 700

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


def _dense_model(quantized: bool, input_quantizer: bool = True, seed: int = 0):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inputs = tf.keras.Input((16,), name="input")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inputs) if input_quantizer else inputs
    if quantized:
        q = {
            "kernel_quantizer": quantized_bits(6, 0, alpha=1),
            "bias_quantizer": quantized_bits(6, 0, alpha=1),
        }
        x = QDense(8, name="dense_1", **q)(x)
        x = QActivation(quantized_relu(6, 0), name="relu_1")(x)
        x = QDense(5, name="output", **q)(x)
    else:
        x = tf.keras.layers.Dense(8, activation="relu", name="dense_1")(inputs)
        x = tf.keras.layers.Dense(5, name="output")(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.3, bias.shape)])
    return model


def make_upstream(root: Path) -> dict[str, Path]:
    """data/ (random jets) and constrain/ with tiny_q (quantized) and tiny_float (float)."""
    from pipeline.models.io import save_model

    rng = np.random.default_rng(3)
    sizes = {"train": 300, "val": 100, "test": N_TEST}
    features = {split: rng.normal(0, 1, (n, 16)).astype(np.float32) for split, n in sizes.items()}
    labels = {split: rng.integers(0, 5, n) for split, n in sizes.items()}
    write_dataset(root / "data", RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    from pipeline.models.build import build_model
    from pipeline.models.spec import load_spec

    (root / "tiny_q.yaml").write_text(SPEC)
    tiny = build_model(load_spec(root / "tiny_q.yaml"), seed=0)
    tiny.set_weights([w * 4 for w in tiny.get_weights()])  # wide weights: saturating activations
    save_model(tiny, root / "constrain" / "tiny_q" / "model.h5")
    save_model(_dense_model(False), root / "constrain" / "tiny_float" / "model.h5")
    return {"data": root / "data", "constrain": root / "constrain"}


def _inputs(root: Path, upstream, models=("tiny_q", "tiny_float")) -> StageInputs:
    out = root / "export_staging"
    out.mkdir()
    return StageInputs(
        output_dir=out,
        upstream=upstream,
        models=models,
        model_specs={"tiny_q": root / "tiny_q.yaml"},
        repo_root=root,
        seed=1,
        quiet=True,
    )


@pytest.fixture(scope="module")
def export_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    upstream = make_upstream(root)
    byo = _dense_model(True, input_quantizer=False, seed=5)
    (root / "user").mkdir()
    (root / "user" / "arch.json").write_text(byo.to_json())
    byo.save_weights(root / "user" / "weights.h5")
    config = export.Config(
        batch_size=256,
        external_models={
            "user_tagger": {
                "path": "user/arch.json",
                "weights": "user/weights.h5",
                "input_quantizer": {"bits": 8, "integer_bits": 3},
                "accumulator_bits": {"output": 18},
            }
        },
    )
    inputs = _inputs(root, upstream)
    outputs = export.run(inputs, config)
    return root, inputs.output_dir, outputs


def test_quantized_model_exports_bit_exact(export_run):
    _, out, outputs = export_run
    check = json.loads((out / "tiny_q" / "check.json").read_text())
    assert check == {
        "executor": "qonnx.core.onnx_exec.execute_onnx",
        "first_mismatch": None,
        "jets": N_TEST,
        "mismatches": 0,
        "output_fractional_bits": 11,
        "reference": "QKeras",
        "qonnx_reading": {"equal_networks": True, "jets": N_TEST, "logit_mismatches": 0},
        "input_feature_formats": None,  # no per-feature input precision in this spec
    }
    metrics = json.loads((out / "tiny_q" / "metrics.json").read_text())
    assert metrics["stage"] == "export" and metrics["details"]["qonnx_mismatches"] == 0
    assert 100 < metrics["cost"]["qonnx_inference_cost"]["total_macs"] <= 16 * 8 + 8 * 5
    assert (out / "tiny_q" / "model.onnx").stat().st_size > 0
    assert outputs.summary["tiny_q"] == {"qonnx_mismatches": 0}


def test_float_model_is_skipped_with_a_reason(export_run):
    _, out, _ = export_run
    assert "float model" in json.loads((out / "tiny_float" / "metrics.json").read_text())["skipped"]
    assert not (out / "tiny_float" / "model.onnx").exists()


def test_bring_your_own_model_gets_its_input_quantizer(export_run):
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.io import load_model

    _, out, _ = export_run
    assert json.loads((out / "user_tagger" / "check.json").read_text())["mismatches"] == 0
    network = integer_network_from_qkeras(load_model(out / "user_tagger" / "model.h5"))
    assert (network.input_format.bits, network.input_format.integer_bits) == (8, 4)
    assert json.loads((out / "user_tagger" / "accumulators.json").read_text()) == {"layers": {"output": 18}}


def test_external_model_without_input_quantizer_is_a_pipeline_error(tmp_path):
    upstream = make_upstream(tmp_path)
    model = _dense_model(True, input_quantizer=False)
    model.save(tmp_path / "user.h5")
    config = export.Config(external_models={"user": {"path": "user.h5"}})
    with pytest.raises(PipelineError, match="input quantizer"):
        export.run(_inputs(tmp_path, upstream, models=()), config)


def test_published_softmax_tagger_exports_with_its_logits(tmp_path):
    """Issue 15.7: the hls4ml tutorial's 6-bit 16-64-32-32-5 QKeras tagger (Sequential, no input
    quantizer, ending in Activation('softmax')) exports through export.external_models; the softmax is
    removed and recorded, and the QONNX reading equals the QKeras one."""
    from tests.deploy.test_byo import _published_style_tagger

    upstream = make_upstream(tmp_path)
    _published_style_tagger(sizes=(16, 64, 32, 32, 5)).save(tmp_path / "published.h5")
    config = export.Config(
        external_models={
            "published": {"path": "published.h5", "input_quantizer": {"bits": 16, "integer_bits": 5}}
        }
    )
    inputs = _inputs(tmp_path, upstream, models=())
    export.run(inputs, config)
    out = inputs.output_dir / "published"
    source = json.loads((out / "source.json").read_text())
    assert source["softmax_removed"] is True and source["format"] == "qkeras"
    check = json.loads((out / "check.json").read_text())
    assert check["mismatches"] == 0 and check["qonnx_reading"]["logit_mismatches"] == 0
    network = json.loads((out / "network.json").read_text())
    assert [len(layer["bias_raw"]) for layer in network["layers"]] == [64, 32, 32, 5]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["physics"]["n_samples"] == N_TEST and metrics["cost"]["bops"] > 0
