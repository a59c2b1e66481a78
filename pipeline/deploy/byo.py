"""Bring your own model: a QKeras model file (HDF5, or JSON architecture + HDF5 weights) or a QONNX
``.onnx`` file (Brevitas, HAWQ, QKeras exports; see :mod:`pipeline.deploy.from_qonnx`), deployed like a
model trained by the pipeline.

Config (``export:`` section, key ``external_models``)::

    external_models:
      my_tagger:
        path: user_models/my_tagger.h5          # or .json with `weights: ...h5`, or a QONNX .onnx
        input_quantizer: {bits: 16, integer_bits: 6}   # QKeras quantized_bits(16, 6, alpha=1)
        accumulator_bits: {dense_2: 16}          # optional A2Q accumulator widths per dense layer
        trust_model_code: false                  # true: allow Lambda layers (their code runs on load)

A QKeras model is checked *before* it is loaded: Lambda layers carry Python code that Keras runs when
it loads the file, so a model containing one is refused unless ``trust_model_code: true``. A trailing
``Activation('softmax')`` (or ``Softmax`` layer) is removed: the firmware computes the logits, argmax and
ranking are unchanged, and the scores are the softmax of the logits computed in software.
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
    trust_model_code: bool = False

    @property
    def is_qonnx(self) -> bool:
        """True for a QONNX ``.onnx`` file."""
        return self.path.lower().endswith(".onnx")


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


def resolve_path(external: ExternalModel, repo_root: Path, name: str) -> Path:
    """The model file's absolute path; PipelineError when it does not exist."""
    path = _resolve(external.path, repo_root)
    if not path.is_file():
        raise PipelineError(
            "export",
            "external model file not found",
            input=f"external_models.{name}.path: {path}",
            fix="fix the path",
        )
    return path


def _layer_classes(config: object) -> set[str]:
    """Every ``class_name`` in a Keras model config (nested models included)."""
    found: set[str] = set()
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class_name"), str):
                found.add(item["class_name"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _architecture(path: Path) -> object:
    """The model config stored in a Keras HDF5 file (``model_config`` attribute) or a JSON file."""
    if path.suffix == ".json":
        return json.loads(path.read_text())
    import h5py

    with h5py.File(path, "r") as handle:
        config = handle.attrs.get("model_config")
    if config is None:
        return {}
    return json.loads(config.decode() if isinstance(config, bytes) else config)


def refuse_untrusted_code(path: Path, external: ExternalModel, name: str) -> None:
    """Refuse a Keras file with ``Lambda`` layers (Keras runs their stored code when loading) unless
    ``trust_model_code`` is set. Reads the architecture only, never deserialises a layer.

    Raises:
        PipelineError: the file holds a Lambda layer and the model is not trusted, or is unreadable.
    """
    if external.trust_model_code:
        return
    try:
        classes = _layer_classes(_architecture(path))
    except (OSError, ValueError) as error:
        raise PipelineError(
            "export", f"cannot read the model architecture: {error}", input=str(path), fix="check the file"
        ) from error
    if "Lambda" in classes:
        raise PipelineError(
            "export",
            "the model has a Lambda layer, whose Python code would run when the file is loaded",
            input=f"external_models.{name}.path: {path}",
            fix=f"remove the Lambda layer, or set external_models.{name}.trust_model_code: true if you "
            "trust where the file comes from",
        )


def _load_file(external: ExternalModel, repo_root: Path, name: str) -> keras.Model:
    import tensorflow as tf

    from pipeline.models.io import custom_objects, load_model

    path = resolve_path(external, repo_root, name)
    key = f"external_models.{name}.path"
    refuse_untrusted_code(path, external, name)
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


def _is_softmax(layer) -> bool:
    kind = type(layer).__name__
    if kind == "Softmax":
        return True
    return kind == "Activation" and getattr(layer.activation, "__name__", "") == "softmax"


def without_trailing_softmax(model: keras.Model) -> tuple[keras.Model, bool]:
    """``(model, False)``, or a copy ending before a final ``Activation('softmax')`` / ``Softmax`` layer
    and ``True``: the firmware deploys the logits (argmax and ranking are unchanged)."""
    import tensorflow as tf

    if not model.layers or not _is_softmax(model.layers[-1]):
        return model, False
    logits = model.layers[-1].input
    return tf.keras.Model(inputs=model.inputs, outputs=logits, name=model.name), True


def load_external_model(external: ExternalModel, repo_root: Path, name: str) -> tuple[keras.Model, bool]:
    """Load a bring-your-own QKeras model: refuse untrusted code, remove a trailing softmax, make it
    start with its input quantizer.

    Returns ``(model, softmax_removed)``.

    Raises:
        PipelineError: missing files, Lambda layers without ``trust_model_code``, unreadable model,
            missing or contradicting input quantizer.
    """
    model, softmax_removed = without_trailing_softmax(_load_file(external, repo_root, name))
    return with_input_quantizer(model, external.input_quantizer, name), softmax_removed
