"""The ``export`` stage: QKeras -> QONNX (qonnx 0.4 ``from_keras`` + the fixes in
:mod:`pipeline.deploy.qonnx_fixes`), checked bit-exact with qonnx's executor on the whole test split,
and the integer network every later stage deploys.

Writes, per model, ``export/<model>/model.onnx`` (cleaned QONNX), ``network.json`` (the
:class:`~pipeline.deploy.integer_network.IntegerNetwork` with the deployed accumulator widths: convert,
firmware and report read it from here), ``check.json`` (integer-logit mismatches of
``qonnx.core.onnx_exec.execute_onnx`` vs QKeras, and the cross-check of the integer network read from
the QONNX file alone against the one read from QKeras), ``source.json`` and ``metrics.json``
(mismatches + qonnx ``inference_cost`` totals). Float models are skipped with a recorded reason.
A spec with per-feature input formats (a learned-precision model's frozen spec) is exported with one
``Quant`` per feature in front of the network (:mod:`pipeline.deploy.feature_quant`): the QONNX file
takes the raw features and computes the deployed chain.

Bring-your-own models (``external_models``, :mod:`pipeline.deploy.byo`): a QKeras file is exported
like ours and kept as ``export/<model>/model.h5`` (a trailing softmax removed: logits are deployed); a
QONNX ``.onnx`` file is validated and cleaned (:mod:`pipeline.deploy.from_qonnx`) and its integer
network read from the graph alone, checked against qonnx's executor on every test jet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from pipeline.deploy.byo import ExternalModel
from pipeline.errors import PipelineError
from pipeline.stage_api import ModelName, StageInputs, StageOutputs, StrictModel
from pipeline.stages.train import spec_path as model_spec_path

if TYPE_CHECKING:
    import numpy as np

    from pipeline.models.spec import ModelSpec

NAME = "export"
REQUIRES: tuple[str, ...] = ("data", "constrain")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("qonnx", "onnx", "tensorflow-cpu", "qkeras", "numpy")


class Config(StrictModel):
    """Config section ``export:`` of the pipeline YAML.

    Attributes:
        batch_size: jets per qonnx-executor call in the check.
        external_models: bring-your-own QKeras models (name -> file + input quantizer), exported
            besides the run's models (see :mod:`pipeline.deploy.byo`).
    """

    batch_size: int = Field(default=8192, ge=1)
    external_models: dict[ModelName, ExternalModel] = Field(default_factory=dict)


def input_files(config: Config, repo_root: Path) -> list[Path]:
    """The bring-your-own model files (their contents enter the runner's cache key)."""
    files: list[Path] = []
    for external in config.external_models.values():
        for path in (external.path, getattr(external, "weights", None)):
            if path:
                candidate = Path(path).expanduser()
                files.append(candidate if candidate.is_absolute() else repo_root / candidate)
    return files


def _check_against_executor(
    wrapper: Any,
    reference: np.ndarray,
    fractional: int,
    features: np.ndarray,
    batch_size: int,
    model_dir: Path,
    name: str,
    reference_name: str,
) -> dict[str, Any]:
    """Integer logits of qonnx's executor vs ``reference`` (int64) on every jet: ``check.json``; a
    difference raises a PipelineError naming the first differing jet."""
    import numpy as np

    from pipeline.deploy.export_qonnx import execute_qonnx, integer_logits
    from pipeline.deploy.stage_io import write_json

    try:
        exported = integer_logits(execute_qonnx(wrapper, features, batch_size), fractional)
    except ValueError as error:  # outputs off the 2**-f grid: the graph is not the integer network
        raise PipelineError(
            NAME,
            f"the QONNX model of {name} does not compute {reference_name}: {error}",
            input=str(model_dir / "model.onnx"),
            fix="the model uses a layer or quantizer the QONNX reading does not map exactly; report it",
        ) from error
    differs = np.flatnonzero(np.any(reference != exported, axis=1))
    check = {
        "jets": len(features),
        "mismatches": len(differs),
        "first_mismatch": None if not len(differs) else int(differs[0]),
        "output_fractional_bits": fractional,
        "executor": "qonnx.core.onnx_exec.execute_onnx",
        "reference": reference_name,
    }
    write_json(model_dir / "check.json", check)
    if len(differs):
        jet = int(differs[0])
        raise PipelineError(
            NAME,
            f"the QONNX model of {name} differs from {reference_name} on {len(differs)} of {len(features)} "
            f"test jets; first: jet {jet} ({reference_name} {reference[jet].tolist()}, qonnx "
            f"{exported[jet].tolist()})",
            input=str(model_dir / "check.json"),
            fix="the model uses a layer or quantizer the QONNX converter does not map exactly",
        )
    return check


def export_one(
    model: Any,
    name: str,
    features: np.ndarray,
    batch_size: int,
    model_dir: Path,
    accumulator_bits: Mapping[str, int] | None = None,
    spec: ModelSpec | None = None,
) -> dict[str, Any]:
    """Export one QKeras model into ``model_dir`` (``model.onnx``, ``check.json``, ``network.json``).

    Checks: qonnx's executor equals QKeras on every jet, and the integer network read from the QONNX
    file alone (:mod:`pipeline.deploy.from_qonnx`) equals the one read from QKeras (formats, integer
    weights) with identical emulated logits on every jet. ``network.json`` is the QKeras reading with
    the deployed accumulator widths: what convert, firmware and report use.

    Per-feature input precision (``spec.input_feature_quantizers``): the QONNX graph starts with one
    ``Quant`` per feature (:mod:`pipeline.deploy.feature_quant`); the executor runs on the *raw*
    ``features`` and must equal QKeras on :func:`pipeline.models.inputs.model_inputs` of them, and the
    formats read back from the graph must be the spec's.

    Returns the details for ``metrics.json`` (mismatches, qonnx ``inference_cost`` totals).
    Raises PipelineError naming the first differing jet (or weight) when a check fails.
    """
    from pipeline.deploy.export_qonnx import (
        export_qonnx,
        inference_cost_figures,
        integer_logits,
        output_fractional_bits,
    )
    from pipeline.deploy.feature_quant import find_feature_quantizers, remove_feature_quantizers
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.from_qonnx import check_same_network, integer_network_from_qonnx
    from pipeline.deploy.hls import hls_type
    from pipeline.deploy.integer_network import NETWORK_FILE, save_network
    from pipeline.deploy.stage_io import write_json
    from pipeline.models.inputs import input_formats, model_inputs

    formats = input_formats(spec)
    plain = integer_network_from_qkeras(model)
    network = integer_network_from_qkeras(model, accumulator_bits)
    wrapper = export_qonnx(model, plain, formats)
    model_dir.mkdir(parents=True, exist_ok=True)
    wrapper.save(str(model_dir / "model.onnx"))
    fractional = output_fractional_bits(plain)
    deployed = model_inputs(spec, features)
    reference = integer_logits(model.predict(deployed, batch_size=batch_size, verbose=0), fractional)
    check = _check_against_executor(
        wrapper, reference, fractional, features, batch_size, model_dir, name, "QKeras"
    )
    found = find_feature_quantizers(wrapper)
    if (None if found is None else found.formats) != formats:
        raise PipelineError(
            NAME,
            f"the per-feature input formats read from the QONNX model of {name} differ from the spec's",
            input=str(model_dir / "model.onnx"),
            fix="report it: the per-feature Quant block was not written as the spec says",
        )
    reading = integer_network_from_qonnx(remove_feature_quantizers(wrapper))
    cross = check_same_network(plain, reading, deployed, name)
    per_feature = None if formats is None else [hls_type(fmt) for fmt in formats]  # e.g. fixed<8,2>
    check = {**check, "qonnx_reading": cross, "input_feature_formats": per_feature}
    write_json(model_dir / "check.json", check)
    save_network(network, model_dir / NETWORK_FILE)
    return {
        "qonnx_mismatches": 0,
        "qonnx_reading_equal": True,
        "test_jets": check["jets"],
        "input_feature_formats": per_feature,
        "inference_cost": inference_cost_figures(wrapper),
    }


def export_qonnx_file(
    external: ExternalModel, name: str, path: Path, features: np.ndarray, batch_size: int, model_dir: Path
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Validate and clean a bring-your-own QONNX file into ``model_dir`` (``model.onnx``,
    ``network.json``, ``check.json``: qonnx's executor vs the integer network read from the graph, on
    every jet). Returns ``(details, network, source record)``."""
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.export_qonnx import inference_cost_figures
    from pipeline.deploy.from_qonnx import integer_network_from_qonnx, prepare_qonnx
    from pipeline.deploy.integer_network import NETWORK_FILE, save_network

    prepared = prepare_qonnx(path, features.shape[1], f"external_models.{name}.path: {path}")
    network = integer_network_from_qonnx(prepared.wrapper, external.accumulator_bits)
    model_dir.mkdir(parents=True, exist_ok=True)
    prepared.wrapper.save(str(model_dir / "model.onnx"))
    ideal = emulate(network, features, ideal=True)
    _check_against_executor(
        prepared.wrapper,
        ideal.logits_raw,
        ideal.output_fractional_bits,
        features,
        batch_size,
        model_dir,
        name,
        "the integer network read from the graph",
    )
    save_network(network, model_dir / NETWORK_FILE)
    source = {
        "model": "export",
        "format": "qonnx",
        "external": external.path,
        "softmax_removed": prepared.softmax_removed,
        "removed_no_ops": list(prepared.removed_no_ops),
        "deployed_output": "logits (scores = softmax computed in software)",
    }
    details = {
        "qonnx_mismatches": 0,
        "test_jets": len(features),
        "inference_cost": inference_cost_figures(prepared.wrapper),
    }
    return details, network, source


def _widths(model: Any, accumulators_path: Path) -> dict[str, int]:
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.stage_io import parse_accumulator_bits, read_json

    if not accumulators_path.is_file():
        return {}
    names = {layer.name for layer in integer_network_from_qkeras(model).layers}
    return parse_accumulator_bits(read_json(accumulators_path, NAME), names)


@dataclass(frozen=True)
class ModelTask:
    """One model's export (picklable: it may run in a Dask worker, :mod:`pipeline.model_work`).
    ``external`` is set for a bring-your-own model; ``spec_path`` for a model of the run."""

    name: str
    external: ExternalModel | None
    spec_path: Path | None
    constrain_dir: Path
    data_dir: Path
    repo_root: Path
    model_dir: Path
    seed: int
    batch_size: int


def export_model(task: ModelTask) -> dict[str, Any]:
    """Export one model into ``task.model_dir`` (or record why it is skipped); returns its summary."""
    from pipeline.data.io import load_dataset
    from pipeline.deploy.byo import load_external_model, resolve_path
    from pipeline.deploy.stage_io import (
        SOURCE_FILE,
        is_float_model,
        read_metrics_skip,
        write_json,
        write_model_metrics,
    )
    from pipeline.measure import save_skipped
    from pipeline.models.inputs import model_dataset
    from pipeline.models.io import load_model, save_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fresh_model_state

    fresh_model_state(task.seed)
    name, external, model_dir = task.name, task.external, task.model_dir
    dataset = load_dataset(task.data_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    if external is not None and external.is_qonnx:
        path = resolve_path(external, task.repo_root, name)
        details, network, source = export_qonnx_file(
            external, name, path, dataset.x_test, task.batch_size, model_dir
        )
        write_json(model_dir / SOURCE_FILE, source)
        cost = details.pop("inference_cost")
        write_model_metrics(
            model_dir / "metrics.json", None, dataset, None, NAME, details, cost, network=network
        )
        return {"qonnx_mismatches": 0}
    if external is None:
        upstream_dir = task.constrain_dir / name
        skipped = read_metrics_skip(upstream_dir)
        model_path = upstream_dir / "model.h5"
        if skipped and not model_path.is_file():
            summary = {"skipped": f"constrain skipped it: {skipped}"}
            save_skipped(model_dir / "metrics.json", summary["skipped"])
            return summary
        model = load_model(model_path)
        spec_path = task.spec_path  # learned models: the frozen spec
        source = {"model": "constrain"}
        accumulators_path = upstream_dir / "accumulators.json"
    else:
        model, softmax_removed = load_external_model(external, task.repo_root, name)
        save_model(model, model_dir / "model.h5")
        spec_path = None
        accumulators_path = model_dir / "accumulators.json"
        write_json(accumulators_path, {"layers": dict(external.accumulator_bits)})
        source = {
            "model": "export",
            "format": "qkeras",
            "external": external.path,
            "softmax_removed": softmax_removed,
            "deployed_output": "logits (scores = softmax computed in software)",
        }
    write_json(model_dir / SOURCE_FILE, source)
    if is_float_model(model):
        reason = "float model (no QKeras quantizers): nothing to export bit-exactly"
        save_skipped(model_dir / "metrics.json", reason)
        return {"skipped": reason}
    widths = _widths(model, accumulators_path)
    spec = None if spec_path is None else load_spec(spec_path)
    details = export_one(model, name, dataset.x_test, task.batch_size, model_dir, widths, spec)
    cost = details.pop("inference_cost")
    network = None
    if spec_path is None:
        from pipeline.deploy.from_qkeras import integer_network_from_qkeras

        network = integer_network_from_qkeras(model, widths)
    write_model_metrics(
        model_dir / "metrics.json",
        model,
        model_dataset(spec, dataset),  # measured as deployed: per-feature input formats, if any
        spec_path,
        NAME,
        details,
        cost,
        network=network,
    )
    return {"qonnx_mismatches": details["qonnx_mismatches"]}


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Export every quantized model of the run (and every external model) to QONNX and check it (one
    :func:`export_model` task per model, run by ``inputs.work``)."""
    clashes = sorted(set(config.external_models) & (set(inputs.models) | set(inputs.model_specs)))
    if clashes:
        raise PipelineError(
            NAME,
            f"external model names {clashes} clash with the run's models",
            input="export.external_models",
            fix="rename the external models",
        )
    externals = {
        name: external for name, external in config.external_models.items() if name not in inputs.carried_over
    }
    jobs = [(name, None) for name in inputs.models] + sorted(externals.items())
    tasks = [
        ModelTask(
            name=name,
            external=external,
            spec_path=model_spec_path(inputs, name, NAME)
            if external is None and name in inputs.model_specs
            else None,
            constrain_dir=Path(inputs.upstream["constrain"]),
            data_dir=Path(inputs.upstream["data"]),
            repo_root=Path(inputs.repo_root),
            model_dir=inputs.output_dir / name,
            seed=inputs.seed,
            batch_size=config.batch_size,
        )
        for name, external in jobs
    ]
    with inputs.progress("export", len(tasks)) as bar:
        results = inputs.work.map(export_model, tasks, on_done=lambda _task, _result: bar.advance())
    return StageOutputs(summary={task.name: result for task, result in zip(tasks, results, strict=True)})
