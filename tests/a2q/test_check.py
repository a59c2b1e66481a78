"""Exact worst-case accumulator check against brute force and the emulator's wrap-around pass."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.a2q.check import (
    accumulator_extremes,
    adversarial_inputs,
    check_layer,
    require_no_overflow,
)
from pipeline.deploy.emulator import aligned_bias, dense_accumulator, with_accumulator_bits
from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork
from pipeline.errors import PipelineError


def _layer(weights, bias, bias_fractional_bits=3):
    return DenseLayer(
        "dense_1",
        np.asarray(weights, np.int64),
        3,
        np.asarray(bias, np.int64),
        bias_fractional_bits,
        None,
        "relu",
        None,
    )


@pytest.mark.parametrize("signed", [True, False])
def test_extremes_equal_brute_force_over_all_inputs(signed):
    rng = np.random.default_rng(0)
    fmt = FixedFormat(bits=3, integer_bits=1, signed=signed)  # f_x = 2, f_acc = 5
    layer = _layer(rng.integers(-16, 16, (3, 4)), rng.integers(-8, 8, 4))
    bias_acc = aligned_bias(layer, fmt)
    np.testing.assert_array_equal(bias_acc, layer.bias_raw << 2)
    values = range(fmt.raw_min, fmt.raw_max + 1)
    grid = np.array(list(itertools.product(values, repeat=3)))
    exact = grid @ layer.weight_raw + bias_acc
    low, high = accumulator_extremes(layer.weight_raw, bias_acc, fmt)
    np.testing.assert_array_equal(low, exact.min(axis=0))
    np.testing.assert_array_equal(high, exact.max(axis=0))
    reached = adversarial_inputs(layer.weight_raw, fmt) @ layer.weight_raw + bias_acc
    np.testing.assert_array_equal(reached[0::2].diagonal(), high)
    np.testing.assert_array_equal(reached[1::2].diagonal(), low)


def _wrapped(x, layer, fmt, bits):
    """The emulator's layer accumulator with a ``bits``-bit wrap-around accumulator."""
    (wrapped,) = with_accumulator_bits(IntegerNetwork(fmt, (layer,)), bits).layers
    return dense_accumulator(x, wrapped, fmt)


def test_check_passes_and_fails_like_the_wrapped_emulation():
    rng = np.random.default_rng(1)
    fmt = FixedFormat(bits=6, integer_bits=0, signed=False)
    layer = _layer(rng.integers(-32, 32, (16, 8)), rng.integers(-32, 32, 8))
    check = check_layer(layer, fmt, 12)
    x = adversarial_inputs(layer.weight_raw, fmt)
    exact = x @ layer.weight_raw + aligned_bias(layer, fmt)
    np.testing.assert_array_equal(dense_accumulator(x, layer, fmt), exact)  # no accumulator: exact
    assert check.exact_bits > 12 and not check.fits
    overflowed = np.any(_wrapped(x, layer, fmt, 12) != exact, axis=0)
    np.testing.assert_array_equal(np.flatnonzero(overflowed), check.failing_channels)
    wide = check_layer(layer, fmt, check.exact_bits)
    assert wide.fits and not check_layer(layer, fmt, check.exact_bits - 1).fits
    np.testing.assert_array_equal(_wrapped(x, layer, fmt, check.exact_bits), exact)


def test_a_failing_check_names_the_layer_and_channel():
    fmt = FixedFormat(bits=6, integer_bits=0, signed=False)
    weights = np.zeros((4, 3), np.int64)
    weights[:, 1] = [31, 31, 0, 0]  # 2 * 31 * 63 = 3906 > 2**11 - 1
    layer = _layer(weights, np.zeros(3))
    check = check_layer(layer, fmt, 12)
    assert check.failing_channels == (1,)
    with pytest.raises(PipelineError, match=r"layer 'dense_1' can overflow.*channel 1: \[0, 3906\]"):
        require_no_overflow(check, layer, fmt, "model 'toy'")
    require_no_overflow(check_layer(layer, fmt, 13), layer, fmt, "model 'toy'")  # fits: no error
