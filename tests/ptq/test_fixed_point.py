"""MMSE power-of-two formats: QKeras-exact rounding and the optimum of a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.ptq.fixed_point import max_integer_bits, mmse_integer_bits, quantize


def _qkeras(values: np.ndarray, bits: int, integer_bits: int, signed: bool) -> np.ndarray:
    from qkeras import quantized_bits, quantized_relu

    quantizer = quantized_bits(bits, integer_bits, alpha=1) if signed else quantized_relu(bits, integer_bits)
    return np.asarray(quantizer(values.astype(np.float32)), dtype=np.float64)


@pytest.mark.parametrize(
    ("bits", "integer_bits", "signed"), [(4, 0, True), (6, 2, True), (3, 1, False), (6, 3, False)]
)
def test_quantize_equals_qkeras_including_ties(bits: int, integer_bits: int, signed: bool) -> None:
    rng = np.random.default_rng(1)
    step = 2.0 ** (integer_bits - bits + (1 if signed else 0))
    ties = (np.arange(-40, 40) + 0.5) * step  # exactly half-way between grid points
    values = np.concatenate([rng.normal(0, 2.0**integer_bits, 2000), ties]).astype(np.float32)
    np.testing.assert_array_equal(
        quantize(values, bits, integer_bits, signed=signed), _qkeras(values, bits, integer_bits, signed)
    )


def test_mmse_clips_outliers_where_max_scaling_does_not() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0.0, 1.0, 50_000), [12.0, -11.0, 10.0, 12.0, -12.0]])
    bits = 5
    chosen = mmse_integer_bits(values, bits, signed=True)
    assert max_integer_bits(values, bits, signed=True) == 4  # [-16, 15] covers the outliers
    # brute force with QKeras' own quantizer over every format it accepts
    errors = {option: np.mean((_qkeras(values, bits, option, True) - values) ** 2) for option in range(bits)}
    assert chosen == min(errors, key=errors.get)
    assert chosen < 4
    assert errors[chosen] < errors[4] / 2


def test_mmse_relu_matches_brute_force_on_skewed_activations() -> None:
    rng = np.random.default_rng(3)
    values = np.maximum(rng.exponential(1.5, 4000) - 0.3, 0.0)
    for bits in (3, 5, 8):
        errors = {
            option: np.mean((_qkeras(values, bits, option, False) - values) ** 2)
            for option in range(bits + 1)
        }
        assert mmse_integer_bits(values, bits, signed=False) == min(errors, key=errors.get)
