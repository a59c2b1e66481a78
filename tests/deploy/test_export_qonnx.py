"""QKeras -> QONNX export (with the qonnx 0.4 fixes) is exact under qonnx's executor."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.export_qonnx import (
    dense_node_names,
    execute_qonnx,
    export_qonnx,
    inference_cost_figures,
    integer_logits,
    output_fractional_bits,
)
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.qonnx_fixes import clean_model, input_is_quantized
from tests.deploy.tiny_model import build_tiny_model, random_features


@pytest.fixture(scope="module")
def exported():
    model = build_tiny_model()
    network = integer_network_from_qkeras(model)
    return model, network, export_qonnx(model, network)


def test_raw_converter_drops_the_input_quantizer_and_the_fix_restores_it(exported):
    from qonnx.converters import from_keras

    model, _, wrapper = exported
    raw, _ = from_keras(model, name="tiny", opset=9)
    assert not input_is_quantized(raw)  # the qonnx 0.4 fault this module works around
    assert input_is_quantized(wrapper.model)
    assert "Identity" in [node.op_type for node in raw.graph.node]
    assert "Identity" not in [node.op_type for node in wrapper.graph.node]


def test_without_the_input_quant_the_executor_is_not_exact(exported):
    from qonnx.converters import from_keras

    model, _, _ = exported
    features = random_features(500)
    raw, _ = from_keras(model, name="tiny", opset=9)
    unfixed = execute_qonnx(clean_model(raw), features, batch_size=256)
    assert np.any(unfixed != model.predict(features, verbose=0))


def test_executor_equals_qkeras_integer_logits(exported):
    model, network, wrapper = exported
    features = random_features(2500)
    fractional = output_fractional_bits(network)
    expected = integer_logits(model.predict(features, verbose=0), fractional)
    got = integer_logits(execute_qonnx(wrapper, features, batch_size=1000), fractional)  # padded last batch
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_dense_node_names_follow_graph_order(exported):
    _, network, wrapper = exported
    assert dense_node_names(wrapper, network) == {"dense_1": "MatMul_0", "output": "MatMul_1"}


def test_inference_cost_counts_the_nonzero_macs(exported):
    _, network, wrapper = exported
    figures = inference_cost_figures(wrapper)
    # sparsity discounted: one MAC per non-zero quantized weight
    assert figures["total_macs"] == sum(int(np.count_nonzero(layer.weight_raw)) for layer in network.layers)


def test_integer_logits_rejects_off_grid_values():
    with pytest.raises(ValueError):
        integer_logits(np.array([[0.3]]), 2)


def test_export_is_byte_deterministic(exported):
    model, network, wrapper = exported
    again = export_qonnx(model, network)
    assert again.model.SerializeToString() == wrapper.model.SerializeToString()
