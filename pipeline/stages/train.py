"""The ``train`` stage: seeded quantization-aware training (QKeras) of every model spec.

Writes, per model, ``train/<model>/model.h5`` (logits out, no softmax), ``spec.yaml`` (the spec file as
given), ``history.json`` (per-epoch loss/accuracy) and ``metrics.json`` (:mod:`pipeline.measure`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "train"
REQUIRES: tuple[str, ...] = ("data",)
PACKAGES: tuple[str, ...] = ("tensorflow-cpu", "qkeras", "numpy", "scikit-learn", "scipy")


class Config(StrictModel):
    """Config section ``train:`` of the pipeline YAML.

    Attributes:
        epochs_override: train every model for at most this many epochs (quick runs); ``None``: the spec's.
        batch_size_override: replaces every spec's batch size when set.
    """

    epochs_override: int | None = Field(default=None, ge=1)
    batch_size_override: int | None = Field(default=None, ge=1)


def spec_path(inputs: StageInputs, model_name: str, stage: str) -> Path:
    """The spec file of ``model_name`` from ``inputs.model_specs`` (PipelineError if absent)."""
    try:
        return Path(inputs.model_specs[model_name])
    except KeyError:
        raise PipelineError(
            stage,
            f"no spec file given for model '{model_name}'",
            input="models",
            fix=f"add models/{model_name}.yaml or remove the model from the config",
        ) from None


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Train each model of ``inputs.models`` on the data stage's splits and save it with its metrics."""
    from pipeline.data.io import load_dataset
    from pipeline.measure import measure_model, save_metrics
    from pipeline.models.build import build_model
    from pipeline.models.io import save_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import configure_determinism, fit

    configure_determinism(inputs.seed)
    dataset = load_dataset(inputs.upstream["data"])
    summary = {}
    for name in inputs.models:
        path = spec_path(inputs, name, NAME)
        spec = load_spec(path)
        if spec.input_features != dataset.x_train.shape[1]:
            raise PipelineError(
                NAME,
                f"spec expects {spec.input_features} input features, "
                f"the dataset has {dataset.x_train.shape[1]}",
                input=f"{path}: input_features",
                fix="set input_features to the dataset's feature count",
            )
        epochs = spec.training.epochs
        if config.epochs_override is not None:
            epochs = min(epochs, config.epochs_override)
        batch_size = config.batch_size_override or spec.training.batch_size
        ptq = spec.quantization.mode == "ptq"
        if ptq:  # post-training quantization: train the float twin, quantize after (pipeline.ptq)
            from pipeline.ptq.keras import float_twin

        model = build_model(float_twin(spec) if ptq else spec, inputs.seed)
        with inputs.progress(f"train {name}", epochs) as bar:
            history = fit(
                model,
                dataset,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=spec.training.learning_rate,
                patience=spec.training.patience,
                seed=inputs.seed,
                on_epoch_end=lambda _epoch: bar.advance(),
            )
        out = inputs.output_dir / name
        out.mkdir(parents=True, exist_ok=True)
        if ptq:
            from pipeline.ptq.keras import quantize_after_training

            model = quantize_after_training(spec, model, dataset, inputs.seed, out)
        save_model(model, out / "model.h5")
        (out / "spec.yaml").write_text(path.read_text())
        (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
        epochs_run = len(history.get("loss", []))
        metrics = measure_model(
            model,
            dataset,
            spec,
            stage=NAME,
            details={"epochs_run": epochs_run, "epochs_max": epochs, "batch_size": batch_size},
        )
        save_metrics(metrics, out / "metrics.json")
        summary[name] = {
            "accuracy": metrics.physics.accuracy,
            "bops": metrics.cost.bops,
            "epochs_run": epochs_run,
        }
    return StageOutputs(summary=summary)
