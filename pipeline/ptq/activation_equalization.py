"""Per-channel activation scales with power-of-two factors, realised exactly by equalization.

A ``quantized_relu`` format is per tensor: one binary point for all channels of a hidden layer. The
MMSE low-bit PTQ paper (Choukroun et al., ICCVW 2019) shows that per-channel ("kernel-wise") scales
cut the quantization MSE; cross-layer equalization (Nagel et al., ICCV 2019) shows how to get them
for free in a ReLU network: ``relu(c y) = c relu(y)`` for ``c > 0``, so multiplying column ``j`` of
layer ``k`` (kernel and bias) by ``c_j`` and dividing row ``j`` of layer ``k + 1`` by ``c_j`` leaves the
function unchanged. With ``c_j`` a power of two the network stays an ordinary QKeras model.

Here ``c_j = 2**e_j`` with ``e_j`` in ``[-span, span]`` minimises channel ``j``'s activation error
measured in its original units,

    e_j = argmin_e  mean_jets ( Q(2**e a_j) / 2**e - a_j )**2,

where ``Q`` is the layer's per-tensor MMSE ``quantized_relu`` format and ``a_j`` the float activation
on the calibration jets (ties keep ``e_j = 0``). A small ``span`` keeps the weight ranges that the
weight-range equalization (:func:`pipeline.ptq.mmse.equalize_power_of_two`) balanced: activations and
the next layer's weights pull the same factor in opposite directions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.ptq.fixed_point import mmse_integer_bits, quantize


def channel_exponents(activations: np.ndarray, bits: int, integer_bits: int, span: int) -> np.ndarray:
    """Per column of ``activations`` (jets x channels, non-negative) the exponent in
    ``[-span, span]`` minimising the scaled-and-unscaled ``quantized_relu(bits, integer_bits)`` MSE
    (ties and dead channels: 0)."""
    activations = np.asarray(activations, dtype=np.float64)
    exponents = np.arange(-span, span + 1)
    errors = np.stack(
        [
            np.mean(
                (quantize(activations * 2.0**e, bits, integer_bits, signed=False) / 2.0**e - activations)
                ** 2,
                axis=0,
            )
            for e in exponents
        ],
        axis=1,
    )
    best = errors.min(axis=1, keepdims=True)
    # the smallest |e| among the minimisers: no move without a strict gain
    candidates = np.where(errors <= best, np.abs(exponents)[None, :], np.inf)
    return exponents[np.argmin(candidates, axis=1)]


def equalize_activations(
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    calibration: np.ndarray,
    activation_bits: int,
    span: int = 1,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rescale every hidden channel by the power of two of :func:`channel_exponents` (layer by layer
    on the float activations of the already-rescaled network). Contract: the float function is
    unchanged up to rounding (every factor is a power of two, so exactly in binary floating point),
    and the last layer's outputs (logits) are never rescaled."""
    layers = [
        (np.array(kernel, dtype=np.float64), np.array(bias, dtype=np.float64)) for kernel, bias in weights
    ]
    x = np.asarray(calibration, dtype=np.float64)
    for index in range(len(layers) - 1):
        kernel, bias = layers[index]
        activations = np.maximum(x @ kernel + bias, 0.0)
        integer_bits = mmse_integer_bits(activations, activation_bits, signed=False)
        factor = 2.0 ** channel_exponents(activations, activation_bits, integer_bits, span)
        layers[index] = (kernel * factor, bias * factor)
        following, following_bias = layers[index + 1]
        layers[index + 1] = (following / factor[:, None], following_bias)
        x = activations * factor
    return layers
