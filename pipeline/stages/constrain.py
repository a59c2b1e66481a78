"""The ``constrain`` stage: accumulator-aware quantization (A2Q, Colbert et al. ICCV 2023; A2Q+,
Colbert et al. 2024) of the pruned QKeras models.

Per model, from ``prune/<model>/model.h5`` and the spec's layer options ``accumulator_bits`` (P) and
``accumulator_method`` (``a2q`` | ``a2q_plus``):

* constrained models: the named dense layers become :class:`pipeline.a2q.layers.AccumulatorAwareDense`
  (A2Q+: exact Euclidean-projection initialisation, per-channel zero-centring; ``a2q_plus`` on a
  signed input is an error), the model is fine-tuned with the constraint, stripped to plain QKeras
  ``QDense`` layers with on-grid weights, and every channel of every constrained layer is checked
  exactly over all inputs (bias included) on the integer weights as fine-tuned. No weight is
  repaired: a channel that could overflow fails the stage, naming the layer and the channel;
* other models pass through (model copied, ``"constrained": false``).

Writes ``constrain/<model>/model.h5``, ``accumulators.json`` (per layer: data-type, weight-level and
exact widths, target P, method, check, ``zero_centred_channels`` / ``a2q_channels``) and
``metrics.json`` (``pipeline.measure``).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from pipeline.manifest import write_json
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "constrain"
REQUIRES: tuple[str, ...] = ("data", "prune")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("tensorflow-cpu", "qkeras", "numpy")


class Config(StrictModel):
    """Config section ``constrain:`` of the pipeline YAML.

    Attributes:
        epochs: fine-tuning epochs with the accumulator constraint.
        learning_rate: Adam learning rate (``None``: the spec's training learning rate).
        batch_size_override: replaces the spec's training batch size when set.
        patience: early stopping on the validation loss (best weights restored); ``None``: off.
    """

    epochs: int = Field(default=10, ge=1)
    learning_rate: float | None = Field(default=None, gt=0.0)
    batch_size_override: int | None = Field(default=None, ge=1)
    patience: int | None = Field(default=3, ge=1)


PROOF = (
    "exact worst-case check (bias included) of the integer weights as fine-tuned, per channel; "
    "no weight is repaired: a channel that could overflow fails the stage"
)


def prove_overflow_free(model, targets: dict[str, tuple[int, str]], where: str) -> None:
    """Run the exact worst-case check (:func:`pipeline.a2q.check.check_layer`) on every constrained
    layer of the stripped QKeras ``model`` and raise a :class:`PipelineError` naming the first layer
    with a channel that can overflow its P-bit accumulator, and the channel. Nothing is repaired."""
    from pipeline.a2q.check import check_layer, require_no_overflow
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    network = integer_network_from_qkeras(model)
    input_format = network.input_format
    for layer in network.layers:
        if layer.name in targets:
            check = check_layer(layer, input_format, targets[layer.name][0])
            require_no_overflow(check, layer, input_format, where)
        input_format = layer.output


def accumulator_targets(spec) -> dict[str, tuple[int, str]]:
    """``dense layer name -> (accumulator_bits, accumulator_method)`` of the spec's constrained layers."""
    return {
        layer.dense_name: (int(layer.accumulator_bits), str(layer.accumulator_method))
        for layer in spec.resolved_layers()
        if layer.accumulator_bits is not None
    }


def _pass_through(name: str, spec, pruned_dir: Path, out: Path) -> dict:
    from pipeline.a2q.report import layer_widths
    from pipeline.errors import PipelineError
    from pipeline.measure import ModelMetrics, load_metrics, save_metrics, save_skipped
    from pipeline.models.io import load_model

    shutil.copyfile(pruned_dir / "model.h5", out / "model.h5")
    reason = "the model spec sets no accumulator_bits"
    try:
        layers = layer_widths(load_model(out / "model.h5"))
    except PipelineError as error:  # float or otherwise non-integer model: no accumulator to size
        layers, reason = None, f"{reason}; no integer form: {error.problem}"
    write_json(
        out / "accumulators.json", {"model": name, "constrained": False, "reason": reason, "layers": layers}
    )
    previous = load_metrics(pruned_dir / "metrics.json")
    if isinstance(previous, ModelMetrics):
        details = {**previous.details, "constrained": False, "reason": reason}
        save_metrics(previous.model_copy(update={"stage": NAME, "details": details}), out / "metrics.json")
    else:
        save_skipped(out / "metrics.json", f"not constrained: {reason}", constrained=False)
    return {"constrained": False}


@dataclass(frozen=True)
class ModelTask:
    """One model's constraint (picklable: it may run in a Dask worker, :mod:`pipeline.model_work`)."""

    name: str
    spec_path: Path
    pruned_dir: Path
    data_dir: Path
    out: Path
    seed: int
    config: Config


def constrain_one(task: ModelTask) -> dict:
    """Constrain one model into ``task.out`` (or pass it through); returns its summary entry."""
    from pipeline.data.io import load_dataset
    from pipeline.errors import PipelineError
    from pipeline.models.inputs import model_dataset
    from pipeline.models.io import load_model, save_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit, fresh_model_state

    fresh_model_state(task.seed)
    config, name, pruned_dir, out = task.config, task.name, task.pruned_dir, task.out
    spec = load_spec(task.spec_path)
    out.mkdir(parents=True, exist_ok=True)
    targets = accumulator_targets(spec)
    if not targets:
        return _pass_through(name, spec, pruned_dir, out)

    from pipeline.a2q.layers import constraint_summary, strip, to_accumulator_aware
    from pipeline.a2q.report import layer_widths
    from pipeline.measure import measure_model, save_metrics

    before = layer_widths(load_model(pruned_dir / "model.h5"))
    try:
        constrained = to_accumulator_aware(load_model(pruned_dir / "model.h5"), targets)
    except PipelineError as error:  # name the spec file: that is where the user fixes it
        raise PipelineError(
            NAME, error.problem, input=f"{task.spec_path}: {error.input}", fix=error.fix
        ) from error
    dataset = model_dataset(spec, load_dataset(task.data_dir))  # per-feature input formats, if any
    history = fit(
        constrained,
        dataset,
        epochs=config.epochs,
        batch_size=config.batch_size_override or spec.training.batch_size,
        learning_rate=config.learning_rate or spec.training.learning_rate,
        patience=config.patience,
        seed=task.seed,
    )
    model = strip(constrained)
    prove_overflow_free(model, targets, where=f"model '{name}'")  # before anything is written
    layers = layer_widths(model, targets)
    constraints = constraint_summary(constrained)
    for record in layers:
        record.update(constraints.get(record["name"], {}))
    save_model(model, out / "model.h5")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
    for record in layers:
        record["before_constraint"] = next(
            {key: b[key] for key in ("weight_level_bits", "exact_bits", "max_l1_norm")}
            for b in before
            if b["name"] == record["name"]
        )
    write_json(
        out / "accumulators.json", {"model": name, "constrained": True, "proof": PROOF, "layers": layers}
    )
    widths = {
        r["name"]: {k: r[k] for k in ("data_type_bits", "weight_level_bits", "target_bits")} for r in layers
    }
    details = {"constrained": True, "epochs": len(history.get("loss", [])), "accumulators": widths}
    metrics = measure_model(model, dataset, spec, stage=NAME, details=details)
    save_metrics(metrics, out / "metrics.json")
    return {"constrained": True, "accuracy": metrics.physics.accuracy, "accumulators": widths}


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Constrain every model whose spec sets ``accumulator_bits``; pass the others through (one
    :func:`constrain_one` task per model, run by ``inputs.work``)."""
    from pipeline.stages.train import spec_path

    tasks = [
        ModelTask(
            name=name,
            spec_path=spec_path(inputs, name, NAME),
            pruned_dir=Path(inputs.upstream["prune"]) / name,
            data_dir=Path(inputs.upstream["data"]),
            out=inputs.output_dir / name,
            seed=inputs.seed,
            config=config,
        )
        for name in inputs.models
    ]
    with inputs.progress("constrain", len(tasks)) as bar:
        results = inputs.work.map(constrain_one, tasks, on_done=lambda _task, _result: bar.advance())
    return StageOutputs(summary={task.name: result for task, result in zip(tasks, results, strict=True)})
