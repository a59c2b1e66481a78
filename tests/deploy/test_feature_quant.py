"""Per-feature input precision in QONNX (pipeline/deploy/feature_quant.py): qonnx's own executor on the
RAW features equals QKeras on model_inputs(features); the block reads back as the spec's formats, and
the hls4ml workaround removes it, giving back the container-only export byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.export_qonnx import execute_qonnx, export_qonnx, integer_logits, output_fractional_bits
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.models.spec import parse_spec
from tests.deploy.tiny_model import build_tiny_model, random_features

# the tiny model's input container is quantized_bits(8, 3): 4 fractional bits, range +-8
FORMATS = [{"bits": 2 + k % 4 + k // 4, "integer_bits": k % 4} for k in range(16)]  # f = 1 + k // 4


def _spec():
    data = {
        "name": "tiny",
        "input_features": 16,
        "input_quantizer": {"bits": 8, "integer_bits": 3},
        "input_feature_quantizers": FORMATS,
        "defaults": {"weight": {"bits": 6, "integer_bits": 0}, "bias": {"bits": 6, "integer_bits": 0}},
        "layers": [
            {"units": 8, "activation_quantizer": {"bits": 6, "integer_bits": 0}},
            {"units": 5, "activation": "linear"},
        ],
    }
    return parse_spec(data, "tiny.yaml")


@pytest.fixture(scope="module")
def exported():
    from pipeline.models.inputs import input_formats

    model = build_tiny_model()
    network = integer_network_from_qkeras(model)
    spec = _spec()
    return (
        model,
        network,
        spec,
        export_qonnx(model, network, input_formats(spec)),
        export_qonnx(model, network),
    )


def test_qonnx_executor_on_raw_features_equals_qkeras_on_model_inputs(exported):
    from pipeline.models.inputs import model_inputs

    model, network, spec, wrapper, container_only = exported
    features = random_features(3000)
    features[:16] = np.arange(16)[:, None] * 2.0**-6 * 3  # ties between the coarse grids' steps
    fractional = output_fractional_bits(network)
    expected = integer_logits(model.predict(model_inputs(spec, features), verbose=0), fractional)
    got = integer_logits(execute_qonnx(wrapper, features, batch_size=1024), fractional)
    np.testing.assert_array_equal(got, expected)
    # the test can fail: without the per-feature Quant nodes the same graph computes another model
    other = integer_logits(execute_qonnx(container_only, features, batch_size=1024), fractional)
    assert np.any(other != expected)


def test_graph_holds_one_scalar_quant_per_feature_with_the_spec_formats(exported):
    from pipeline.deploy.feature_quant import find_feature_quantizers
    from pipeline.models.inputs import input_formats

    _, _, spec, wrapper, container_only = exported
    found = find_feature_quantizers(wrapper)
    assert found is not None and found.formats == input_formats(spec)
    quants = [node for node in wrapper.graph.node if node.name.startswith("Quant_feature_")]
    assert len(quants) == 16
    for node in quants:
        for parameter in node.input[1:4]:
            assert wrapper.get_initializer(parameter).ndim == 0  # scalar: what qonnx 0.4 can execute
    assert find_feature_quantizers(container_only) is None


def test_hls4ml_workaround_gives_back_the_container_export(exported):
    from pipeline.deploy.from_qonnx import integer_network_from_qonnx
    from pipeline.deploy.qonnx_fixes import strip_feature_quantizers_for_hls4ml

    _, network, _, wrapper, container_only = exported
    stripped = strip_feature_quantizers_for_hls4ml(wrapper)
    assert stripped.model.SerializeToString() == container_only.model.SerializeToString()
    assert integer_network_from_qonnx(stripped).input_format == network.input_format
    unchanged = strip_feature_quantizers_for_hls4ml(container_only)
    assert unchanged.model.SerializeToString() == container_only.model.SerializeToString()


def test_qonnx_quant_cannot_execute_a_vector_bit_width():
    """Why one Quant per feature: qonnx 0.4's Quant refuses a per-feature (vector) bit width."""
    from qonnx.custom_op.general.quant import quant

    x = np.zeros((2, 3), dtype=np.float32)
    scale = np.array([0.25, 0.5, 1.0], dtype=np.float32)
    with pytest.raises(ValueError, match="ambiguous"):
        quant(x, scale, np.float32(0), np.array([4.0, 5.0, 6.0], dtype=np.float32), 1, 0, "ROUND")
