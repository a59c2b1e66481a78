"""Minifloat formats ExMy, simulated exactly in numpy, for the minifloat-vs-integer exploration.

A format has an optional sign bit, ``exponent_bits`` E >= 1, ``mantissa_bits`` M >= 0 and an exponent
``bias`` (default ``2**(E-1) - 1``). Code ``(e, m)`` means

* ``e > 0`` (normal): ``2**(e - bias) * (1 + m / 2**M)``;
* ``e == 0`` with subnormals: ``2**(1 - bias) * (m / 2**M)``; without subnormals: zero (flush).

Every code is a finite number (no infinities or NaN, as in the "fn" FP8 variants), and quantization
saturates at the largest magnitude. Rounding is to nearest; a tie goes to the even mantissa, and when
both neighbours have an even mantissa (``M == 0``, or zero vs the smallest normal without
subnormals) to the smaller magnitude. A power-of-two ``scale_exponent`` multiplies every value (the
per-tensor scale of the minifloat PTQ study, Aggarwal et al., "Shedding the Bits: Pushing the
Boundaries of Quantization with Minifloats on FPGAs", FPL 2024), chosen by minimum MSE.

QONNX 0.4 has no minifloat operator and hls4ml 1.3 no minifloat dense layers: minifloat stays an
exploration (accuracy here, MAC cost from :mod:`pipeline.ptq.mac_rtl`), it is not deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MinifloatFormat:
    """ExMy with an optional sign bit; ``bias=None`` means ``2**(E-1) - 1``."""

    exponent_bits: int
    mantissa_bits: int
    signed: bool = True
    subnormals: bool = True
    bias: int | None = None

    def __post_init__(self) -> None:
        if self.exponent_bits < 1 or self.mantissa_bits < 0:
            raise ValueError(f"need E >= 1 and M >= 0, got E{self.exponent_bits}M{self.mantissa_bits}")

    @property
    def total_bits(self) -> int:
        return int(self.signed) + self.exponent_bits + self.mantissa_bits

    @property
    def exponent_bias(self) -> int:
        return 2 ** (self.exponent_bits - 1) - 1 if self.bias is None else self.bias

    @property
    def name(self) -> str:
        sign = "" if self.signed else "u"
        tail = "" if self.subnormals else "-nosub"
        return f"{sign}E{self.exponent_bits}M{self.mantissa_bits}{tail}"

    @property
    def max_value(self) -> float:
        top = 2**self.exponent_bits - 1
        return 2.0 ** (top - self.exponent_bias) * (2.0 - 2.0**-self.mantissa_bits)

    @property
    def min_normal(self) -> float:
        return 2.0 ** (1 - self.exponent_bias)


def decode(fmt: MinifloatFormat, exponent: int, mantissa: int) -> float:
    """The magnitude of code ``(exponent, mantissa)`` (by the definition, one code at a time)."""
    scale = 2.0**-fmt.mantissa_bits
    if exponent > 0:
        return 2.0 ** (exponent - fmt.exponent_bias) * (1.0 + mantissa * scale)
    if fmt.subnormals:
        return 2.0 ** (1 - fmt.exponent_bias) * mantissa * scale
    return 0.0


def magnitude_codes(fmt: MinifloatFormat) -> list[tuple[float, int]]:
    """Every distinct non-negative value with the mantissa of its (first) code, ascending."""
    seen: dict[float, int] = {}
    for exponent in range(2**fmt.exponent_bits):
        for mantissa in range(2**fmt.mantissa_bits):
            seen.setdefault(decode(fmt, exponent, mantissa), mantissa)
    return sorted(seen.items())


def quantize_minifloat(values: np.ndarray, fmt: MinifloatFormat, scale_exponent: int = 0) -> np.ndarray:
    """``values`` rounded to ``fmt * 2**scale_exponent`` (vectorised; see the module docstring)."""
    values = np.asarray(values, dtype=np.float64) * 2.0**-scale_exponent
    magnitude = np.minimum(np.abs(values), fmt.max_value)
    minimum_exponent = 1 - fmt.exponent_bias
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log2(np.where(magnitude > 0, magnitude, 1.0)))
    exponent = np.maximum(exponent, minimum_exponent)
    step = 2.0 ** (exponent - fmt.mantissa_bits)
    units = magnitude / step
    floor = np.floor(units)
    fraction = units - floor
    tie_up = (np.mod(floor, 2) == 1) & (fmt.mantissa_bits > 0)
    up = (fraction > 0.5) | ((fraction == 0.5) & tie_up)
    rounded = np.minimum((floor + up) * step, fmt.max_value)
    if not fmt.subnormals:
        below = magnitude < fmt.min_normal
        rounded = np.where(below, np.where(magnitude > fmt.min_normal / 2, fmt.min_normal, 0.0), rounded)
    negative_to = -rounded if fmt.signed else 0.0  # unsigned formats clamp negatives to zero
    rounded = np.where(values < 0, negative_to, rounded)
    return rounded * 2.0**scale_exponent


def mmse_scale_exponent(values: np.ndarray, fmt: MinifloatFormat, search: int = 12) -> int:
    """The power-of-two scale minimising the quantization MSE of ``values`` (exact search around the
    scale that maps ``max|values|`` to the format's largest value)."""
    values = np.asarray(values, dtype=np.float64)
    peak = float(np.max(np.abs(values), initial=0.0))
    if peak == 0:
        return 0
    centre = int(np.ceil(np.log2(peak / fmt.max_value)))
    candidates = range(centre - search, centre + 2)
    errors = [np.mean((quantize_minifloat(values, fmt, k) - values) ** 2) for k in candidates]
    return list(candidates)[int(np.argmin(errors))]


def formats_with_bits(
    total_bits: int, *, signed: bool = True, subnormals: bool = True
) -> list[MinifloatFormat]:
    """Every ExMy (E >= 1, M >= 0) with ``total_bits`` bits, default bias."""
    available = total_bits - int(signed)
    return [
        MinifloatFormat(exponent, available - exponent, signed=signed, subnormals=subnormals)
        for exponent in range(1, available + 1)
    ]
