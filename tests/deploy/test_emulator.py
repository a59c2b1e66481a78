"""The integer emulator: exact QKeras arithmetic when wide, two's complement wrapping when narrow.

Equality with the hls4ml C simulation is tested in test_hls.py (one compile per session)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate, round_half_even_shift, wrap
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.integer_network import FixedFormat
from tests.deploy.tiny_model import build_tiny_model, random_features


@pytest.fixture(scope="module")
def tiny():
    model = build_tiny_model()
    features = random_features(3000)
    return model, features, model.predict(features, verbose=0)


def test_round_half_even_shift_matches_numpy_round():
    raw = np.arange(-64, 65, dtype=np.int64)
    for shift in (1, 2, 3):
        assert np.array_equal(round_half_even_shift(raw, shift), np.round(raw / 2.0**shift).astype(np.int64))
    assert np.array_equal(round_half_even_shift(raw, -2), raw * 4)


def test_wrap_is_twos_complement():
    fmt = FixedFormat(bits=4, integer_bits=4, signed=True)
    assert wrap(np.array([7, 8, -8, -9, 23]), fmt).tolist() == [7, -8, -8, 7, 7]


def test_wide_emulator_equals_qkeras_on_every_jet(tiny):
    model, features, expected = tiny
    result = emulate(integer_network_from_qkeras(model), features)
    assert result.output_fractional_bits == 6 + 5  # relu output f=6, output weights f=5
    assert np.array_equal(result.logits, expected.astype(np.float64))
    assert result.accumulator_overflows == {"dense_1": 0, "output": 0}
    assert result.saturations["dense_1"] > 0  # the relu saturates for some jets


def test_narrow_accumulator_wraps_and_is_counted(tiny):
    model, features, expected = tiny
    narrow = emulate(integer_network_from_qkeras(model, {"output": 13}), features)
    ideal = emulate(
        integer_network_from_qkeras(model, {"output": 13}), features, ideal=True, keep_layers=True
    )
    wrong_jets = np.any(narrow.logits != expected, axis=1)
    assert narrow.accumulator_overflows["output"] > 0
    assert wrong_jets.sum() > 0
    # every differing logit is off by a multiple of 2**13 raw units (wrap-around, not rounding)
    difference = narrow.logits_raw - ideal.logits_raw
    assert np.all(difference % (1 << 13) == 0)
    assert np.array_equal(ideal.logits, expected.astype(np.float64))
    assert [trace.name for trace in ideal.layers] == ["dense_1", "output"]


def test_accumulator_bits_option_wraps_like_the_network_built_with_them(tiny):
    from pipeline.deploy.emulator import with_accumulator_bits

    model, features, _ = tiny
    plain = integer_network_from_qkeras(model)
    built = emulate(integer_network_from_qkeras(model, {"output": 13}), features)
    option = emulate(plain, features, accumulator_bits={"output": 13})
    assert np.array_equal(option.logits_raw, built.logits_raw)
    assert option.accumulator_overflows == built.accumulator_overflows
    every_layer = with_accumulator_bits(plain, 13)
    assert [layer.accumulator.bits for layer in every_layer.layers] == [13, 13]
    assert with_accumulator_bits(every_layer, {"output": None}).layers[1].accumulator is None
    with pytest.raises(ValueError, match="unknown dense layers"):
        with_accumulator_bits(plain, {"dense_9": 12})


def test_layer_accumulator_equals_hls4ml_input_by_input_wrapping(tiny):
    """hls4ml's dense_latency: acc = (accum_t) bias, then acc += x_i * w_ij with AP_WRAP after each
    addition; the emulator wraps only the final sum (addition modulo 2**P): the same integers."""
    from pipeline.deploy.emulator import aligned_bias, dense_accumulator, with_accumulator_bits

    model, _, _ = tiny
    network = with_accumulator_bits(integer_network_from_qkeras(model), 12)
    layer, fmt = network.layers[0], network.input_format
    rng = np.random.default_rng(4)
    x = rng.integers(fmt.raw_min, fmt.raw_max + 1, (500, layer.weight_raw.shape[0]))
    acc = wrap(np.broadcast_to(aligned_bias(layer, fmt), (500, layer.bias_raw.size)), layer.accumulator)
    for i in range(x.shape[1]):
        acc = wrap(acc + x[:, i : i + 1] * layer.weight_raw[i][None, :], layer.accumulator)
    emulated = dense_accumulator(x, layer, fmt)
    assert np.array_equal(emulated, acc)
    assert not np.array_equal(emulated, x @ layer.weight_raw + aligned_bias(layer, fmt))  # it did wrap
