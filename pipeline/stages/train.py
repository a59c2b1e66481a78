"""The ``train`` stage: seeded quantization-aware training (QKeras) of every model spec.

Writes, per model, ``train/<model>/model.h5`` (logits out, no softmax), ``spec.yaml`` (the spec file as
given), ``history.json`` (per-epoch loss/accuracy) and ``metrics.json`` (:mod:`pipeline.measure`).

A spec with ``precision: {mode: learned}`` is trained with trainable bit widths
(:mod:`pipeline.models.learned`) and frozen into plain QKeras: ``model.h5`` is the frozen model,
``frozen_spec.yaml`` the spec with the learned widths (what later stages use, :func:`spec_path`; the
per-feature input formats as ``input_feature_quantizers``) and ``learned_precision.json`` the learned
widths (also under ``details.learned_precision`` in the metrics). Every stage trains and measures on
:func:`pipeline.models.inputs.model_dataset` of the data: the features at the spec's per-feature input
formats when it has them.

Models whose specs differ only in what training never reads (name, description, pruning, accumulator
settings: :func:`pipeline.models.identity.training_identity`) are trained once: the first in config
order trains, the others get its weights under their own name, their own spec and metrics measured
with it, and ``details.same_result_as`` naming the model that was trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.models.identity import SameWork, with_copies, write_copies
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "train"
REQUIRES: tuple[str, ...] = ("data",)
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("tensorflow-cpu", "qkeras", "numpy", "scikit-learn", "scipy")


class Config(StrictModel):
    """Config section ``train:`` of the pipeline YAML.

    Attributes:
        epochs_override: train every model for at most this many epochs (quick runs); ``None``: the spec's.
        batch_size_override: replaces every spec's batch size when set.
    """

    epochs_override: int | None = Field(default=None, ge=1)
    batch_size_override: int | None = Field(default=None, ge=1)


FROZEN_SPEC = "frozen_spec.yaml"


def spec_path(inputs: StageInputs, model_name: str, stage: str) -> Path:
    """The spec file of ``model_name`` from ``inputs.model_specs`` (PipelineError if absent).

    After the train stage, a learned-precision model's spec is the frozen one the train stage wrote
    (``<run-dir>/train/<model>/frozen_spec.yaml``; every later stage depends on train).
    """
    if stage != NAME:
        for upstream in inputs.upstream.values():
            frozen = Path(upstream).parent / NAME / model_name / FROZEN_SPEC
            if frozen.is_file():
                return frozen
    try:
        return Path(inputs.model_specs[model_name])
    except KeyError:
        raise PipelineError(
            stage,
            f"no spec file given for model '{model_name}'",
            input="models",
            fix=f"add models/{model_name}.yaml or remove the model from the config",
        ) from None


@dataclass(frozen=True)
class ModelTask:
    """One model's training (picklable: it may run in a Dask worker, :mod:`pipeline.model_work`);
    ``copies``: models with the same training identity, written from this training."""

    name: str
    spec_path: Path
    data_dir: Path
    out: Path
    seed: int
    config: Config
    copies: tuple[SameWork, ...] = ()


def train_one(task: ModelTask) -> dict[str, dict]:
    """Train one model into ``task.out`` (model, spec, history, metrics) and write its ``copies``;
    returns the summary entry of each model written."""
    from pipeline.data.io import load_dataset
    from pipeline.measure import measure_model, save_metrics
    from pipeline.models.build import build_model
    from pipeline.models.inputs import model_dataset
    from pipeline.models.io import save_model
    from pipeline.models.learned import freeze, learned_widths
    from pipeline.models.spec import dump_spec, load_spec
    from pipeline.models.training import fit, fresh_model_state

    fresh_model_state(task.seed)
    dataset = load_dataset(task.data_dir)
    config, path = task.config, task.spec_path
    spec = load_spec(path)
    if spec.input_features != dataset.x_train.shape[1]:
        raise PipelineError(
            NAME,
            f"spec expects {spec.input_features} input features, the dataset has {dataset.x_train.shape[1]}",
            input=f"{path}: input_features",
            fix="set input_features to the dataset's feature count",
        )
    loaded = dataset
    dataset = model_dataset(spec, loaded)  # per-feature input formats of a hand-written spec
    epochs = spec.training.epochs
    if config.epochs_override is not None:
        epochs = min(epochs, config.epochs_override)
    batch_size = config.batch_size_override or spec.training.batch_size
    ptq = spec.quantization.mode == "ptq"
    if ptq:  # post-training quantization: train the float twin, quantize after (pipeline.ptq)
        from pipeline.ptq.keras import float_twin

    model = build_model(float_twin(spec) if ptq else spec, task.seed)
    history = fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=spec.training.learning_rate,
        patience=spec.training.patience,
        seed=task.seed,
    )
    out = task.out
    out.mkdir(parents=True, exist_ok=True)
    details = {"epochs_run": len(history.get("loss", [])), "epochs_max": epochs, "batch_size": batch_size}
    if spec.learned_precision:
        widths = learned_widths(model, spec)
        model, spec = freeze(model, spec)
        dataset = model_dataset(spec, loaded)  # measured as deployed: the learned per-feature formats
        details["learned_precision"] = widths
        (out / "learned_precision.json").write_text(json.dumps(widths, indent=2) + "\n")
        (out / FROZEN_SPEC).write_text(dump_spec(spec))
    if ptq:
        from pipeline.ptq.keras import quantize_after_training

        model = quantize_after_training(spec, model, dataset, task.seed, out)
    save_model(model, out / "model.h5")
    (out / "spec.yaml").write_text(path.read_text())
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    metrics = measure_model(model, dataset, spec, stage=NAME, details=details)
    save_metrics(metrics, out / "metrics.json")
    summary = {
        "accuracy": metrics.physics.accuracy,
        "bops": metrics.cost.bops,
        "epochs_run": details["epochs_run"],
    }
    copies = write_copies(model, dataset, task, details, history, NAME)
    return {task.name: summary} | {name: {**summary, **entry} for name, entry in copies.items()}


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Train each model of ``inputs.models`` on the data stage's splits and save it with its metrics
    (one :func:`train_one` task per training identity, run by ``inputs.work``)."""
    from pipeline.models.identity import training_identity
    from pipeline.models.spec import load_spec

    tasks = [
        ModelTask(
            name=name,
            spec_path=spec_path(inputs, name, NAME),
            data_dir=Path(inputs.upstream["data"]),
            out=inputs.output_dir / name,
            seed=inputs.seed,
            config=config,
        )
        for name in inputs.models
    ]
    grouped = with_copies(tasks, [training_identity(load_spec(task.spec_path)) for task in tasks])
    with inputs.progress("train", len(tasks)) as bar:
        results = inputs.work.map(
            train_one, grouped, on_done=lambda task, _result: bar.advance(1 + len(task.copies))
        )
    written = {name: entry for result in results for name, entry in result.items()}
    return StageOutputs(summary={task.name: written[task.name] for task in tasks})
