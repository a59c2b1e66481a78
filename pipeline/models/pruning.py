"""Quantization-aware pruning (Hawks et al. 2021, "Ps and Qs", arXiv:2102.11289).

The kernels of every dense (``QDense``) layer are wrapped in tfmot's ``prune_low_magnitude`` and the
model is trained further with its quantizers active, so that magnitude pruning and quantization are
learned together; ``strip_pruning`` then leaves plain (Q)Dense layers whose pruned kernel entries are
exact zeros (and stay zero through the weight quantizer: ``quantized_bits(0) == 0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from pipeline.models.spec import ModelSpec, PruningSpec

if TYPE_CHECKING:
    import keras

    from pipeline.data.io import Dataset


MIN_PRUNING_UPDATES = 10


def polynomial_schedule_steps(pruning: PruningSpec, steps_per_epoch: int) -> tuple[int, int]:
    """``(end_step, frequency)`` of the PolynomialDecay ramp (begin step 0).

    The ramp covers ``ramp_fraction`` of the training steps, is at most the last step, and ends on a
    multiple of the pruning frequency so that the final pruning update reaches ``target_sparsity``.
    The frequency is ``pruning.frequency`` lowered (small data sets) so that the ramp holds at least
    ``MIN_PRUNING_UPDATES`` pruning updates rather than one jump to the target.
    """
    total_steps = pruning.epochs * steps_per_epoch
    ramp_steps = max(1, min(total_steps - 1, int(pruning.ramp_fraction * total_steps)))
    frequency = max(1, min(pruning.frequency, ramp_steps // MIN_PRUNING_UPDATES))
    end_step = max(frequency, (ramp_steps // frequency) * frequency)
    return end_step, frequency


def wrap_for_pruning(model: keras.Model, spec: ModelSpec, schedule) -> keras.Model:
    """Clone ``model`` with the spec's dense layers wrapped in ``prune_low_magnitude(schedule)``
    (the wrapped layers keep their weights; other layers are shared)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    dense_names = {layer.dense_name for layer in spec.resolved_layers()}

    def clone(layer):
        if layer.name in dense_names:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return tf.keras.models.clone_model(model, clone_function=clone)


def strip(model: keras.Model, spec: ModelSpec) -> keras.Model:
    """Remove the pruning wrappers (masks already applied to the kernels) and return a fresh model
    built from ``spec`` holding the pruned weights (no layer shared with another graph)."""
    import tensorflow_model_optimization as tfmot

    from pipeline.models.build import build_model

    stripped = tfmot.sparsity.keras.strip_pruning(model)
    fresh = build_model(spec, seed=0)
    fresh.set_weights(stripped.get_weights())
    return fresh


def kernel_sparsity(model: keras.Model, spec: ModelSpec) -> dict[str, float]:
    """Fraction of exactly-zero (float) kernel entries of each dense layer of a stripped model."""
    result = {}
    for layer in spec.resolved_layers():
        kernel = np.asarray(model.get_layer(layer.dense_name).kernel)
        result[layer.dense_name] = float(np.count_nonzero(kernel == 0) / kernel.size)
    return result


def prune_model(
    model: keras.Model,
    spec: ModelSpec,
    dataset: Dataset,
    *,
    seed: int,
    batch_size: int,
    epochs: int | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Prune ``model`` (trained) to ``spec.pruning.target_sparsity`` during QAT and strip the wrappers.

    ``polynomial``: one run of ``epochs`` with tfmot PolynomialDecay (begin 0, end per
    :func:`polynomial_schedule_steps`). ``iterative``: ``iterations`` rounds of ConstantSparsity at
    ``target * r / iterations``, each fine-tuned for ``max(1, epochs // iterations)`` epochs.
    ``epochs`` overrides ``spec.pruning.epochs``. Returns the stripped model and the joined history.
    """
    import tensorflow_model_optimization as tfmot

    from pipeline.models.training import fit

    pruning = spec.pruning
    if pruning is None:
        raise ValueError(f"model spec '{spec.name}' has no pruning section")
    if epochs is not None:
        pruning = pruning.model_copy(update={"epochs": epochs})
    learning_rate = pruning.learning_rate or spec.training.learning_rate
    steps_per_epoch = max(1, math.ceil(dataset.x_train.shape[0] / batch_size))
    sparsity = tfmot.sparsity.keras
    if pruning.schedule == "polynomial":
        end_step, frequency = polynomial_schedule_steps(pruning, steps_per_epoch)
        rounds = [
            (
                sparsity.PolynomialDecay(
                    initial_sparsity=pruning.initial_sparsity,
                    final_sparsity=pruning.target_sparsity,
                    begin_step=0,
                    end_step=end_step,
                    frequency=frequency,
                ),
                pruning.epochs,
            )
        ]
    else:
        epochs_per_round = max(1, pruning.epochs // pruning.iterations)
        rounds = [
            (
                sparsity.ConstantSparsity(
                    pruning.target_sparsity * (r + 1) / pruning.iterations,
                    begin_step=0,
                    frequency=steps_per_epoch,
                ),
                epochs_per_round,
            )
            for r in range(pruning.iterations)
        ]
    history: dict[str, list[float]] = {}
    for round_index, (schedule, round_epochs) in enumerate(rounds):
        wrapped = wrap_for_pruning(model, spec, schedule)
        round_history = fit(
            wrapped,
            dataset,
            epochs=round_epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=None,
            seed=seed + round_index,
            callbacks=[sparsity.UpdatePruningStep()],
            on_epoch_end=on_epoch_end,
        )
        for key, values in round_history.items():
            history.setdefault(key, []).extend(values)
        model = strip(wrapped, spec)
    return model, history
