"""Exact worst-case accumulator check of a dense layer in its firmware form, and its repair.

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
enters as ``floor(b_raw * 2**(f_acc - f_b))`` (``ap_fixed`` truncation when ``f_b > f_acc``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat
from pipeline.errors import PipelineError


def bias_in_accumulator_units(layer: DenseLayer, input_format: FixedFormat) -> np.ndarray:
    """The bias as hls4ml's ``(accum_t) bias`` cast sees it: raw integers at ``f_acc = f_x + f_w``."""
    return layer.bias_at(input_format.fractional_bits + layer.weight_fractional_bits)


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
    low, high = accumulator_extremes(
        layer.weight_raw, bias_in_accumulator_units(layer, input_format), input_format
    )
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


def repair_weights(
    weight_raw: np.ndarray, bias_acc: np.ndarray, input_format: FixedFormat, accumulator_bits: int, where: str
) -> np.ndarray:
    """Shrink integer weights toward zero, one unit of the largest-magnitude weight on the overflowing
    side at a time, until every channel's exact extremes fit P bits.

    Shrinking ``|q|`` never widens either extreme (``x_min <= 0 <= x_max``), so this terminates; zeros
    (pruned weights) stay zero. It fixes the small residue A2Q+ rounding leaves (``sum(q) != 0``).

    Raises:
        PipelineError: the bias alone does not fit P bits.
    """
    weights = np.array(weight_raw, dtype=np.int64)
    bias = np.asarray(bias_acc, dtype=np.int64)
    limit_low, limit_high = -(2 ** (accumulator_bits - 1)), 2 ** (accumulator_bits - 1) - 1
    if np.any(bias < limit_low) or np.any(bias > limit_high):
        raise PipelineError(
            "constrain",
            f"a bias alone does not fit a {accumulator_bits}-bit accumulator",
            input=where,
            fix="raise accumulator_bits or narrow the bias quantizer",
        )
    x_min, x_max = input_format.raw_min, input_format.raw_max
    for channel in range(weights.shape[1]):
        column = weights[:, channel]
        while True:
            low, high = accumulator_extremes(column[:, None], bias[channel : channel + 1], input_format)
            if high[0] > limit_high:  # too large: shrink a positive weight (x_max) or a negative one (x_min)
                candidates = np.where(column > 0, column * x_max, 0) + np.where(column < 0, column * x_min, 0)
            elif low[0] < limit_low:
                candidates = np.where(column > 0, -column * x_min, 0) + np.where(
                    column < 0, -column * x_max, 0
                )
            else:
                break
            index = int(np.argmax(candidates))
            column[index] -= np.sign(column[index])
    return weights


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap-around of int64 ``values`` to ``bits`` bits (ap_fixed AP_WRAP)."""
    modulus = np.int64(1) << bits
    half = np.int64(1) << (bits - 1)
    return ((np.asarray(values, dtype=np.int64) + half) % modulus) - half


def wrapped_accumulator(
    x_raw: np.ndarray, layer: DenseLayer, input_format: FixedFormat, bits: int
) -> np.ndarray:
    """Emulate hls4ml's accumulation literally: ``acc = bias``, then ``acc = wrap(acc + x_i * w_ij)``
    input by input, in a P-bit accumulator. Returns the final raw accumulator ``(batch, fan_out)``."""
    x = np.asarray(x_raw, dtype=np.int64)
    acc = wrap(
        np.broadcast_to(bias_in_accumulator_units(layer, input_format), (x.shape[0], layer.bias_raw.size)),
        bits,
    )
    for i in range(x.shape[1]):
        acc = wrap(acc + x[:, i : i + 1] * layer.weight_raw[i][None, :], bits)
    return acc


def adversarial_inputs(weight_raw: np.ndarray, input_format: FixedFormat) -> np.ndarray:
    """Per output channel, the two raw input vectors reaching its extreme accumulator values
    (``(2 * fan_out, fan_in)``: rows ``2j`` maximise and ``2j + 1`` minimise channel ``j``)."""
    weights = np.asarray(weight_raw, dtype=np.int64)
    x_min, x_max = input_format.raw_min, input_format.raw_max
    high = np.where(weights > 0, x_max, x_min).T
    low = np.where(weights > 0, x_min, x_max).T
    return np.stack([high, low], axis=1).reshape(-1, weights.shape[0])
