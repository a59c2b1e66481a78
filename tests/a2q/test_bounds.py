"""Closed-form accumulator bounds against brute force over every input of small formats."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.a2q.bounds import (
    a2q_l1_bound,
    a2q_plus_l1_bound,
    data_type_bound_bits,
    minimum_accumulator_bits,
    require_feasible,
    weight_level_bound_bits,
)
from pipeline.errors import PipelineError


def _input_values(bits: int, signed: bool) -> np.ndarray:
    return np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else np.arange(0, 2**bits)


def _exact_range(weights: np.ndarray, bits: int, signed: bool) -> tuple[int, int]:
    """Brute force: min and max of x . q over every input vector."""
    values = _input_values(bits, signed)
    grid = np.array(list(itertools.product(values, repeat=weights.size)))
    dots = grid @ weights
    return int(dots.min()), int(dots.max())


def _fits(low: int, high: int, accumulator_bits: int) -> bool:
    return -(2 ** (accumulator_bits - 1)) <= low and high <= 2 ** (accumulator_bits - 1) - 1


def test_bounds_match_the_papers_formulas():
    assert a2q_l1_bound(16, 6, False) == (2**15 - 1) / 2**6
    assert a2q_l1_bound(16, 6, True) == (2**15 - 1) / 2**5
    assert a2q_plus_l1_bound(16, 6) == (2**16 - 2) / 63


@pytest.mark.parametrize("signed", [True, False])
def test_data_type_bound_is_brevitas_closed_form_and_safe(signed):
    for input_bits, weight_bits, fan_in in [(3, 3, 2), (4, 2, 3), (6, 6, 16), (16, 6, 64)]:
        alpha = math.log2(fan_in) + input_bits + weight_bits - 1 - int(signed)
        brevitas = math.ceil(alpha + math.log2(1 + 2**-alpha) + 1)
        bits = data_type_bound_bits(input_bits, signed, weight_bits, fan_in)
        assert bits == brevitas
        if input_bits * fan_in <= 8:  # exhaustive: the most negative weights everywhere fit
            weights = np.full(fan_in, -(2 ** (weight_bits - 1)))
            assert _fits(*_exact_range(weights, input_bits, signed), bits)


@pytest.mark.parametrize("signed", [True, False])
def test_a2q_bound_guarantees_no_overflow(signed):
    rng = np.random.default_rng(1)
    input_bits, fan_in = 3, 3
    for accumulator_bits in range(4, 9):
        limit = a2q_l1_bound(accumulator_bits, input_bits, signed)
        for _ in range(30):
            weights = rng.integers(-8, 9, fan_in)
            if np.abs(weights).sum() <= limit:
                assert _fits(*_exact_range(weights, input_bits, signed), accumulator_bits)
                assert weight_level_bound_bits(weights[:, None], input_bits, signed) <= accumulator_bits


@pytest.mark.parametrize("signed", [True, False])
def test_a2q_plus_bound_guarantees_no_overflow_for_zero_sum_weights(signed):
    rng = np.random.default_rng(2)
    input_bits, fan_in = 3, 4
    checked = 0
    for accumulator_bits in range(4, 8):
        limit = a2q_plus_l1_bound(accumulator_bits, input_bits)
        for _ in range(40):
            weights = rng.integers(-4, 5, fan_in)
            weights[-1] = -weights[:-1].sum()
            if np.abs(weights).sum() <= limit:
                checked += 1
                assert _fits(*_exact_range(weights, input_bits, signed), accumulator_bits)
    assert checked > 20


def test_a2q_plus_is_looser_than_a2q():
    for accumulator_bits in (12, 16, 20):
        assert a2q_plus_l1_bound(accumulator_bits, 6) > a2q_l1_bound(accumulator_bits, 6, False)


def test_weight_level_bound_is_at_least_the_exact_width():
    rng = np.random.default_rng(3)
    for signed in (True, False):
        weights = rng.integers(-7, 8, (3, 4))
        level = weight_level_bound_bits(weights, 3, signed)
        needed = max(
            next(p for p in range(1, 40) if _fits(*_exact_range(weights[:, j], 3, signed), p))
            for j in range(4)
        )
        assert needed <= level <= needed + 1


def test_too_small_accumulator_is_a_clear_error():
    assert minimum_accumulator_bits("a2q", 6, False) == 8  # (2**7 - 1) / 2**6 >= 1
    require_feasible("a2q", 8, 6, False, where="dense_1")
    with pytest.raises(PipelineError, match="cannot hold even one weight") as error:
        require_feasible("a2q_plus", 6, 6, False, where="dense_1")
    assert "accumulator_bits >=" in error.value.message
