"""A2Q / A2Q+ training parametrisation of a QKeras dense layer, and stripping back to plain QKeras.

Per output channel ``j`` the kernel is weight-normalised ([A2Q] Sec. 4, as Brevitas'
``AccumulatorAwareParameterPreScaling``; [A2Q+] Sec. 3)::

    v_j = direction_j * mask_j                        (pruned weights stay zero)
    v_j = (v_j - mean(v_j over unpruned)) * mask_j    (zero-centred channels only, see below)
    w_j = min(|g_j|, T_j * s) * v_j / ||v_j||_1       (gain clipped to the L1 bound)
    q_j = clip(round_toward_zero(w_j / s), -2**(M-1), 2**(M-1) - 1),  kernel = q_j * s

with ``s = 2**-f_w`` the QKeras weight scale. ``T_j`` is the bound (:mod:`pipeline.a2q.bounds`) for
the room the bias leaves: hls4ml adds the bias into the same accumulator (``nnet_dense_latency.h``:
``acc = (accum_t) bias`` then ``acc += x * w``), so the bound is taken for ``R_j = 2**(P-1) - 1 -
|b_acc_j|``; the bias is capped at ``|b_acc_j| <= 2**(P-2)`` so the weights keep at least half the range.

Why no repair is needed. Rounding toward zero and clipping shrink every ``|q_ij|``, so they shrink
the sum of the positive weights ``S+`` and of the negative weights ``S-`` of a channel separately.
A2Q (``||q||_1 <= R 2**(signed - N)``) bounds ``S+ + |S-|``; A2Q+ (zero sum, ``||q||_1 <= 2R /
(2**N - 1)``) bounds ``S+ = |S-| <= R / (2**N - 1)``. The exact worst case of a channel
(:mod:`pipeline.a2q.check`) is ``b + x_max S+ + x_min S-`` (and mirrored), which both conditions keep
inside ``[-2**(P-1), 2**(P-1) - 1]``; rounding breaks ``sum(q) = 0`` but not ``S+, |S-| <= R / (2**N -
1)``, so the A2Q+ guarantee survives it. The only other error is float32 arithmetic in the forward
pass (relative ``~fan_in * 2**-24``) and the snap before rounding (``SNAP``); ``T_j`` is shrunk by
``(fan_in + 16) * 2**-22`` to cover both. The
constrain stage checks the integer weights exactly and fails if a channel could still overflow.

Zero-centring per channel (``method="a2q_plus"``). The [A2Q+] bound needs ``sum(q) = 0`` over the
channel; with pruning, the sum runs over the unpruned weights (pruned ones are fixed zeros). A
channel with one unpruned weight can only be centred to zero, and a channel with few weights loses
most of what it learnt. Every channel satisfies the accumulator bound with either constraint, so each
channel of an A2Q+ layer takes the constraint set whose Euclidean projection is nearer its trained
weights (:func:`pipeline.a2q.projection.choose_zero_centred`): A2Q+ (zero sum, the ~2x larger L1
ball) where the bound binds and the channel is dense enough, A2Q otherwise. The choice is fixed at
initialisation (the non-trainable ``zero_centred`` flags) and counted in ``accumulators.json``.

Signed inputs. For a signed N-bit input the A2Q bound is ``(2**P - 2) / 2**N`` and the A2Q+ bound
``(2**P - 2) / (2**N - 1)``: larger by a factor ``1 + 1/(2**N - 1)`` only, paid for with the zero-sum
constraint. ``a2q_plus`` on a layer with a signed input is therefore an error (use ``a2q`` there).
The gradient passes through rounding with the straight-through estimator.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from pipeline.a2q.bounds import require_feasible
from pipeline.a2q.projection import choose_zero_centred, project_kernel
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.integer_network import FixedFormat
from pipeline.errors import PipelineError

EPSILON = 1e-12
# Rounding toward zero of a float32 product that should be the integer k but came out one ulp below
# would give k - 1: values are scaled by 1 + SNAP before the floor. The float32 margin of the bound,
# (fan_in + 16) * 2**-22 >= 2**-18, covers this scaling and the float32 error of the forward pass.
SNAP = 2.0**-20


def require_supported(method: str, input_signed: bool, where: str) -> None:
    """Raise a :class:`PipelineError` for ``a2q_plus`` on a signed input (module docstring: the A2Q+
    bound ``(2**P - 2) / (2**N - 1)`` is A2Q's ``(2**P - 2) / 2**N`` up to ``1 + 1/(2**N - 1)``, so
    zero-centring would only cost accuracy) and for an unknown method."""
    if method not in ("a2q", "a2q_plus"):
        raise PipelineError(
            "constrain", f"unknown accumulator_method '{method}'", input=where, fix="use a2q or a2q_plus"
        )
    if method == "a2q_plus" and input_signed:
        raise PipelineError(
            "constrain",
            "accumulator_method a2q_plus needs an unsigned input: on a signed N-bit input its L1 bound "
            "(2^P-2)/(2^N-1) is A2Q's (2^P-2)/2^N up to a factor 1+1/(2^N-1), so zero-centring buys nothing",
            input=where,
            fix="set accumulator_method: a2q on this layer (A2Q+ suits layers after a ReLU)",
        )


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
        require_supported(method, self.input_signed, where=f"layer '{self.name}'")
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
        self.zero_centred = self.add_weight(
            name="zero_centred",
            shape=(self.units,),
            initializer="ones" if self.method == "a2q_plus" else "zeros",
            trainable=False,
        )
        self.float32_margin = (fan_in + 16) * 2.0**-22
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

    def bias_room(self, bias: tf.Tensor) -> tf.Tensor:
        """Per channel ``R_j = 2**(P-1) - 1 - |b_acc_j|``: what the bias leaves of the accumulator."""
        f_acc = self.input_fractional_bits + self.weight_fractional_bits
        bias_acc = tf.stop_gradient(tf.abs(bias) * 2.0**f_acc)
        return tf.maximum(2.0 ** (self.accumulator_bits - 1) - 1.0 - bias_acc, 0.0)

    def a2q_limits(self, bias: tf.Tensor) -> tf.Tensor:
        """[A2Q] per-channel L1 bound on the integer weights: ``R_j 2**(signed(x) - N)``."""
        return self.bias_room(bias) * 2.0 ** (int(self.input_signed) - self.input_bits)

    def a2q_plus_limits(self, bias: tf.Tensor) -> tf.Tensor:
        """[A2Q+] per-channel L1 bound of zero-sum integer weights: ``2 R_j / (2**N - 1)``."""
        return 2.0 * self.bias_room(bias) / (2.0**self.input_bits - 1.0)

    def l1_limits(self, bias: tf.Tensor) -> tf.Tensor:
        """Per-channel L1 bound ``T_j`` used in the forward pass: A2Q+ on zero-centred channels, A2Q
        on the others, shrunk by the float32 margin (module docstring)."""
        limits = tf.where(self.zero_centred > 0.5, self.a2q_plus_limits(bias), self.a2q_limits(bias))
        return limits * (1.0 - self.float32_margin)

    def _directions(self) -> tf.Tensor:
        direction = self.direction * self.mask
        count = tf.maximum(tf.reduce_sum(self.mask, axis=0), 1.0)
        centred = (direction - tf.reduce_sum(direction, axis=0) / count) * self.mask
        return tf.where(self.zero_centred[None, :] > 0.5, centred, direction)

    def quantized_kernel(self, bias: tf.Tensor) -> tf.Tensor:
        """The constrained kernel on the QKeras grid (values ``q * 2**-f_w``), STE gradient."""
        scale = 2.0**self.weight_fractional_bits
        direction = self._directions()
        norm = tf.reduce_sum(tf.abs(direction), axis=0) + EPSILON
        gain = tf.minimum(tf.abs(self.gain), self.l1_limits(bias) / scale)
        kernel = gain * direction / norm
        scaled = kernel * scale
        raw = tf.sign(scaled) * tf.floor(tf.abs(scaled) * (1.0 + SNAP))  # toward zero (see SNAP)
        raw = tf.clip_by_value(raw, -(2.0 ** (self.weight_bits - 1)), 2.0 ** (self.weight_bits - 1) - 1)
        return kernel + tf.stop_gradient(raw / scale - kernel)

    def call(self, inputs):
        bias = self.quantized_bias()
        return tf.matmul(inputs, self.quantized_kernel(bias)) + bias

    def integer_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(weight_raw, bias_raw)`` int64: the integer weights and bias of the forward pass."""
        bias = self.quantized_bias()
        kernel = self.quantized_kernel(bias).numpy()
        weight_raw = np.round(kernel * 2.0**self.weight_fractional_bits).astype(np.int64)
        bias_raw = np.round(bias.numpy() * 2.0**self.bias_fractional_bits).astype(np.int64)
        return weight_raw, bias_raw

    def zero_centred_channels(self) -> int:
        """How many channels are constrained by A2Q+ (zero-centred); the others by A2Q."""
        return int(np.count_nonzero(self.zero_centred.numpy() > 0.5))

    def get_config(self) -> dict:
        config = super().get_config()
        keys = ("units", "weight_bits", "weight_integer_bits", "bias_bits", "bias_integer_bits", "input_bits")
        keys += ("input_signed", "input_fractional_bits", "accumulator_bits", "method")
        for key in keys:
            config[key] = getattr(self, key)
        return config


