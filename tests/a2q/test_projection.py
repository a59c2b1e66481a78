"""Duchi et al. L1-ball projection against an independent bisection solution."""

from __future__ import annotations

import numpy as np

from pipeline.a2q.projection import project_kernel, project_l1_ball, zero_center


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


def test_projection_matches_bisection_and_is_closest():
    rng = np.random.default_rng(0)
    for _ in range(20):
        vector = rng.normal(size=30)
        radius = float(rng.uniform(0.1, 0.9) * np.abs(vector).sum())
        projected = project_l1_ball(vector, radius)
        np.testing.assert_allclose(projected, _bisection_projection(vector, radius), atol=1e-9)
        assert np.isclose(np.abs(projected).sum(), radius)
        # no random point of the ball is closer to the vector
        others = rng.normal(size=(200, 30))
        others *= radius / np.abs(others).sum(axis=1, keepdims=True) * rng.uniform(0, 1, (200, 1))
        assert np.linalg.norm(vector - projected) <= np.linalg.norm(vector - others, axis=1).min()


def test_inside_ball_is_unchanged():
    vector = np.array([0.5, -0.25, 0.0])
    np.testing.assert_array_equal(project_l1_ball(vector, 1.0), vector)
    np.testing.assert_array_equal(project_l1_ball(vector, 0.0), np.zeros(3))


def test_kernel_projection_keeps_pruned_zeros_and_zero_centres():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(12, 4))
    mask = rng.uniform(size=(12, 4)) > 0.5
    centred = zero_center(kernel, mask)
    np.testing.assert_allclose(centred.sum(axis=0), 0, atol=1e-12)
    assert np.all(centred[~mask] == 0)
    radii = np.array([0.5, 1.0, 2.0, 100.0])
    projected = project_kernel(kernel, radii, mask, center=True)
    assert np.all(projected[~mask] == 0)
    assert np.all(np.abs(projected).sum(axis=0) <= radii + 1e-9)
    np.testing.assert_allclose(projected[:, 3], centred[:, 3])  # radius 100: inside the ball
