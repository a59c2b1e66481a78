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
4. **Equalization** (optional, before everything else): cross-layer equalization (Nagel et al. 2019)
   with power-of-two factors per hidden channel (:func:`equalize_power_of_two`). ReLU is positively
   homogeneous, so the rescaled network computes the same function exactly and stays an ordinary
   QKeras model with per-tensor formats that now fit every channel better.
5. **Activation equalization** (optional, after 4): each hidden channel's power-of-two factor refined
   by one step up or down to fit the shared activation format (per-channel MMSE activation scales,
   Choukroun et al. 2019, realised exactly as in 4; :mod:`pipeline.ptq.activation_equalization`).
6. **Rounding**: to nearest, GPTQ (:func:`gptq_round`), or ``adaround``: learned rounding on the
   network output (:mod:`pipeline.ptq.adaround`), which starts from the GPTQ result and is run by
   :func:`pipeline.ptq.search.calibrate` (after the format search, when asked).

The logits are never rescaled (the last layer's factor is fixed to 1), so scores keep their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pipeline.ptq.activation_equalization import equalize_activations
from pipeline.ptq.fixed_point import max_integer_bits, mmse_integer_bits, quantize

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
    rounding: Literal["nearest", "gptq", "adaround"] = "nearest"
    format_search: bool = False
    activation_equalization: bool = False


#: Per layer, integer bits that replace the MMSE/max choice: keys ``weight``, ``bias``, ``activation``.
FormatOverrides = Sequence[dict[str, int]]


@dataclass(frozen=True)
class QuantizedLayer:
    """One dense layer after PTQ: on-grid weights/biases and the chosen formats (QKeras integer bits)."""

    weight: np.ndarray
    bias: np.ndarray
    weight_integer_bits: int
    bias_integer_bits: int
    activation_integer_bits: int | None
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
            "rounding": self.settings.rounding,
            "format_search": self.settings.format_search,
            "activation_equalization": self.settings.activation_equalization,
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
    overrides: dict[str, int],
) -> tuple[QuantizedLayer, np.ndarray]:
    """Quantize one layer; return it and its quantized output on the calibration rows."""
    method = settings.method
    weight_integer_bits = overrides.get("weight")
    if weight_integer_bits is None:
        weight_integer_bits = _choose(weight, settings.weight_bits, method, signed=True)
    if settings.rounding == "gptq":
        weight_q = gptq_round(weight, x_quantized, settings.weight_bits, weight_integer_bits)
    else:
        weight_q = quantize(weight, settings.weight_bits, weight_integer_bits, signed=True)
    shift = np.zeros_like(bias)
    if settings.bias_correction:
        shift = np.mean(x_quantized @ weight_q + bias - y_reference, axis=0)
    corrected = bias - shift
    bias_integer_bits = overrides.get("bias")
    if bias_integer_bits is None:
        bias_integer_bits = _choose(corrected, settings.bias_bits, method, signed=True)
    bias_q = quantize(corrected, settings.bias_bits, bias_integer_bits, signed=True)
    y = x_quantized @ weight_q + bias_q
    activation_integer_bits = None
    output = y
    if hidden:
        activated = np.maximum(y, 0.0)
        activation_integer_bits = overrides.get("activation")
        if activation_integer_bits is None:
            activation_integer_bits = _choose(activated, settings.activation_bits, method, signed=False)
        output = quantize(activated, settings.activation_bits, activation_integer_bits, signed=False)
    layer = QuantizedLayer(
        weight=weight_q,
        bias=bias_q,
        weight_integer_bits=weight_integer_bits,
        bias_integer_bits=bias_integer_bits,
        activation_integer_bits=activation_integer_bits,
        bias_shift=shift,
    )
    return layer, output


def gptq_round(
    kernel: np.ndarray, inputs: np.ndarray, bits: int, integer_bits: int, damping: float = 0.01
) -> np.ndarray:
    """Round ``kernel`` onto the ``quantized_bits(bits, integer_bits)`` grid input row by input row,
    pushing each row's rounding error onto the rows not yet rounded so that ``inputs @ kernel`` moves
    least (GPTQ, Frantar et al. ICLR 2023, on the Hessian ``inputs^T inputs`` of the layer's
    calibration inputs; ``damping`` times its mean diagonal is added for stability).

    Contract: the result is on the grid and, on ``inputs``, its output error is at most that of
    round-to-nearest up to the damping (greedy optimal-brain-quantization steps).
    """
    remaining = np.array(kernel, dtype=np.float64)
    hessian = inputs.T @ inputs
    hessian += damping * np.mean(np.diag(hessian)) * np.eye(len(hessian)) + 1e-12 * np.eye(len(hessian))
    inverse = np.linalg.inv(hessian)
    upper = np.linalg.cholesky(inverse).T  # upper Cholesky factor of H^-1, as in GPTQ
    result = np.empty_like(remaining)
    for row in range(len(remaining)):
        result[row] = quantize(remaining[row], bits, integer_bits, signed=True)
        error = (remaining[row] - result[row]) / upper[row, row]
        remaining[row + 1 :] -= np.outer(upper[row, row + 1 :], error)
    return result


