"""The ``prune`` stage: quantization-aware pruning (Hawks et al. 2021) from the trained checkpoint.

Per model: ``prune/<model>/model.h5`` (pruning wrappers stripped; pruned kernel entries are exact
zeros), ``history.json`` and ``metrics.json`` whose ``details`` hold ``pruned``, the schedule, the
target and the reached (float-kernel) sparsity per dense layer. A model whose spec has no
``pruning`` section passes through unchanged (its trained model copied, ``"pruned": false``).

Models with the same trained network and pruning section (:func:`pipeline.models.identity.pruning_identity`)
are pruned once: the first in config order prunes, the others get its pruned weights under their own
name, their own spec's metrics and ``details.same_result_as`` naming the model that was pruned.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from pipeline.models.identity import SameWork, with_copies, write_copies
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "prune"
REQUIRES: tuple[str, ...] = ("data", "train")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = (
    "tensorflow-cpu",
    "qkeras",
    "tensorflow-model-optimization",
    "numpy",
    "scikit-learn",
    "scipy",
)


class Config(StrictModel):
    """Config section ``prune:`` of the pipeline YAML.

    Attributes:
        epochs_override: prune/fine-tune for this many epochs instead of the spec's ``pruning.epochs``.
        batch_size_override: replaces the spec's training batch size when set.
    """

    epochs_override: int | None = Field(default=None, ge=1)
    batch_size_override: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class ModelTask:
    """One model's pruning (picklable: it may run in a Dask worker, :mod:`pipeline.model_work`);
    ``copies``: models with the same pruning identity, written from this pruning."""

    name: str
    spec_path: Path
    trained_dir: Path
    data_dir: Path
    out: Path
    seed: int
    config: Config
    copies: tuple[SameWork, ...] = ()


def prune_one(task: ModelTask) -> dict[str, dict]:
    """Prune one model into ``task.out`` (or pass it through) and write its ``copies``; returns the
    summary entry of each model written."""
    from pipeline.data.io import load_dataset
    from pipeline.errors import PipelineError
    from pipeline.measure import ModelMetrics, load_metrics, measure_model, save_metrics
    from pipeline.models.inputs import model_dataset
    from pipeline.models.io import load_model, save_model
    from pipeline.models.pruning import kernel_sparsity, prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fresh_model_state

    fresh_model_state(task.seed)
    config, name, trained_dir, out = task.config, task.name, task.trained_dir, task.out
    spec = load_spec(task.spec_path)
    out.mkdir(parents=True, exist_ok=True)
    if spec.pruning is None:
        shutil.copyfile(trained_dir / "model.h5", out / "model.h5")
        trained = load_metrics(trained_dir / "metrics.json")
        if not isinstance(trained, ModelMetrics):
            raise PipelineError(NAME, "the trained model's metrics are missing", input=str(trained_dir))
        details = {"pruned": False, "reason": "the model spec has no pruning section"}
        save_metrics(
            trained.model_copy(update={"model": name, "stage": NAME, "details": details}),
            out / "metrics.json",
        )
        return {name: {"pruned": False}}
    dataset = model_dataset(spec, load_dataset(task.data_dir))  # per-feature input formats, if any
    batch_size = config.batch_size_override or spec.training.batch_size
    epochs = config.epochs_override or spec.pruning.epochs
    n_rounds = 1 if spec.pruning.schedule == "polynomial" else spec.pruning.iterations
    epochs_total = epochs if n_rounds == 1 else n_rounds * max(1, epochs // n_rounds)
    model = load_model(trained_dir / "model.h5")
    model, history = prune_model(model, spec, dataset, seed=task.seed, batch_size=batch_size, epochs=epochs)
    save_model(model, out / "model.h5")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    reached = kernel_sparsity(model, spec)
    details = {
        "pruned": True,
        "schedule": spec.pruning.schedule,
        "target_sparsity": spec.pruning.target_sparsity,
        "reached_sparsity": reached,
        "epochs": epochs_total,
        "batch_size": batch_size,
    }
    metrics = measure_model(model, dataset, spec, stage=NAME, details=details)
    save_metrics(metrics, out / "metrics.json")
    summary = {"pruned": True, "accuracy": metrics.physics.accuracy, "bops": metrics.cost.bops}
    copies = write_copies(model, dataset, task, details, history, NAME)
    return {name: summary} | {copy: {**summary, **entry} for copy, entry in copies.items()}


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Prune every model with a ``pruning`` spec; pass the others through (one :func:`prune_one` task
    per pruning identity, run by ``inputs.work``)."""
    from pipeline.models.identity import pruning_identity
    from pipeline.models.spec import load_spec
    from pipeline.stages.train import spec_path

    tasks = [
        ModelTask(
            name=name,
            spec_path=spec_path(inputs, name, NAME),
            trained_dir=Path(inputs.upstream["train"]) / name,
            data_dir=Path(inputs.upstream["data"]),
            out=inputs.output_dir / name,
            seed=inputs.seed,
            config=config,
        )
        for name in inputs.models
    ]
    grouped = with_copies(tasks, [pruning_identity(load_spec(task.spec_path)) for task in tasks])
    with inputs.progress("prune", len(tasks)) as bar:
        results = inputs.work.map(
            prune_one, grouped, on_done=lambda task, _result: bar.advance(1 + len(task.copies))
        )
    written = {name: entry for result in results for name, entry in result.items()}
    return StageOutputs(summary={task.name: written[task.name] for task in tasks})
