"""Euclidean projections of the A2Q / A2Q+ initialisation against independent references: bisection
for the L1 ball, scipy's convex solver (SLSQP) for the zero-sum L1 ball."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from pipeline.a2q.projection import (
    choose_zero_centred,
    project_kernel,
    project_l1_ball,
    project_zero_sum_l1_ball,
)


def _bisection_projection(vector: np.ndarray, radius: float) -> np.ndarray:
    """Soft thresholding with the threshold found by bisection on ||w(theta)||_1 = radius."""
    low, high = 0.0, float(np.abs(vector).max())
    for _ in range(200):
        theta = (low + high) / 2
        if np.maximum(np.abs(vector) - theta, 0).sum() > radius:
            low = theta
        else:
            high = theta
    return np.sign(vector) * np.maximum(np.abs(vector) - high, 0)


def _solver_projection(vector: np.ndarray, radius: float) -> np.ndarray:
    """min ||w - v||^2 s.t. sum(w) = 0, ||w||_1 <= radius, as a smooth QP in w = p - n (p, n >= 0):
    sum(p - n) = 0, sum(p + n) <= radius (scipy SLSQP)."""
    size = vector.size

    def objective(z):
        return float(np.sum((z[:size] - z[size:] - vector) ** 2))

    def gradient(z):
        residual = 2 * (z[:size] - z[size:] - vector)
        return np.concatenate([residual, -residual])

    constraints = [
        {
            "type": "eq",
            "fun": lambda z: np.sum(z[:size] - z[size:]),
            "jac": lambda z: np.r_[np.ones(size), -np.ones(size)],
        },
        {"type": "ineq", "fun": lambda z: radius - np.sum(z), "jac": lambda z: -np.ones(2 * size)},
    ]
    start = np.zeros(2 * size)
    result = minimize(
        objective,
        start,
        jac=gradient,
        bounds=[(0, None)] * (2 * size),
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 2000},
    )
    assert result.success, result.message
    return result.x[:size] - result.x[size:]


def test_l1_projection_matches_bisection_and_is_closest():
    rng = np.random.default_rng(0)
    for _ in range(20):
        vector = rng.normal(size=30)
        radius = float(rng.uniform(0.1, 0.9) * np.abs(vector).sum())
        projected = project_l1_ball(vector, radius)
        np.testing.assert_allclose(projected, _bisection_projection(vector, radius), atol=1e-9)
        assert np.isclose(np.abs(projected).sum(), radius)


def test_inside_ball_is_unchanged():
    vector = np.array([0.5, -0.25, 0.0])
    np.testing.assert_array_equal(project_l1_ball(vector, 1.0), vector)
    np.testing.assert_array_equal(project_l1_ball(vector, 0.0), np.zeros(3))


@pytest.mark.parametrize("size", [2, 3, 7, 16, 40])
def test_zero_sum_projection_matches_a_convex_solver(size):
    rng = np.random.default_rng(size)
    for trial in range(12):
        vector = rng.normal(rng.normal(), 1.0, size)  # a non-zero mean: centring matters
        centred_norm = np.abs(vector - vector.mean()).sum()
        radius = float(rng.uniform(0.05, 1.3) * centred_norm)
        projected = project_zero_sum_l1_ball(vector, radius)
        reference = _solver_projection(vector, radius)
        assert abs(projected.sum()) < 1e-9 and np.abs(projected).sum() <= radius + 1e-9
        np.testing.assert_allclose(projected, reference, atol=2e-5, err_msg=f"trial {trial}")
        # the exact solution is never farther than the solver's
        assert np.linalg.norm(projected - vector) <= np.linalg.norm(reference - vector) + 1e-9


def test_zero_sum_projection_is_not_soft_thresholding_of_the_centred_vector():
    vector = np.array([3.0, 1.0, 0.0, -0.5])
    projected = project_zero_sum_l1_ball(vector, 2.0)
    np.testing.assert_allclose(projected, [1.0, 0.0, -0.25, -0.75])  # by hand: a = 2, b = 0.25
    soft = project_l1_ball(vector - vector.mean(), 2.0)
    assert abs(soft.sum()) > 0.1  # what the previous initialisation did: the sum is not zero


def test_kernel_projection_keeps_pruned_zeros_and_one_weight_channels_alive():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(12, 5))
    mask = rng.uniform(size=(12, 5)) > 0.5
    mask[:, 4] = False
    mask[2, 4] = True  # channel 4 has one surviving weight
    radii = np.array([0.5, 1.0, 2.0, 100.0, 0.3])
    a2q_radii = radii / 2
    zero_sum = choose_zero_centred(kernel * mask, mask, a2q_radii, radii)
    assert not zero_sum[4]  # cannot be zero-centred without dying
    projected = project_kernel(kernel * mask, np.where(zero_sum, radii, a2q_radii), mask, zero_sum)
    assert np.all(projected[~mask] == 0)
    assert projected[2, 4] == pytest.approx(np.sign(kernel[2, 4]) * min(abs(kernel[2, 4]), 0.15))
    np.testing.assert_allclose(projected[:, zero_sum].sum(axis=0), 0, atol=1e-12)
    assert np.all(np.abs(projected).sum(axis=0) <= np.maximum(radii, a2q_radii) + 1e-9)


def test_channel_choice_prefers_the_nearer_set():
    mask = np.ones((4, 2), dtype=bool)
    kernel = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, 1.0]])
    # column 0 is already zero-sum; column 1 has mean 1 (centring destroys it entirely)
    chosen = choose_zero_centred(kernel, mask, np.array([2.0, 2.0]), np.array([4.0, 4.0]))
    assert chosen.tolist() == [True, False]
    # where no bound binds the A2Q ball holds the weights: never centred
    assert not choose_zero_centred(kernel, mask, np.array([10.0, 10.0]), np.array([20.0, 20.0])).any()
