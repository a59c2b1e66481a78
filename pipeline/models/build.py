"""Map a :class:`~pipeline.models.spec.ModelSpec` to a (Q)Keras model (logits out, no softmax).

Quantized layers: ``QDense`` with ``quantized_bits(bits, integer_bits, alpha=1)`` weights and biases
(power-of-two scale, needed for bit-exact firmware), ``QActivation(quantized_relu(bits, integer_bits))``
activations, and an input ``QActivation(quantized_bits(...))`` first layer. Float layers: ``Dense`` +
``Activation('relu')``. Layer names are the spec's stable names (``dense_1``, ``relu_1``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.models.spec import ModelSpec, QuantizerSpec

if TYPE_CHECKING:
    import keras


def quantized_bits_config(quantizer: QuantizerSpec) -> str:
    """QKeras quantizer string ``quantized_bits(b,i,alpha=1)`` for weights, biases, input, output."""
    return f"quantized_bits({quantizer.bits},{quantizer.integer_bits},alpha=1)"


def quantized_relu_config(quantizer: QuantizerSpec) -> str:
    """QKeras quantizer string ``quantized_relu(b,i)`` for activations."""
    return f"quantized_relu({quantizer.bits},{quantizer.integer_bits})"


def _quantized_bits(quantizer: QuantizerSpec | None):
    if quantizer is None:
        return None
    from qkeras import quantized_bits

    return quantized_bits(quantizer.bits, quantizer.integer_bits, alpha=1)


def build_model(spec: ModelSpec, seed: int) -> keras.Model:
    """Build the model described by ``spec`` with weights initialised from ``seed``.

    Contract: same spec + seed -> identical initial weights; output = logits (``n_classes`` units).
    A ``precision: {mode: learned}`` spec gives the trainable-precision model of
    :func:`pipeline.models.learned.build_learned_model` (frozen later by ``learned.freeze``).
    """
    import tensorflow as tf

    if spec.learned_precision:
        from pipeline.models.learned import build_learned_model

        return build_learned_model(spec, seed)
    from qkeras import QActivation, QDense, quantized_relu

    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=(spec.input_features,), name="input")
    x = inputs
    if spec.input_quantizer is not None:
        x = QActivation(_quantized_bits(spec.input_quantizer), name="input_quant")(x)
    for layer in spec.resolved_layers():
        initializer = tf.keras.initializers.LecunUniform(seed=seed + layer.index)
        if layer.quantized:
            x = QDense(
                layer.units,
                kernel_quantizer=_quantized_bits(layer.weight),
                bias_quantizer=_quantized_bits(layer.bias),
                kernel_initializer=initializer,
                name=layer.dense_name,
            )(x)
        else:
            x = tf.keras.layers.Dense(layer.units, kernel_initializer=initializer, name=layer.dense_name)(x)
        if layer.bn_name is not None:
            x = tf.keras.layers.BatchNormalization(name=layer.bn_name)(x)
        if layer.activation_name is not None:
            if layer.activation_quantizer is not None:
                quantizer = layer.activation_quantizer
                x = QActivation(
                    quantized_relu(quantizer.bits, quantizer.integer_bits), name=layer.activation_name
                )(x)
            else:
                x = tf.keras.layers.Activation("relu", name=layer.activation_name)(x)
    if spec.output_quantizer is not None:
        x = QActivation(_quantized_bits(spec.output_quantizer), name="output_quant")(x)
    return tf.keras.Model(inputs=inputs, outputs=x, name=spec.name)
