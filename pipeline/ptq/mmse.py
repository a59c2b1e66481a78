"""Post-training quantization of a trained float MLP into power-of-two fixed point (QKeras formats).

Per layer, in order (each layer sees the already-quantized outputs of the layers before it):

1. **Weights**: the ``integer_bits`` of ``quantized_bits(weight_bits, integer_bits, alpha=1)`` that
   minimises ``||W - Q(W)||^2`` (MMSE, Choukroun et al. ICCVW 2019, restricted to power-of-two scales),
   or the naive max-scaling choice.
2. **Bias correction** (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
   Correction", ICCV 2019, empirical form; also used by the minifloat PTQ study, Aggarwal et al. 2023):
   the mean shift of the layer's pre-activation caused by quantization, measured on the calibration
   jets against the float network, is subtracted from the bias before the bias is quantized.
3. **Activations**: ``quantized_relu(activation_bits, integer_bits)`` by MMSE on the calibration
   activations of the quantized path.
4. **Equalization** (optional): a power-of-two factor ``2**s`` per hidden layer moves between layer
   ``k`` and ``k + 1`` (ReLU is positively homogeneous, so ``relu(2**s y) = 2**s relu(y)``); ``s`` is
   chosen so that the layer's quantization error, measured in the float network's units, is least.
   With power-of-two factors this is exact and keeps the model an ordinary QKeras model (cross-layer
   equalization of Nagel et al. 2019 restricted to one power-of-two factor per layer, since QKeras
   activation quantizers are per layer). It also works around QKeras' lack of negative
   ``integer_bits``: small weights are scaled up onto a finer grid.

The logits are never rescaled (the last layer's factor is fixed to 1), so scores keep their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pipeline.ptq.fixed_point import max_integer_bits, mmse_integer_bits, quantization_mse, quantize

Method = Literal["mmse", "max"]


@dataclass(frozen=True)
class PTQSettings:
    """What to quantize to and how: widths are given, binary points (integer bits) are chosen."""

    input_bits: int
    weight_bits: int
    bias_bits: int
    activation_bits: int
    method: Method = "mmse"
    bias_correction: bool = True
    equalization: bool = False
    equalization_range: int = 3


@dataclass(frozen=True)
class QuantizedLayer:
    """One dense layer after PTQ: on-grid weights/biases and the chosen formats (QKeras integer bits)."""

    weight: np.ndarray
    bias: np.ndarray
    weight_integer_bits: int
    bias_integer_bits: int
    activation_integer_bits: int | None
    scale_exponent: int
    bias_shift: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class PTQResult:
    """The quantized network: input format and per-layer formats and values."""

    settings: PTQSettings
    input_integer_bits: int
    layers: tuple[QuantizedLayer, ...]

    def choices(self) -> dict:
        """A JSON-ready record of every chosen format."""
        return {
            "method": self.settings.method,
            "bias_correction": self.settings.bias_correction,
            "equalization": self.settings.equalization,
            "input": {"bits": self.settings.input_bits, "integer_bits": self.input_integer_bits},
            "layers": [
                {
                    "weight": {"bits": self.settings.weight_bits, "integer_bits": layer.weight_integer_bits},
                    "bias": {"bits": self.settings.bias_bits, "integer_bits": layer.bias_integer_bits},
                    "activation": None
                    if layer.activation_integer_bits is None
                    else {
                        "bits": self.settings.activation_bits,
                        "integer_bits": layer.activation_integer_bits,
                    },
                    "scale_exponent": layer.scale_exponent,
                    "max_abs_bias_shift": float(np.max(np.abs(layer.bias_shift), initial=0.0)),
                }
                for layer in self.layers
            ],
        }


def _choose(values: np.ndarray, bits: int, method: Method, *, signed: bool) -> int:
    if method == "mmse":
        return mmse_integer_bits(values, bits, signed=signed)
    return max_integer_bits(values, bits, signed=signed)


def _quantize_layer(
    weight: np.ndarray,
    bias: np.ndarray,
    x_quantized: np.ndarray,
    y_reference: np.ndarray,
    settings: PTQSettings,
    hidden: bool,
    scale_exponent: int,
) -> tuple[QuantizedLayer, np.ndarray, float]:
    """Quantize one layer whose float weights are already scaled; return it, its quantized output
    and its error in reference units (pre-activation MSE + activation quantization MSE)."""
    method = settings.method
    weight_integer_bits = _choose(weight, settings.weight_bits, method, signed=True)
    weight_q = quantize(weight, settings.weight_bits, weight_integer_bits, signed=True)
    shift = np.zeros_like(bias)
    if settings.bias_correction:
        shift = np.mean(x_quantized @ weight_q + bias - y_reference, axis=0)
    corrected = bias - shift
    bias_integer_bits = _choose(corrected, settings.bias_bits, method, signed=True)
    bias_q = quantize(corrected, settings.bias_bits, bias_integer_bits, signed=True)
    y = x_quantized @ weight_q + bias_q
    error = float(np.mean((y - y_reference) ** 2))
    activation_integer_bits = None
    output = y
    if hidden:
        activated = np.maximum(y, 0.0)
        activation_integer_bits = _choose(activated, settings.activation_bits, method, signed=False)
        output = quantize(activated, settings.activation_bits, activation_integer_bits, signed=False)
        error += quantization_mse(activated, settings.activation_bits, activation_integer_bits, signed=False)
    layer = QuantizedLayer(
        weight=weight_q,
        bias=bias_q,
        weight_integer_bits=weight_integer_bits,
        bias_integer_bits=bias_integer_bits,
        activation_integer_bits=activation_integer_bits,
        scale_exponent=scale_exponent,
        bias_shift=shift,
    )
    return layer, output, error / 4.0**scale_exponent


def post_training_quantize(
    weights: Sequence[tuple[np.ndarray, np.ndarray]], calibration: np.ndarray, settings: PTQSettings
) -> PTQResult:
    """Quantize a float ReLU MLP (``weights``: ``(kernel (fan_in, fan_out), bias)`` per dense layer,
    ReLU after every layer but the last) on ``calibration`` input rows.

    Contract: the result's values are exactly on the QKeras grids of the chosen formats, so a QKeras
    model built with those formats and given these values computes the same function bit for bit;
    the last layer's scale is 1 (logits keep the float model's units).
    """
    calibration = np.asarray(calibration, dtype=np.float64)
    input_integer_bits = _choose(calibration, settings.input_bits, settings.method, signed=True)
    x_quantized = quantize(calibration, settings.input_bits, input_integer_bits, signed=True)
    x_reference = calibration
    previous_exponent = 0
    layers = []
    for index, (kernel, bias) in enumerate(weights):
        kernel = np.asarray(kernel, dtype=np.float64)
        bias = np.asarray(bias, dtype=np.float64)
        hidden = index < len(weights) - 1
        y_float = x_reference @ kernel + bias  # float network, float inputs, unscaled units
        exponents = [0]
        if hidden and settings.equalization:
            exponents = list(range(-settings.equalization_range, settings.equalization_range + 1))
        best = None
        for exponent in exponents:
            scaled_kernel = kernel * 2.0 ** (exponent - previous_exponent)
            scaled_bias = bias * 2.0**exponent
            candidate = _quantize_layer(
                scaled_kernel, scaled_bias, x_quantized, y_float * 2.0**exponent, settings, hidden, exponent
            )
            if best is None or candidate[2] < best[2]:
                best = candidate
        layer, x_quantized, _ = best
        layers.append(layer)
        previous_exponent = layer.scale_exponent
        x_reference = np.maximum(y_float, 0.0) if hidden else y_float
    return PTQResult(settings=settings, input_integer_bits=input_integer_bits, layers=tuple(layers))


def forward(result: PTQResult, features: np.ndarray) -> np.ndarray:
    """The quantized network's logits in float64 (the QKeras model's function, for benchmarks)."""
    settings = result.settings
    x = quantize(
        np.asarray(features, dtype=np.float64), settings.input_bits, result.input_integer_bits, signed=True
    )
    for layer in result.layers:
        x = x @ layer.weight + layer.bias
        if layer.activation_integer_bits is not None:
            x = quantize(
                np.maximum(x, 0.0), settings.activation_bits, layer.activation_integer_bits, signed=False
            )
    return x
