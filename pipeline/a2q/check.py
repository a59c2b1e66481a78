"""Exact worst-case accumulator check of a dense layer in its firmware form.

hls4ml's ``dense_latency`` (``nnet_dense_latency.h``) initialises ``acc[j] = (accum_t) bias[j]`` and
then adds every product ``x[i] * w[i, j]`` into the same ``accum_t`` (default overflow mode: WRAP).
Two's-complement wrap-around is addition modulo ``2**P``, so the firmware output is correct exactly
when the *final* sum ``b_j + sum_i x_i q_ij`` lies in ``[-2**(P-1), 2**(P-1) - 1]``; intermediate
wraps cancel. Over all inputs ``x_i`` in ``[x_min, x_max]`` (the raw range of the input format,
``x_min <= 0 <= x_max``) the sum is largest with positive weights at ``x_max`` and negative weights at
``x_min``, and smallest the other way round; both extremes are attained by real inputs. So

    max_j = b_j + x_max * sum(q_ij > 0) + x_min * sum(q_ij < 0)
    min_j = b_j + x_min * sum(q_ij > 0) + x_max * sum(q_ij < 0)

and the layer is overflow-free at P bits iff ``-2**(P-1) <= min_j`` and ``max_j <= 2**(P-1) - 1``
for every channel. All values are raw integers in accumulator units (``f_acc = f_x + f_w``); the bias
enters as ``floor(b_raw * 2**(f_acc - f_b))`` (``ap_fixed`` truncation when ``f_b > f_acc``,
:func:`pipeline.deploy.emulator.aligned_bias`).

The check never changes a weight: the constrain stage runs it on the integer weights as the
training parametrisation rounds them and fails, naming the layer and channels, when one can overflow.
The wrap-around forward pass it is tested against is the emulator's
(:func:`pipeline.deploy.emulator.dense_accumulator`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.deploy.emulator import aligned_bias
from pipeline.deploy.integer_network import DenseLayer, FixedFormat
from pipeline.errors import PipelineError


def accumulator_extremes(
    weight_raw: np.ndarray, bias_acc: np.ndarray, input_format: FixedFormat
) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel, the smallest and largest exact accumulator value over all inputs."""
    weights = np.asarray(weight_raw, dtype=np.int64)
    positive = np.where(weights > 0, weights, 0).sum(axis=0)
    negative = np.where(weights < 0, weights, 0).sum(axis=0)
    x_min, x_max = input_format.raw_min, input_format.raw_max
    bias = np.asarray(bias_acc, dtype=np.int64)
    return bias + x_min * positive + x_max * negative, bias + x_max * positive + x_min * negative


def signed_bits_for_range(low: int, high: int) -> int:
    """Smallest P with ``-2**(P-1) <= low`` and ``high <= 2**(P-1) - 1`` (at least 1)."""
    bits = 1
    while low < -(2 ** (bits - 1)) or high > 2 ** (bits - 1) - 1:
        bits += 1
    return bits


@dataclass(frozen=True)
class LayerCheck:
    """Result of :func:`check_layer`.

    Attributes:
        accumulator_bits: the P checked.
        exact_bits: the narrowest accumulator that holds every channel's exact extremes (bias included).
        fits: every channel fits in P bits.
        failing_channels: indices of channels that can overflow.
        worst_low / worst_high: the layer's extreme accumulator values (raw, accumulator units).
    """

    accumulator_bits: int
    exact_bits: int
    fits: bool
    failing_channels: tuple[int, ...]
    worst_low: int
    worst_high: int

    def as_dict(self) -> dict:
        return {
            "accumulator_bits": self.accumulator_bits,
            "exact_bits": self.exact_bits,
            "fits": self.fits,
            "failing_channels": list(self.failing_channels),
            "worst_low": self.worst_low,
            "worst_high": self.worst_high,
        }


def check_layer(layer: DenseLayer, input_format: FixedFormat, accumulator_bits: int) -> LayerCheck:
    """Prove (or refute) that ``layer`` never overflows a P-bit accumulator for any input of
    ``input_format``, bias included (see the module docstring for the derivation)."""
    low, high = accumulator_extremes(layer.weight_raw, aligned_bias(layer, input_format), input_format)
    limit_low, limit_high = -(2 ** (accumulator_bits - 1)), 2 ** (accumulator_bits - 1) - 1
    failing = np.flatnonzero((low < limit_low) | (high > limit_high))
    worst_low, worst_high = int(low.min()), int(high.max())
    return LayerCheck(
        accumulator_bits=accumulator_bits,
        exact_bits=signed_bits_for_range(worst_low, worst_high),
        fits=failing.size == 0,
        failing_channels=tuple(int(c) for c in failing),
        worst_low=worst_low,
        worst_high=worst_high,
    )


def adversarial_inputs(weight_raw: np.ndarray, input_format: FixedFormat) -> np.ndarray:
    """Per output channel, the two raw input vectors reaching its extreme accumulator values
    (``(2 * fan_out, fan_in)``: rows ``2j`` maximise and ``2j + 1`` minimise channel ``j``)."""
    weights = np.asarray(weight_raw, dtype=np.int64)
    x_min, x_max = input_format.raw_min, input_format.raw_max
    high = np.where(weights > 0, x_max, x_min).T
    low = np.where(weights > 0, x_min, x_max).T
    return np.stack([high, low], axis=1).reshape(-1, weights.shape[0])


def require_no_overflow(check: LayerCheck, layer: DenseLayer, input_format: FixedFormat, where: str) -> None:
    """Raise a :class:`PipelineError` naming the layer and its first failing channels (with their
    exact worst-case accumulator range) when ``check`` found a channel that can overflow."""
    if check.fits:
        return
    low, high = accumulator_extremes(layer.weight_raw, aligned_bias(layer, input_format), input_format)
    shown = ", ".join(f"channel {c}: [{int(low[c])}, {int(high[c])}]" for c in check.failing_channels[:5])
    more = f" and {len(check.failing_channels) - 5} more" if len(check.failing_channels) > 5 else ""
    limit = 2 ** (check.accumulator_bits - 1)
    raise PipelineError(
        "constrain",
        f"layer '{layer.name}' can overflow its {check.accumulator_bits}-bit accumulator (range "
        f"[{-limit}, {limit - 1}]): {shown}{more}; the integer weights break the accumulator bound",
        input=where,
        fix="report it (the A2Q/A2Q+ parametrisation must keep every channel inside its bound), "
        f"or raise accumulator_bits to at least {check.exact_bits}",
    )
