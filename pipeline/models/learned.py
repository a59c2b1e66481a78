"""Learned fixed-point precision for QKeras models: trainable integer and fractional bits.

The quantizer follows QFX (Dai et al., "QFX: Trainable Fixed-Point Quantization for Deep Learning
Acceleration on FPGAs", 2024): the binary-point position (integer bits ``i``) and the fractional bits
``f`` are trainable variables; the forward pass is the exact QKeras fixed-point quantizer at
``ceil(i)``, ``ceil(f)`` (rounded up, straight-through):

    signed:   q(x) = clip(round(x * 2**f), -2**(i + f), 2**(i + f) - 1) * 2**-f   # quantized_bits(i+f+1, i)
    unsigned: q(x) = clip(round(x * 2**f), 0, 2**(i + f) - 1) * 2**-f             # quantized_relu(i+f, i)

``round`` is half to even (``tf.round``, as QKeras). Gradients: ``x`` straight through inside the clip
range; the clip bounds carry the gradient to ``i`` (QFX); the fractional bits get HGQ's surrogate
``d q / d f = -ln 2 * (q(x) - x)`` (Sun et al., "HGQ: High Granularity Quantization for Real-time
Neural Networks on FPGAs", 2024, eq. 8), so the rounding error pulls ``f`` up and the resource term
pulls it down.

Resource term (EBOPs-like, HGQ eq. 12): per dense layer ``sum_ij [w_ij != 0] * b_w * b_x,i`` with
``b_w`` the layer's weight bits and ``b_x,i`` the bits of input ``i``; for the first layer the input
width is that of the common input container (the covering format of the per-feature formats,
:func:`input_container`: the width of the network's input ports; da4ml then sizes the first layer's
adders from the per-feature formats, a saving this term does not model). The model loss is
``cross-entropy + beta * EBOPs``.

Granularity: weights and activations per layer, the input quantizer per feature. Bit widths stay in
``[min_bits, max_bits]`` (the input features in ``[input_min_bits, max_bits]`` when the spec sets it) and
integer bits ``>= 0`` (QKeras ``integer`` of a spec; the input features' ``>= input_min_integer_bits``
when set: the features' range, which the resource term otherwise narrows until they saturate). After training,
:func:`freeze` turns the model into plain QKeras ``quantized_bits`` / ``quantized_relu`` layers
(:func:`pipeline.models.build.build_model` of the frozen spec), so export, hls4ml and RTL run unchanged.
The frozen spec keeps the per-feature input formats (``input_feature_quantizers``) next to the covering
``input_quantizer`` (:func:`input_container`); every later stage applies them to the features upstream
of the network (:func:`pipeline.models.inputs.model_inputs`), so what each stage measures is the learned
model's forward pass exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from pipeline.models.spec import ModelSpec, QuantizerSpec

if TYPE_CHECKING:
    import keras

    from pipeline.deploy.integer_network import FixedFormat

LN2 = math.log(2.0)
BIT_RATE = 16.0
"""Bit widths are stored as ``variable * BIT_RATE``: with Adam (steps ~ learning rate) the bits move
``BIT_RATE`` times faster than the weights, so a short training run can move them by several bits."""


def fixed_point_quantize(x, integer_bits, fractional_bits, signed: bool):
    """The QFX/HGQ straight-through fixed-point quantizer (module docstring) at ``ceil`` of the bits.

    ``integer_bits`` / ``fractional_bits`` are float tensors broadcastable to ``x`` (already clamped).
    """
    import tensorflow as tf

    integer = integer_bits + tf.stop_gradient(tf.math.ceil(integer_bits) - integer_bits)
    fractional = fractional_bits + tf.stop_gradient(tf.math.ceil(fractional_bits) - fractional_bits)
    step = tf.pow(2.0, -fractional)
    upper = tf.pow(2.0, integer) - step
    lower = -tf.pow(2.0, integer) if signed else tf.zeros_like(upper)
    clipped = tf.minimum(tf.maximum(x, lower), upper)
    error = tf.stop_gradient(tf.round(clipped / step) * step - clipped)
    surrogate = -LN2 * error * (fractional - tf.stop_gradient(fractional))
    return clipped + error + surrogate


class LearnedQuantizer:
    """Trainable ``(integer_bits, fractional_bits)`` of one quantizer (shape ``()`` or ``(features,)``)."""

    def __init__(
        self,
        layer,
        name: str,
        shape: tuple[int, ...],
        initial: QuantizerSpec,
        signed: bool,
        min_bits: int,
        max_bits: int,
        min_integer_bits: int = 0,
    ):
        import tensorflow as tf

        self.signed = signed
        self.min_bits = min_bits
        self.max_bits = max_bits
        self.min_integer_bits = min_integer_bits
        sign = int(signed)
        fractional = initial.bits - sign - initial.integer_bits
        limit = (-2.0 / BIT_RATE, (max_bits + 1.0) / BIT_RATE)
        constraint = lambda v: tf.clip_by_value(v, *limit)  # noqa: E731
        self._integer = layer.add_weight(
            name=f"{name}_integer_bits",
            shape=shape,
            trainable=True,
            constraint=constraint,
            initializer=tf.keras.initializers.Constant((initial.integer_bits - 0.5) / BIT_RATE),
        )
        self._fractional = layer.add_weight(
            name=f"{name}_fractional_bits",
            shape=shape,
            trainable=True,
            constraint=constraint,
            initializer=tf.keras.initializers.Constant((fractional - 0.5) / BIT_RATE),
        )

    @property
    def integer_bits(self):
        return self._integer * BIT_RATE

    @property
    def fractional_bits(self):
        return self._fractional * BIT_RATE

    def clamped(self):
        """``(integer, fractional)`` float tensors within the bit limits (gradient passes the clamps)."""
        import tensorflow as tf

        sign = float(self.signed)
        low_integer = max(self.min_integer_bits - 1.0 + 1e-3, 0.0)  # rounds up to min_integer_bits
        integer = _soft_clip(self.integer_bits, low_integer, self.max_bits - sign - 1.0 + 1e-3)
        whole = tf.math.ceil(integer)
        low = tf.maximum(self.min_bits - sign - whole, 0.0) - 1.0 + 1e-3
        fractional = _soft_clip(self.fractional_bits, low, self.max_bits - sign - whole)
        return integer, fractional

    def __call__(self, x):
        integer, fractional = self.clamped()
        return fixed_point_quantize(x, integer, fractional, self.signed)

    def bits(self):
        """Total bits (differentiable, integer-valued in the forward pass)."""
        import tensorflow as tf

        integer, fractional = self.clamped()
        ceil = lambda v: v + tf.stop_gradient(tf.math.ceil(v) - v)  # noqa: E731
        return ceil(integer) + ceil(fractional) + float(self.signed)

    def frozen(self) -> tuple[np.ndarray, np.ndarray]:
        """``(bits, integer_bits)`` as int arrays: the QKeras widths this quantizer rounds to."""
        integer, fractional = (np.ceil(np.asarray(v)).astype(int) for v in self.clamped())
        return integer + fractional + int(self.signed), integer


def _soft_clip(value, low, high):
    """Clip in the forward pass; straight-through gradient (the bits may come back from a limit)."""
    import tensorflow as tf

    return value + tf.stop_gradient(tf.clip_by_value(value, low, high) - value)


def _layer_class():
    import tensorflow as tf

    class LearnedInputQuantizer(tf.keras.layers.Layer):
        """Per-feature learned ``quantized_bits`` on the model input."""

        def __init__(
            self, initial: QuantizerSpec, min_bits: int, max_bits: int, min_integer_bits: int = 0, **kwargs
        ):
            super().__init__(**kwargs)
            self.initial, self.min_bits, self.max_bits = initial, min_bits, max_bits
            self.min_integer_bits = min_integer_bits

        def build(self, input_shape):
            shape = (int(input_shape[-1]),)
            self.quantizer = LearnedQuantizer(
                self, "input", shape, self.initial, True, self.min_bits, self.max_bits, self.min_integer_bits
            )

        def call(self, x):
            return self.quantizer(x)

    class LearnedReLU(tf.keras.layers.Layer):
        """ReLU followed by a per-layer learned ``quantized_relu``."""

        def __init__(self, initial: QuantizerSpec, min_bits: int, max_bits: int, **kwargs):
            super().__init__(**kwargs)
            self.initial, self.min_bits, self.max_bits = initial, min_bits, max_bits

        def build(self, input_shape):
            self.quantizer = LearnedQuantizer(
                self, "act", (), self.initial, False, self.min_bits, self.max_bits
            )

        def call(self, x):
            return self.quantizer(tf.nn.relu(x))

    class LearnedDense(tf.keras.layers.Layer):
        """Dense layer with one per-layer learned ``quantized_bits`` for kernel and bias: the bias then
        never has more fractional bits than the accumulator (``f_x + f_w``), so it adds exactly."""

        def __init__(
            self,
            units: int,
            initial: QuantizerSpec,
            bias: QuantizerSpec,
            min_bits: int,
            max_bits: int,
            kernel_initializer,
            **kwargs,
        ):
            super().__init__(**kwargs)
            self.units, self.initial, self.bias_spec = units, initial, bias
            self.min_bits, self.max_bits = min_bits, max_bits
            self.kernel_initializer = kernel_initializer

        def build(self, input_shape):
            self.kernel = self.add_weight(
                name="kernel", shape=(int(input_shape[-1]), self.units), initializer=self.kernel_initializer
            )
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            self.quantizer = LearnedQuantizer(
                self, "weight", (), self.initial, True, self.min_bits, self.max_bits
            )

        def quantized_kernel(self):
            return self.quantizer(self.kernel)

        def call(self, x):
            return tf.matmul(x, self.quantized_kernel()) + self.quantizer(self.bias)

    return LearnedInputQuantizer, LearnedReLU, LearnedDense


def build_learned_model(spec: ModelSpec, seed: int) -> keras.Model:
    """The trainable model of a ``precision: {mode: learned}`` spec (same layer names as
    :func:`pipeline.models.build.build_model`; the spec's widths are the initial widths) with the
    resource loss ``beta * EBOPs`` attached (:func:`ebops`)."""
    import tensorflow as tf

    precision = spec.precision
    if precision is None or precision.mode != "learned":
        raise ValueError(f"model spec '{spec.name}' has no learned precision")
    input_class, relu_class, dense_class = _layer_class()
    limits = {"min_bits": precision.min_bits, "max_bits": precision.max_bits}
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=(spec.input_features,), name="input")
    input_min_bits = precision.input_min_bits or precision.min_bits
    x = input_class(
        spec.input_quantizer,
        name="input_quant",
        min_bits=input_min_bits,
        max_bits=precision.max_bits,
        min_integer_bits=precision.input_min_integer_bits or 0,
    )(inputs)
    for layer in spec.resolved_layers():
        initializer = tf.keras.initializers.LecunUniform(seed=seed + layer.index)
        x = dense_class(
            layer.units,
            layer.weight,
            layer.bias,
            kernel_initializer=initializer,
            name=layer.dense_name,
            **limits,
        )(x)
        if layer.activation_name is not None:
            x = relu_class(layer.activation_quantizer, name=layer.activation_name, **limits)(x)
    model = tf.keras.Model(inputs=inputs, outputs=x, name=spec.name)
    beta = float(precision.beta)
    if beta > 0:
        model.add_loss(lambda: beta * ebops(model, spec))
    return model


def input_container_bits(model: keras.Model):
    """Differentiable bits of the deployed input container: ``max_i(integer) + max_i(fractional) + 1``."""
    import tensorflow as tf

    quantizer = model.get_layer("input_quant").quantizer
    integer, fractional = quantizer.clamped()
    ceil = lambda v: v + tf.stop_gradient(tf.math.ceil(v) - v)  # noqa: E731
    return tf.reduce_max(ceil(integer)) + tf.reduce_max(ceil(fractional)) + 1.0


def ebops(model: keras.Model, spec: ModelSpec):
    """EBOPs-like cost (HGQ eq. 12): ``sum_layers b_w * b_x * #(non-zero quantized weights)``.

    ``b_x`` is the input container width for the first layer and the previous activation's bits
    after it; the non-zero count is taken from the quantized kernel (no gradient through it).
    """
    import tensorflow as tf

    total = 0.0
    input_bits = input_container_bits(model)
    for layer in spec.resolved_layers():
        dense = model.get_layer(layer.dense_name)
        nonzero = tf.stop_gradient(tf.reduce_sum(tf.cast(dense.quantized_kernel() != 0, tf.float32)))
        total = total + dense.quantizer.bits() * input_bits * nonzero
        if layer.activation_name is not None:
            input_bits = model.get_layer(layer.activation_name).quantizer.bits()
    return total


def learned_widths(model: keras.Model, spec: ModelSpec) -> dict:
    """The learned widths (JSON-ready): per-feature input formats, the deployed input container, and
    per layer the weight and activation ``{bits, integer_bits}``."""
    bits, integer = model.get_layer("input_quant").quantizer.frozen()
    fractional = bits - 1 - integer
    container = input_container(model)
    result = {
        "input_features": [
            {"bits": int(b), "integer_bits": int(i)} for b, i in zip(bits, integer, strict=True)
        ],
        "input_fractional_bits": [int(f) for f in fractional],
        "input_container": {"bits": container.bits, "integer_bits": container.integer_bits},
        "layers": {},
    }
    for layer in spec.resolved_layers():
        w_bits, w_integer = model.get_layer(layer.dense_name).quantizer.frozen()
        entry = {"weight": {"bits": int(w_bits), "integer_bits": int(w_integer)}}
        if layer.activation_name is not None:
            a_bits, a_integer = model.get_layer(layer.activation_name).quantizer.frozen()
            entry["activation"] = {"bits": int(a_bits), "integer_bits": int(a_integer)}
        result["layers"][layer.dense_name] = entry
    result["ebops"] = float(np.asarray(ebops(model, spec)))
    return result


def input_container(model: keras.Model) -> QuantizerSpec:
    """The one ``quantized_bits`` that holds every per-feature input format exactly:
    ``integer = max_i integer_i``, ``fractional = max_i fractional_i``: the frozen network's input
    quantizer (the width of the firmware's input ports), while the per-feature formats are applied
    upstream of it (README, per-feature input precision)."""
    bits, integer = model.get_layer("input_quant").quantizer.frozen()
    fractional = bits - 1 - integer
    whole, frac = int(integer.max()), int(fractional.max())
    return QuantizerSpec(bits=whole + frac + 1, integer_bits=whole)


def feature_formats(widths: dict) -> tuple[FixedFormat, ...]:
    """The per-feature input formats of :func:`learned_widths` as ``ap_fixed`` (sign in the integer bits)."""
    from pipeline.deploy.integer_network import FixedFormat

    return tuple(
        FixedFormat(int(f["bits"]), int(f["integer_bits"]) + 1, True) for f in widths["input_features"]
    )


def quantize_features(features: np.ndarray, formats: tuple[FixedFormat, ...]) -> np.ndarray:
    """Each feature column at its own learned format: the learned input quantizer exactly (half to even,
    saturating; QFX forward pass). This is how per-feature precision is deployed: applied where the
    features are computed, upstream of the frozen network, whose input container (:func:`input_container`)
    then holds every value exactly (the stages call it through :func:`pipeline.models.inputs.model_inputs`);
    :func:`pipeline.rtl.trace.trace_network` (``input_formats``) lets da4ml size the first layer from the
    per-feature ranges and zero low bits."""
    from pipeline.deploy.emulator import quantize_real

    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != len(formats):
        raise ValueError(f"features of shape {features.shape} for {len(formats)} per-feature formats")
    columns = []
    for column, fmt in zip(features.T, formats, strict=True):
        raw, _ = quantize_real(column, fmt)
        columns.append(raw * 2.0**-fmt.fractional_bits)
    return np.stack(columns, axis=1).astype(features.dtype)


def frozen_spec(model: keras.Model, spec: ModelSpec) -> ModelSpec:
    """The plain fixed-precision spec with the learned widths (``precision`` removed): the per-feature
    input formats as ``input_feature_quantizers``, their covering container as ``input_quantizer``."""
    widths = learned_widths(model, spec)
    data = spec.model_dump(mode="json", exclude_unset=True)
    data.pop("precision", None)
    data["input_quantizer"] = widths["input_container"]
    data["input_feature_quantizers"] = widths["input_features"]
    for layer_data, resolved in zip(data["layers"], spec.resolved_layers(), strict=True):
        entry = widths["layers"][resolved.dense_name]
        layer_data["weight"] = entry["weight"]
        layer_data["bias"] = entry["weight"]  # the bias shares the learned weight quantizer
        if "activation" in entry:
            layer_data["activation_quantizer"] = entry["activation"]
    return ModelSpec.model_validate(data)


def freeze(model: keras.Model, spec: ModelSpec) -> tuple[keras.Model, ModelSpec]:
    """Plain QKeras model (``build_model`` of :func:`frozen_spec`) with the trained weights.

    Contract: its forward pass on :func:`pipeline.models.inputs.model_inputs` of the features (each
    feature at its learned format, then the container input quantizer, which leaves them unchanged)
    equals the learned model's on the raw features.
    """
    from pipeline.models.build import build_model

    fixed = frozen_spec(model, spec)
    plain = build_model(fixed, seed=0)
    for layer in fixed.resolved_layers():
        source = model.get_layer(layer.dense_name)
        plain.get_layer(layer.dense_name).set_weights([np.asarray(source.kernel), np.asarray(source.bias)])
    return plain, fixed
