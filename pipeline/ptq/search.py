"""Binary points chosen on the network output: a search over integer bits on the calibration jets.

Per-tensor MMSE (:mod:`pipeline.ptq.fixed_point`) minimises each tensor's own quantization error.
What matters is the error at the network output, and on the jet tagger the activations dominate it
(weights with GPTQ are nearly lossless at 4 bits, activations are not). Choukroun et al. (ICCVW 2019,
the MMSE low-bit PTQ paper) note that per-layer MSE is only a proxy; the minifloat PTQ study
(Aggarwal et al. 2023) likewise calibrates formats on the model's outputs. Here the proxy's answer is
the starting point of a coordinate search: every weight, bias and activation ``integer_bits`` is moved
by one in turn and kept when it lowers the mean Kullback-Leibler divergence

    KL = mean_jets sum_classes softmax(z_float) * (log softmax(z_float) - log softmax(z_quantized))

between the float network's and the quantized network's class probabilities on the calibration jets.
No labels are used, nothing is trained: every candidate is a complete PTQ run (sequential bias
correction and rounding included), and its values are on the QKeras grids like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.ptq.fixed_point import integer_bits_candidates
from pipeline.ptq.mmse import PTQResult, PTQSettings, forward, post_training_quantize, prepared_weights

Weights = Sequence[tuple[np.ndarray, np.ndarray]]


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def float_logits(weights: Weights, features: np.ndarray) -> np.ndarray:
    """The float ReLU MLP's logits (ReLU after every layer but the last)."""
    x = np.asarray(features, dtype=np.float64)
    for index, (kernel, bias) in enumerate(weights):
        x = x @ np.asarray(kernel, dtype=np.float64) + np.asarray(bias, dtype=np.float64)
        if index < len(weights) - 1:
            x = np.maximum(x, 0.0)
    return x


def output_divergence(reference_logits: np.ndarray, logits: np.ndarray) -> float:
    """Mean KL divergence of the class probabilities of ``logits`` from those of ``reference_logits``."""
    reference = _log_softmax(np.asarray(reference_logits, dtype=np.float64))
    candidate = _log_softmax(np.asarray(logits, dtype=np.float64))
    return float(np.mean(np.sum(np.exp(reference) * (reference - candidate), axis=1)))


@dataclass(frozen=True)
class SearchTrace:
    """How the search went: the divergence of the MMSE start, of the result, and candidates tried."""

    start_divergence: float
    final_divergence: float
    evaluations: int


def _formats(result: PTQResult) -> list[dict[str, int]]:
    formats = []
    for layer in result.layers:
        chosen = {"weight": layer.weight_integer_bits, "bias": layer.bias_integer_bits}
        if layer.activation_integer_bits is not None:
            chosen["activation"] = layer.activation_integer_bits
        formats.append(chosen)
    return formats


def search_integer_bits(
    weights: Weights, calibration: np.ndarray, settings: PTQSettings, max_rounds: int = 4
) -> tuple[PTQResult, SearchTrace]:
    """PTQ with every ``integer_bits`` chosen by coordinate search on the output divergence.

    Starts from ``post_training_quantize(weights, calibration, settings)`` (the per-tensor MMSE or
    max choice), then for up to ``max_rounds`` passes tries each format one integer bit up and down
    (within what QKeras accepts) and keeps a move only when the KL divergence on ``calibration``
    strictly drops. Contract: the result's divergence is never above the start's (the start is a
    candidate), and the result is an ordinary :class:`PTQResult` (values on the chosen grids).
    """
    calibration = np.asarray(calibration, dtype=np.float64)
    reference = float_logits(weights, calibration)
    best = post_training_quantize(weights, calibration, settings)
    best_divergence = output_divergence(reference, forward(best, calibration))
    start_divergence, evaluations = best_divergence, 1
    widths = {
        "weight": (settings.weight_bits, True),
        "bias": (settings.bias_bits, True),
        "activation": (settings.activation_bits, False),
    }
    for _ in range(max_rounds):
        improved = False
        for index in range(len(weights)):
            for quantity in ("activation", "weight", "bias"):
                formats = _formats(best)
                if quantity not in formats[index]:
                    continue
                bits, signed = widths[quantity]
                allowed = integer_bits_candidates(bits, signed=signed)
                for step in (1, -1):
                    moved = formats[index][quantity] + step
                    if moved not in allowed:
                        continue
                    trial_formats = [dict(layer) for layer in formats]
                    trial_formats[index][quantity] = moved
                    trial = post_training_quantize(weights, calibration, settings, overrides=trial_formats)
                    divergence = output_divergence(reference, forward(trial, calibration))
                    evaluations += 1
                    if divergence < best_divergence:
                        best, best_divergence, improved = trial, divergence, True
                        break
        if not improved:
            break
    return best, SearchTrace(start_divergence, best_divergence, evaluations)


def calibrate(weights: Weights, calibration: np.ndarray, settings: PTQSettings) -> PTQResult:
    """The PTQ the settings ask for: with ``format_search`` the searched formats, else per-tensor;
    with ``rounding: adaround`` that result (rounded by GPTQ) is the start of learned rounding
    (:func:`pipeline.ptq.adaround.learned_rounding`, seed 0)."""
    if settings.rounding == "adaround":
        from pipeline.ptq.adaround import learned_rounding

        start = calibrate(weights, calibration, dataclasses.replace(settings, rounding="gptq"))
        prepared = prepared_weights(weights, calibration, settings)
        return learned_rounding(prepared, start, calibration, settings)
    if settings.format_search:
        return search_integer_bits(weights, calibration, settings)[0]
    return post_training_quantize(weights, calibration, settings)
