"""hls4ml conversion + C simulation (one real g++ compile of a tiny model for this module).

The tiny model's output layer gets a deliberately narrow 13-bit accumulator, so the C-sim wraps:
the emulator must reproduce the C-sim on every jet (wrapped or not), the mismatch with QKeras must be
found, and the differing layer named."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate
from pipeline.deploy.export_qonnx import (
    dense_node_names,
    export_qonnx,
    integer_logits,
    output_fractional_bits,
)
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.hls import (
    HlsSettings,
    build_hls_config,
    convert_to_hls,
    csim_predict,
    finalize_project,
    first_differing_layer,
    hls_type,
    load_hls_settings,
)
from pipeline.errors import PipelineError
from tests.deploy.tiny_model import build_tiny_model, random_features

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    model = build_tiny_model()
    network = integer_network_from_qkeras(model, {"output": 13})
    wrapper = export_qonnx(model, network)
    settings = load_hls_settings(REPO / "hls4ml_configs" / "vitis_latency.yml")
    config = build_hls_config(wrapper, network, dense_node_names(wrapper, network), settings)
    staging = tmp_path_factory.mktemp("staging")
    hls_model = convert_to_hls(wrapper, config, settings, staging / "hls4ml_prj")
    features = random_features(4000)
    csim = csim_predict(hls_model, features)
    return model, network, hls_model, features, csim, staging, config


def test_settings_come_from_the_yaml():
    settings = load_hls_settings(REPO / "hls4ml_configs" / "vitis_da.yml")
    assert settings == HlsSettings(strategy="distributed_arithmetic")
    latency = load_hls_settings(REPO / "hls4ml_configs" / "vitis_latency.yml")
    assert (latency.part, latency.clock_period, latency.io_type) == ("xcvu13p-flga2577-2-e", 5, "io_parallel")


def test_unknown_yaml_key_is_a_pipeline_error(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("Backend: Vitis\nHLSConfig: {Model: {Stratgy: Latency}}\n")
    with pytest.raises(PipelineError, match="Stratgy"):
        load_hls_settings(path)


def test_config_sets_input_precision_and_the_constrained_accumulator(compiled):
    _, network, hls_model, *_, config = compiled
    assert config["LayerName"]["global_in"]["Precision"]["result"] == "fixed<8,4,RND_CONV,SAT>"
    assert config["LayerName"]["MatMul_1"]["Precision"]["accum"] == hls_type(network.layers[1].accumulator)
    types = {
        layer.name: {k: str(v.precision) for k, v in layer.types.items()} for layer in hls_model.get_layers()
    }
    assert types["Dense_MatMul_1"]["accum_t"].startswith("fixed<13,2,")
    assert types["Relu_0"]["result_t"].startswith("ufixed<6,0,RND_CONV,SAT")


def test_emulator_equals_csim_on_every_jet_even_when_wrapping(compiled):
    _, network, _, features, csim, *_ = compiled
    result = emulate(network, features)
    assert result.accumulator_overflows["output"] > 0
    assert np.array_equal(result.logits_raw, integer_logits(csim, output_fractional_bits(network)))


def test_wrapping_accumulator_is_found_and_the_layer_named(compiled):
    model, network, hls_model, features, csim, *_ = compiled
    expected = model.predict(features, verbose=0)
    differs = np.flatnonzero(np.any(csim != expected, axis=1))
    assert len(differs) > 0
    assert first_differing_layer(hls_model, network, features[differs[0]]).startswith(
        "output (accumulator fixed<13,2>"
    )


def test_finalized_project_is_relocatable_and_deterministic(compiled):
    staging = compiled[5]
    project = staging / "hls4ml_prj"
    finalize_project(project, staging, "abcd1234")
    assert not list(project.rglob("*.so"))
    config_text = (project / "hls4ml_config.yml").read_text()
    assert "Stamp: abcd1234" in config_text and "OutputDir: ." in config_text
    assert "LIB_STAMP=abcd1234" in (project / "build_lib.sh").read_text()
    for path in project.rglob("*"):
        if path.is_file():
            assert str(staging).encode() not in path.read_bytes(), path
    (project / "firmware" / "leak.txt").write_text(f"path {staging}/x\n")
    with pytest.raises(PipelineError, match="absolute path"):
        finalize_project(project, staging, "abcd1234")


def test_project_config_is_read_safely_tuples_yes_code_no(tmp_path):
    """hls4ml's ``!!python/tuple`` loads; any other Python tag is refused and never runs."""
    from pipeline.deploy.hls import ONNX_MODEL_PLACEHOLDER, finalize_project, load_hls4ml_config_yaml

    plain = tmp_path / "plain.yml"
    plain.write_text(
        "Stamp: abc\nShape: !!python/tuple [16, 1]\n"
        "OnnxModel: !!python/object/apply:onnx.onnx_ml_pb2.ModelProto\n  state: {serialized: !!binary AA==}\n"
    )
    loaded = load_hls4ml_config_yaml(plain)
    assert loaded["Shape"] == (16, 1) and loaded["OnnxModel"] == ONNX_MODEL_PLACEHOLDER

    marker = tmp_path / "pwned"
    project = tmp_path / "prj"
    (project / "firmware").mkdir(parents=True)
    (project / "hls4ml_config.yml").write_text(
        f"Stamp: abc\nPayload: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    with pytest.raises(PipelineError, match="cannot read hls4ml's project config safely"):
        finalize_project(project, tmp_path / "staging", "0")
    assert not marker.exists()
