"""Read the integer view (:class:`~pipeline.deploy.integer_network.IntegerNetwork`) of a QKeras model.

Supported models: ``Input`` -> ``QActivation(quantized_bits)`` (the input quantizer) -> repeated
``QDense`` (kernel and bias quantizers ``quantized_bits(bits, integer, alpha=1)``) each optionally
followed by ``QActivation(quantized_relu(bits, integer))`` or ``QActivation(quantized_bits(...))``.
A ``QDense(activation=<quantizer>)`` is read the same way as a separate ``QActivation``.

QKeras semantics used here (qkeras 0.9 ``quantizers.py``), all exact powers of two:

* ``quantized_bits(b, i, keep_negative=True, alpha=1)``: ``raw = clip(round(x * 2**(b-1-i)),
  -2**(b-1), 2**(b-1) - 1)``, value ``raw * 2**-(b-1-i)``: hls4ml ``ap_fixed<b, i+1>``.
  With ``keep_negative=False``: ``raw = clip(round(x * 2**(b-i)), 0, 2**b - 1)``: ``ap_ufixed<b, i>``.
* ``quantized_relu(b, i)``: ``raw = clip(round(x * 2**(b-i)), 0, 2**b - 1)``: ``ap_ufixed<b, i>``.

``round`` is ``tf.round`` (half to even). Anything else (``alpha`` other than 1, ``auto_po2`` scales,
batch norm, float layers, stochastic rounding, leaky/sigmoid relus) raises a :class:`PipelineError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import keras

STAGE = "deploy"
_PASSIVE_LAYERS = ("InputLayer", "Dropout")


def _unsupported(problem: str, layer_name: str) -> PipelineError:
    return PipelineError(
        STAGE,
        problem,
        input=f"layer '{layer_name}'",
        fix="use QDense with quantized_bits(bits, integer, alpha=1) weights/biases and "
        "QActivation(quantized_relu | quantized_bits) activations (see pipeline/models/build.py)",
    )


def _alpha_is_one(alpha: Any) -> bool:
    if alpha is None or isinstance(alpha, str):
        return False
    try:
        return bool(np.all(np.asarray(alpha, dtype=np.float64) == 1.0))
    except (TypeError, ValueError):
        return False


def quantizer_format(quantizer: Any, layer_name: str, *, weight: bool = False) -> FixedFormat:
    """The fixed-point format a QKeras ``quantized_bits`` / ``quantized_relu`` quantizer rounds to.

    Args:
        quantizer: a QKeras quantizer object.
        layer_name: for error messages.
        weight: ``True`` for kernel/bias quantizers (``symmetric`` is then allowed: the values stay on
            the same grid); activation quantizers must not be symmetric (hls4ml saturates asymmetric).

    Raises:
        PipelineError: the quantizer has no exact power-of-two fixed-point meaning.
    """
    kind = type(quantizer).__name__
    if getattr(quantizer, "use_stochastic_rounding", False):
        raise _unsupported(f"{kind} with stochastic rounding is not deterministic", layer_name)
    bits = int(quantizer.bits)
    integer = int(np.asarray(quantizer.integer))
    if kind == "quantized_bits":
        if not _alpha_is_one(quantizer.alpha):
            raise _unsupported(
                f"quantized_bits alpha={quantizer.alpha!r}: only alpha=1 (power-of-two scale) is bit-exact",
                layer_name,
            )
        if quantizer.symmetric and not weight:
            raise _unsupported("symmetric quantized_bits activations are not supported", layer_name)
        if quantizer.keep_negative:
            if bits < 2:
                raise _unsupported("quantized_bits needs bits >= 2 when signed", layer_name)
            return FixedFormat(bits=bits, integer_bits=integer + 1, signed=True)
        return FixedFormat(bits=bits, integer_bits=integer, signed=False)
    if kind == "quantized_relu":
        if quantizer.negative_slope != 0 or quantizer.use_sigmoid:
            raise _unsupported(
                "quantized_relu with negative_slope or use_sigmoid is not supported", layer_name
            )
        if quantizer.relu_upper_bound is not None and not quantizer.is_quantized_clip:
            raise _unsupported("quantized_relu with relu_upper_bound is not supported", layer_name)
        return FixedFormat(bits=bits, integer_bits=integer, signed=False)
    raise _unsupported(f"quantizer {kind} is not supported (only quantized_bits, quantized_relu)", layer_name)


def quantize_to_raw(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """QKeras rounding of real ``values`` to raw integers of ``fmt``: half to even, then saturate."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0**fmt.fractional_bits
    return np.clip(np.round(scaled), fmt.raw_min, fmt.raw_max).astype(np.int64)


def _activation_of(layer: Any) -> tuple[str, Any | None]:
    """``(kind, quantizer)`` of a QActivation / QDense activation: kind "relu" or "linear"."""
    quantizer = (
        getattr(layer, "quantizer", None) if type(layer).__name__ == "QActivation" else layer.activation
    )
    if quantizer is None:
        return "linear", None
    kind = type(quantizer).__name__
    if kind == "quantized_relu":
        return "relu", quantizer
    if kind == "quantized_bits":
        return "linear", quantizer
    if getattr(quantizer, "__name__", "") == "linear":
        return "linear", None
    raise _unsupported(
        f"activation {getattr(quantizer, '__name__', kind)} is not a QKeras quantizer", layer.name
    )


