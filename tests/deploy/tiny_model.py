"""A tiny hand-built QKeras model for the deploy tests: input quantized_bits(8, 3), QDense 16->8 with
6-bit weights, quantized_relu(6, 0), QDense 8->5 (logits). Weights are drawn from a seeded normal so
that activations saturate and the 6-bit grids are fully used."""

from __future__ import annotations

import numpy as np


def build_tiny_model(seed: int = 0):
    """The tiny model with seeded random (on-grid after quantization) weights."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inputs = tf.keras.Input((16,), name="input")
    x = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inputs)
    x = QDense(
        8,
        kernel_quantizer=quantized_bits(6, 0, alpha=1),
        bias_quantizer=quantized_bits(6, 0, alpha=1),
        name="dense_1",
    )(x)
    x = QActivation(quantized_relu(6, 0), name="relu_1")(x)
    x = QDense(
        5,
        kernel_quantizer=quantized_bits(6, 0, alpha=1),
        bias_quantizer=quantized_bits(6, 0, alpha=1),
        name="output",
    )(x)
    model = tf.keras.Model(inputs, x, name="tiny")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.3, bias.shape)])
    return model


def random_features(n: int, seed: int = 1) -> np.ndarray:
    """Standardised-looking features, wide enough to hit the input quantizer's saturation."""
    return np.random.default_rng(seed).normal(0, 1.5, (n, 16)).astype(np.float32)
