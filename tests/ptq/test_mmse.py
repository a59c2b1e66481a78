"""Integer PTQ: GPTQ rounding, power-of-two equalization, bias correction, on-grid results."""

from __future__ import annotations

import itertools

import numpy as np

from pipeline.ptq.fixed_point import quantize
from pipeline.ptq.mmse import PTQSettings, equalize_power_of_two, forward, gptq_round, post_training_quantize


def _mlp(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    sizes = (16, 24, 12, 5)
    # channels with very different ranges: what equalization is for
    return [
        (rng.normal(0, 0.3, (a, b)) * rng.choice([0.05, 1.0], b), rng.normal(0, 0.1, b))
        for a, b in itertools.pairwise(sizes)
    ]


def _float_forward(weights, x):
    for index, (kernel, bias) in enumerate(weights):
        x = x @ kernel + bias
        if index < len(weights) - 1:
            x = np.maximum(x, 0)
    return x


def test_gptq_rounding_is_on_grid_and_beats_nearest_on_the_calibration_outputs() -> None:
    rng = np.random.default_rng(2)
    inputs = rng.normal(0, 1, (3000, 16)) @ rng.normal(0, 1, (16, 16))  # correlated inputs
    kernel = rng.normal(0, 0.3, (16, 8))
    nearest = quantize(kernel, 4, 0, signed=True)
    gptq = gptq_round(kernel, inputs, 4, 0)
    np.testing.assert_array_equal(quantize(gptq, 4, 0, signed=True), gptq)
    error_nearest = np.mean((inputs @ (nearest - kernel)) ** 2)
    error_gptq = np.mean((inputs @ (gptq - kernel)) ** 2)
    assert error_gptq < 0.8 * error_nearest


def test_power_of_two_equalization_keeps_the_function_and_evens_the_ranges() -> None:
    weights = _mlp()
    x = np.random.default_rng(1).normal(0, 1, (500, 16))
    equalized = equalize_power_of_two(weights)
    np.testing.assert_allclose(
        _float_forward(equalized, x), _float_forward(weights, x), rtol=1e-12, atol=1e-12
    )
    for (kernel, _), (original, _) in zip(equalized[:-1], weights[:-1], strict=True):
        spread = np.ptp(np.log2(np.abs(kernel).max(axis=0)))
        assert spread < np.ptp(np.log2(np.abs(original).max(axis=0)))
        factors = np.log2(np.abs(kernel / original))
        np.testing.assert_array_equal(factors, np.round(factors))  # every weight moved by a power of two


def test_bias_correction_removes_the_mean_shift_on_calibration_jets() -> None:
    weights = _mlp(3)
    calibration = np.random.default_rng(4).normal(0, 1, (4000, 16))
    settings = PTQSettings(16, 3, 12, 8, method="mmse", bias_correction=False)
    plain = post_training_quantize(weights, calibration, settings)
    corrected = post_training_quantize(
        weights, calibration, PTQSettings(16, 3, 12, 8, method="mmse", bias_correction=True)
    )
    reference = _float_forward(weights, calibration)
    shift_plain = np.abs(np.mean(forward(plain, calibration) - reference, axis=0)).max()
    shift_corrected = np.abs(np.mean(forward(corrected, calibration) - reference, axis=0)).max()
    assert shift_corrected < shift_plain / 3


def test_values_are_on_the_chosen_grids() -> None:
    weights = _mlp(5)
    calibration = np.random.default_rng(6).normal(0, 1, (2000, 16))
    settings = PTQSettings(16, 5, 6, 4, equalization=True, rounding="gptq")
    result = post_training_quantize(weights, calibration, settings)
    for layer in result.layers:
        np.testing.assert_array_equal(
            quantize(layer.weight, 5, layer.weight_integer_bits, signed=True), layer.weight
        )
        np.testing.assert_array_equal(
            quantize(layer.bias, 6, layer.bias_integer_bits, signed=True), layer.bias
        )
    assert result.choices()["layers"][-1]["activation"] is None
