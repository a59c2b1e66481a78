"""A2Q / A2Q+ training parametrisation of a QKeras dense layer, and stripping back to plain QKeras.

Per output channel ``j`` the kernel is weight-normalised ([A2Q] Sec. 4, as Brevitas'
``AccumulatorAwareParameterPreScaling``)::

    v_j = direction_j * mask_j                        (pruned weights stay zero)
    v_j = (v_j - mean(v_j over unpruned)) * mask_j    (A2Q+ only: zero-centred)
    w_j = min(|g_j|, T_j * s) * v_j / ||v_j||_1       (gain clipped to the L1 bound)
    q_j = clip(round_toward_zero(w_j / s), -2**(M-1), 2**(M-1) - 1),  kernel = q_j * s

with ``s = 2**-f_w`` the QKeras weight scale. Rounding toward zero and clipping never increase
``|q_ij|``, so ``||q_j||_1 <= T_j`` holds for the *integer* weights. ``T_j`` is the A2Q / A2Q+ bound
(:mod:`pipeline.a2q.bounds`) for the bits the bias leaves: hls4ml adds the bias into the same
accumulator (``nnet_dense_latency.h``: ``acc = (accum_t) bias`` then ``acc += x * w``), so the bound
is taken for ``2**(P-1) - 1 - |b_acc_j|`` instead of ``2**(P-1) - 1``; the bias is capped at
``|b_acc_j| <= 2**(P-2)`` so the weights always keep at least half the range. The gradient passes
through rounding with the straight-through estimator.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from pipeline.a2q.bounds import require_feasible
from pipeline.a2q.check import repair_weights
from pipeline.a2q.projection import project_kernel, zero_center
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.integer_network import FixedFormat

EPSILON = 1e-12


class AccumulatorAwareDense(tf.keras.layers.Layer):
    """Dense layer whose integer weights satisfy the A2Q (``method="a2q"``) or A2Q+ (``"a2q_plus"``)
    L1 bound for a P-bit accumulator; see the module docstring for the parametrisation."""

    def __init__(
        self,
        units: int,
        weight_bits: int,
        weight_integer_bits: int,
        bias_bits: int,
        bias_integer_bits: int,
        input_bits: int,
        input_signed: bool,
        input_fractional_bits: int,
        accumulator_bits: int,
        method: str,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.weight_bits, self.weight_integer_bits = weight_bits, weight_integer_bits
        self.bias_bits, self.bias_integer_bits = bias_bits, bias_integer_bits
        self.input_bits, self.input_signed = input_bits, bool(input_signed)
        self.input_fractional_bits = input_fractional_bits
        self.accumulator_bits, self.method = accumulator_bits, method
        require_feasible(
            method, accumulator_bits, input_bits, self.input_signed, where=f"layer '{self.name}'"
        )

    @property
    def weight_fractional_bits(self) -> int:
        return self.weight_bits - 1 - self.weight_integer_bits

    @property
    def bias_fractional_bits(self) -> int:
        return self.bias_bits - 1 - self.bias_integer_bits

    @property
    def input_format(self) -> FixedFormat:
        return FixedFormat(self.input_bits, self.input_bits - self.input_fractional_bits, self.input_signed)

    def build(self, input_shape) -> None:
        fan_in = int(input_shape[-1])
        self.direction = self.add_weight(
            name="direction", shape=(fan_in, self.units), initializer="glorot_uniform"
        )
        self.gain = self.add_weight(name="gain", shape=(self.units,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.mask = self.add_weight(
            name="mask", shape=(fan_in, self.units), initializer="ones", trainable=False
        )
        super().build(input_shape)

    def _bias_cap_raw(self) -> float:
        """``2**(P-2)`` accumulator units expressed in raw bias units (floored)."""
        shift = self.input_fractional_bits + self.weight_fractional_bits - self.bias_fractional_bits
        return float(np.floor(2.0 ** (self.accumulator_bits - 2 - shift)))

    def quantized_bias(self) -> tf.Tensor:
        """QKeras ``quantized_bits(bias_bits, bias_integer_bits, alpha=1)`` rounding, capped (STE)."""
        scale = 2.0**self.bias_fractional_bits
        cap = min(2.0 ** (self.bias_bits - 1) - 1, self._bias_cap_raw())
        low = max(-(2.0 ** (self.bias_bits - 1)), -cap)
        raw = tf.clip_by_value(tf.round(self.bias * scale), low, cap)
        return self.bias + tf.stop_gradient(raw / scale - self.bias)

    def l1_limits(self, bias: tf.Tensor) -> tf.Tensor:
        """Per-channel L1 bound ``T_j`` on the integer weights, after the bias's share."""
        f_acc = self.input_fractional_bits + self.weight_fractional_bits
        bias_acc = tf.stop_gradient(tf.abs(bias) * 2.0**f_acc)
        room = tf.maximum(2.0 ** (self.accumulator_bits - 1) - 1.0 - bias_acc, 0.0)
        if self.method == "a2q":
            return room * 2.0 ** (int(self.input_signed) - self.input_bits)
        return 2.0 * room / (2.0**self.input_bits - 1.0)

    def _directions(self) -> tf.Tensor:
        direction = self.direction * self.mask
        if self.method == "a2q_plus":
            count = tf.maximum(tf.reduce_sum(self.mask, axis=0), 1.0)
            direction = (direction - tf.reduce_sum(direction, axis=0) / count) * self.mask
        return direction

    def quantized_kernel(self, bias: tf.Tensor) -> tf.Tensor:
        """The constrained kernel on the QKeras grid (values ``q * 2**-f_w``), STE gradient."""
        scale = 2.0**self.weight_fractional_bits
        direction = self._directions()
        norm = tf.reduce_sum(tf.abs(direction), axis=0) + EPSILON
        gain = tf.minimum(tf.abs(self.gain), self.l1_limits(bias) / scale)
        kernel = gain * direction / norm
        scaled = kernel * scale
        raw = tf.sign(scaled) * tf.floor(tf.abs(scaled))
        raw = tf.clip_by_value(raw, -(2.0 ** (self.weight_bits - 1)), 2.0 ** (self.weight_bits - 1) - 1)
        return kernel + tf.stop_gradient(raw / scale - kernel)

    def call(self, inputs):
        bias = self.quantized_bias()
        return tf.matmul(inputs, self.quantized_kernel(bias)) + bias

    def integer_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(weight_raw, bias_raw)`` int64, before the exact repair of :func:`strip`."""
        bias = self.quantized_bias()
        kernel = self.quantized_kernel(bias).numpy()
        weight_raw = np.round(kernel * 2.0**self.weight_fractional_bits).astype(np.int64)
        bias_raw = np.round(bias.numpy() * 2.0**self.bias_fractional_bits).astype(np.int64)
        return weight_raw, bias_raw

    def get_config(self) -> dict:
        config = super().get_config()
        keys = ("units", "weight_bits", "weight_integer_bits", "bias_bits", "bias_integer_bits", "input_bits")
        keys += ("input_signed", "input_fractional_bits", "accumulator_bits", "method")
        for key in keys:
            config[key] = getattr(self, key)
        return config


def _clone(layer):
    from pipeline.models.io import custom_objects

    with tf.keras.utils.custom_object_scope(custom_objects()):
        return type(layer).from_config(layer.get_config())


def _rebuild(model, replace) -> tf.keras.Model:
    """A new functional model with each layer replaced by ``replace(layer)`` (``None``: a clone with
    the same weights); ``replace`` returns ``(new_layer, initialise(new_layer))``."""
    inputs = tf.keras.Input(shape=model.input_shape[1:], name=model.layers[0].name)
    x = inputs
    for layer in model.layers[1:]:
        replacement = replace(layer)
        if replacement is None:
            new_layer = _clone(layer)
            x = new_layer(x)
            new_layer.set_weights(layer.get_weights())
        else:
            new_layer, initialise = replacement
            x = new_layer(x)
            initialise(new_layer)
    return tf.keras.Model(inputs, x, name=model.name)


def to_accumulator_aware(model: tf.keras.Model, settings: Mapping[str, tuple[int, str]]) -> tf.keras.Model:
    """Replace each ``QDense`` named in ``settings`` (``name -> (accumulator_bits, method)``) by an
    :class:`AccumulatorAwareDense` initialised from its trained (pruned) weights.

    A2Q: direction = the kernel, gain = its per-channel L1 norm (as Brevitas), clipped to the bound
    (a gain above the bound is clipped in the forward pass and would get no gradient). A2Q+:
    direction = the Euclidean projection of the zero-centred kernel onto the L1 ball of the bound
    (Duchi et al. 2008; [A2Q+] initialisation). The pruning mask is ``kernel != 0``.
    Dense layers not in ``settings`` are frozen, so fine-tuning cannot regrow their pruned weights.
    """
    network = integer_network_from_qkeras(model)
    input_formats = {}
    x_format = network.input_format
    for dense in network.layers:
        input_formats[dense.name] = x_format
        x_format = dense.output

    def replace(layer):
        if layer.name not in settings:
            return None
        accumulator_bits, method = settings[layer.name]
        fmt = input_formats[layer.name]
        kernel_quantizer, bias_quantizer = layer.kernel_quantizer_internal, layer.bias_quantizer_internal
        new_layer = AccumulatorAwareDense(
            units=layer.units,
            weight_bits=int(kernel_quantizer.bits),
            weight_integer_bits=int(kernel_quantizer.integer),
            bias_bits=int(bias_quantizer.bits),
            bias_integer_bits=int(bias_quantizer.integer),
            input_bits=fmt.bits,
            input_signed=fmt.signed,
            input_fractional_bits=fmt.fractional_bits,
            accumulator_bits=int(accumulator_bits),
            method=method,
            name=layer.name,
        )
        kernel, bias = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())

        def initialise(target: AccumulatorAwareDense) -> None:
            mask = kernel != 0
            target.bias.assign(bias.astype(np.float32))
            limits = target.l1_limits(target.quantized_bias()).numpy() * 2.0**-target.weight_fractional_bits
            if method == "a2q_plus":
                direction = project_kernel(kernel, limits, mask, center=True)
                gain = np.abs(zero_center(direction, mask)).sum(axis=0)
            else:
                direction = kernel * mask
                gain = np.abs(direction).sum(axis=0)
            gain = np.minimum(gain, limits)  # start inside the bound: the clipped gain gets no gradient
            target.set_weights(
                [
                    direction.astype(np.float32),
                    gain.astype(np.float32),
                    bias.astype(np.float32),
                    mask.astype(np.float32),
                ]
            )

        return new_layer, initialise

    rebuilt = _rebuild(model, replace)
    for dense in network.layers:  # unconstrained layers keep their (pruned) weights exactly
        if dense.name not in settings:
            rebuilt.get_layer(dense.name).trainable = False
    return rebuilt


def strip(model: tf.keras.Model) -> tf.keras.Model:
    """A plain QKeras model: every :class:`AccumulatorAwareDense` becomes a ``QDense`` with
    ``quantized_bits(..., alpha=1)`` quantizers whose weights lie exactly on the grid (QKeras'
    quantizers are the identity on them), after :func:`pipeline.a2q.check.repair_weights` made every
    channel's exact worst case fit P bits (bias included). Like tfmot's ``strip_pruning``."""
    from qkeras import QDense, quantized_bits

    from pipeline.a2q.check import bias_in_accumulator_units
    from pipeline.deploy.integer_network import DenseLayer

    def replace(layer):
        if not isinstance(layer, AccumulatorAwareDense):
            return None
        weight_raw, bias_raw = layer.integer_weights()
        dense = DenseLayer(
            layer.name,
            weight_raw,
            layer.weight_fractional_bits,
            bias_raw,
            layer.bias_fractional_bits,
            None,
            "linear",
            None,
        )
        bias_acc = bias_in_accumulator_units(dense, layer.input_format)
        weight_raw = repair_weights(
            weight_raw, bias_acc, layer.input_format, layer.accumulator_bits, layer.name
        )
        new_layer = QDense(
            layer.units,
            kernel_quantizer=quantized_bits(layer.weight_bits, layer.weight_integer_bits, alpha=1),
            bias_quantizer=quantized_bits(layer.bias_bits, layer.bias_integer_bits, alpha=1),
            name=layer.name,
        )
        weights = [
            (weight_raw * 2.0**-layer.weight_fractional_bits).astype(np.float32),
            (bias_raw * 2.0**-layer.bias_fractional_bits).astype(np.float32),
        ]
        return new_layer, lambda target: target.set_weights(weights)

    return _rebuild(model, replace)
