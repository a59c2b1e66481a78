"""A2Q / A2Q+ training parametrisation: a constrained, stripped model provably never overflows its
P-bit accumulators (exact check + adversarial inputs through a wrap-around integer emulation); an
unconstrained model at the same P does."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.a2q.check import adversarial_inputs, check_layer
from pipeline.deploy.emulator import aligned_bias, dense_accumulator, with_accumulator_bits
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
    for layer, wrapped in zip(network.layers, with_accumulator_bits(network, bits).layers, strict=True):
        x = adversarial_inputs(layer.weight_raw, fmt)
        exact = x @ layer.weight_raw + aligned_bias(layer, fmt)
        result.append(bool(np.any(dense_accumulator(x, wrapped, fmt) != exact)))
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

    targets = {
        "dense_1": (ACCUMULATOR_BITS, "a2q"),
        "dense_2": (ACCUMULATOR_BITS, method),
    }  # signed input: a2q
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


def _single_layer_model(kernel, input_quantizer):
    """Input quantizer -> one QDense (6-bit weights, f_w = 5) with the given kernel and zero bias."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    inputs = tf.keras.Input(shape=(kernel.shape[0],), name="input")
    x = QActivation(input_quantizer, name="input_quant")(inputs)
    x = QDense(
        kernel.shape[1],
        kernel_quantizer=quantized_bits(6, 0, alpha=1),
        bias_quantizer=quantized_bits(6, 0, alpha=1),
        name="dense_1",
    )(x)
    model = tf.keras.Model(inputs, x)
    model.get_layer("dense_1").set_weights([kernel.astype(np.float32), np.zeros(kernel.shape[1], np.float32)])
    return model


def _relu_input():
    from qkeras import quantized_bits

    return quantized_bits(6, 0, keep_negative=False, alpha=1)  # unsigned 6-bit, like a ReLU output


def test_a2q_plus_keeps_a_channel_with_one_surviving_weight():
    """A column [0.5, 0, 0] must not come out [0, 0, 0] (zero-centring over the pruning mask)."""
    from pipeline.a2q.layers import constraint_summary, to_accumulator_aware

    kernel = np.array([[0.5, 0.25, 0.125], [0.0, -0.5, 0.375], [0.0, 0.0, -0.25]])
    model = _single_layer_model(kernel, _relu_input())
    constrained = to_accumulator_aware(model, {"dense_1": (12, "a2q_plus")})
    weight_raw, _ = constrained.get_layer("dense_1").integer_weights()
    assert weight_raw[:, 0].tolist() == [16, 0, 0]  # 0.5 * 2**5, alive (the bound does not bind)
    assert np.all(weight_raw[kernel == 0] == 0)
    assert constraint_summary(constrained)["dense_1"]["a2q_channels"] >= 1


def test_initialisation_keeps_the_trained_integer_weights_where_no_bound_binds(pruned_model):
    """At a wide P neither method may change a trained weight: no centring, no ulp lost in rounding."""
    from pipeline.a2q.layers import to_accumulator_aware

    for method in ("a2q", "a2q_plus"):
        targets = {"dense_2": (24, method)}
        if method == "a2q":
            targets["dense_1"] = (32, method)
        constrained = to_accumulator_aware(pruned_model, targets)
        original = integer_network_from_qkeras(pruned_model)
        for layer in original.layers:
            if layer.name in targets:
                weight_raw, bias_raw = constrained.get_layer(layer.name).integer_weights()
                np.testing.assert_array_equal(weight_raw, layer.weight_raw, err_msg=f"{method} {layer.name}")
                np.testing.assert_array_equal(bias_raw, layer.bias_raw)


def test_a2q_plus_on_a_signed_input_is_a_clear_error(pruned_model):
    from pipeline.a2q.layers import to_accumulator_aware

    with pytest.raises(PipelineError, match="a2q_plus needs an unsigned input") as error:
        to_accumulator_aware(pruned_model, {"dense_1": (16, "a2q_plus")})  # dense_1 sees a signed input
    assert "(2^P-2)/(2^N-1)" in error.value.problem and "accumulator_method: a2q" in error.value.fix


def test_tight_bound_needs_no_repair_and_channels_choose_their_constraint(pruned_model):
    """At a P where the bound binds every channel, the stripped integer weights already pass the exact
    check (nothing repairs them); dense channels take A2Q+, whose L1 budget is ~2x A2Q's."""
    from pipeline.a2q.layers import constraint_summary, strip, to_accumulator_aware

    constrained = to_accumulator_aware(pruned_model, {"dense_2": (11, "a2q_plus")})
    summary = constraint_summary(constrained)["dense_2"]
    assert summary["zero_centred_channels"] > 0
    _fit(constrained, epochs=1, learning_rate=1e-3)
    layer = constrained.get_layer("dense_2")
    a2q_limits = layer.a2q_limits(layer.quantized_bias()).numpy()
    network = integer_network_from_qkeras(strip(constrained))
    assert check_layer(network.layers[1], network.layers[0].output, 11).fits
    l1 = np.abs(network.layers[1].weight_raw).sum(axis=0)
    assert np.any(l1 > a2q_limits)  # more than A2Q would allow on some channel
