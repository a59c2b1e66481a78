"""Learned rounding (AdaRound on the network output): every weight rounded down or up on its grid,
formats and biases kept, the output divergence below the GPTQ start, deterministic, reached through
calibrate(); the equalizations it starts from leave the float function unchanged."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.ptq.adaround import AdaRoundSettings, learned_rounding
from pipeline.ptq.fixed_point import quantize
from pipeline.ptq.mmse import PTQSettings, forward, post_training_quantize, prepared_weights
from pipeline.ptq.search import calibrate, float_logits, output_divergence

GPTQ = PTQSettings(16, 4, 8, 4, equalization=True, rounding="gptq")
ADAROUND = PTQSettings(16, 4, 8, 4, equalization=True, rounding="adaround")
SHORT = AdaRoundSettings(iterations=400, batch_size=250)


def _mlp(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    sizes = (16, 24, 12, 5)
    return [(rng.normal(0, 0.4, (a, b)), rng.normal(0, 0.1, b)) for a, b in itertools.pairwise(sizes)]


@pytest.fixture(scope="module")
def rounded():
    weights = _mlp(3)
    calibration = np.random.default_rng(4).normal(0, 1, (1000, 16))
    prepared = prepared_weights(weights, calibration, ADAROUND)
    start = post_training_quantize(weights, calibration, GPTQ)
    result = learned_rounding(prepared, start, calibration, ADAROUND, SHORT)
    return weights, calibration, prepared, start, result


def test_every_weight_is_rounded_down_or_up_on_its_grid(rounded) -> None:
    _, _, prepared, start, result = rounded
    assert result.settings.rounding == "adaround"
    assert result.input_integer_bits == start.input_integer_bits
    changed = 0
    for (kernel, _), before, after in zip(prepared, start.layers, result.layers, strict=True):
        assert after.weight_integer_bits == before.weight_integer_bits
        assert after.activation_integer_bits == before.activation_integer_bits
        np.testing.assert_array_equal(after.bias, before.bias)
        bits, integer_bits = 4, after.weight_integer_bits
        np.testing.assert_array_equal(quantize(after.weight, bits, integer_bits, signed=True), after.weight)
        step = 2.0 ** (integer_bits - bits + 1)
        low, high = -(2.0**integer_bits), 2.0**integer_bits - step
        down = np.clip(np.floor(kernel / step) * step, low, high)
        up = np.clip(np.ceil(kernel / step) * step, low, high)
        assert np.all((after.weight == down) | (after.weight == up))
        nearest = quantize(kernel, bits, integer_bits, signed=True)
        changed += int(np.sum(after.weight != nearest))
    assert changed > 0  # not round-to-nearest in disguise


def test_learned_rounding_lowers_the_output_divergence_below_gptq(rounded) -> None:
    weights, calibration, _, start, result = rounded
    reference = float_logits(weights, calibration)
    before = output_divergence(reference, forward(start, calibration))
    after = output_divergence(reference, forward(result, calibration))
    assert after < 0.8 * before


def test_learned_rounding_is_deterministic(rounded) -> None:
    _, calibration, prepared, start, result = rounded
    again = learned_rounding(prepared, start, calibration, ADAROUND, SHORT)
    for first, second in zip(result.layers, again.layers, strict=True):
        np.testing.assert_array_equal(first.weight, second.weight)


def test_calibrate_learns_the_rounding_from_the_gptq_start() -> None:
    weights = _mlp(5)
    calibration = np.random.default_rng(6).normal(0, 1, (600, 16))
    settings = PTQSettings(16, 4, 8, 4, equalization=True, rounding="adaround", format_search=True)
    result = calibrate(weights, calibration, settings)
    start = calibrate(weights, calibration, PTQSettings(**{**settings.__dict__, "rounding": "gptq"}))
    assert result.settings.rounding == "adaround"
    assert [layer.weight_integer_bits for layer in result.layers] == [
        layer.weight_integer_bits for layer in start.layers
    ]
    reference = float_logits(weights, calibration)
    assert output_divergence(reference, forward(result, calibration)) < output_divergence(
        reference, forward(start, calibration)
    )
    with pytest.raises(ValueError, match="adaround"):
        post_training_quantize(weights, calibration, settings)


def test_prepared_weights_keep_the_float_function_with_power_of_two_factors() -> None:
    weights = _mlp(7)
    weights[0][0][:, 3] *= 30.0  # a wide channel for the equalizations to move
    calibration = np.random.default_rng(8).normal(0, 1, (500, 16))
    settings = PTQSettings(16, 4, 4, 4, equalization=True, activation_equalization=True)
    prepared = prepared_weights(weights, calibration, settings)
    np.testing.assert_allclose(
        float_logits(prepared, calibration), float_logits(weights, calibration), rtol=0, atol=1e-9
    )
    factors = np.abs(prepared[0][0]).max(axis=0) / np.abs(weights[0][0]).max(axis=0)
    np.testing.assert_array_equal(factors, 2.0 ** np.round(np.log2(factors)))
    assert np.any(factors != 1.0)
