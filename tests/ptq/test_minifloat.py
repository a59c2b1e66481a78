"""Minifloat rounding and saturation against an exhaustive reference, every ExMy of <= 8 bits."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.ptq.minifloat import MinifloatFormat, magnitude_codes, mmse_scale_exponent, quantize_minifloat


def _all_formats() -> list[MinifloatFormat]:
    formats = []
    for total in range(3, 9):
        for exponent in range(1, total):
            for subnormals in (True, False):
                formats.append(MinifloatFormat(exponent, total - 1 - exponent, subnormals=subnormals))
    return formats


def _reference(values: np.ndarray, fmt: MinifloatFormat) -> np.ndarray:
    """Nearest representable value by brute force over every code; ties to the even mantissa, then
    to the smaller magnitude; magnitudes above the largest value saturate."""
    table = magnitude_codes(fmt)
    magnitudes = np.array([value for value, _ in table])
    even = np.array([mantissa % 2 == 0 for _, mantissa in table])
    out = []
    for value in values:
        distance = np.abs(magnitudes - abs(value))
        nearest = np.flatnonzero(distance == distance.min())
        if len(nearest) > 1:
            evens = [index for index in nearest if even[index]]
            nearest = [min(evens)] if len(evens) == 1 else [min(nearest)]
        out.append(np.copysign(magnitudes[nearest[0]], value) if value != 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize("fmt", _all_formats(), ids=lambda fmt: f"{fmt.name}")
def test_rounding_and_saturation_match_exhaustive_reference(fmt: MinifloatFormat) -> None:
    magnitudes = np.array([value for value, _ in magnitude_codes(fmt)])
    midpoints = (magnitudes[1:] + magnitudes[:-1]) / 2
    nudged = np.concatenate([midpoints * (1 + 1e-9), midpoints * (1 - 1e-9)])
    beyond = magnitudes[-1] * np.array([1.01, 1.5, 4.0, 1e6])
    probes = np.concatenate([magnitudes, midpoints, nudged, beyond])
    probes = np.concatenate([probes, -probes])
    np.testing.assert_array_equal(quantize_minifloat(probes, fmt), _reference(probes, fmt))
    assert np.max(np.abs(quantize_minifloat(probes, fmt))) == fmt.max_value


def test_distinct_values_per_format() -> None:
    # E4M3 with subnormals: 16 exponents x 8 mantissas, all distinct magnitudes (zero once)
    assert len(magnitude_codes(MinifloatFormat(4, 3))) == 128
    # without subnormals the 7 non-zero e == 0 codes flush to zero
    assert len(magnitude_codes(MinifloatFormat(4, 3, subnormals=False))) == 121


def test_scale_search_reaches_the_brute_force_optimum() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0, 0.05, 3000)
    fmt = MinifloatFormat(2, 3)
    errors = {k: np.mean((quantize_minifloat(values, fmt, k) - values) ** 2) for k in range(-30, 10)}
    assert mmse_scale_exponent(values, fmt) == min(errors, key=errors.get)