def constraint_summary(model: tf.keras.Model) -> dict[str, dict]:
    """Per :class:`AccumulatorAwareDense` of ``model``: ``method``, ``zero_centred_channels`` (A2Q+
    constraint) and ``a2q_channels`` (A2Q constraint: all channels of an ``a2q`` layer, and the
    channels of an ``a2q_plus`` layer that A2Q's ball fits better, see the module docstring)."""
    summary = {}
    for layer in model.layers:
        if isinstance(layer, AccumulatorAwareDense):
            centred = layer.zero_centred_channels()
            summary[layer.name] = {
                "method": layer.method,
                "zero_centred_channels": centred,
                "a2q_channels": int(layer.units) - centred,
            }
    return summary


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
    (a gain above the bound is clipped in the forward pass and would get no gradient). A2Q+: each
    channel is zero-centred or not (:func:`pipeline.a2q.projection.choose_zero_centred`), and its
    direction is the exact Euclidean projection of the trained kernel onto its constraint set
    ([A2Q+] EP-init: ``{sum = 0, ||w||_1 <= T}`` or the A2Q ball). The pruning mask is ``kernel != 0``.
    Dense layers not in ``settings`` are frozen, so fine-tuning cannot regrow their pruned weights.
    """
    network = integer_network_from_qkeras(model)
    dense_layers = {dense.name: dense for dense in network.layers}
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
        shadow, bias = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
        mask = shadow != 0  # pruned weights are exact zeros of the float (shadow) kernel
        # Start from the weights the trained model deploys (QKeras rounds the shadow kernel to the
        # nearest grid point), not the shadow kernel: rounding that toward zero would lose ~half an
        # LSB per weight before fine-tuning even starts.
        kernel = dense_layers[layer.name].weight_raw * 2.0 ** -dense_layers[layer.name].weight_fractional_bits

        def initialise(target: AccumulatorAwareDense) -> None:
            target.bias.assign(bias.astype(np.float32))
            quantized_bias = target.quantized_bias()
            to_real = 2.0**-target.weight_fractional_bits * (1.0 - target.float32_margin)
            a2q_limits = target.a2q_limits(quantized_bias).numpy() * to_real
            if method == "a2q_plus":
                plus_limits = target.a2q_plus_limits(quantized_bias).numpy() * to_real
                zero_centred = choose_zero_centred(kernel, mask, a2q_limits, plus_limits)
                limits = np.where(zero_centred, plus_limits, a2q_limits)
                direction = project_kernel(kernel, limits, mask, zero_centred)
            else:  # [A2Q] / Brevitas: rescale (the clipped gain below), no projection
                zero_centred = np.zeros(kernel.shape[1], dtype=bool)
                limits, direction = a2q_limits, kernel * mask
            gain = np.minimum(np.abs(direction).sum(axis=0), limits)  # inside the bound: a clipped gain
            target.set_weights(  # gets no gradient
                [
                    direction.astype(np.float32),
                    gain.astype(np.float32),
                    bias.astype(np.float32),
                    mask.astype(np.float32),
                    zero_centred.astype(np.float32),
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
    ``quantized_bits(..., alpha=1)`` quantizers holding exactly the integer weights the constrained
    layer computes (on the grid, so QKeras' quantizers are the identity on them and both models give
    the same outputs). Nothing is repaired: the exact check of the stripped model
    (:func:`pipeline.a2q.check.check_layer`) is the proof, and it can fail. Like tfmot's ``strip_pruning``."""
    from qkeras import QDense, quantized_bits

    def replace(layer):
        if not isinstance(layer, AccumulatorAwareDense):
            return None
        weight_raw, bias_raw = layer.integer_weights()
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
