"""The ``convert`` stage: QONNX -> hls4ml project (ONNX frontend), C-simulation compared bit-exactly
with the QONNX model (equal to QKeras, export checked it) and with the integer emulator on every test jet.

Every exported model is converted the same way, ours and bring-your-own (QKeras or QONNX): the inputs
are ``export/<model>/model.onnx`` and ``export/<model>/network.json`` (the integer network).

Writes, per model, ``convert/<model>/hls4ml_prj/`` (the whole hls4ml project: ``firmware/``,
``build_prj.tcl``, ``tb_data/``, ``hls4ml_config.yml``, the QONNX ``model.onnx``; relocatable: no
absolute path to the staging directory, no compiled library; run ``vitis_hls -f build_prj.tcl`` in
it), ``bit_exact.json`` (C-sim vs QONNX integer-logit mismatches, emulator vs C-sim), ``network.json``
(the network the C-sim matched: what firmware and report deploy) and ``metrics.json``. A mismatch of
either check fails the stage naming the first differing jet (and layer). A model with per-feature input
precision: hls4ml gets the QONNX graph without its per-feature ``Quant`` nodes (hls4ml 1.3 cannot take
them, :mod:`pipeline.deploy.qonnx_fixes`) and the C-simulation the per-feature-quantized features
(``metrics.json: details.input_feature_formats``), compared with the whole QONNX graph on raw features.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel, iter_model_dirs
from pipeline.stages.train import spec_path as model_spec_path

if TYPE_CHECKING:
    import numpy as np

    from pipeline.deploy.hls import HlsSettings
    from pipeline.deploy.integer_network import IntegerNetwork
    from pipeline.models.spec import ModelSpec

NAME = "convert"
PER_FEATURE_CSIM_INPUT = (
    "features at the per-feature input formats (the QONNX per-feature Quant nodes stripped for hls4ml "
    "1.3: pipeline.deploy.qonnx_fixes.strip_feature_quantizers_for_hls4ml)"
)
REQUIRES: tuple[str, ...] = ("data", "export", "constrain")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("hls4ml", "da4ml", "qonnx", "onnx", "tensorflow-cpu", "qkeras", "numpy")


class Config(StrictModel):
    """Config section ``convert:`` of the pipeline YAML.

    Attributes:
        hls4ml_config: hls4ml YAML (relative to the repo root) with part, clock, io type, strategy.
        testbench_jets: test jets written to the project's ``tb_data/`` for Vitis C-simulation.
        batch_size: jets per QKeras ``predict`` call.
    """

    hls4ml_config: str = "hls4ml_configs/vitis_latency.yml"
    testbench_jets: int = Field(default=1000, ge=1)
    batch_size: int = Field(default=8192, ge=1)


def _deployed(name: str, export_dir: Path, constrain_dir: Path) -> tuple[Any, Any, dict]:
    """``(QKeras model or None, IntegerNetwork, source.json)`` of an exported model: the network export
    wrote (``network.json``), and the QKeras model the run's metrics are measured on (``None`` for a
    bring-your-own model, whose metrics come from the network)."""
    from pipeline.deploy.integer_network import NETWORK_FILE, load_network
    from pipeline.deploy.stage_io import SOURCE_FILE, read_json
    from pipeline.models.io import load_model

    source = read_json(export_dir / SOURCE_FILE, NAME)
    try:
        network = load_network(export_dir / NETWORK_FILE)
    except (OSError, ValueError, KeyError) as error:
        raise PipelineError(
            NAME,
            f"cannot read the exported integer network of {name}: {error}",
            input=str(export_dir / NETWORK_FILE),
            fix="rerun the export stage (trigger-pipeline export --force export)",
        ) from error
    model = load_model(constrain_dir / name / "model.h5") if source.get("model") == "constrain" else None
    return model, network, source


def convert_one(
    name: str,
    network: IntegerNetwork,
    wrapper: Any,
    features: np.ndarray,
    config: Config,
    settings: HlsSettings,
    model_dir: Path,
    staging_dir: Path,
    spec: ModelSpec | None = None,
) -> dict[str, Any]:
    """Convert, compile and check one model into ``model_dir``; returns the details for ``metrics.json``.

    Two checks on every test jet, each failing the stage with the first differing jet named:
    the C-simulation equals the QONNX model (qonnx's executor, which export proved equal to QKeras;
    the first differing layer is named too), and the integer emulator of ``network`` (whose logits the
    report's firmware-exact scores are) equals the C-simulation.

    Per-feature input precision (``spec.input_feature_quantizers``): the QONNX model (run by the
    executor on the raw ``features``) starts with one ``Quant`` per feature, which hls4ml 1.3 cannot
    take; hls4ml gets the graph without it (:func:`pipeline.deploy.qonnx_fixes.
    strip_feature_quantizers_for_hls4ml`) and the C-simulation, the emulator and the testbench get
    :func:`pipeline.models.inputs.model_inputs` of the features, as the firmware receives them.
    """
    import numpy as np

    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.export_qonnx import (
        dense_node_names,
        execute_qonnx,
        integer_logits,
        output_fractional_bits,
    )
    from pipeline.deploy.hls import (
        build_hls_config,
        convert_to_hls,
        csim_predict,
        finalize_project,
        first_differing_layer,
        hls_type,
    )
    from pipeline.deploy.integer_network import NETWORK_FILE, save_network
    from pipeline.deploy.qonnx_fixes import strip_feature_quantizers_for_hls4ml
    from pipeline.deploy.stage_io import write_json
    from pipeline.models.inputs import input_formats, model_inputs

    node_names = dense_node_names(wrapper, network)
    fractional = output_fractional_bits(network)
    reference_real = execute_qonnx(wrapper, features, config.batch_size)  # the whole QONNX graph, raw
    reference = integer_logits(reference_real, fractional)
    hls_wrapper = strip_feature_quantizers_for_hls4ml(wrapper)
    formats = input_formats(spec)
    features = model_inputs(spec, features)  # what the firmware receives
    project_dir = model_dir / "hls4ml_prj"
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(io.StringIO()):
        testbench = (Path(scratch) / "tb_input.npy", Path(scratch) / "tb_output.npy")
        np.save(testbench[0], features[: config.testbench_jets].astype(np.float64))
        np.save(testbench[1], reference_real[: config.testbench_jets].astype(np.float64))
        hls_config = build_hls_config(hls_wrapper, network, node_names, settings)
        hls_model = convert_to_hls(hls_wrapper, hls_config, settings, project_dir, testbench)
        csim = integer_logits(csim_predict(hls_model, features), fractional)
        differs = np.flatnonzero(np.any(csim != reference, axis=1))
        layer = first_differing_layer(hls_model, network, features[differs[0]]) if len(differs) else None
    emulated = emulate(network, features)
    emulator_differs = np.flatnonzero(np.any(emulated.logits_raw != csim, axis=1))
    record = {
        "jets": len(features),
        "mismatches": len(differs),
        "first_mismatch": None if layer is None else {"jet": int(differs[0]), "layer": layer},
        "emulator_vs_csim_mismatches": len(emulator_differs),
        "first_emulator_mismatch": int(emulator_differs[0]) if len(emulator_differs) else None,
        "output_fractional_bits": fractional,
        "reference": "qonnx.core.onnx_exec.execute_onnx on export/<model>/model.onnx",
        "csim_input": "features" if formats is None else PER_FEATURE_CSIM_INPUT,
    }
    write_json(model_dir / "bit_exact.json", record)
    if len(differs):
        raise PipelineError(
            NAME,
            f"hls4ml C-sim of {name} differs from the QONNX model on {len(differs)} of {len(features)} test "
            f"jets; first: jet {int(differs[0])}, layer {layer}",
            input=str(model_dir / "bit_exact.json"),
            fix="check the accumulator widths in constrain/<model>/accumulators.json and the hls4ml config",
        )
    if len(emulator_differs):
        jet = int(emulator_differs[0])
        raise PipelineError(
            NAME,
            f"the integer emulator of {name} (export/{name}/{NETWORK_FILE}) differs from the hls4ml C-sim "
            f"on {len(emulator_differs)} of {len(features)} test jets; first: jet {jet} (emulator "
            f"{emulated.logits_raw[jet].tolist()}, C-sim {csim[jet].tolist()}); the report's "
            "firmware-exact scores come from the emulator",
            input=str(model_dir / "bit_exact.json"),
            fix=f"rerun export (trigger-pipeline export --force export); if it persists, report it with "
            f"export/{name}/",
        )
    (project_dir / "model.onnx").write_bytes(hls_wrapper.model.SerializeToString())  # what hls4ml took
    stamp = hashlib.sha256(wrapper.model.SerializeToString()).hexdigest()[:8]
    finalize_project(project_dir, staging_dir, stamp)
    save_network(network, model_dir / NETWORK_FILE)
    return {
        "csim_mismatches": 0,
        "emulator_vs_csim_mismatches": 0,
        "test_jets": record["jets"],
        "input": "container" if formats is None else "per-feature",
        "input_feature_formats": None if formats is None else [hls_type(fmt) for fmt in formats],
        "accumulator_types": {
            layer.name: None if layer.accumulator is None else hls_type(layer.accumulator)
            for layer in network.layers
        },
        "accumulator_overflows": emulated.accumulator_overflows,
        "saturations": emulated.saturations,
        "hls4ml": settings.model_dump(),
    }


@dataclass(frozen=True)
class ModelTask:
    """One model's conversion (picklable: it may run in a Dask worker, :mod:`pipeline.model_work`)."""

    name: str
    export_dir: Path
    constrain_dir: Path
    spec_path: Path | None  # a model of the run (learned precision: the frozen spec)
    data_dir: Path
    model_dir: Path
    staging_dir: Path
    seed: int
    settings_path: Path
    config: Config


def convert_model(task: ModelTask) -> dict[str, Any]:
    """Convert one exported model into ``task.model_dir`` (or record why it is skipped); its summary."""
    from qonnx.core.modelwrapper import ModelWrapper

    from pipeline.data.io import load_dataset
    from pipeline.deploy.hls import load_hls_settings
    from pipeline.deploy.stage_io import read_metrics_skip, write_model_metrics
    from pipeline.measure import save_skipped
    from pipeline.models.inputs import model_dataset
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fresh_model_state

    fresh_model_state(task.seed)
    name, model_dir = task.name, task.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    skipped = read_metrics_skip(task.export_dir)
    if skipped:
        summary = {"skipped": f"export skipped it: {skipped}"}
        save_skipped(model_dir / "metrics.json", summary["skipped"])
        return summary
    settings = load_hls_settings(task.settings_path)
    dataset = load_dataset(task.data_dir)
    model, network, _source = _deployed(name, task.export_dir, task.constrain_dir)
    wrapper = ModelWrapper(str(task.export_dir / "model.onnx"))
    spec_path = task.spec_path if model is not None else None
    spec = None if spec_path is None else load_spec(spec_path)
    details = convert_one(
        name, network, wrapper, dataset.x_test, task.config, settings, model_dir, task.staging_dir, spec
    )
    deployed = model_dataset(spec, dataset)  # per-feature input formats, if any
    write_model_metrics(
        model_dir / "metrics.json", model, deployed, spec_path, NAME, details, network=network
    )
    return {"csim_mismatches": details["csim_mismatches"]}


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Convert every exported model to an hls4ml project and check its C-sim bit-exact on the test split
    (one :func:`convert_model` task per model, run by ``inputs.work``)."""
    from pipeline.deploy.hls import load_hls_settings

    settings_path = Path(config.hls4ml_config)
    if not settings_path.is_absolute():
        settings_path = Path(inputs.repo_root) / settings_path
    load_hls_settings(settings_path)  # a bad hls4ml config fails here, before any model's work
    tasks = [
        ModelTask(
            name=name,
            export_dir=export_dir,
            constrain_dir=Path(inputs.upstream["constrain"]),
            spec_path=model_spec_path(inputs, name, NAME) if name in inputs.model_specs else None,
            data_dir=Path(inputs.upstream["data"]),
            model_dir=inputs.output_dir / name,
            staging_dir=inputs.output_dir,
            seed=inputs.seed,
            settings_path=settings_path,
            config=config,
        )
        for name, export_dir in iter_model_dirs(inputs.upstream["export"])
        if name not in inputs.carried_over
    ]
    with inputs.progress("convert", len(tasks)) as bar:
        results = inputs.work.map(convert_model, tasks, on_done=lambda _task, _result: bar.advance())
    return StageOutputs(summary={task.name: result for task, result in zip(tasks, results, strict=True)})
