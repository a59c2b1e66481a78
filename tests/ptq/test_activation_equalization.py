"""Activation equalization: exact function, powers of two, the brute-force per-channel optimum, and a
lower activation quantization error than the per-tensor format alone."""

from __future__ import annotations

import itertools

import numpy as np

from pipeline.ptq.activation_equalization import channel_exponents, equalize_activations
from pipeline.ptq.fixed_point import mmse_integer_bits, quantize


def _mlp(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    sizes = (16, 24, 12, 5)
    # hidden channels whose activations differ in scale by up to 8x: one format cannot fit them all
    return [
        (rng.normal(0, 0.4, (a, b)) * rng.choice([0.125, 0.5, 1.0], b), rng.normal(0, 0.1, b))
        for a, b in itertools.pairwise(sizes)
    ]


def _forward(weights, x):
    for index, (kernel, bias) in enumerate(weights):
        x = x @ kernel + bias
        if index < len(weights) - 1:
            x = np.maximum(x, 0.0)
    return x


def test_channel_exponents_match_a_brute_force_search() -> None:
    rng = np.random.default_rng(3)
    activations = np.abs(rng.normal(0, 1, (4000, 6))) * np.array([0.05, 0.3, 1.0, 2.5, 7.0, 0.0])
    exponents = channel_exponents(activations, 4, 2, span=2)
    for channel in range(activations.shape[1]):
        column = activations[:, channel]
        errors = {
            e: np.mean((quantize(column * 2.0**e, 4, 2, signed=False) / 2.0**e - column) ** 2)
            for e in range(-2, 3)
        }
        best = min(errors.values())
        assert errors[int(exponents[channel])] == best
        assert abs(exponents[channel]) == min(abs(e) for e, error in errors.items() if error == best)
    assert exponents[0] == 2 and exponents[-1] == 0  # small channel scaled up, dead channel untouched


def test_equalized_network_is_the_same_function_with_lower_activation_error() -> None:
    weights = _mlp(4)
    calibration = np.random.default_rng(5).normal(0, 1, (3000, 16))
    equalized = equalize_activations(weights, calibration, activation_bits=4, span=1)
    np.testing.assert_allclose(
        _forward(equalized, calibration), _forward(weights, calibration), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_array_equal(equalized[-1][1], weights[-1][1])  # logits' bias untouched
    x_before, x_after = calibration, calibration
    for index in range(len(weights) - 1):
        factor = equalized[index][1] / weights[index][1]
        np.testing.assert_array_equal(np.log2(factor), np.round(np.log2(factor)))
        assert np.all(np.abs(np.log2(factor)) <= 1)
        before = np.maximum(x_before @ weights[index][0] + weights[index][1], 0.0)
        after = np.maximum(x_after @ equalized[index][0] + equalized[index][1], 0.0)
        format_before = mmse_integer_bits(before, 4, signed=False)
        format_after = mmse_integer_bits(after, 4, signed=False)
        error_before = np.mean((quantize(before, 4, format_before, signed=False) - before) ** 2)
        # the error in original units: divide the rescaled channels back
        error_after = np.mean((quantize(after, 4, format_after, signed=False) / factor - before) ** 2)
        assert error_after < error_before
        x_before, x_after = before, after
