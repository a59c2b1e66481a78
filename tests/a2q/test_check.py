"""Exact worst-case accumulator check, wrap-around emulation and repair."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.a2q.check import (
    accumulator_extremes,
    adversarial_inputs,
    bias_in_accumulator_units,
    check_layer,
    repair_weights,
    wrap,
    wrapped_accumulator,
)
from pipeline.deploy.integer_network import DenseLayer, FixedFormat
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
    bias_acc = bias_in_accumulator_units(layer, fmt)
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


def test_wrap_matches_twos_complement():
    np.testing.assert_array_equal(wrap(np.array([127, 128, -129, 255, -256]), 8), [127, -128, 127, -1, 0])


def test_check_passes_and_fails_like_the_wrapped_emulation():
    rng = np.random.default_rng(1)
    fmt = FixedFormat(bits=6, integer_bits=0, signed=False)
    layer = _layer(rng.integers(-32, 32, (16, 8)), rng.integers(-32, 32, 8))
    check = check_layer(layer, fmt, 12)
    x = adversarial_inputs(layer.weight_raw, fmt)
    exact = x @ layer.weight_raw + bias_in_accumulator_units(layer, fmt)
    assert check.exact_bits > 12 and not check.fits
    overflowed = np.any(wrapped_accumulator(x, layer, fmt, 12) != exact, axis=0)
    np.testing.assert_array_equal(np.flatnonzero(overflowed), check.failing_channels)
    wide = check_layer(layer, fmt, check.exact_bits)
    assert wide.fits and not check_layer(layer, fmt, check.exact_bits - 1).fits
    np.testing.assert_array_equal(wrapped_accumulator(x, layer, fmt, check.exact_bits), exact)


def test_repair_fits_and_only_shrinks():
    rng = np.random.default_rng(2)
    fmt = FixedFormat(bits=6, integer_bits=3, signed=True)
    weights = rng.integers(-32, 32, (16, 8)) * (rng.uniform(size=(16, 8)) > 0.3)
    layer = _layer(weights, rng.integers(-32, 32, 8))
    bias_acc = bias_in_accumulator_units(layer, fmt)
    repaired = repair_weights(weights, bias_acc, fmt, 11, "dense_1")
    assert check_layer(_layer(repaired, layer.bias_raw), fmt, 11).fits
    assert not check_layer(layer, fmt, 11).fits
    assert np.all(np.abs(repaired) <= np.abs(weights)) and np.all(repaired[weights == 0] == 0)
    assert np.all(np.sign(repaired) * np.sign(weights) >= 0)


def test_bias_alone_too_wide_is_an_error():
    fmt = FixedFormat(bits=6, integer_bits=0, signed=False)
    with pytest.raises(PipelineError, match="bias alone"):
        repair_weights(np.ones((2, 1), np.int64), np.array([600]), fmt, 10, "dense_1")
