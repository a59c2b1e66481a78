"""integer_network_from_qkeras: the integer view reproduces the QKeras model exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.errors import PipelineError


def _model(alpha=1, batch_norm=False):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inputs = tf.keras.Input(shape=(5,), name="input")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inputs)
    x = QDense(
        4,
        kernel_quantizer=quantized_bits(6, 0, alpha=alpha),
        bias_quantizer=quantized_bits(6, 1, alpha=1),
        name="dense_1",
    )(x)
    if batch_norm:
        x = tf.keras.layers.BatchNormalization(name="bn_1")(x)
    x = QActivation(quantized_relu(6, 2), name="relu_1")(x)
    x = QDense(
        3,
        kernel_quantizer=quantized_bits(5, 1, alpha=1),
        bias_quantizer=quantized_bits(8, 2, alpha=1),
        name="dense_2",
    )(x)
    x = QActivation(quantized_bits(7, 3, alpha=1), name="output_quant")(x)
    return tf.keras.Model(inputs, x)


def _set_hand_weights(model, rng):
    """Weights exactly on each quantizer's grid plus off-grid noise (QKeras rounds them)."""
    model.get_layer("dense_1").set_weights(
        [rng.integers(-32, 32, (5, 4)) / 32 + rng.uniform(-0.01, 0.01, (5, 4)), rng.integers(-32, 32, 4) / 16]
    )
    model.get_layer("dense_2").set_weights(
        [rng.integers(-16, 16, (4, 3)) / 8, rng.integers(-128, 128, 3) / 32]
    )


def _round_shift(values: np.ndarray, shift: int) -> np.ndarray:
    """values * 2**shift rounded half to even, in integers (shift may be negative)."""
    if shift >= 0:
        return values << shift
    divisor = 1 << -shift
    quotient, remainder = np.divmod(values, divisor)
    half = divisor // 2
    up = (remainder > half) | ((remainder == half) & (quotient % 2 == 1))
    return quotient + up


def _reference_forward(x: np.ndarray) -> np.ndarray:
    """Independent int64 computation of the model in _model(): formats written out by hand."""
    x_raw = np.clip(np.round(x * 2**4), -128, 127).astype(np.int64)  # quantized_bits(8,3): f=4
    return x_raw


def test_integer_network_matches_qkeras_exactly():
    rng = np.random.default_rng(0)
    model = _model()
    _set_hand_weights(model, rng)
    network = integer_network_from_qkeras(model, {"dense_1": 14})
    assert network.input_format.bits == 8 and network.input_format.integer_bits == 4
    first, second = network.layers
    assert first.weight_fractional_bits == 5 and first.bias_fractional_bits == 4
    assert first.accumulator is not None and first.accumulator.bits == 14
    assert first.accumulator.fractional_bits == 4 + 5 and second.accumulator is None
    assert first.activation == "relu" and first.output.signed is False and first.output.fractional_bits == 4
    assert second.output.fractional_bits == 3 and second.output.signed

    x = np.concatenate([rng.normal(0, 4, (400, 5)), rng.integers(-300, 300, (100, 5)) / 32]).astype(
        np.float32
    )
    expected = model.predict(x, verbose=0)

    # int64 reference: x (f=4) -> dense_1 (acc f=9) -> relu(6,2) (f=4) -> dense_2 (acc f=7) -> bits(7,3) (f=3)
    x_raw = _reference_forward(x)
    acc = x_raw @ first.weight_raw + (first.bias_raw << (9 - 4))
    hidden = np.clip(_round_shift(acc, 4 - 9), 0, 63)
    acc2 = hidden @ second.weight_raw + (second.bias_raw << (7 - 5))
    out = np.clip(_round_shift(acc2, 3 - 7), -64, 63)
    np.testing.assert_array_equal(out * 2.0**-3, expected)
    # raw weights are what QKeras' quantizers compute
    kernel = model.get_layer("dense_1").kernel_quantizer_internal(model.get_layer("dense_1").kernel).numpy()
    np.testing.assert_array_equal(first.weight_raw * 2.0**-5, kernel)


@pytest.mark.parametrize("problem", ["alpha", "batch_norm"])
def test_unsupported_models_raise(problem):
    model = _model(alpha="auto_po2") if problem == "alpha" else _model(batch_norm=True)
    with pytest.raises(PipelineError, match=r"alpha|BatchNormalization"):
        integer_network_from_qkeras(model)


def test_unknown_accumulator_layer_raises():
    with pytest.raises(PipelineError, match="unknown dense layers"):
        integer_network_from_qkeras(_model(), {"dense_9": 12})
