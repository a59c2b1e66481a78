"""Workarounds for the known faults of qonnx 0.4.0's Keras converter, all in one place.

Measured on the pinned tools (see ``/work/shared/notes/toolchain.md``):

1. ``qonnx.converters.from_keras`` silently drops an input ``QActivation(quantized_bits)``: the graph
   input feeds the first ``MatMul`` unquantized. :func:`insert_input_quant` puts the ``Quant`` node back
   (QONNX ``Quant`` semantics: ``clip(round(x / scale), min, max) * scale``, ``ROUND`` = half to even,
   as QKeras' ``tf.round``).
2. It leaves trailing ``Identity`` nodes; hls4ml then names a non-existent output and the generated C++
   does not compile (``myproject.h``: "expected identifier before ')'"). :func:`clean_model` runs
   ``RemoveIdentityOps``.
3. hls4ml's ONNX frontend needs shape information for constant inputs:
   ``qonnx.converters.keras.add_value_info_for_constants``.

Reference: Pappalardo et al., "QONNX: Representing Arbitrary-Precision Quantized Neural Networks"
(2022) for the ``Quant`` operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipeline.deploy.integer_network import FixedFormat

if TYPE_CHECKING:
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

INPUT_QUANT_NAME = "Quant_input"
QONNX_DOMAIN = "qonnx.custom_op.general"


def input_is_quantized(model: onnx.ModelProto) -> bool:
    """True when every consumer of the (single) graph input is a ``Quant`` node."""
    graph = model.graph
    input_name = graph.input[0].name
    consumers = [node for node in graph.node if input_name in node.input]
    return bool(consumers) and all(node.op_type == "Quant" for node in consumers)


def insert_input_quant(model: onnx.ModelProto, input_format: FixedFormat) -> onnx.ModelProto:
    """Return a copy of ``model`` whose graph input passes through a ``Quant`` node of ``input_format``.

    ``scale = 2**-fractional_bits``, ``bitwidth = bits``, ``signed`` from the format, ``narrow = 0``,
    ``rounding_mode = ROUND``: exactly QKeras ``quantized_bits(bits, integer_bits - 1, alpha=1)``.
    A model whose input is already quantized is returned unchanged (copied).
    """
    import onnx
    from onnx import helper, numpy_helper

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    if input_is_quantized(fixed):
        return fixed
    graph = fixed.graph
    input_name = graph.input[0].name
    quantized_name = f"{input_name}_quantized"
    parameters = {
        f"{INPUT_QUANT_NAME}_scale": 2.0**-input_format.fractional_bits,
        f"{INPUT_QUANT_NAME}_zeropt": 0.0,
        f"{INPUT_QUANT_NAME}_bitwidth": float(input_format.bits),
    }
    for name, value in parameters.items():
        graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == input_name:
                node.input[index] = quantized_name
    quant = helper.make_node(
        "Quant",
        [input_name, *parameters],
        [quantized_name],
        name=INPUT_QUANT_NAME,
        domain=QONNX_DOMAIN,
        narrow=0,
        signed=int(input_format.signed),
        rounding_mode="ROUND",
    )
    graph.node.insert(0, quant)
    return fixed


def clean_model(model: onnx.ModelProto) -> ModelWrapper:
    """qonnx clean-up + the fixes hls4ml needs: ``cleanup_model``, ``RemoveIdentityOps``, clean-up
    again (unique node names ``MatMul_0, MatMul_1, ...`` in graph order), and value infos for constants.
    """
    from qonnx.converters.keras import add_value_info_for_constants
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.remove import RemoveIdentityOps
    from qonnx.util.cleanup import cleanup_model

    wrapper = cleanup_model(ModelWrapper(model))
    wrapper = wrapper.transform(RemoveIdentityOps())
    wrapper = cleanup_model(wrapper)
    add_value_info_for_constants(wrapper.model)
    return wrapper


def fix_keras_export(model: onnx.ModelProto, input_format: FixedFormat) -> ModelWrapper:
    """All the workarounds, in order: input ``Quant``, clean-up, ``Identity`` removal, value infos."""
    return clean_model(insert_input_quant(model, input_format))