def equalize_power_of_two(
    weights: Sequence[tuple[np.ndarray, np.ndarray]], iterations: int = 4
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-layer equalization (Nagel et al. 2019) with power-of-two factors, per hidden channel.

    Channel ``j`` of hidden layer ``k`` is multiplied by ``c_j = 2**round(log2(sqrt(r2_j / r1_j)))``
    (kernel column and bias) and row ``j`` of layer ``k + 1`` divided by it, where ``r1_j`` and
    ``r2_j`` are the largest magnitudes of that column and row: afterwards both have about the same
    range ``sqrt(r1_j r2_j)``, so per-tensor formats fit every channel better. Exact for ReLU networks
    (``relu(c y) = c relu(y)`` for ``c > 0``) and power-of-two factors; the logits are unchanged.
    """
    layers = [
        (np.array(kernel, dtype=np.float64), np.array(bias, dtype=np.float64)) for kernel, bias in weights
    ]
    for _ in range(iterations):
        for index in range(len(layers) - 1):
            kernel, bias = layers[index]
            following, following_bias = layers[index + 1]
            column = np.maximum(np.abs(kernel).max(axis=0), np.abs(bias))
            row = np.abs(following).max(axis=1)
            alive = (column > 0) & (row > 0)
            exponent = np.zeros_like(column)
            exponent[alive] = np.round(0.5 * np.log2(row[alive] / column[alive]))
            factor = 2.0**exponent
            layers[index] = (kernel * factor, bias * factor)
            layers[index + 1] = (following / factor[:, None], following_bias)
    return layers


def prepared_weights(
    weights: Sequence[tuple[np.ndarray, np.ndarray]], calibration: np.ndarray, settings: PTQSettings
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The float weights that PTQ quantizes: after the equalizations ``settings`` asks for (steps 4
    and 5; the same float function, exactly, since every factor is a power of two)."""
    layers = [
        (np.asarray(kernel, dtype=np.float64), np.asarray(bias, dtype=np.float64)) for kernel, bias in weights
    ]
    if settings.equalization:
        layers = equalize_power_of_two(layers)
    if settings.activation_equalization:
        layers = equalize_activations(
            layers, np.asarray(calibration, dtype=np.float64), settings.activation_bits
        )
    return layers


def post_training_quantize(
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    calibration: np.ndarray,
    settings: PTQSettings,
    overrides: FormatOverrides | None = None,
) -> PTQResult:
    """Quantize a float ReLU MLP (``weights``: ``(kernel (fan_in, fan_out), bias)`` per dense layer,
    ReLU after every layer but the last) on ``calibration`` input rows. ``overrides`` fixes chosen
    integer bits per layer (used by :mod:`pipeline.ptq.search`); ``settings.format_search`` is
    ignored here (:func:`pipeline.ptq.search.calibrate` honours it).

    Contract: the result's values are exactly on the QKeras grids of the chosen formats, so a QKeras
    model built with those formats and given these values computes the same function bit for bit;
    the last layer's scale is 1 (logits keep the float model's units).
    """
    calibration = np.asarray(calibration, dtype=np.float64)
    if settings.rounding == "adaround":
        raise ValueError("rounding 'adaround' is learned by pipeline.ptq.search.calibrate, not here")
    weights = prepared_weights(weights, calibration, settings)
    input_integer_bits = _choose(calibration, settings.input_bits, settings.method, signed=True)
    x_quantized = quantize(calibration, settings.input_bits, input_integer_bits, signed=True)
    x_reference = calibration
    layers = []
    for index, (kernel, bias) in enumerate(weights):
        kernel = np.asarray(kernel, dtype=np.float64)
        bias = np.asarray(bias, dtype=np.float64)
        hidden = index < len(weights) - 1
        y_float = x_reference @ kernel + bias  # float network, float inputs, unscaled units
        fixed = dict(overrides[index]) if overrides is not None else {}
        layer, x_quantized = _quantize_layer(kernel, bias, x_quantized, y_float, settings, hidden, fixed)
        layers.append(layer)
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
