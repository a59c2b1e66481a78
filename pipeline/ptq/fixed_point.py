"""Power-of-two fixed-point formats for post-training quantization, chosen by minimum MSE.

Linear quantization with a power-of-two scale is a choice of the binary point: for ``bits`` total
bits, QKeras ``quantized_bits(bits, integer_bits, alpha=1)`` (signed, sign bit not counted) covers
``[-2**integer_bits, 2**integer_bits - step]`` with ``step = 2**(integer_bits - bits + 1)``, and
``quantized_relu(bits, integer_bits)`` covers ``[0, 2**integer_bits - 2**(integer_bits - bits)]``.
Each candidate ``integer_bits`` trades clipping error (too few integer bits) against rounding error
(too few fractional bits).

MMSE choice: the MMSE low-bit PTQ paper (Choukroun et al., "Low-bit Quantization of Neural Networks
for Efficient Inference", ICCVW 2019) casts linear quantization as ``min_alpha ||X - Q_alpha(X)||_2^2``
per tensor; restricted to power-of-two scales that is an exact search over ``integer_bits``, done
here by evaluating every candidate (:func:`mmse_integer_bits`). The naive baseline
(:func:`max_integer_bits`) takes the smallest range that covers ``max|X|`` (no clipping).

QKeras cannot represent negative ``integer_bits`` (``quantized_bits`` raises on a negative power of an
integer), so candidates start at 0: a tensor smaller than 1 in magnitude uses at most ``bits - 1``
fractional bits. :func:`pipeline.ptq.mmse` works around it with power-of-two rescaling between
layers (equalization).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pipeline.deploy.from_qkeras import quantize_to_raw
from pipeline.deploy.integer_network import FixedFormat


def qkeras_format(bits: int, integer_bits: int, *, signed: bool) -> FixedFormat:
    """The hls4ml format of QKeras ``quantized_bits(bits, integer_bits)`` (``signed``) or
    ``quantized_relu(bits, integer_bits)`` (unsigned): ``ap_fixed<bits, integer_bits + 1>`` or
    ``ap_ufixed<bits, integer_bits>``."""
    return FixedFormat(bits=bits, integer_bits=integer_bits + 1 if signed else integer_bits, signed=signed)


def quantize(values: np.ndarray, bits: int, integer_bits: int, *, signed: bool) -> np.ndarray:
    """``values`` on the QKeras grid: half-to-even rounding, then saturation (what QKeras computes)."""
    fmt = qkeras_format(bits, integer_bits, signed=signed)
    raw = quantize_to_raw(values, fmt)
    return raw * 2.0**-fmt.fractional_bits


def integer_bits_candidates(bits: int, *, signed: bool) -> range:
    """Every ``integer_bits`` QKeras accepts for this width: ``0..bits-1`` signed, ``0..bits`` unsigned."""
    return range(0, bits if signed else bits + 1)


def quantization_mse(values: np.ndarray, bits: int, integer_bits: int, *, signed: bool) -> float:
    """Mean squared error of quantizing ``values`` with this format."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.mean((quantize(values, bits, integer_bits, signed=signed) - values) ** 2))


def mmse_integer_bits(
    values: np.ndarray, bits: int, *, signed: bool, candidates: Iterable[int] | None = None
) -> int:
    """The ``integer_bits`` minimising the quantization MSE of ``values`` (ties: fewer integer bits).

    Exact search over ``candidates`` (default :func:`integer_bits_candidates`), following the MMSE
    formulation of Choukroun et al. 2019 with the scale restricted to powers of two.
    """
    options = list(candidates if candidates is not None else integer_bits_candidates(bits, signed=signed))
    errors = [quantization_mse(values, bits, option, signed=signed) for option in options]
    return options[int(np.argmin(errors))]


def max_integer_bits(values: np.ndarray, bits: int, *, signed: bool) -> int:
    """Naive max-scaling: the fewest integer bits whose range covers ``max|values|`` (then clamped to
    the formats QKeras accepts)."""
    peak = float(np.max(np.abs(values), initial=0.0))
    needed = 0 if peak <= 0 else int(np.ceil(np.log2(peak)))
    if not signed and peak > 0:
        # unsigned range ends one step below 2**integer_bits: widen when the peak falls in that step
        step = 2.0 ** (needed - bits)
        if peak > 2.0**needed - step:
            needed += 1
    options = integer_bits_candidates(bits, signed=signed)
    return int(np.clip(needed, options.start, options.stop - 1))
