"""Per-feature input precision in QONNX: one ``Quant`` node per input feature in front of the network.

A model with per-feature input formats (:mod:`pipeline.models.inputs`) is exported as::

    global_in -> Split(axis 1) -> Quant_feature_<k> (one per feature) -> Concat(axis 1)
              -> the network's input Quant (the container) -> MatMul ...

Each ``Quant_feature_<k>`` is a plain scalar QONNX ``Quant``: ``scale = 2**-f_k``, ``zeropt = 0``,
``bitwidth = b_k``, ``signed = 1``, ``narrow = 0``, ``rounding_mode = ROUND`` (half to even), i.e.
``clip(round(x / s), -2**(b-1), 2**(b-1) - 1) * s`` = QKeras ``quantized_bits(b_k, b_k - 1 - f_k)``
= :func:`pipeline.models.learned.quantize_features` (qonnx clips before rounding, QKeras after; with
integer bounds both give the same values). So the QONNX file is self-contained: qonnx's executor on
the *raw* features computes the deployed chain.

Why not one ``Quant`` with per-feature (vector) scale and bit width: qonnx 0.4.0's executor cannot run
it (``qonnx/custom_op/general/quant.py``: ``if bitwidth == 1 and signed`` raises "truth value of an
array ... is ambiguous" for a vector bit width), and hls4ml 1.3 rejects it ("Only scalar bitwidth
values are supporeted", ``hls4ml/model/optimizer/passes/quant_opt.py``). hls4ml 1.3 does not take this
block either (no ``Split``/``Concat`` of a dense input); :func:`pipeline.deploy.qonnx_fixes.
strip_feature_quantizers_for_hls4ml` removes it for hls4ml, whose C-simulation then gets the
per-feature-quantized features (what the trigger delivers; the container input type holds them exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.deploy.integer_network import FixedFormat

if TYPE_CHECKING:
    from qonnx.core.modelwrapper import ModelWrapper

SPLIT_NAME = "Split_features"
CONCAT_NAME = "Concat_features"
QUANT_PREFIX = "Quant_feature_"
QONNX_DOMAIN = "qonnx.custom_op.general"


@dataclass(frozen=True)
class FeatureQuantizers:
    """The per-feature block found in a graph: its formats, node names, constants and output tensor."""

    formats: tuple[FixedFormat, ...]
    nodes: tuple[str, ...]
    initializers: tuple[str, ...]
    tensors: tuple[str, ...]
    output: str


def insert_feature_quantizers(wrapper: ModelWrapper, formats: Sequence[FixedFormat]) -> ModelWrapper:
    """A copy of ``wrapper`` whose graph input passes through one ``Quant`` per feature (module
    docstring) before the network; ``formats`` are signed, one per input feature. The network's nodes
    keep their names and order: :func:`remove_feature_quantizers` gives back ``wrapper`` byte for byte."""
    from onnx import helper, numpy_helper
    from qonnx.core.modelwrapper import ModelWrapper

    from pipeline.deploy.qonnx_fixes import canonical_order

    if any(not fmt.signed for fmt in formats):
        raise ValueError("per-feature input formats must be signed")
    result = ModelWrapper(wrapper.model.SerializeToString())
    graph = result.graph
    source = graph.input[0].name
    output = "features_quantized"
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == source:
                node.input[index] = output
    parts = [f"feature_{k}" for k in range(len(formats))]
    quantized = [f"{part}_quantized" for part in parts]
    nodes = [helper.make_node("Split", [source], parts, name=SPLIT_NAME, axis=1, split=[1] * len(formats))]
    for k, fmt in enumerate(formats):
        name = f"{QUANT_PREFIX}{k}"
        parameters = {
            f"{name}_scale": 2.0**-fmt.fractional_bits,
            f"{name}_zeropt": 0.0,
            f"{name}_bitwidth": float(fmt.bits),
        }
        for tensor, value in parameters.items():
            graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), tensor))
        nodes.append(
            helper.make_node(
                "Quant",
                [parts[k], *parameters],
                [quantized[k]],
                name=name,
                domain=QONNX_DOMAIN,
                narrow=0,
                signed=1,
                rounding_mode="ROUND",
            )
        )
    nodes.append(helper.make_node("Concat", quantized, [output], name=CONCAT_NAME, axis=1))
    for index, node in enumerate(nodes):  # in front, in order: no re-sorting of the network's nodes
        graph.node.insert(index, node)
    return canonical_order(result)


def find_feature_quantizers(wrapper: ModelWrapper) -> FeatureQuantizers | None:
    """The per-feature block of :func:`insert_feature_quantizers` at the graph input, or ``None``."""
    from onnx import helper

    graph = wrapper.graph
    consumers = wrapper.find_consumers(graph.input[0].name)
    if len(consumers) != 1 or consumers[0].name != SPLIT_NAME:
        return None
    split = consumers[0]
    formats, nodes, initializers, tensors = [], [split.name], [], list(split.output)
    concat = None
    for part in split.output:
        (quant,) = wrapper.find_consumers(part)
        if quant.op_type != "Quant":
            raise ValueError(f"node {quant.name} after {SPLIT_NAME} is not a Quant")
        scale, zeropt, bitwidth = (wrapper.get_initializer(name) for name in quant.input[1:4])
        fractional = round(-float(np.log2(float(scale))))
        attributes = {a.name: helper.get_attribute_value(a) for a in quant.attribute}
        if float(zeropt) != 0 or not attributes.get("signed", 1) or 2.0**-fractional != float(scale):
            raise ValueError(f"node {quant.name} is not a signed power-of-two per-feature Quant")
        formats.append(FixedFormat(int(bitwidth), int(bitwidth) - fractional, True))
        nodes.append(quant.name)
        initializers.extend(quant.input[1:4])
        tensors.append(quant.output[0])
        (concat,) = wrapper.find_consumers(quant.output[0])
    if concat is None or concat.name != CONCAT_NAME:
        raise ValueError("the per-feature Quant nodes do not end in Concat_features")
    nodes.append(concat.name)
    return FeatureQuantizers(
        tuple(formats), tuple(nodes), tuple(initializers), tuple(tensors), concat.output[0]
    )


def remove_feature_quantizers(wrapper: ModelWrapper) -> ModelWrapper:
    """A copy of ``wrapper`` without the per-feature block (the graph input feeds the network's input
    ``Quant`` directly); an unchanged copy when there is none."""
    from qonnx.core.modelwrapper import ModelWrapper

    result = ModelWrapper(wrapper.model.SerializeToString())
    found = find_feature_quantizers(result)
    if found is None:
        return result
    graph = result.graph
    source = graph.input[0].name
    for node in list(graph.node):
        if node.name in found.nodes:
            graph.node.remove(node)
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == found.output:
                node.input[index] = source
    gone = {*found.initializers, *found.tensors, found.output}
    for field in (graph.initializer, graph.value_info):
        for item in [item for item in field if item.name in gone]:
            field.remove(item)
    return result
