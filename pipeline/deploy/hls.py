"""QONNX -> hls4ml project (ONNX frontend), C-simulation, and the bit-exactness check.

hls4ml settings come from an hls4ml-schema YAML (``hls4ml_configs/*.yml``). Precision is inferred per
layer name (``granularity="name"``, the only bit-exact mode); the input layer gets the model's input
quantizer ``ap_fixed<b, i, AP_RND_CONV, AP_SAT>`` (else truncation then rounding double-rounds);
activations keep QONNX-inferred ``RND_CONV``/``SAT`` types; A2Q-constrained dense layers get a P-bit
accumulator ``ap_fixed<P, P - f_x - f_w>`` keyed by the ONNX ``MatMul`` node name (hls4ml's ONNX
parser names the fused layer ``Dense_<node>`` but reads ``LayerName.<node>`` from the config).
Reference: Fahim et al., "hls4ml: An Open-Source Codesign Workflow to Empower Scientific Low-Power
Machine Learning Devices" (2021).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from pipeline.deploy.emulator import emulate
from pipeline.deploy.integer_network import FixedFormat, IntegerNetwork
from pipeline.errors import PipelineError
from pipeline.stage_api import StrictModel

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

STAGE = "convert"
_MODEL_KEYS = {"Strategy", "ReuseFactor", "Precision", "BramFactor"}


class HlsSettings(StrictModel):
    """The subset of hls4ml's YAML config schema the pipeline uses."""

    backend: str = "Vitis"
    part: str = "xcvu13p-flga2577-2-e"
    clock_period: float = 5
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    default_precision: str = "fixed<16,6>"


def load_hls_settings(path: Path) -> HlsSettings:
    """Read an hls4ml YAML (``Backend, Part, ClockPeriod, IOType, HLSConfig: {Model: {...}}``)."""
    path = Path(path)
    fix = "see hls4ml_configs/vitis_latency.yml for the accepted keys"
    if not path.is_file():
        raise PipelineError(STAGE, "hls4ml config file not found", input=str(path), fix=fix)
    data = yaml.safe_load(path.read_text()) or {}
    allowed = {"Backend", "Part", "ClockPeriod", "IOType", "HLSConfig"}
    unknown = sorted(set(data) - allowed)
    model = (data.get("HLSConfig") or {}).get("Model") or {}
    unknown += sorted(f"HLSConfig.Model.{key}" for key in set(model) - _MODEL_KEYS)
    unknown += sorted(f"HLSConfig.{key}" for key in set(data.get("HLSConfig") or {}) - {"Model"})
    if unknown:
        raise PipelineError(STAGE, f"unsupported hls4ml config keys {unknown}", input=str(path), fix=fix)
    values = {
        "backend": data.get("Backend"),
        "part": data.get("Part"),
        "clock_period": data.get("ClockPeriod"),
        "io_type": data.get("IOType"),
        "strategy": model.get("Strategy"),
        "reuse_factor": model.get("ReuseFactor"),
        "default_precision": model.get("Precision"),
    }
    return HlsSettings(**{key: value for key, value in values.items() if value is not None})


def hls_type(fmt: FixedFormat, rounding: str | None = None) -> str:
    """hls4ml precision string of ``fmt``, e.g. ``fixed<16,7,RND_CONV,SAT>``."""
    kind = "fixed" if fmt.signed else "ufixed"
    modes = f",{rounding},SAT" if rounding else ""
    return f"{kind}<{fmt.bits},{fmt.integer_bits}{modes}>"


