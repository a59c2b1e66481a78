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
4. hls4ml 1.3's ``distributed_arithmetic`` strategy looks up a dense layer's input by *tensor* name
   among the *layer* names (``Relu_0_out0`` vs ``Relu_0``) and fails on ONNX models:
   :func:`name_tensors_after_activations` renames each activation's output tensor to its node name
   (applied to the copy handed to hls4ml; numerically a no-op).
5. hls4ml 1.3 cannot take per-feature input precision: a ``Quant`` with a vector bit width is refused
   ("Only scalar bitwidth values are supporeted", ``hls4ml/model/optimizer/passes/quant_opt.py``), and
   the exported equivalent (one scalar ``Quant`` per feature between ``Split`` and ``Concat``,
   :mod:`pipeline.deploy.feature_quant`) is no dense-layer input it converts.
   :func:`strip_feature_quantizers_for_hls4ml` removes that block from the copy handed to hls4ml; the
   C-simulation is fed the per-feature-quantized features (as the firmware receives them), which the
   remaining container input ``Quant`` holds exactly, so the C-sim still equals the whole QONNX graph.

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
    again (unique node names ``MatMul_0, MatMul_1, ...`` in graph order), value infos for constants,
    and a canonical (name-sorted) order of initializers and value infos.
    """
    from qonnx.converters.keras import add_value_info_for_constants
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.remove import RemoveIdentityOps
    from qonnx.util.cleanup import cleanup_model

    wrapper = cleanup_model(ModelWrapper(model))
    wrapper = wrapper.transform(RemoveIdentityOps())
    wrapper = cleanup_model(wrapper)
    add_value_info_for_constants(wrapper.model)
    return canonical_order(wrapper)


def canonical_order(wrapper: ModelWrapper) -> ModelWrapper:
    """Sort the initializers and value infos by name (in place): qonnx' clean-up emits initializers in a
    hash-dependent order, which would make ``model.onnx`` differ byte-wise between identical runs."""
    graph = wrapper.graph
    for field in (graph.initializer, graph.value_info):
        ordered = sorted(field, key=lambda item: item.name)
        copies = [type(item)() for item in ordered]
        for copy, item in zip(copies, ordered, strict=True):
            copy.CopyFrom(item)
        del field[:]
        field.extend(copies)
    return wrapper


def fix_keras_export(model: onnx.ModelProto, input_format: FixedFormat) -> ModelWrapper:
    """All the workarounds, in order: input ``Quant``, clean-up, ``Identity`` removal, value infos."""
    return clean_model(insert_input_quant(model, input_format))


def name_tensors_after_activations(wrapper: ModelWrapper) -> ModelWrapper:
    """A copy of ``wrapper`` whose ``Relu`` output tensors carry their node's name (fault 4 above)."""
    from qonnx.core.modelwrapper import ModelWrapper

    renamed = ModelWrapper(wrapper.model.SerializeToString())
    graph = renamed.graph
    outputs = {tensor.name for tensor in graph.output}
    for node in graph.node:
        old = node.output[0]
        if node.op_type != "Relu" or old == node.name or old in outputs:
            continue
        node.output[0] = node.name
        for consumer in graph.node:
            for index, name in enumerate(consumer.input):
                if name == old:
                    consumer.input[index] = node.name
        for info in graph.value_info:
            if info.name == old:
                info.name = node.name
    return renamed


def strip_feature_quantizers_for_hls4ml(wrapper: ModelWrapper) -> ModelWrapper:
    """Fault 5 above (hls4ml 1.3.0): a copy of ``wrapper`` without the per-feature input ``Quant`` block
    (:func:`pipeline.deploy.feature_quant.remove_feature_quantizers`), for hls4ml. Its C-simulation must
    then be fed :func:`pipeline.models.inputs.model_inputs` of the features. Unchanged copy when the
    graph has no such block."""
    from pipeline.deploy.feature_quant import remove_feature_quantizers

    return remove_feature_quantizers(wrapper)
