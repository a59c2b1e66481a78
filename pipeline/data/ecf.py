"""Energy correlation functions (ECFs) and their ratios, vectorised with numpy.

Conventions (``pt_R`` measure of fjcontrib's EnergyCorrelator): the energy of particle ``i`` is its
transverse momentum, normalised to the jet, ``z_i = pT_i / sum_j pT_j``; the angle between two
particles is ``R_ij = sqrt(dy^2 + dphi^2)`` (rapidity, azimuth).

* Normalised ECFs (Larkoski, Salam, Thaler, JHEP 06 (2013) 108, arXiv:1305.0007):
  ``e2^(b) = sum_{i<j} z_i z_j R_ij^b`` and ``e3^(b) = sum_{i<j<k} z_i z_j z_k (R_ij R_ik R_jk)^b``.
* Generalised ECFs (Moult, Necib, Thaler, JHEP 12 (2016) 153, arXiv:1609.07483):
  ``v e_n^(b) = sum_{i1<..<in} z_i1 .. z_in  prod_{m=1..v} min^(m){R_st^b}``, the product of the ``v``
  smallest pairwise angles of the n-tuple. So ``1e2^(b) = e2^(b)``, ``3e3^(b) = e3^(b)``, and
  ``1e3``, ``2e3`` use the smallest one / the two smallest angles of each triplet.

Ratios (all dimensionless since ``e1 = 1``):

* ``C1^(b) = e2^(b)`` and ``C2^(b) = e3^(b) / (e2^(b))^2`` (Larkoski, Salam, Thaler 2013),
* ``D2^(b) = e3^(b) / (e2^(b))^3`` and ``D2^(a,b) = e3^(a) / (e2^(b))^(3a/b)``
  (Larkoski, Moult, Neill, JHEP 12 (2014) 009, arXiv:1409.6298; Larkoski, Moult, Neill 2015),
* ``M2^(b) = 1e3^(b) / 1e2^(b)`` and ``N2^(b) = 2e3^(b) / (1e2^(b))^2`` (Moult, Necib, Thaler 2016).

A ratio whose denominator vanishes (a jet of one particle) is defined as 0.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def pairwise_delta_r(rapidity: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Matrix of ``R_ij = sqrt((y_i - y_j)^2 + dphi_ij^2)`` with ``dphi`` wrapped into ``[-pi, pi]``."""
    delta_y = rapidity[:, None] - rapidity[None, :]
    delta_phi = np.abs(phi[:, None] - phi[None, :]) % (2 * np.pi)
    delta_phi = np.minimum(delta_phi, 2 * np.pi - delta_phi)
    return np.sqrt(delta_y**2 + delta_phi**2)


@lru_cache(maxsize=32)
def _upper_pairs(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs ``j < k`` (row-major) and, for each ``i``, the offset of the first pair with ``j > i``."""
    first, second = np.triu_indices(count, k=1)
    offsets = np.searchsorted(first, np.arange(count), side="right")
    return first, second, offsets


def energy_correlators(pt: np.ndarray, rapidity: np.ndarray, phi: np.ndarray) -> dict[str, float]:
    """Normalised 2- and 3-point ECFs of one jet for angular exponents 0, 1, 2.

    Returns keys ``e2_b0, e2_b1, e2_b2`` (= ``1e2``), ``e3_b1, e3_b2`` (= ``3e3``), and the generalised
    ``1e3_b1, 1e3_b2, 2e3_b1, 2e3_b2`` (Moult-Necib-Thaler); see the module docstring for formulas.
    Cost O(n^3) in the number of particles ``n``, vectorised per leading particle.
    """
    pt = np.asarray(pt, dtype=np.float64)
    z = pt / pt.sum()
    angles = pairwise_delta_r(np.asarray(rapidity, np.float64), np.asarray(phi, np.float64))
    count = len(z)
    result = dict.fromkeys(
        ("e2_b0", "e2_b1", "e2_b2", "e3_b1", "e3_b2", "1e3_b1", "1e3_b2", "2e3_b1", "2e3_b2"), 0.0
    )
    if count < 2:
        return result
    first, second, offsets = _upper_pairs(count)
    pair_weight = z[first] * z[second]
    pair_angle = angles[first, second]
    result["e2_b0"] = float(pair_weight.sum())
    result["e2_b1"] = float(pair_weight @ pair_angle)
    result["e2_b2"] = float(pair_weight @ pair_angle**2)
    sums = np.zeros(6)
    for leading in range(count - 2):
        start = offsets[leading]
        j_index, k_index = first[start:], second[start:]
        angle_ij, angle_ik, angle_jk = angles[leading, j_index], angles[leading, k_index], pair_angle[start:]
        weight = z[leading] * pair_weight[start:]
        smallest = np.minimum(np.minimum(angle_ij, angle_ik), angle_jk)
        largest = np.maximum(np.maximum(angle_ij, angle_ik), angle_jk)
        product = angle_ij * angle_ik * angle_jk
        two_smallest = product / np.where(largest > 0, largest, 1.0)
        sums += (
            weight @ product,
            weight @ product**2,
            weight @ smallest,
            weight @ smallest**2,
            weight @ two_smallest,
            weight @ two_smallest**2,
        )
    for key, value in zip(("e3_b1", "e3_b2", "1e3_b1", "1e3_b2", "2e3_b1", "2e3_b2"), sums, strict=True):
        result[key] = float(value)
    return result


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def ecf_ratios(ecfs: dict[str, float]) -> dict[str, float]:
    """The benchmark's ECF ratios from :func:`energy_correlators` output (formulas in module docstring).

    ``j_d2_a1_b1`` equals ``j_d2_b1`` by definition (``D2^(1,1) = D2^(1)``); both are kept so that
    the feature list matches the benchmark's 16 columns.
    """
    e2_b1, e2_b2 = ecfs["e2_b1"], ecfs["e2_b2"]
    e3_b1, e3_b2 = ecfs["e3_b1"], ecfs["e3_b2"]
    return {
        "c1_b0": ecfs["e2_b0"],
        "c1_b1": e2_b1,
        "c1_b2": e2_b2,
        "c2_b1": _ratio(e3_b1, e2_b1**2),
        "c2_b2": _ratio(e3_b2, e2_b2**2),
        "d2_b1": _ratio(e3_b1, e2_b1**3),
        "d2_b2": _ratio(e3_b2, e2_b2**3),
        "d2_a1_b1": _ratio(e3_b1, e2_b1**3),
        "d2_a1_b2": _ratio(e3_b1, e2_b2**1.5),
        "m2_b1": _ratio(ecfs["1e3_b1"], e2_b1),
        "m2_b2": _ratio(ecfs["1e3_b2"], e2_b2),
        "n2_b1": _ratio(ecfs["2e3_b1"], e2_b1**2),
        "n2_b2": _ratio(ecfs["2e3_b2"], e2_b2**2),
    }
