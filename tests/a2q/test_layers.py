"""A2Q / A2Q+ training parametrisation: a constrained, stripped model provably never overflows its
P-bit accumulators (exact check + adversarial inputs through a wrap-around integer emulation); an
unconstrained model at the same P does."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.a2q.check import adversarial_inputs, bias_in_accumulator_units, check_layer, wrapped_accumulator
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.errors import PipelineError

ACCUMULATOR_BITS = 12


def _data(n=1500):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = (x[:, :4] @ rng.normal(size=(4, 4))).argmax(axis=1)
    return x, y


def _fit(model, epochs, learning_rate):
    import tensorflow as tf

    x, y = _data()
    model.compile(
        tf.keras.optimizers.Adam(learning_rate),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=epochs, batch_size=128, verbose=0, shuffle=False)


@pytest.fixture(scope="module")
def pruned_model():
    """A 10-16-4 QKeras model (random weights and biases) with half of every kernel pruned to exact zeros."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input(shape=(10,), name="input")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inputs)
    for name, units in (("dense_1", 16), ("dense_2", 4)):
        x = QDense(
            units,
            kernel_quantizer=quantized_bits(6, 0, alpha=1),
            bias_quantizer=quantized_bits(6, 0, alpha=1),
            name=name,
        )(x)
        if name == "dense_1":
            x = QActivation(quantized_relu(6, 0), name="relu_1")(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(1)
    for name in ("dense_1", "dense_2"):
        kernel, bias = model.get_layer(name).get_weights()
        pruned = rng.normal(0, 0.4, kernel.shape) * (rng.uniform(size=kernel.shape) > 0.5)
        model.get_layer(name).set_weights([pruned, rng.uniform(-0.3, 0.3, bias.shape)])
    return model


def _overflows(network, bits):
    """Per layer: does any adversarial input make the wrapped P-bit accumulator differ from the exact sum?"""
    result = []
    fmt = network.input_format
    for layer in network.layers:
        x = adversarial_inputs(layer.weight_raw, fmt)
        exact = x @ layer.weight_raw + bias_in_accumulator_units(layer, fmt)
        result.append(bool(np.any(wrapped_accumulator(x, layer, fmt, bits) != exact)))
        fmt = layer.output
    return result


def _checks(network, bits):
    fmt, checks = network.input_format, []
    for layer in network.layers:
        checks.append(check_layer(layer, fmt, bits))
        fmt = layer.output
    return checks


def test_unconstrained_model_fails_the_check_and_overflows(pruned_model):
    network = integer_network_from_qkeras(pruned_model)
    checks = _checks(network, ACCUMULATOR_BITS)
    assert [c.fits for c in checks] == [not o for o in _overflows(network, ACCUMULATOR_BITS)]
    assert not all(c.fits for c in checks)


@pytest.mark.parametrize("method", ["a2q", "a2q_plus"])
def test_constrained_model_never_overflows(pruned_model, method):
    from pipeline.a2q.layers import strip, to_accumulator_aware

    targets = {"dense_1": (ACCUMULATOR_BITS, method), "dense_2": (ACCUMULATOR_BITS, method)}
    constrained = to_accumulator_aware(pruned_model, targets)
    _fit(constrained, epochs=2, learning_rate=1e-3)
    stripped = strip(constrained)
    assert [type(layer).__name__ for layer in stripped.layers[2:]] == ["QDense", "QActivation", "QDense"]

    x, _ = _data(300)
    np.testing.assert_array_equal(stripped.predict(x, verbose=0), constrained.predict(x, verbose=0))
    network = integer_network_from_qkeras(stripped)
    assert all(check.fits for check in _checks(network, ACCUMULATOR_BITS))
    assert not any(_overflows(network, ACCUMULATOR_BITS))
    for layer in network.layers:
        original = pruned_model.get_layer(layer.name).get_weights()[0]
        assert np.all(layer.weight_raw[original == 0] == 0)  # pruned weights stay pruned
        assert np.any(layer.weight_raw != 0)
        kernel = stripped.get_layer(layer.name).kernel  # on the grid: the quantizer is the identity
        quantizer = stripped.get_layer(layer.name).kernel_quantizer_internal
        np.testing.assert_array_equal(quantizer(kernel).numpy(), kernel.numpy())


def test_accumulator_too_small_for_one_weight_is_a_clear_error(pruned_model):
    from pipeline.a2q.layers import to_accumulator_aware

    with pytest.raises(PipelineError, match="cannot hold even one weight"):
        to_accumulator_aware(pruned_model, {"dense_1": (7, "a2q")})


def test_unconstrained_layers_stay_frozen(pruned_model):
    from pipeline.a2q.layers import strip, to_accumulator_aware

    constrained = to_accumulator_aware(pruned_model, {"dense_2": (ACCUMULATOR_BITS, "a2q")})
    _fit(constrained, epochs=1, learning_rate=1e-2)
    stripped = strip(constrained)
    for weights, original in zip(
        stripped.get_layer("dense_1").get_weights(),
        pruned_model.get_layer("dense_1").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(weights, original)
    assert check_layer(integer_network_from_qkeras(stripped).layers[1], _relu_format(), ACCUMULATOR_BITS).fits


def _relu_format():
    from pipeline.deploy.integer_network import FixedFormat

    return FixedFormat(bits=6, integer_bits=0, signed=False)
