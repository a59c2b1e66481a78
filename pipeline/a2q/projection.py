"""Euclidean projection onto the L1 ball (A2Q+ initialisation).

References:
    J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient Projections onto the l1-Ball for
    Learning in High Dimensions", ICML 2008, Fig. 1 (sort-based simplex projection) and Sec. 4.
    [A2Q+] Colbert et al. 2024, "A2Q+: Improving Accumulator-Aware Weight Quantization": initialise
    the accumulator-constrained weights by the Euclidean projection of the (zero-centred) trained
    weights onto the L1 ball of the accumulator bound, instead of rescaling them.
"""

from __future__ import annotations

import numpy as np


def project_l1_ball(vector: np.ndarray, radius: float) -> np.ndarray:
    """``argmin_w ||w - v||_2`` subject to ``||w||_1 <= radius`` (Duchi et al. 2008).

    If ``||v||_1 <= radius`` the vector is returned unchanged. Otherwise the magnitudes ``u = |v|``
    are projected onto the simplex ``{sum(w) = radius, w >= 0}``: sort ``u`` descending as ``mu``,
    ``rho = max{j : mu_j - (sum_{r<=j} mu_r - radius) / j > 0}``, ``theta = (sum_{r<=rho} mu_r -
    radius) / rho``, ``w = sign(v) * max(|v| - theta, 0)`` (soft thresholding: zeros stay zero).
    """
    v = np.asarray(vector, dtype=np.float64)
    if radius <= 0:
        return np.zeros_like(v)
    magnitude = np.abs(v)
    if magnitude.sum() <= radius:
        return v.copy()
    mu = np.sort(magnitude)[::-1]
    cumulative = np.cumsum(mu) - radius
    index = np.arange(1, mu.size + 1)
    rho = int(np.nonzero(mu - cumulative / index > 0)[0][-1]) + 1
    theta = cumulative[rho - 1] / rho
    return np.sign(v) * np.maximum(magnitude - theta, 0.0)


def zero_center(kernel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per output channel (column), subtract the mean of the unpruned entries (``mask`` true) and
    keep pruned entries at zero, so each column's unpruned entries sum to zero ([A2Q+])."""
    kernel = np.asarray(kernel, dtype=np.float64) * mask
    count = np.maximum(mask.sum(axis=0), 1)
    return (kernel - kernel.sum(axis=0) / count) * mask


def project_kernel(kernel: np.ndarray, radii: np.ndarray, mask: np.ndarray, *, center: bool) -> np.ndarray:
    """Project every column of ``kernel`` (``(fan_in, fan_out)``) onto its L1 ball ``radii[j]``;
    ``center`` first zero-centres the unpruned entries (A2Q+). Pruned entries stay zero."""
    mask = np.asarray(mask, dtype=bool)
    source = zero_center(kernel, mask) if center else np.asarray(kernel, dtype=np.float64) * mask
    projected = np.stack(
        [project_l1_ball(source[:, j], float(radii[j])) for j in range(source.shape[1])], axis=1
    )
    return projected * mask
