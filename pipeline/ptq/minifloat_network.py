"""Minifloat post-training quantization of a float ReLU MLP (exploration; not deployable, see
:mod:`pipeline.ptq.minifloat`).

Weights are signed ExMy, hidden activations unsigned minifloats with the same exponent width and one
more mantissa bit (the sign bit of a ReLU output carries no information), each tensor with its own
power-of-two scale chosen by minimum MSE on the calibration jets (the MMSE scale search of the
minifloat PTQ study, Aggarwal et al. FPL 2024). The input keeps the integer path's fixed-point
format and biases the integer path's MMSE fixed point, with the same empirical bias correction as
:mod:`pipeline.ptq.mmse`, so that only the weight x activation format differs between the arms.
Accumulation is exact (float64 sums of exact products), as in the MAC units of
:mod:`pipeline.ptq.mac_rtl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.ptq.fixed_point import mmse_integer_bits, quantize
from pipeline.ptq.minifloat import MinifloatFormat, mmse_scale_exponent, quantize_minifloat


def activation_format(weight_format: MinifloatFormat) -> MinifloatFormat:
    """The unsigned activation format paired with a signed weight format of the same total width."""
    return MinifloatFormat(
        weight_format.exponent_bits,
        weight_format.mantissa_bits + 1,
        signed=False,
        subnormals=weight_format.subnormals,
    )


@dataclass(frozen=True)
class MinifloatLayer:
    weight: np.ndarray
    bias: np.ndarray
    activation_scale_exponent: int | None


@dataclass(frozen=True)
class MinifloatNetwork:
    """A calibrated minifloat network: apply it with :meth:`logits`."""

    weight_format: MinifloatFormat
    input_bits: int
    input_integer_bits: int
    layers: tuple[MinifloatLayer, ...]

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = quantize(
            np.asarray(features, dtype=np.float64), self.input_bits, self.input_integer_bits, signed=True
        )
        act_format = activation_format(self.weight_format)
        for layer in self.layers:
            x = x @ layer.weight + layer.bias
            if layer.activation_scale_exponent is not None:
                x = quantize_minifloat(np.maximum(x, 0.0), act_format, layer.activation_scale_exponent)
        return x


def minifloat_quantize(
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    calibration: np.ndarray,
    weight_format: MinifloatFormat,
    *,
    input_bits: int,
    bias_bits: int,
    bias_correction: bool = True,
) -> MinifloatNetwork:
    """Calibrate the minifloat network on ``calibration`` rows (see the module docstring)."""
    calibration = np.asarray(calibration, dtype=np.float64)
    input_integer_bits = mmse_integer_bits(calibration, input_bits, signed=True)
    x = quantize(calibration, input_bits, input_integer_bits, signed=True)
    x_reference = calibration
    act_format = activation_format(weight_format)
    layers = []
    for index, (kernel, bias) in enumerate(weights):
        kernel, bias = np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)
        hidden = index < len(weights) - 1
        y_reference = x_reference @ kernel + bias
        weight_q = quantize_minifloat(kernel, weight_format, mmse_scale_exponent(kernel, weight_format))
        if bias_correction:
            bias = bias - np.mean(x @ weight_q + bias - y_reference, axis=0)
        bias_q = quantize(bias, bias_bits, mmse_integer_bits(bias, bias_bits, signed=True), signed=True)
        y = x @ weight_q + bias_q
        scale = None
        if hidden:
            activated = np.maximum(y, 0.0)
            scale = mmse_scale_exponent(activated, act_format)
            x = quantize_minifloat(activated, act_format, scale)
            x_reference = np.maximum(y_reference, 0.0)
        layers.append(MinifloatLayer(weight_q, bias_q, scale))
    return MinifloatNetwork(weight_format, input_bits, input_integer_bits, tuple(layers))
