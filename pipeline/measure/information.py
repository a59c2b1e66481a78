"""Information content of a network (Schaub & Hotaling 2020, "Assessing intelligence in artificial
neural networks", arXiv:2006.02909).

A layer's neural efficiency is the Shannon entropy (bits) of the observed on/off patterns of its
neurons (on = activation > 0) divided by its neuron count (the maximum entropy); the network's
efficiency is the geometric mean over layers, and the artificial intelligence quotient is
``aIQ = (accuracy**beta * efficiency) ** (1 / (beta + 1))`` with ``beta = 2``.
"""

from __future__ import annotations

import numpy as np

AIQ_BETA = 2.0


def pattern_entropy(activations: np.ndarray) -> float:
    """Entropy in bits of the distribution of on/off patterns of ``(n_samples, n_neurons)`` activations."""
    on = np.asarray(activations) > 0
    if on.shape[0] == 0:
        return 0.0
    packed = np.packbits(on, axis=1)
    _, counts = np.unique(packed, axis=0, return_counts=True)
    probabilities = counts / counts.sum()
    return float(-(probabilities * np.log2(probabilities)).sum() + 0.0)


def neural_efficiency(activations: np.ndarray) -> float:
    """Pattern entropy divided by the number of neurons (in [0, 1])."""
    n_neurons = np.asarray(activations).shape[1]
    return pattern_entropy(activations) / n_neurons


def network_efficiency(layer_efficiencies: list[float] | tuple[float, ...]) -> float:
    """Geometric mean of the layer efficiencies (0 if any layer has zero efficiency)."""
    values = np.asarray(layer_efficiencies, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    if np.any(values <= 0):
        return 0.0
    return float(np.exp(np.mean(np.log(values))))


def aiq(accuracy: float, efficiency: float, beta: float = AIQ_BETA) -> float:
    """``(accuracy**beta * efficiency) ** (1 / (beta + 1))`` (Schaub & Hotaling 2020)."""
    return float((accuracy**beta * efficiency) ** (1.0 / (beta + 1.0)))
