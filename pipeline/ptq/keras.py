"""PTQ as a model-spec mode: float model in, ordinary QKeras model out.

A spec with ``quantization: {mode: ptq, ...}`` names the bit widths of its quantizers as usual; their
``integer_bits`` are placeholders that post-training quantization replaces (:mod:`pipeline.ptq.mmse`).
The train stage trains the spec's float twin (same layers, no quantizers) with the spec's training
settings, or loads a user's float Keras model (``quantization.float_model``), quantizes it, and saves
the QKeras model; every later stage treats it like a QAT model (export, C-sim and RTL bit-exact).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import PipelineError
from pipeline.models.spec import Defaults, LayerSpec, ModelSpec, QuantizerSpec
from pipeline.ptq.mmse import PTQResult, PTQSettings
from pipeline.ptq.search import calibrate

if TYPE_CHECKING:
    import keras

    from pipeline.data.io import Dataset

#: Written next to the model by the train stage: every chosen format and the float twin's accuracy.
PTQ_RECORD = "ptq.json"


def float_twin(spec: ModelSpec) -> ModelSpec:
    """The spec without quantizers, PTQ or A2Q: the float network PTQ starts from."""
    layers = tuple(LayerSpec(units=layer.units, activation=layer.activation) for layer in spec.layers)
    return ModelSpec(
        name=spec.name,
        description=spec.description,
        input_features=spec.input_features,
        layers=layers,
        training=spec.training,
    )


def settings_for(spec: ModelSpec) -> PTQSettings:
    """Bit widths from the spec (input quantizer, first layer's weight/bias/activation widths)."""
    layers = spec.resolved_layers()
    first = layers[0]
    hidden_activation = next(
        (layer.activation_quantizer for layer in layers if layer.activation_quantizer), None
    )
    missing = [
        key
        for key, value in (
            ("input_quantizer", spec.input_quantizer),
            ("defaults.weight", first.weight),
            ("defaults.bias", first.bias),
            ("defaults.activation", hidden_activation),
        )
        if value is None
    ]
    if missing:
        raise PipelineError(
            "train",
            f"quantization.mode: ptq needs the bit widths of {missing}",
            input=f"model spec {spec.name}",
            fix="give bits for the input quantizer and for weights, biases and activations",
        )
    widths = {(layer.weight.bits, layer.bias.bits) for layer in layers}
    widths_activation = {layer.activation_quantizer.bits for layer in layers if layer.activation_quantizer}
    if len(widths) > 1 or len(widths_activation) > 1:
        raise PipelineError(
            "train",
            "quantization.mode: ptq takes one width for all layers' weights, biases and activations",
            input=f"model spec {spec.name}: layers",
            fix="set the widths in defaults only",
        )
    quantization = spec.quantization
    return PTQSettings(
        input_bits=spec.input_quantizer.bits,
        weight_bits=first.weight.bits,
        bias_bits=first.bias.bits,
        activation_bits=hidden_activation.bits,
        method=quantization.method,
        bias_correction=quantization.bias_correction,
        equalization=quantization.equalization,
        rounding=quantization.rounding,
        format_search=quantization.format_search,
        activation_equalization=quantization.activation_equalization,
    )


def dense_weights(model: keras.Model) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(kernel, bias)`` of every Dense layer, in order (float Keras models only)."""
    import tensorflow as tf

    layers = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    return [(np.asarray(layer.kernel.numpy()), np.asarray(layer.bias.numpy())) for layer in layers]


def quantized_spec(spec: ModelSpec, result: PTQResult) -> ModelSpec:
    """The spec with the chosen binary points written per layer (an ordinary QAT-free QKeras spec)."""
    settings = result.settings
    layers = []
    for layer_spec, layer in zip(spec.layers, result.layers, strict=True):
        activation = None
        if layer.activation_integer_bits is not None:
            activation = QuantizerSpec(
                bits=settings.activation_bits, integer_bits=layer.activation_integer_bits
            )
        layers.append(
            LayerSpec(
                units=layer_spec.units,
                activation=layer_spec.activation,
                weight=QuantizerSpec(bits=settings.weight_bits, integer_bits=layer.weight_integer_bits),
                bias=QuantizerSpec(bits=settings.bias_bits, integer_bits=layer.bias_integer_bits),
                activation_quantizer=activation,
            )
        )
    return ModelSpec(
        name=spec.name,
        description=spec.description,
        input_features=spec.input_features,
        input_quantizer=QuantizerSpec(bits=settings.input_bits, integer_bits=result.input_integer_bits),
        defaults=Defaults(),
        layers=tuple(layers),
        training=spec.training,
    )


def quantize_model(
    spec: ModelSpec, float_model: keras.Model, calibration: np.ndarray, seed: int
) -> tuple[keras.Model, ModelSpec, PTQResult]:
    """PTQ of ``float_model`` per ``spec``: the QKeras model, its resolved spec and the choices.

    Contract: the returned model's weights are exactly the PTQ values (checked here: QKeras'
    quantizers must leave them unchanged, otherwise the formats were mis-mapped).
    """
    from pipeline.models.build import build_model

    weights = dense_weights(float_model)
    if len(weights) != len(spec.layers):
        raise PipelineError(
            "train",
            f"the float model has {len(weights)} Dense layers, the spec {len(spec.layers)}",
            input=f"model spec {spec.name}: quantization.float_model",
            fix="give a float model with the spec's architecture",
        )
    result = calibrate(weights, calibration, settings_for(spec))
    resolved = quantized_spec(spec, result)
    model = build_model(resolved, seed)
    for index, layer in enumerate(result.layers):
        keras_layer = model.get_layer(f"dense_{index + 1}")
        keras_layer.set_weights([layer.weight.astype(np.float32), layer.bias.astype(np.float32)])
        for values, quantizer in (
            (layer.weight, keras_layer.kernel_quantizer_internal),
            (layer.bias, keras_layer.bias_quantizer_internal),
        ):
            requantized = np.asarray(quantizer(values.astype(np.float32)))
            if not np.array_equal(requantized, values.astype(np.float32)):
                raise RuntimeError(f"PTQ values of dense_{index + 1} are off the QKeras grid")
    return model, resolved, result


def calibration_rows(dataset: Dataset, jets: int, seed: int) -> np.ndarray:
    """A seeded random subset of ``jets`` training jets (all of them when there are fewer)."""
    rng = np.random.default_rng(seed)
    count = min(jets, len(dataset.x_train))
    return dataset.x_train[np.sort(rng.choice(len(dataset.x_train), size=count, replace=False))]


def quantize_after_training(
    spec: ModelSpec, float_model: keras.Model, dataset: Dataset, seed: int, output_dir: Path
) -> keras.Model:
    """The train stage's PTQ step: quantize the trained float twin, write ``ptq.json`` (the chosen
    formats, the float twin's test accuracy) and ``ptq_spec.yaml`` (the resolved QKeras spec)."""
    from pipeline.models.spec import dump_spec

    calibration = calibration_rows(dataset, spec.quantization.calibration_jets, seed)
    model, resolved, result = quantize_model(spec, float_model, calibration, seed)
    float_logits = float_model.predict(dataset.x_test, batch_size=4096, verbose=0)
    record = {
        **result.choices(),
        "calibration_jets": len(calibration),
        "float_test_accuracy": float(np.mean(np.argmax(float_logits, axis=1) == dataset.y_test)),
    }
    (output_dir / PTQ_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    (output_dir / "ptq_spec.yaml").write_text(dump_spec(resolved))
    return model
