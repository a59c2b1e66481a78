"""The ``export`` stage: QKeras -> QONNX (qonnx 0.4 ``from_keras`` + the fixes in
:mod:`pipeline.deploy.qonnx_fixes`), checked bit-exact with qonnx's executor on the whole test split.

Writes, per model, ``export/<model>/model.onnx`` (cleaned QONNX), ``check.json`` (integer-logit
mismatches of ``qonnx.core.onnx_exec.execute_onnx`` vs QKeras), ``source.json`` and ``metrics.json``
(mismatches + qonnx ``inference_cost`` totals). Float models are skipped with a recorded reason.
Bring-your-own models (``external_models``) are exported too, and their QKeras file is kept as
``export/<model>/model.h5`` for the later stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from pipeline.deploy.byo import ExternalModel
from pipeline.errors import PipelineError
from pipeline.stage_api import ModelName, StageInputs, StageOutputs, StrictModel

if TYPE_CHECKING:
    import numpy as np

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


def export_one(
    model: Any, name: str, features: np.ndarray, batch_size: int, model_dir: Path
) -> dict[str, Any]:
    """Export one QKeras model into ``model_dir`` (``model.onnx``, ``check.json``) and check it.

    Returns the details for ``metrics.json`` (mismatches, qonnx ``inference_cost`` totals).
    Raises PipelineError naming the first differing jet when the executor differs from QKeras.
    """
    import numpy as np

    from pipeline.deploy.export_qonnx import (
        execute_qonnx,
        export_qonnx,
        inference_cost_figures,
        integer_logits,
        output_fractional_bits,
    )
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.stage_io import write_json

    network = integer_network_from_qkeras(model)
    wrapper = export_qonnx(model, network)
    model_dir.mkdir(parents=True, exist_ok=True)
    wrapper.save(str(model_dir / "model.onnx"))
    fractional = output_fractional_bits(network)
    reference = integer_logits(model.predict(features, batch_size=batch_size, verbose=0), fractional)
    exported = integer_logits(execute_qonnx(wrapper, features, batch_size), fractional)
    differs = np.flatnonzero(np.any(reference != exported, axis=1))
    check = {
        "jets": len(features),
        "mismatches": len(differs),
        "first_mismatch": None if not len(differs) else int(differs[0]),
        "output_fractional_bits": fractional,
        "executor": "qonnx.core.onnx_exec.execute_onnx",
    }
    write_json(model_dir / "check.json", check)
    if len(differs):
        jet = int(differs[0])
        raise PipelineError(
            NAME,
            f"the QONNX export of {name} differs from QKeras on {len(differs)} of {len(features)} test "
            f"jets; first: jet {jet} (QKeras {reference[jet].tolist()}, qonnx {exported[jet].tolist()})",
            input=str(model_dir / "check.json"),
            fix="the model uses a layer or quantizer the QONNX converter does not map exactly",
        )
    return {
        "qonnx_mismatches": 0,
        "test_jets": check["jets"],
        "inference_cost": inference_cost_figures(wrapper),
    }


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Export every quantized model of the run (and every external model) to QONNX and check it."""
    from pipeline.data.io import load_dataset
    from pipeline.deploy.byo import load_external_model
    from pipeline.deploy.stage_io import (
        SOURCE_FILE,
        is_float_model,
        read_metrics_skip,
        write_json,
        write_model_metrics,
    )
    from pipeline.measure import save_skipped
    from pipeline.models.io import load_model, save_model

    dataset = load_dataset(inputs.upstream["data"])
    clashes = sorted(set(config.external_models) & (set(inputs.models) | set(inputs.model_specs)))
    if clashes:
        raise PipelineError(
            NAME,
            f"external model names {clashes} clash with the run's models",
            input="export.external_models",
            fix="rename the external models",
        )
    summary = {}
    externals = {
        name: external for name, external in config.external_models.items() if name not in inputs.carried_over
    }
    jobs = [(name, None) for name in inputs.models] + sorted(externals.items())
    with inputs.progress("export", len(jobs)) as bar:
        for name, external in jobs:
            model_dir = inputs.output_dir / name
            model_dir.mkdir(parents=True, exist_ok=True)
            if external is None:
                upstream_dir = inputs.upstream["constrain"] / name
                skipped = read_metrics_skip(upstream_dir)
                model_path = upstream_dir / "model.h5"
                if skipped and not model_path.is_file():
                    summary[name] = {"skipped": f"constrain skipped it: {skipped}"}
                    save_skipped(model_dir / "metrics.json", summary[name]["skipped"])
                    bar.advance()
                    continue
                model = load_model(model_path)
                spec_path = inputs.model_specs.get(name)
                write_json(model_dir / SOURCE_FILE, {"model": "constrain"})
            else:
                model = load_external_model(external, inputs.repo_root, name)
                save_model(model, model_dir / "model.h5")
                spec_path = None
                write_json(model_dir / "accumulators.json", {"layers": dict(external.accumulator_bits)})
                write_json(model_dir / SOURCE_FILE, {"model": "export", "external": external.path})
            if is_float_model(model):
                reason = "float model (no QKeras quantizers): nothing to export bit-exactly"
                summary[name] = {"skipped": reason}
                save_skipped(model_dir / "metrics.json", reason)
            else:
                details = export_one(model, name, dataset.x_test, config.batch_size, model_dir)
                cost = details.pop("inference_cost")
                metrics_path = model_dir / "metrics.json"
                write_model_metrics(metrics_path, model, dataset, spec_path, NAME, details, cost)
                summary[name] = {"qonnx_mismatches": details["qonnx_mismatches"]}
            bar.advance()
    return StageOutputs(summary=summary)
