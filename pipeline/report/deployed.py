"""The deployed form of a run's model: its final stored model (QKeras, or the QONNX graph of a
bring-your-own ``.onnx`` model) and, when it is quantized, the integer network the firmware computes
(``convert/<model>/network.json``, the network whose emulation matched the C-simulation; else
``export/<model>/network.json``). Shared by the report stage and :func:`pipeline.load_tagger`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.report.collect import read_json
from pipeline.report.scores import exact_logits, float_logits

MODEL_STAGES: tuple[str, ...] = ("constrain", "prune", "train")
"""Where a model's final Keras model is looked up, latest first (constrain's is the one exported)."""


@dataclass(frozen=True)
class DeployedModel:
    """A loaded model and how to evaluate it.

    Attributes:
        name: the model's name in the run.
        keras_model: the stored QKeras model (``<stage>/<model>/model.h5``).
        model_file: run-relative path of that file (e.g. ``constrain/jet_dnn_q6/model.h5``).
        exact_problem: why the model has no firmware-exact form (``None`` when it has one).
        accumulator_bits: deployed accumulator width per dense layer (``None``: wide, never overflows).
        network: the stored integer network (``network.json``), when the stages wrote one.
        onnx_file: the QONNX graph of a bring-your-own ``.onnx`` model (then ``keras_model`` is ``None``).
        spec: the model's spec as the later stages read it (a learned model's frozen spec), whose
            per-feature input formats are applied before the network (:meth:`inputs`); ``None`` for a
            bring-your-own model.
    """

    name: str
    keras_model: Any
    model_file: str
    exact_problem: str | None
    accumulator_bits: Mapping[str, int] | None
    network: Any = None
    onnx_file: Path | None = None
    spec: Any = None

    def inputs(self, features_standardised: np.ndarray) -> np.ndarray:
        """The features as the deployed network receives them: at the spec's per-feature input formats
        when it has them (:func:`pipeline.models.inputs.model_inputs`), else unchanged."""
        from pipeline.models.inputs import model_inputs

        return model_inputs(self.spec, np.asarray(features_standardised, dtype=np.float32))

    @property
    def has_exact(self) -> bool:
        """True when firmware-exact scores exist (a quantized model with an integer form)."""
        return self.exact_problem is None

    def float_logits(self, features_standardised: np.ndarray) -> np.ndarray:
        """Logits of the QKeras model in floating point (TensorFlow); for a QONNX model, its graph run
        by qonnx's executor (a QONNX graph has no float form besides itself)."""
        if self.keras_model is None and self.onnx_file is not None:
            from qonnx.core.modelwrapper import ModelWrapper

            from pipeline.deploy.export_qonnx import execute_qonnx

            outputs = execute_qonnx(ModelWrapper(str(self.onnx_file)), features_standardised)
            return outputs.astype(np.float32)
        return float_logits(self.keras_model, self.inputs(features_standardised))

    def exact_logits(self, features_standardised: np.ndarray) -> np.ndarray:
        """Firmware-exact logits (integer emulator); PipelineError for a model without an integer form."""
        if self.exact_problem is not None:
            raise PipelineError(
                "report",
                f"model '{self.name}' has no firmware-exact form: {self.exact_problem}",
                input=self.model_file,
                fix="use the float scores (exact=False)",
            )
        if self.network is not None:
            from pipeline.deploy.emulator import emulate

            result = emulate(self.network, self.inputs(features_standardised))
            return np.asarray(result.logits, dtype=np.float64)
        return exact_logits(self.keras_model, self.inputs(features_standardised), self.accumulator_bits)


def deployed_files(stage_dirs: Mapping[str, Path], model: str) -> tuple[Path, Path | None] | None:
    """``(model.h5, accumulators.json or None)`` of the model the firmware was built from, chosen as
    the convert stage does: ``export/<model>/`` for a bring-your-own model (``source.json`` says
    ``"export"``), else the latest of constrain, prune, train. ``None`` when no model file is stored."""
    export_dir = stage_dirs.get("export")
    if export_dir is not None:
        source = read_json(export_dir / model / "source.json")
        if isinstance(source, Mapping) and source.get("model") == "export":
            path = export_dir / model / "model.h5"
            if path.is_file():
                accumulators = export_dir / model / "accumulators.json"
                return path, accumulators if accumulators.is_file() else None
    for stage in MODEL_STAGES:
        stage_dir = stage_dirs.get(stage)
        if stage_dir is not None and (stage_dir / model / "model.h5").is_file():
            accumulators = stage_dir / model / "accumulators.json"
            return stage_dir / model / "model.h5", accumulators if accumulators.is_file() else None
    return None


