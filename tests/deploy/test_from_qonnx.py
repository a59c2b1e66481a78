"""The integer network read from a QONNX graph alone: a hand-built Brevitas-style graph (Gemm with
transposed weights, unsigned activation Quant, input Quant, trailing Softmax), the validation errors
(non-power-of-two scale, unsupported op, zero point, input size), and the QKeras-vs-QONNX cross-check
(equal on our export, failing on an altered weight)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate
from pipeline.deploy.from_qonnx import check_same_network, integer_network_from_qonnx, prepare_qonnx
from pipeline.deploy.integer_network import FixedFormat
from pipeline.errors import PipelineError
from tests.deploy.qonnx_graphs import brevitas_style_mlp
from tests.deploy.tiny_model import build_tiny_model, random_features


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_brevitas_style_graph_reads_exactly():
    from qonnx.core.modelwrapper import ModelWrapper

    from pipeline.deploy.export_qonnx import execute_qonnx

    original = brevitas_style_mlp()
    prepared = prepare_qonnx(original, 16, "test")
    network = prepared.network
    assert prepared.softmax_removed
    assert [node.op_type for node in prepared.wrapper.graph.node if node.op_type != "Quant"] == [
        "MatMul",
        "Add",
        "Relu",
        "MatMul",
        "Add",
    ]
    assert network.input_format == FixedFormat(8, 4, True)
    first, second = network.layers
    # Gemm's (out, in) weights, transposed
    assert first.weight_raw.shape == (16, 8) and second.weight_raw.shape == (8, 5)
    assert (first.activation, first.output) == ("relu", FixedFormat(6, 2, False))
    assert (first.weight_fractional_bits, first.bias_fractional_bits) == (5, 9)
    assert np.abs(first.weight_raw).max() <= 31  # narrow range: -31..31
    features = random_features(3000)
    executed = execute_qonnx(prepared.wrapper, features, 1000)
    assert np.array_equal(executed, emulate(network, features, ideal=True).logits)
    # the file as given (with its softmax) = the softmax of the deployed logits
    probabilities = execute_qonnx(ModelWrapper(original), features, 1000)
    assert np.allclose(probabilities, _softmax(emulate(network, features).logits), atol=1e-6)
    assert integer_network_from_qonnx(prepared.wrapper, {"fc1": 14}).layers[1].accumulator == FixedFormat(
        14, 14 - 9, True
    )


@pytest.mark.parametrize(
    ("options", "node", "words"),
    [
        ({"weight_scale": 0.03}, "fc0_weight_quant", "is not a power of two"),
        ({"extra_op": "Sigmoid"}, "extra_node", "unsupported op Sigmoid"),
        ({"input_zero_point": 1.0}, "input_quant", "zero point"),
    ],
)
def test_invalid_graphs_fail_naming_the_node(options, node, words):
    with pytest.raises(PipelineError) as error:
        prepare_qonnx(brevitas_style_mlp(**options), 16, "user.onnx")
    assert words in error.value.problem
    assert f"node '{node}'" in error.value.input
    assert error.value.fix


def test_wrong_feature_count_is_an_error():
    with pytest.raises(PipelineError, match=r"expected \[batch, 16\]"):
        prepare_qonnx(brevitas_style_mlp(sizes=(10, 8, 5)), 16, "user.onnx")


def test_qonnx_reading_of_our_export_equals_the_qkeras_reading():
    from pipeline.deploy.export_qonnx import export_qonnx
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    model = build_tiny_model()
    network = integer_network_from_qkeras(model)
    wrapper = export_qonnx(model, network)
    features = random_features(2000)
    record = check_same_network(network, integer_network_from_qonnx(wrapper), features, "tiny")
    assert record == {"equal_networks": True, "jets": 2000, "logit_mismatches": 0}
    # ... and read from the saved file, as a user would give it back
    prepared = prepare_qonnx(wrapper.model, 16, "tiny.onnx")
    assert not prepared.softmax_removed
    check_same_network(network, prepared.network, features, "tiny")


def test_altered_weight_in_the_qonnx_file_fails_the_cross_check(tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper

    from pipeline.deploy.export_qonnx import export_qonnx
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    model = build_tiny_model()
    network = integer_network_from_qkeras(model)
    export_qonnx(model, network).save(str(tmp_path / "model.onnx"))
    wrapper = ModelWrapper(str(tmp_path / "model.onnx"))
    matmul = next(node for node in wrapper.graph.node if node.op_type == "MatMul")
    weight_quant = wrapper.find_producer(matmul.input[1])
    weights = wrapper.get_initializer(weight_quant.input[0]).copy()
    weights[2, 3] = -weights[2, 3] + 0.25  # a different value on the 2**-5 grid
    wrapper.set_initializer(weight_quant.input[0], weights)
    wrapper.save(str(tmp_path / "altered.onnx"))
    altered = integer_network_from_qonnx(ModelWrapper(str(tmp_path / "altered.onnx")))
    with pytest.raises(PipelineError) as error:
        check_same_network(network, altered, random_features(500), "tiny")
    assert "differs from the one read from QKeras" in error.value.problem
    assert "layer 0" in error.value.problem and "weight_raw[2, 3]" in error.value.problem