def build_hls_config(
    wrapper: ModelWrapper, network: IntegerNetwork, node_names: dict[str, str], settings: HlsSettings
) -> dict[str, Any]:
    """The ``hls_config`` dict for ``convert_from_onnx_model``: per-name inference, input precision,
    P-bit accumulators of constrained layers, tracing of dense and activation layers."""
    from hls4ml.utils.config import config_from_onnx_model

    config = config_from_onnx_model(
        wrapper,
        granularity="name",
        backend=settings.backend,
        default_precision=settings.default_precision,
        default_reuse_factor=settings.reuse_factor,
    )
    config["Model"]["Strategy"] = settings.strategy
    layers = config["LayerName"]
    input_name = wrapper.graph.input[0].name
    layers[input_name]["Precision"]["result"] = hls_type(network.input_format, "RND_CONV")
    for layer in network.layers:
        node = node_names[layer.name]
        if layer.accumulator is not None:
            layers[node]["Precision"]["accum"] = hls_type(layer.accumulator)
    for node in wrapper.graph.node:
        if node.op_type in ("MatMul", "Relu") and node.name in layers:
            layers[node.name]["Trace"] = True
    return config


def convert_to_hls(
    wrapper: ModelWrapper,
    hls_config: dict[str, Any],
    settings: HlsSettings,
    project_dir: Path,
    testbench: tuple[Path, Path] | None = None,
) -> Any:
    """``hls4ml.converters.convert_from_onnx_model`` into ``project_dir`` (written, not compiled)."""
    from hls4ml.converters import convert_from_onnx_model

    from pipeline.deploy.qonnx_fixes import name_tensors_after_activations

    wrapper = name_tensors_after_activations(wrapper)
    extra = {}
    if testbench is not None:
        extra = {"input_data_tb": str(testbench[0]), "output_data_tb": str(testbench[1])}
    hls_model = convert_from_onnx_model(
        wrapper.model,
        output_dir=str(project_dir),
        backend=settings.backend,
        io_type=settings.io_type,
        part=settings.part,
        clock_period=settings.clock_period,
        hls_config=hls_config,
        **extra,
    )
    hls_model.write()
    return hls_model


def csim_predict(hls_model: Any, features: np.ndarray) -> np.ndarray:
    """The compiled C simulation's outputs (float64) for ``features``; compiles on first use."""
    if getattr(hls_model, "_top_function_lib", None) is None:
        hls_model.compile()
    outputs = hls_model.predict(np.ascontiguousarray(features, dtype=np.float64))
    return np.asarray(outputs, dtype=np.float64).reshape(len(features), -1)


def first_differing_layer(hls_model: Any, network: IntegerNetwork, jet_features: np.ndarray) -> str:
    """Name the first layer where the deployed arithmetic differs from the exact (QKeras) one on one jet.

    First the emulator (hls4ml semantics, equal to the C-sim) is compared layer by layer with the ideal
    arithmetic (no accumulator wrapping): this names overflowing accumulators without recompiling. If
    the emulator does not explain the difference, hls4ml's trace (a recompilation with tracing) is
    compared: the k-th hls4ml ``Dense`` layer with the k-th ideal accumulator, an ``Activation``
    following it with that layer's quantized output.
    """
    jet = np.asarray(jet_features, dtype=np.float64).reshape(1, -1)
    deployed = emulate(network, jet, keep_layers=True).layers
    reference = emulate(network, jet, ideal=True, keep_layers=True).layers
    for layer, got, expected in zip(network.layers, deployed, reference, strict=True):
        if not np.array_equal(got.accumulator_raw, expected.accumulator_raw):
            return f"{layer.name} (accumulator {hls_type(layer.accumulator)} overflows)"
    _, trace = hls_model.trace(np.ascontiguousarray(jet))
    index = -1
    for hls_layer in hls_model.get_layers():
        if hls_layer.class_name == "Dense":
            index += 1
            expected = reference[index].accumulator_raw * 2.0 ** -reference[index].accumulator_fractional_bits
        elif hls_layer.class_name == "Activation" and index >= 0:
            expected = reference[index].output_raw * 2.0 ** -reference[index].output_fractional_bits
        else:
            continue
        got = trace.get(hls_layer.name)
        if got is not None and not np.array_equal(
            np.asarray(got, dtype=np.float64).reshape(-1), expected.reshape(-1)
        ):
            return f"{network.layers[index].name} (hls4ml layer {hls_layer.name})"
    return "none found in the trace (check the output layer's precision)"