def accumulator_widths(keras_model: Any, accumulators_file: Path | None) -> dict[str, int] | None:
    """Deployed accumulator width per dense layer, parsed as the convert stage parses it
    (:func:`pipeline.deploy.stage_io.parse_accumulator_bits`); ``None``: full-width accumulators."""
    record = read_json(accumulators_file) if accumulators_file is not None else None
    if not isinstance(record, Mapping) or record.get("layers", record) is None:
        return None
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.stage_io import parse_accumulator_bits

    names = {layer.name for layer in integer_network_from_qkeras(keras_model).layers}
    return parse_accumulator_bits(record, names) or None


def stored_network(stage_dirs: Mapping[str, Path], model: str) -> Any:
    """The model's stored integer network: ``convert/<model>/network.json`` (matched against the
    C-simulation), else ``export/<model>/network.json``; ``None`` when neither stage stored one."""
    from pipeline.deploy.integer_network import NETWORK_FILE, load_network

    for stage in ("convert", "export"):
        stage_dir = stage_dirs.get(stage)
        if stage_dir is not None and (stage_dir / model / NETWORK_FILE).is_file():
            return load_network(stage_dir / model / NETWORK_FILE)
    return None


def _qonnx_source(stage_dirs: Mapping[str, Path], model: str) -> Path | None:
    """``export/<model>/model.onnx`` of a bring-your-own QONNX model, else ``None``."""
    export_dir = stage_dirs.get("export")
    if export_dir is None:
        return None
    source = read_json(export_dir / model / "source.json")
    if isinstance(source, Mapping) and source.get("format") == "qonnx":
        return export_dir / model / "model.onnx"
    return None


def load_deployed(stage_dirs: Mapping[str, Path], model: str) -> DeployedModel:
    """Load the deployed model of ``model`` (see :func:`deployed_files`; a bring-your-own QONNX model
    is its ``export/<model>/model.onnx``) with its stored integer network.

    Raises:
        PipelineError: no stage stored a model file for ``model``.
    """
    from pipeline.models.io import load_model

    onnx_file = _qonnx_source(stage_dirs, model)
    network = stored_network(stage_dirs, model)
    if onnx_file is not None:
        relative = onnx_file.relative_to(onnx_file.parents[2]).as_posix()
        problem = None if network is not None else "no network.json stored by export or convert"
        return DeployedModel(model, None, relative, problem, None, network, onnx_file)
    found = deployed_files(stage_dirs, model)
    if found is None:
        raise PipelineError(
            "report",
            f"no stored model for '{model}' (looked in export/, constrain/, prune/, train/)",
            input=model,
            fix="run the train stage (and the later ones) for this model",
        )
    path, accumulators_file = found
    keras_model = load_model(path)
    relative = path.relative_to(path.parents[2]).as_posix()
    exact_problem = _exact_problem(stage_dirs, model, keras_model)
    if exact_problem is not None:
        network = None
    widths = (
        accumulator_widths(keras_model, accumulators_file)
        if exact_problem is None and network is None
        else None
    )
    return DeployedModel(
        model, keras_model, relative, exact_problem, widths, network, None, _spec(stage_dirs, model)
    )


def _spec(stage_dirs: Mapping[str, Path], model: str) -> Any:
    """The spec later stages read (``train/<model>/frozen_spec.yaml`` of a learned model, else the
    ``spec.yaml`` the train stage copied), or ``None`` when the train stage stored neither."""
    from pipeline.models.spec import load_spec

    train_dir = stage_dirs.get("train")
    if train_dir is None:
        return None
    for name in ("frozen_spec.yaml", "spec.yaml"):
        path = train_dir / model / name
        if path.is_file():
            return load_spec(path) if name == "frozen_spec.yaml" else _load_copied_spec(path)
    return None


def _load_copied_spec(path: Path) -> Any:
    """``train/<model>/spec.yaml`` (a copy of ``models/<model>.yaml``, so named after the directory)."""
    import yaml

    from pipeline.models.spec import parse_spec

    return parse_spec(yaml.safe_load(path.read_text()), str(path))


def _exact_problem(stage_dirs: Mapping[str, Path], model: str, keras_model: Any) -> str | None:
    """``None`` when the model has an integer form, else the reason it has none."""
    spec_path = stage_dirs["train"] / model / "spec.yaml" if "train" in stage_dirs else None
    if spec_path is not None and spec_path.is_file():
        import yaml

        from pipeline.models.spec import parse_spec

        if not parse_spec(yaml.safe_load(spec_path.read_text()), str(spec_path)).quantized:
            return "it is a float model"
    elif not any(type(layer).__name__.startswith("Q") for layer in keras_model.layers):
        return "it is a float model"
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    try:
        integer_network_from_qkeras(keras_model)
    except PipelineError as error:
        return error.problem
    return None