def _dense_layer(layer: Any) -> DenseLayer:
    kernel_quantizer = layer.kernel_quantizer_internal
    bias_quantizer = layer.bias_quantizer_internal
    if kernel_quantizer is None:
        raise _unsupported("QDense without a kernel quantizer (float weights)", layer.name)
    if not layer.use_bias or bias_quantizer is None:
        raise _unsupported("QDense needs a bias with a quantized_bits bias quantizer", layer.name)
    weight_format = quantizer_format(kernel_quantizer, layer.name, weight=True)
    bias_format = quantizer_format(bias_quantizer, layer.name, weight=True)
    kernel, bias = (np.asarray(v) for v in layer.get_weights())
    weight_raw = quantize_to_raw(kernel, weight_format)
    bias_raw = quantize_to_raw(bias, bias_format)
    if getattr(kernel_quantizer, "symmetric", False):
        weight_raw = np.maximum(weight_raw, weight_format.raw_min + 1)
    if getattr(bias_quantizer, "symmetric", False):
        bias_raw = np.maximum(bias_raw, bias_format.raw_min + 1)
    activation, out_quantizer = _activation_of(layer)
    return DenseLayer(
        name=layer.name,
        weight_raw=weight_raw,
        weight_fractional_bits=weight_format.fractional_bits,
        bias_raw=bias_raw,
        bias_fractional_bits=bias_format.fractional_bits,
        accumulator=None,
        activation=activation,
        output=None if out_quantizer is None else quantizer_format(out_quantizer, layer.name),
    )


def integer_network_from_qkeras(
    model: keras.Model, accumulator_bits: Mapping[str, int] | None = None
) -> IntegerNetwork:
    """The integer view of a sequential QKeras model (see the module docstring for what is supported).

    Args:
        model: a Keras-2 functional/sequential model of QKeras layers, single input and output.
        accumulator_bits: optional accumulator width ``P`` per dense layer name; the accumulator
            format is then ``ap_fixed<P, P - f_x - f_w>`` (``f_acc = f_x + f_w`` fractional bits,
            as in :mod:`pipeline.deploy.integer_network`); layers not named get ``None`` (wide).

    Returns:
        The :class:`IntegerNetwork`: input format and, per ``QDense``, raw int64 weights and bias,
        their power-of-two scales, the activation and its output format.

    Raises:
        PipelineError: unsupported layer or quantizer, missing input quantizer, unknown layer names
            in ``accumulator_bits``.
    """
    accumulator_bits = dict(accumulator_bits or {})
    input_format: FixedFormat | None = None
    layers: list[DenseLayer] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in _PASSIVE_LAYERS:
            continue
        if kind == "Activation" and getattr(layer.activation, "__name__", "") == "linear":
            continue
        if kind == "QActivation":
            activation, quantizer = _activation_of(layer)
            if quantizer is None:
                continue
            fmt = quantizer_format(quantizer, layer.name)
            if not layers and input_format is None:
                if activation != "linear":
                    raise _unsupported("the input quantizer must be quantized_bits", layer.name)
                input_format = fmt
                continue
            if not layers:
                raise _unsupported("two input quantizers in a row", layer.name)
            previous = layers[-1]
            if previous.output is not None:
                raise _unsupported("two activation quantizers after one dense layer", layer.name)
            layers[-1] = DenseLayer(**{**previous.__dict__, "activation": activation, "output": fmt})
            continue
        if kind == "QDense":
            if input_format is None:
                raise _unsupported("the model has no input QActivation(quantized_bits) before", layer.name)
            if layers and layers[-1].output is None:
                raise _unsupported("a dense layer without an activation quantizer feeds", layer.name)
            layers.append(_dense_layer(layer))
            continue
        raise _unsupported(f"layer type {kind} has no integer form (batch norm / float layers)", layer.name)
    if input_format is None or not layers:
        raise PipelineError(
            STAGE,
            "the model has no input quantizer or no QDense layer",
            input=getattr(model, "name", "model"),
            fix="build the model from a quantized spec (input_quantizer + quantized weights)",
        )
    names = {layer.name for layer in layers}
    unknown = sorted(set(accumulator_bits) - names)
    if unknown:
        raise PipelineError(
            STAGE,
            f"accumulator_bits names unknown dense layers {unknown}",
            input="accumulator_bits",
            fix=f"use names among {sorted(names)}",
        )
    resolved = []
    x_format = input_format
    for layer in layers:
        bits = accumulator_bits.get(layer.name)
        if bits is not None:
            fractional = x_format.fractional_bits + layer.weight_fractional_bits
            accumulator = FixedFormat(bits=int(bits), integer_bits=int(bits) - fractional, signed=True)
            layer = DenseLayer(**{**layer.__dict__, "accumulator": accumulator})
        resolved.append(layer)
        x_format = layer.output
    return IntegerNetwork(input_format=input_format, layers=tuple(resolved))