class _Hls4mlConfigLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus the two Python tags hls4ml's ``yaml.dump`` writes: ``!!python/tuple``
    (shapes) becomes a tuple, and the pickled ``OnnxModel`` (an ``onnx.ModelProto``) is *not*
    reconstructed but read as the placeholder :data:`ONNX_MODEL_PLACEHOLDER` (the project points to
    ``model.onnx`` instead). Any other Python tag stays an error instead of running code."""


#: What ``OnnxModel: !!python/object/apply:onnx.onnx_ml_pb2.ModelProto`` reads as.
ONNX_MODEL_PLACEHOLDER = "<onnx.ModelProto: not loaded>"
_Hls4mlConfigLoader.add_constructor(
    "tag:yaml.org,2002:python/tuple", lambda loader, node: tuple(loader.construct_sequence(node))
)
_Hls4mlConfigLoader.add_constructor(
    "tag:yaml.org,2002:python/object/apply:onnx.onnx_ml_pb2.ModelProto",
    lambda loader, node: ONNX_MODEL_PLACEHOLDER,
)


def load_hls4ml_config_yaml(path: Path) -> dict[str, Any]:
    """Read an ``hls4ml_config.yml`` that hls4ml wrote, safely (:class:`_Hls4mlConfigLoader`).

    Raises:
        PipelineError: the file is not YAML or holds a Python tag other than the two hls4ml writes.
    """
    try:
        data = yaml.load(path.read_text(), Loader=_Hls4mlConfigLoader)
    except yaml.YAMLError as error:
        raise PipelineError(
            STAGE,
            f"cannot read hls4ml's project config safely: {error}".replace("\n", " "),
            input=str(path),
            fix="only plain YAML, !!python/tuple and the OnnxModel entry are accepted; regenerate it",
        ) from None
    return data if isinstance(data, dict) else {}


def finalize_project(project_dir: Path, staging_dir: Path, stamp: str) -> None:
    """Make the kept project relocatable and deterministic.

    Removes the compiled ``firmware/*.so`` (a build product with a random name), sets hls4ml's random
    ``Stamp`` to ``stamp``, rewrites ``hls4ml_config.yml`` paths relative to the project
    (``OutputDir: .``, the testbench files in ``tb_data/``, ``OnnxModel: model.onnx``), and fails if any
    text file still names ``staging_dir`` (the runner renames it after the stage).
    """
    for library in (project_dir / "firmware").glob("*.so"):
        library.unlink()
    config_path = project_dir / "hls4ml_config.yml"
    config = load_hls4ml_config_yaml(config_path)
    old_stamp = str(config.get("Stamp", ""))
    config.update(Stamp=stamp, OutputDir=".", OnnxModel="model.onnx")
    if "InputData" in config:
        config.update(
            InputData="tb_data/tb_input_features.dat", OutputPredictions="tb_data/tb_output_predictions.dat"
        )
    config_path.write_text(yaml.safe_dump(config, sort_keys=True))
    build_lib = project_dir / "build_lib.sh"
    if old_stamp and build_lib.is_file():
        build_lib.write_text(build_lib.read_text().replace(old_stamp, stamp))
    needles = {str(staging_dir), str(Path(staging_dir).resolve())}
    for path in sorted(project_dir.rglob("*")):
        if path.is_file() and path.suffix not in (".onnx",):
            text = path.read_bytes()
            if any(needle.encode() in text for needle in needles):
                raise PipelineError(
                    STAGE,
                    "the hls4ml project still contains an absolute path to the staging directory",
                    input=str(path.relative_to(project_dir)),
                    fix="report this as a bug: the project would break after the runner renames it",
                )
