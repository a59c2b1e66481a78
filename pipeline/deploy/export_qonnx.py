"""QKeras -> QONNX export, the qonnx executor in batches, and the ONNX node names of the dense layers.

The export is qonnx 0.4's ``from_keras`` followed by :mod:`pipeline.deploy.qonnx_fixes`. The check
compares *integer* logits ``round(y * 2**f)`` (``f`` = fractional bits of the last accumulator) of the
qonnx executor and of QKeras; both are exact power-of-two arithmetic, so they must be equal.
Reference: Pappalardo et al., "QONNX" (2022); Coelho et al., "Automatic heterogeneous quantization
of deep neural networks for low-latency inference on the edge" (Nature MI 2021) for QKeras.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.deploy.integer_network import FixedFormat, IntegerNetwork
from pipeline.deploy.qonnx_fixes import fix_keras_export
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import keras
    from qonnx.core.modelwrapper import ModelWrapper

STAGE = "export"
OPSET = 9


def export_qonnx(
    model: keras.Model, network: IntegerNetwork, feature_formats: Sequence[FixedFormat] | None = None
) -> ModelWrapper:
    """Convert a QKeras model to a cleaned QONNX model (batch size 1, as qonnx' clean-up leaves it).

    ``network`` (from :func:`pipeline.deploy.from_qkeras.integer_network_from_qkeras`) supplies the input
    quantizer that ``from_keras`` drops. ``feature_formats`` (per-feature input precision,
    :func:`pipeline.models.inputs.input_formats`) puts one ``Quant`` per feature in front of it
    (:mod:`pipeline.deploy.feature_quant`): the graph then computes the deployed chain from raw features.
    """
    from qonnx.converters import from_keras

    from pipeline.deploy.feature_quant import insert_feature_quantizers

    onnx_model, _ = from_keras(model, name=model.name, opset=OPSET)
    wrapper = fix_keras_export(onnx_model, network.input_format)
    if feature_formats is not None:
        wrapper = insert_feature_quantizers(wrapper, feature_formats)
    return wrapper


def execute_qonnx(wrapper: ModelWrapper, features: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Run qonnx's executor (``qonnx.core.onnx_exec.execute_onnx``) on ``features`` in fixed batches.

    The last batch is zero-padded to ``batch_size`` so that the graph is re-shaped only once.
    Returns float64 outputs of shape ``(n, n_outputs)``.
    """
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    features = np.asarray(features, dtype=np.float32)
    batch_size = max(1, min(batch_size, len(features)))
    batched = wrapper.transform(ChangeBatchSize(batch_size)).transform(InferShapes())
    input_name = batched.graph.input[0].name
    output_name = batched.graph.output[0].name
    outputs = []
    for start in range(0, len(features), batch_size):
        chunk = features[start : start + batch_size]
        padded = np.zeros((batch_size, features.shape[1]), dtype=np.float32)
        padded[: len(chunk)] = chunk
        result = execute_onnx(batched, {input_name: padded})[output_name]
        outputs.append(np.asarray(result, dtype=np.float64)[: len(chunk)])
    return np.concatenate(outputs, axis=0)


def integer_logits(outputs: np.ndarray, fractional_bits: int) -> np.ndarray:
    """``outputs * 2**fractional_bits`` as int64; raises ``ValueError`` if any value is off that grid."""
    scaled = np.asarray(outputs, dtype=np.float64) * 2.0**fractional_bits
    rounded = np.round(scaled)
    if not np.array_equal(scaled, rounded):
        raise ValueError(f"outputs are not multiples of 2**-{fractional_bits}")
    return rounded.astype(np.int64)


def output_fractional_bits(network: IntegerNetwork) -> int:
    """Fractional bits of the network's output: the last activation format, else the last accumulator."""
    x_fractional = network.input_format.fractional_bits
    for layer in network.layers:
        accumulator_fractional = x_fractional + layer.weight_fractional_bits
        x_fractional = layer.output.fractional_bits if layer.output is not None else accumulator_fractional
    return x_fractional


def dense_node_names(wrapper: ModelWrapper, network: IntegerNetwork) -> dict[str, str]:
    """Map each dense layer's Keras name to its ONNX ``MatMul`` node name (the hls4ml config key).

    qonnx' clean-up names nodes ``<OpType>_<k>`` in graph order, so the k-th ``MatMul`` is the k-th
    dense layer; the weight shapes are checked so that a reordering cannot go unnoticed.
    """
    matmuls = [node for node in wrapper.graph.node if node.op_type == "MatMul"]
    if len(matmuls) != len(network.layers):
        raise PipelineError(
            STAGE,
            f"the QONNX graph has {len(matmuls)} MatMul nodes, the model {len(network.layers)} dense layers",
            fix="only chains of QDense layers are supported",
        )
    names = {}
    for node, layer in zip(matmuls, network.layers, strict=True):
        shape = tuple(wrapper.get_tensor_shape(node.input[1]) or ())
        if shape != tuple(layer.weight_raw.shape):
            raise PipelineError(
                STAGE,
                f"ONNX node {node.name} has weights {shape}, layer {layer.name} {layer.weight_raw.shape}",
                fix="only chains of QDense layers are supported",
            )
        names[layer.name] = node.name
    return names


def inference_cost_figures(wrapper: ModelWrapper) -> dict[str, Any]:
    """qonnx' ``inference_cost`` totals (BOPs, MACs, weight memory bits), sparsity discounted."""
    from qonnx.util.inference_cost import inference_cost

    result = inference_cost(wrapper, discount_sparsity=True)["total_cost"]
    numeric = (int, float, np.integer, np.floating)  # drops e.g. the list of unsupported op types
    return {key: float(value) for key, value in sorted(result.items()) if isinstance(value, numeric)}
