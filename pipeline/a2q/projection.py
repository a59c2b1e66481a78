"""Euclidean projections for the A2Q / A2Q+ initialisation (EP-init), per output channel.

References:
    J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient Projections onto the l1-Ball for
    Learning in High Dimensions", ICML 2008, Fig. 1 (sort-based simplex projection) and Sec. 4.
    [A2Q+] I. Colbert, A. Pappalardo, J. Petri-Koenig, Y. Umuroglu, "A2Q+: Improving
    Accumulator-Aware Weight Quantization", ICML 2024 (arXiv:2401.10432), Sec. 3.2: initialise the
    accumulator-constrained weights by the Euclidean projection of the trained weights onto the
    constraint set ``{sum(w) = 0, ||w||_1 <= T}`` instead of rescaling them.

Pruning: a pruned weight is a coordinate fixed at zero, so every projection acts on the unpruned
entries of a channel only. A channel with a single unpruned weight ``w`` has exactly one zero-sum
point, ``0``: zero-centring kills it. :func:`choose_zero_centred` therefore lets a channel keep the
A2Q constraint (no centring, the smaller L1 ball) whenever that set lies closer to its trained weights,
which is always the case for a channel with fewer than two unpruned weights.
"""

from __future__ import annotations

import numpy as np


def _simplex_threshold(values: np.ndarray, total: float) -> float:
    """The ``t`` with ``sum(max(values - t, 0)) = total`` (``total > 0``, any real ``values``): the
    shift of the Euclidean projection of ``values`` onto the simplex ``{w >= 0, sum(w) = total}``
    (Duchi et al. 2008, Fig. 1: sort descending, ``rho`` = the last index where
    ``mu_j > (sum_{r<=j} mu_r - total) / j``, ``t = (sum_{r<=rho} mu_r - total) / rho``)."""
    mu = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    cumulative = np.cumsum(mu) - total
    index = np.arange(1, mu.size + 1)
    rho = int(np.nonzero(mu - cumulative / index > 0)[0][-1]) + 1
    return float(cumulative[rho - 1] / rho)


def project_l1_ball(vector: np.ndarray, radius: float) -> np.ndarray:
    """``argmin_w ||w - v||_2`` subject to ``||w||_1 <= radius`` (Duchi et al. 2008, Sec. 4).

    If ``||v||_1 <= radius`` the vector is returned unchanged. Otherwise ``w = sign(v) *
    max(|v| - theta, 0)`` with ``theta`` the simplex threshold of ``|v|`` at ``radius`` (soft
    thresholding: zeros stay zero).
    """
    v = np.asarray(vector, dtype=np.float64)
    if radius <= 0:
        return np.zeros_like(v)
    magnitude = np.abs(v)
    if magnitude.sum() <= radius:
        return v.copy()
    theta = _simplex_threshold(magnitude, radius)
    return np.sign(v) * np.maximum(magnitude - theta, 0.0)


def project_zero_sum_l1_ball(vector: np.ndarray, radius: float) -> np.ndarray:
    """``argmin_w ||w - v||_2`` subject to ``sum(w) = 0`` and ``||w||_1 <= radius`` ([A2Q+] EP-init).

    KKT: ``w_i = sign(v_i - mu) * max(|v_i - mu| - theta, 0)`` with ``mu`` the multiplier of the sum
    and ``theta >= 0`` that of the L1 norm. If ``||v - mean(v)||_1 <= radius`` then ``theta = 0`` and
    ``w = v - mean(v)``. Otherwise the norm is active and ``sum(w) = 0`` splits it evenly: the positive
    part ``max(v - a, 0)`` and the negative part ``max(b - v, 0)`` each sum to ``radius / 2``, with
    ``a = mu + theta`` and ``b = mu - theta`` two independent simplex thresholds (one sort each);
    ``a > mean(v) > b`` there, so ``theta = (a - b) / 2 > 0``. Cost ``O(n log n)``. A vector of one
    entry (or ``radius <= 0``) projects to zero.
    """
    v = np.asarray(vector, dtype=np.float64)
    if radius <= 0 or v.size < 2:
        return np.zeros_like(v)
    centred = v - v.mean()
    if np.abs(centred).sum() <= radius:
        return centred
    upper = _simplex_threshold(v, radius / 2)
    lower = -_simplex_threshold(-v, radius / 2)
    return np.maximum(v - upper, 0.0) - np.maximum(lower - v, 0.0)


def project_channel(column: np.ndarray, mask: np.ndarray, radius: float, *, zero_sum: bool) -> np.ndarray:
    """Project one channel's unpruned entries onto the A2Q+ set (``zero_sum``) or the A2Q L1 ball;
    pruned entries stay zero."""
    keep = np.asarray(mask, dtype=bool)
    result = np.zeros(column.shape, dtype=np.float64)
    project = project_zero_sum_l1_ball if zero_sum else project_l1_ball
    result[keep] = project(np.asarray(column, dtype=np.float64)[keep], radius)
    return result


def project_kernel(
    kernel: np.ndarray, radii: np.ndarray, mask: np.ndarray, zero_sum: np.ndarray
) -> np.ndarray:
    """Project every column ``j`` of ``kernel`` (``(fan_in, fan_out)``) onto its constraint set:
    ``{sum = 0, ||w||_1 <= radii[j]}`` where ``zero_sum[j]``, else ``{||w||_1 <= radii[j]}``; pruned
    entries (``mask`` false) stay zero."""
    mask = np.asarray(mask, dtype=bool)
    columns = [
        project_channel(kernel[:, j], mask[:, j], float(radii[j]), zero_sum=bool(zero_sum[j]))
        for j in range(kernel.shape[1])
    ]
    return np.stack(columns, axis=1)


def choose_zero_centred(
    kernel: np.ndarray, mask: np.ndarray, a2q_radii: np.ndarray, a2q_plus_radii: np.ndarray
) -> np.ndarray:
    """Per channel, ``True`` where the A2Q+ set ``{sum = 0, ||w||_1 <= a2q_plus_radii[j]}`` lies
    strictly closer (Euclidean) to the trained weights than the A2Q ball ``{||w||_1 <= a2q_radii[j]}``.

    Both sets guarantee the accumulator bound, so either may constrain a channel; the nearer one
    destroys less of what training learnt. A channel with fewer than two unpruned weights never
    takes A2Q+ (its only zero-sum point is zero); where no bound binds, the A2Q ball contains the
    weights (distance 0) and the channel is left uncentred.
    """
    mask = np.asarray(mask, dtype=bool)
    chosen = np.zeros(kernel.shape[1], dtype=bool)
    for j in range(kernel.shape[1]):
        if mask[:, j].sum() < 2:
            continue
        column = np.asarray(kernel[:, j], dtype=np.float64) * mask[:, j]
        plus = project_channel(column, mask[:, j], float(a2q_plus_radii[j]), zero_sum=True)
        plain = project_channel(column, mask[:, j], float(a2q_radii[j]), zero_sum=False)
        chosen[j] = np.linalg.norm(column - plus) < np.linalg.norm(column - plain)
    return chosen
