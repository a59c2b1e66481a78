"""Bring your own QKeras model: load a user's model file (HDF5, or JSON architecture + HDF5 weights)
and make sure it starts with its input quantizer, so it deploys like a model trained by the pipeline.

Config (``export:`` / ``convert:`` section, key ``external_models``)::

    external_models:
      my_tagger:
        path: user_models/my_tagger.h5          # or .json with `weights: ...h5`
        input_quantizer: {bits: 16, integer_bits: 6}   # QKeras quantized_bits(16, 6, alpha=1)
        accumulator_bits: {dense_2: 16}          # optional A2Q accumulator widths per dense layer
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.stage_api import StrictModel

if TYPE_CHECKING:
    import keras


class InputQuantizer(StrictModel):
    """QKeras ``quantized_bits(bits, integer_bits, alpha=1)`` applied to the (standardised) features."""

    bits: int
    integer_bits: int


class ExternalModel(StrictModel):
    """A user's QKeras model file to deploy instead of the train stage's output."""

    path: str
    weights: str | None = None
    input_quantizer: InputQuantizer | None = None
    accumulator_bits: dict[str, int] = Field(default_factory=dict)


def _resolve(path: str, repo_root: Path) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else Path(repo_root) / candidate


def _quantizers_as_strings(architecture: dict) -> dict:
    """Keras 2.14's ``to_json`` writes a ``QActivation``'s quantizer as a nested object that
    ``model_from_json`` cannot rebuild; QKeras also accepts it as a string ``quantized_relu(bits=6, ...)``."""
    for layer in architecture.get("config", {}).get("layers", []):
        activation = layer.get("config", {}).get("activation")
        if (
            layer.get("class_name") == "QActivation"
            and isinstance(activation, dict)
            and "config" in activation
        ):
            arguments = ", ".join(f"{key}={value!r}" for key, value in activation["config"].items())
            layer["config"]["activation"] = f"{activation['class_name']}({arguments})"
    return architecture


def _load_file(external: ExternalModel, repo_root: Path, name: str) -> keras.Model:
    import tensorflow as tf

    from pipeline.models.io import custom_objects, load_model

    path = _resolve(external.path, repo_root)
    key = f"external_models.{name}.path"
    if not path.is_file():
        raise PipelineError(
            "export", "external model file not found", input=f"{key}: {path}", fix="fix the path"
        )
    if path.suffix == ".json":
        if external.weights is None:
            raise PipelineError(
                "export",
                "a JSON architecture needs a weights file",
                input=key,
                fix=f"add external_models.{name}.weights: <file>.h5",
            )
        weights = _resolve(external.weights, repo_root)
        try:
            architecture = _quantizers_as_strings(json.loads(path.read_text()))
            model = tf.keras.models.model_from_json(json.dumps(architecture), custom_objects=custom_objects())
            model.load_weights(weights)
        except (OSError, ValueError, TypeError) as error:
            raise PipelineError(
                "export", f"cannot load the external model: {error}", input=key, fix="check the files"
            ) from error
        return model
    return load_model(path)


def _first_layer(model: keras.Model):
    for layer in model.layers:
        if type(layer).__name__ != "InputLayer":
            return layer
    return None


def with_input_quantizer(model: keras.Model, quantizer: InputQuantizer | None, name: str) -> keras.Model:
    """``model`` if it already starts with a ``QActivation(quantized_bits)`` (checked against
    ``quantizer`` when given); otherwise a copy with ``input_quant`` inserted before the first layer
    (sequential chains only)."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits

    first = _first_layer(model)
    key = f"external_models.{name}.input_quantizer"
    if type(first).__name__ == "QActivation" and type(first.quantizer).__name__ == "quantized_bits":
        existing = (int(first.quantizer.bits), int(first.quantizer.integer))
        if quantizer is not None and existing != (quantizer.bits, quantizer.integer_bits):
            raise PipelineError(
                "export",
                f"the model's input quantizer is quantized_bits{existing}, the config says "
                f"({quantizer.bits}, {quantizer.integer_bits})",
                input=key,
                fix="remove input_quantizer from the config or make it match the model",
            )
        return model
    if quantizer is None:
        raise PipelineError(
            "export",
            "the external model has no input quantizer and none is configured",
            input=key,
            fix="add input_quantizer: {bits: ..., integer_bits: ...} (the precision of the firmware's input)",
        )
    inputs = tf.keras.Input(shape=model.input_shape[1:], name="input")
    x = QActivation(quantized_bits(quantizer.bits, quantizer.integer_bits, alpha=1), name="input_quant")(
        inputs
    )
    for layer in model.layers:
        if type(layer).__name__ != "InputLayer":
            x = layer(x)
    return tf.keras.Model(inputs=inputs, outputs=x, name=model.name)


def load_external_model(external: ExternalModel, repo_root: Path, name: str) -> keras.Model:
    """Load a bring-your-own model and make it start with its input quantizer.

    Raises:
        PipelineError: missing files, unreadable model, missing or contradicting input quantizer.
    """
    return with_input_quantizer(_load_file(external, repo_root, name), external.input_quantizer, name)
