"""Seeded quantization-aware training: Adam, logits with ``CategoricalCrossentropy(from_logits=True)``,
early stopping on the validation loss (best weights restored)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

    from pipeline.data.io import Dataset


def configure_determinism(seed: int) -> None:
    """Seed Python/NumPy/TF and make TF ops deterministic (single-threaded when still possible).

    Contract: same seed + data + spec -> identical weights after training, in this process or another.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the TF runtime is already initialised: op determinism still holds
        pass
    tf.config.experimental.enable_op_determinism()
    tf.keras.utils.set_random_seed(seed)


def fresh_model_state(seed: int) -> None:
    """Start one model's work from a clean process state: Keras session cleared (layer-name counters,
    graph) and every generator seeded (:func:`configure_determinism`).

    Contract: a model's artifacts do not depend on which process runs its work or what ran there
    before (the model stages run models serially in one process or in parallel Dask workers,
    :mod:`pipeline.model_work`).
    """
    import tensorflow as tf

    tf.keras.backend.clear_session()
    configure_determinism(seed)


def compile_model(model: keras.Model, learning_rate: float) -> None:
    """Compile with Adam and cross-entropy on logits (softmax stays out of the model)."""
    import tensorflow as tf

    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels -> float32 one-hot rows."""
    return np.eye(n_classes, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def fit(
    model: keras.Model,
    dataset: Dataset,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int | None,
    seed: int,
    callbacks: Sequence[Any] = (),
    on_epoch_end: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` (compiled here) on the train split, validating on the val split.

    ``patience``: early stopping on ``val_loss`` with the best weights restored (``None``: no early
    stopping). Returns the Keras history (per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``).
    """
    import tensorflow as tf

    configure_determinism(seed)
    compile_model(model, learning_rate)
    n_classes = int(model.output_shape[-1])
    all_callbacks = list(callbacks)
    if patience is not None:
        all_callbacks.append(
            tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        )
    if on_epoch_end is not None:
        all_callbacks.append(
            tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch_end(epoch))
        )
    history = model.fit(
        dataset.x_train,
        one_hot(dataset.y_train, n_classes),
        validation_data=(dataset.x_val, one_hot(dataset.y_val, n_classes)),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=all_callbacks,
        verbose=0,
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}
