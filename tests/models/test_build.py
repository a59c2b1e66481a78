"""Spec -> QKeras model: names, quantizers (alpha=1), logits out, seeded initialisation."""

from pathlib import Path

import numpy as np

from pipeline.models.build import build_model
from pipeline.models.spec import load_spec

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_quantized_model_layers_and_quantizers():
    spec = load_spec(MODELS / "jet_dnn_q6.yaml")
    model = build_model(spec, seed=1)
    names = [layer.name for layer in model.layers]
    assert names == [
        "input",
        "input_quant",
        "dense_1",
        "relu_1",
        "dense_2",
        "relu_2",
        "dense_3",
        "relu_3",
        "dense_4",
    ]
    dense = model.get_layer("dense_1")
    assert type(dense).__name__ == "QDense"
    kernel_quantizer = dense.kernel_quantizer_internal
    assert (kernel_quantizer.bits, kernel_quantizer.integer, kernel_quantizer.alpha) == (6, 0, 1)
    relu = model.get_layer("relu_1").quantizer
    assert type(relu).__name__ == "quantized_relu" and (relu.bits, relu.integer) == (6, 0)
    assert model.get_layer("input_quant").quantizer.bits == 16
    quantized = kernel_quantizer(dense.kernel).numpy()
    assert np.allclose(quantized * 32, np.round(quantized * 32))  # on the 2**-5 grid
    assert model.count_params() == 16 * 64 + 64 + 64 * 32 + 32 + 32 * 32 + 32 + 32 * 5 + 5


def test_logits_out_and_seeded():
    spec = load_spec(MODELS / "jet_dnn_float.yaml")
    x = np.random.default_rng(0).normal(size=(32, 16)).astype(np.float32)
    first = build_model(spec, seed=7)(x).numpy()
    again = build_model(spec, seed=7)(x).numpy()
    other = build_model(spec, seed=8)(x).numpy()
    assert first.shape == (32, 5)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert not np.allclose(first.sum(axis=1), 1.0)  # no softmax in the model
    assert type(build_model(spec, seed=7).get_layer("dense_1")).__name__ == "Dense"
