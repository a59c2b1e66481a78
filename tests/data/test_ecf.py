"""ECFs and ratios against values computed by hand for 2- and 3-particle jets."""

import math

import numpy as np
import pytest

from pipeline.data.ecf import ecf_ratios, energy_correlators, pairwise_delta_r


def test_two_particles_by_hand():
    # z = (1/4, 3/4), R_12 = 0.5: e2^(b) = 3/16 * 0.5^b, no triplets.
    ecfs = energy_correlators(np.array([1.0, 3.0]), np.array([0.0, 0.0]), np.array([0.0, 0.5]))
    assert ecfs["e2_b0"] == pytest.approx(0.1875)
    assert ecfs["e2_b1"] == pytest.approx(0.09375)
    assert ecfs["e2_b2"] == pytest.approx(0.046875)
    for key in ("e3_b1", "e3_b2", "1e3_b1", "1e3_b2", "2e3_b1", "2e3_b2"):
        assert ecfs[key] == 0.0
    ratios = ecf_ratios(ecfs)
    assert ratios["c1_b0"] == pytest.approx(0.1875)
    assert ratios["c2_b1"] == 0.0 and ratios["d2_b2"] == 0.0 and ratios["n2_b1"] == 0.0


def test_three_particles_by_hand():
    # z = (1/2, 1/4, 1/4); positions (y, phi) = (0,0), (0.3,0), (0,0.4): R = 0.3, 0.4, 0.5.
    ecfs = energy_correlators(np.array([2.0, 1.0, 1.0]), np.array([0.0, 0.3, 0.0]), np.array([0.0, 0.0, 0.4]))
    expected = {
        "e2_b0": 0.125 + 0.125 + 0.0625,
        "e2_b1": 0.125 * 0.3 + 0.125 * 0.4 + 0.0625 * 0.5,
        "e2_b2": 0.125 * 0.09 + 0.125 * 0.16 + 0.0625 * 0.25,
        "e3_b1": 0.03125 * 0.3 * 0.4 * 0.5,
        "e3_b2": 0.03125 * (0.3 * 0.4 * 0.5) ** 2,
        "1e3_b1": 0.03125 * 0.3,
        "1e3_b2": 0.03125 * 0.3**2,
        "2e3_b1": 0.03125 * 0.3 * 0.4,
        "2e3_b2": 0.03125 * (0.3 * 0.4) ** 2,
    }
    for key, value in expected.items():
        assert ecfs[key] == pytest.approx(value, rel=1e-12), key
    ratios = ecf_ratios(ecfs)
    e2_b1, e2_b2 = expected["e2_b1"], expected["e2_b2"]
    assert ratios["c2_b1"] == pytest.approx(expected["e3_b1"] / e2_b1**2)
    assert ratios["c2_b2"] == pytest.approx(expected["e3_b2"] / e2_b2**2)
    assert ratios["d2_b1"] == pytest.approx(expected["e3_b1"] / e2_b1**3)
    assert ratios["d2_b2"] == pytest.approx(expected["e3_b2"] / e2_b2**3)
    assert ratios["d2_a1_b2"] == pytest.approx(expected["e3_b1"] / e2_b2**1.5)
    assert ratios["m2_b2"] == pytest.approx(expected["1e3_b2"] / e2_b2)
    assert ratios["n2_b1"] == pytest.approx(expected["2e3_b1"] / e2_b1**2)


def test_vectorised_triplets_match_brute_force_loop():
    rng = np.random.default_rng(7)
    pt, rapidity, phi = rng.exponential(10, 23), rng.normal(0, 0.3, 23), rng.normal(0, 0.3, 23)
    ecfs = energy_correlators(pt, rapidity, phi)
    z = pt / pt.sum()
    angle = pairwise_delta_r(rapidity, phi)
    e3, n2_numerator = 0.0, 0.0
    for i in range(23):
        for j in range(i + 1, 23):
            for k in range(j + 1, 23):
                triple = sorted((angle[i, j], angle[i, k], angle[j, k]))
                e3 += z[i] * z[j] * z[k] * (triple[0] * triple[1] * triple[2]) ** 2
                n2_numerator += z[i] * z[j] * z[k] * triple[0] * triple[1]
    assert ecfs["e3_b2"] == pytest.approx(e3, rel=1e-10)
    assert ecfs["2e3_b1"] == pytest.approx(n2_numerator, rel=1e-10)


def test_azimuth_wraps_around():
    angles = pairwise_delta_r(np.array([0.0, 0.0]), np.array([3.1, -3.1]))
    assert angles[0, 1] == pytest.approx(2 * math.pi - 6.2)
