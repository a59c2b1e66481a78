"""Save and load (Q)Keras models as Keras-2 HDF5 files with QKeras custom objects registered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import keras


def custom_objects() -> dict:
    """QKeras layers and quantizers (and tfmot's pruning wrapper) by name, for deserialisation."""
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    try:
        from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

        objects["PruneLowMagnitude"] = pruning_wrapper.PruneLowMagnitude
    except ImportError:  # pragma: no cover - tfmot is a dependency, but loading must not need it
        pass
    return objects


def save_model(model: keras.Model, path: Path) -> None:
    """Write ``model`` to ``path`` (HDF5, ``.h5``) without optimizer state (deterministic content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():  # Keras calls HDF5 "legacy"; QKeras quantizers warn on serialise
        warnings.simplefilter("ignore", UserWarning)
        model.save(path, include_optimizer=False, save_format="h5")


def load_model(path: Path) -> keras.Model:
    """Load a model written by :func:`save_model` (uncompiled). Missing/corrupt file -> PipelineError."""
    import tensorflow as tf

    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            "model", "model file not found", input=str(path), fix="rerun the stage that writes it"
        )
    try:
        return tf.keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    except (OSError, ValueError) as error:
        raise PipelineError(
            "model", f"cannot load model: {error}", input=str(path), fix="rerun the stage that writes it"
        ) from error
