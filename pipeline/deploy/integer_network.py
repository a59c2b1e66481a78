"""The integer view of a deployed (quantized) network: the one description shared by the A2Q checks,
the integer emulator, the hls4ml configuration and the RTL (da4ml) flow.

Semantics are hls4ml's ``ap_fixed``: a value with ``bits`` total bits and ``integer_bits`` integer
bits (sign included when signed) is ``raw * 2**-(bits - integer_bits)`` with ``raw`` an integer.
A dense layer computes, per output channel ``j``,

    acc_j = sum_i x_raw[i] * w_raw[i, j] * 2**(f_acc - f_x - f_w)  +  b_raw[j] * 2**(f_acc - f_b)

in an accumulator of ``accumulator.bits`` bits and ``f_acc = f_x + f_w`` fractional bits (overflow
wraps, hls4ml's default), then the activation quantizer maps ``acc`` to the output format with
rounding ``RND_CONV`` (half to even, as QKeras' ``tf.round``) and saturation (``SAT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class FixedFormat:
    """``ap_fixed<bits, integer_bits>`` (signed) or ``ap_ufixed<bits, integer_bits>`` (unsigned)."""

    bits: int
    integer_bits: int
    signed: bool

    @property
    def fractional_bits(self) -> int:
        return self.bits - self.integer_bits

    @property
    def raw_min(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer in integer form.

    Attributes:
        name: the layer's name in the Keras model (hls4ml/ONNX names are derived from it).
        weight_raw: int64 array ``(fan_in, fan_out)``;
            real weight = ``weight_raw * 2**-weight_fractional_bits``.
        weight_fractional_bits: power-of-two scale of the weights.
        bias_raw: int64 array ``(fan_out,)``; real bias = ``bias_raw * 2**-bias_fractional_bits``.
        bias_fractional_bits: power-of-two scale of the bias.
        accumulator: the accumulator format (``None``: wide enough never to overflow, hls4ml ``auto``).
        activation: ``"relu"`` or ``"linear"``.
        output: the activation quantizer's format
            (``None``: the raw accumulator is the output, as for logits).
    """

    name: str
    weight_raw: np.ndarray
    weight_fractional_bits: int
    bias_raw: np.ndarray
    bias_fractional_bits: int
    accumulator: FixedFormat | None
    activation: Literal["relu", "linear"]
    output: FixedFormat | None

    def bias_at(self, fractional_bits: int) -> np.ndarray:
        """The bias as raw int64 integers at ``fractional_bits`` (the accumulator's ``f_x + f_w``):
        hls4ml's ``(accum_t) bias`` cast, ``floor(bias_raw * 2**(fractional_bits - f_b))``
        (``AP_TRN``). The one bias alignment of the project (emulator, A2Q check, RTL trace)."""
        shift = fractional_bits - self.bias_fractional_bits
        bias = np.asarray(self.bias_raw, dtype=np.int64)
        return bias << shift if shift >= 0 else bias >> -shift


@dataclass(frozen=True)
class IntegerNetwork:
    """A chain of dense layers behind an input quantizer."""

    input_format: FixedFormat
    layers: tuple[DenseLayer, ...]
