"""Hardware-cost proxies of a dense network: parameters, sparsity and bit operations (BOPs).

BOPs of a dense layer follow Hawks et al. 2021 ("Ps and Qs: Quantization-aware pruning for efficient
low latency neural network inference", Eq. 1, after Baskin et al. 2018)::

    BOPs = m * n * [p * b_a * b_w + b_a + b_w + log2(n)]

with ``n`` inputs, ``m`` outputs, ``p`` the fraction of non-zero weights, ``b_a`` the input
(activation) bit width and ``b_w`` the weight bit width; float tensors count as 32 bits.
"""

from __future__ import annotations

import math

import numpy as np

FLOAT_BITS = 32


def layer_bops(
    n_inputs: int, n_outputs: int, kept_fraction: float, input_bits: int, weight_bits: int
) -> float:
    """BOPs of one dense layer (Hawks et al. 2021, Eq. 1)."""
    if n_inputs < 1 or n_outputs < 1:
        raise ValueError("a dense layer needs at least one input and one output")
    return float(
        n_outputs
        * n_inputs
        * (kept_fraction * input_bits * weight_bits + input_bits + weight_bits + math.log2(n_inputs))
    )


def sparsity(weights: np.ndarray) -> float:
    """Fraction of exactly-zero entries."""
    weights = np.asarray(weights)
    return float(np.count_nonzero(weights == 0) / weights.size) if weights.size else 0.0


def count_nonzero(*arrays: np.ndarray) -> int:
    """Total number of non-zero entries over ``arrays``."""
    return int(sum(np.count_nonzero(np.asarray(a)) for a in arrays))
