"""Read the integer view (:class:`~pipeline.deploy.integer_network.IntegerNetwork`) of a QONNX graph alone.

Two uses: a bring-your-own ``.onnx`` model (Brevitas, HAWQ, QKeras exports, the QONNX model zoo) is
deployed from it, and for our own models it is an independent reading of the exported QONNX file,
compared with the reading of the QKeras model (:func:`check_same_network`).

Supported graphs (checked by :func:`prepare_qonnx`, which first runs qonnx's own clean-up): one input
of ``n_features`` features, a chain of ``MatMul`` or ``Gemm`` (``alpha = beta = 1``, ``transA = 0``,
any ``transB``), ``Add`` of a constant bias, ``Relu``, ``Quant`` and ``BipolarQuant`` (weights only),
an optional trailing ``Softmax`` (removed: the logits are deployed, the scores are computed in
software; argmax and ranking are unchanged), and ``Identity`` / ``Reshape`` / ``Flatten`` as no-ops.
Every ``Quant`` needs one power-of-two scale per tensor and a zero point of 0; activation quantizers
need ``rounding_mode = ROUND`` (half to even, hls4ml's ``RND_CONV``) and ``narrow = 0``.

QONNX ``Quant`` semantics (Pappalardo et al., "QONNX: Representing Arbitrary-Precision Quantized
Neural Networks", 2022): ``y = clip(round(x / s), min, max) * s``. With ``s = 2**-f`` and ``b`` bits
this is hls4ml's ``ap_fixed<b, b - f>`` (signed) or ``ap_ufixed<b, b - f>`` (unsigned), with
``AP_RND_CONV`` and ``AP_SAT``. An unsigned ``Quant`` after a dense layer clips at 0, so it is read as
a ReLU with an unsigned output format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.deploy.integer_network import (
    DenseLayer,
    FixedFormat,
    IntegerNetwork,
    network_differences,
    with_accumulators,
)
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

STAGE = "export"
SUPPORTED_OPS = ("MatMul", "Gemm", "Add", "Relu", "Quant", "BipolarQuant", "Softmax")
NO_OP_OPS = ("Identity", "Reshape", "Flatten")
_NAME_TAG = "pipeline: original node name "
_FIX_OPS = (
    "export a chain of dense layers only: MatMul/Gemm, Add (bias), Relu, Quant/BipolarQuant, an optional "
    "trailing Softmax"
)
_FIX_SCALE = (
    "use power-of-two scales with zero point 0 (Brevitas: a fixed-point quantizer such as "
    "Int8WeightPerTensorFixedPoint / Int8ActPerTensorFixedPoint, or restrict_scaling_type=POWER_OF_TWO; "
    "HAWQ / QKeras: alpha=1 power-of-two quantizers)"
)


@dataclass(frozen=True)
class PreparedQonnx:
    """A validated, cleaned QONNX model ready for hls4ml, its integer view and what was changed.

    Attributes:
        wrapper: the cleaned graph (qonnx clean-up, ``Gemm`` as ``MatMul`` + ``Add``, no-ops and the
            trailing ``Softmax`` removed, value infos for constants), written as ``model.onnx``.
        network: its :class:`IntegerNetwork` (layer names are the cleaned ``MatMul`` node names).
        softmax_removed: the graph ended in a ``Softmax`` that was removed (logits are deployed).
        removed_no_ops: original names of the removed ``Identity`` / ``Reshape`` / ``Flatten`` nodes.
    """

    wrapper: Any
    network: IntegerNetwork
    softmax_removed: bool
    removed_no_ops: tuple[str, ...]


def node_label(node: onnx.NodeProto) -> str:
    """The node's name as the user's file gives it (kept through qonnx's renaming), else its name."""
    if node.doc_string.startswith(_NAME_TAG):
        return node.doc_string[len(_NAME_TAG) :]
    return node.name or node.op_type


def _node_error(node: onnx.NodeProto, problem: str, fix: str) -> PipelineError:
    return PipelineError(STAGE, problem, input=f"node '{node_label(node)}' ({node.op_type})", fix=fix)


def _tag_names(model: onnx.ModelProto) -> None:
    for index, node in enumerate(model.graph.node):
        node.doc_string = _NAME_TAG + (node.name or f"{node.op_type} #{index}")


def _check_ops(model: onnx.ModelProto, source: str) -> None:
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise PipelineError(
            STAGE,
            f"the QONNX graph has {len(graph.input)} inputs and {len(graph.output)} outputs; "
            "one of each is needed",
            input=source,
            fix=_FIX_OPS,
        )
    for node in graph.node:
        if node.op_type not in SUPPORTED_OPS + NO_OP_OPS:
            raise _node_error(node, f"unsupported op {node.op_type}", _FIX_OPS)


def _check_input(model: onnx.ModelProto, n_features: int, source: str) -> None:
    tensor_type = model.graph.input[0].type.tensor_type
    dims = [dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim]
    if not dims or dims[-1] != n_features or any(dim not in (1, None) for dim in dims[:-1]):
        raise PipelineError(
            STAGE,
            f"the QONNX graph's input '{model.graph.input[0].name}' has shape {dims}, expected "
            f"[batch, {n_features}] (the jet features)",
            input=source,
            fix=f"export the model with an input of shape (1, {n_features})",
        )


def _attribute(node: onnx.NodeProto, name: str, default: Any) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def gemm_to_matmul(model: onnx.ModelProto) -> None:
    """Rewrite each ``Gemm(A, B, C)`` (in place) as ``MatMul(A, B')`` + ``Add(C)``; ``B' = B`` or a
    ``Transpose`` of it when ``transB = 1`` (qonnx's clean-up then folds the transpose into the
    weight ``Quant``'s initializers). hls4ml 1.3's ONNX frontend has no ``Gemm``."""
    from onnx import helper

    graph = model.graph
    nodes = list(graph.node)
    del graph.node[:]
    for node in nodes:
        if node.op_type != "Gemm":
            graph.node.append(node)
            continue
        if _attribute(node, "alpha", 1.0) != 1.0 or _attribute(node, "beta", 1.0) != 1.0:
            raise _node_error(
                node, "Gemm with alpha or beta other than 1", "fold alpha/beta into the weights"
            )
        if _attribute(node, "transA", 0):
            raise _node_error(node, "Gemm with transA = 1", "export the layer with untransposed inputs")
        weights = node.input[1]
        if _attribute(node, "transB", 0):
            weights = f"{node.output[0]}_weights_transposed"
            transpose = helper.make_node("Transpose", [node.input[1]], [weights], perm=[1, 0])
            transpose.doc_string = node.doc_string
            graph.node.append(transpose)
        product = node.output[0] + ("_matmul" if len(node.input) > 2 else "")
        matmul = helper.make_node("MatMul", [node.input[0], weights], [product])
        matmul.doc_string = node.doc_string
        graph.node.append(matmul)
        if len(node.input) > 2 and node.input[2]:
            add = helper.make_node("Add", [product, node.input[2]], [node.output[0]])
            add.doc_string = node.doc_string
            graph.node.append(add)


def _remove_no_ops_and_softmax(wrapper: ModelWrapper) -> tuple[bool, list[str]]:
    """Remove Identity/Reshape/Flatten nodes (checked to keep the 2-D shape) and a trailing Softmax."""
    from qonnx.transformation.remove import remove_node_and_rewire

    removed = []
    softmax_removed = False
    output_name = wrapper.graph.output[0].name
    for node in list(wrapper.graph.node):
        if node.op_type in NO_OP_OPS:
            shape = wrapper.get_tensor_shape(node.output[0])
            if shape is not None and len([dim for dim in shape if dim != 1]) > 1:
                raise _node_error(node, f"{node.op_type} to shape {shape} is not a no-op", _FIX_OPS)
            removed.append(node_label(node))
            remove_node_and_rewire(wrapper, node)
        elif node.op_type == "Softmax":
            if node.output[0] != output_name:
                raise _node_error(node, "a Softmax that is not the graph's last node", _FIX_OPS)
            producer = wrapper.find_producer(node.input[0])
            if producer is None:
                raise _node_error(node, "a Softmax on the graph input", _FIX_OPS)
            producer.output[0] = output_name
            wrapper.graph.node.remove(node)
            softmax_removed = True
    return softmax_removed, removed


def prepare_qonnx(
    model: onnx.ModelProto | Path | str, n_features: int, source: str = "model"
) -> PreparedQonnx:
    """Validate and clean a user's QONNX model and read its integer network.

    Steps: op check on the file as given (errors name the user's node), ``Gemm`` rewrite, qonnx's
    ``cleanup_model`` (shape inference, constant folding, transpose folding, unique names), removal of
    no-ops and of a trailing ``Softmax``, the clean-up hls4ml needs (:func:`pipeline.deploy.qonnx_fixes.
    clean_model`), then :func:`integer_network_from_qonnx` (which checks every ``Quant``).

    Args:
        model: an ``onnx.ModelProto`` or the path of an ``.onnx`` file.
        n_features: the number of input features the graph must take.
        source: what to name in errors (e.g. ``export.external_models.x.path: file.onnx``).

    Raises:
        PipelineError: unreadable file, unsupported op, wrong input shape, non-power-of-two scale,
            non-zero zero point, float weights, branching graph; the error names the node and the fix.
    """
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    from pipeline.deploy.qonnx_fixes import clean_model

    if not isinstance(model, onnx.ModelProto):
        try:
            model = onnx.load(str(model))
        except Exception as error:  # onnx raises DecodeError and others for a broken file
            raise PipelineError(
                STAGE, f"cannot read the ONNX file: {error}", input=source, fix="check the file"
            ) from error
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    _tag_names(copy)
    _check_ops(copy, source)
    _check_input(copy, n_features, source)
    gemm_to_matmul(copy)
    wrapper = cleanup_model(ModelWrapper(copy))
    softmax_removed, removed = _remove_no_ops_and_softmax(wrapper)
    wrapper = clean_model(wrapper.model)
    network = integer_network_from_qonnx(wrapper)
    return PreparedQonnx(wrapper, network, softmax_removed, tuple(removed))


def _initializer(wrapper: ModelWrapper, node: onnx.NodeProto, index: int, what: str) -> np.ndarray:
    value = wrapper.get_initializer(node.input[index]) if index < len(node.input) else None
    if value is None:
        raise _node_error(node, f"the {what} is not a constant", "export constant quantizer parameters")
    return np.asarray(value, dtype=np.float64)


def _power_of_two_exponent(node: onnx.NodeProto, scale: np.ndarray) -> int:
    """``f`` with ``scale == 2**-f``; one scale per tensor."""
    values = np.unique(scale.reshape(-1))
    if values.size != 1:
        raise _node_error(node, f"{values.size} different scales (per-channel scaling)", _FIX_SCALE)
    value = float(values[0])
    mantissa, exponent = np.frexp(value)
    if value <= 0 or mantissa != 0.5:
        raise _node_error(node, f"scale {value!r} is not a power of two", _FIX_SCALE)
    return int(1 - exponent)


def _quant_parameters(wrapper: ModelWrapper, node: onnx.NodeProto) -> tuple[int, int, bool]:
    """``(bits, fractional_bits, signed)`` of a ``Quant`` node, checked."""
    fractional = _power_of_two_exponent(node, _initializer(wrapper, node, 1, "scale"))
    zero_point = _initializer(wrapper, node, 2, "zero point")
    if np.any(zero_point != 0):
        raise _node_error(node, f"zero point {np.unique(zero_point).tolist()} is not 0", _FIX_SCALE)
    bitwidth = np.unique(_initializer(wrapper, node, 3, "bit width"))
    if bitwidth.size != 1 or bitwidth[0] != np.round(bitwidth[0]) or bitwidth[0] < 2:
        raise _node_error(
            node, f"bit width {bitwidth.tolist()} is not one integer >= 2", "use integer bit widths"
        )
    return int(bitwidth[0]), fractional, bool(_attribute(node, "signed", 1))


def _constant_raw(wrapper: ModelWrapper, tensor: str, consumer: onnx.NodeProto, what: str):
    """``(raw int64 values, fractional bits)`` of a quantized constant (weights or bias)."""
    from qonnx.custom_op.general.bipolar_quant import binary_quant
    from qonnx.custom_op.general.quant import quant

    node = wrapper.find_producer(tensor)
    if node is None:
        if wrapper.get_initializer(tensor) is not None:
            raise _node_error(
                consumer, f"unquantized (float) {what}", "quantize the weights and biases (a Quant node)"
            )
        raise _node_error(consumer, f"the {what} are not constant", _FIX_OPS)
    if node.op_type not in ("Quant", "BipolarQuant"):
        raise _node_error(
            node, f"the {what} of '{node_label(consumer)}' come from a {node.op_type}", _FIX_OPS
        )
    values = _initializer(wrapper, node, 0, what)
    if node.op_type == "BipolarQuant":
        fractional = _power_of_two_exponent(node, _initializer(wrapper, node, 1, "scale"))
        quantized = binary_quant(values, 2.0**-fractional)
    else:
        bits, fractional, signed = _quant_parameters(wrapper, node)
        rounding = str(_attribute(node, "rounding_mode", b"ROUND"), "utf-8")
        narrow = int(_attribute(node, "narrow", 0))
        quantized = quant(values, 2.0**-fractional, 0.0, np.float64(bits), signed, narrow, rounding)
    raw = np.asarray(quantized, dtype=np.float64) * 2.0**fractional
    return np.round(raw).astype(np.int64), fractional


def _activation_format(wrapper: ModelWrapper, node: onnx.NodeProto) -> FixedFormat:
    if node.op_type == "BipolarQuant":
        raise _node_error(
            node, "BipolarQuant on activations (no fixed-point form)", "use Quant with >= 2 bits"
        )
    bits, fractional, signed = _quant_parameters(wrapper, node)
    rounding = str(_attribute(node, "rounding_mode", b"ROUND"), "utf-8").upper()
    if rounding != "ROUND":
        raise _node_error(
            node, f"activation rounding_mode {rounding}", "use ROUND (half to even, hls4ml's RND_CONV)"
        )
    if _attribute(node, "narrow", 0):
        raise _node_error(node, "narrow-range activation quantizer", "use narrow_range=False on activations")
    return FixedFormat(bits=bits, integer_bits=bits - fractional, signed=signed)


def integer_network_from_qonnx(
    wrapper: ModelWrapper, accumulator_bits: Mapping[str, int] | None = None
) -> IntegerNetwork:
    """The integer network of a cleaned QONNX dense chain (see the module docstring).

    Walks the graph from its input: the first ``Quant`` is the input format; each ``MatMul`` opens a
    dense layer (weights from a constant ``Quant``/``BipolarQuant``), an ``Add`` of a constant
    ``Quant`` is its bias, ``Relu`` its activation, the next ``Quant`` its output format (the last
    layer may have none: its accumulator is the output, the logits).

    Args:
        wrapper: a cleaned QONNX model (qonnx ``cleanup_model``; see :func:`prepare_qonnx`).
        accumulator_bits: optional accumulator width per dense layer (``MatMul`` node name, or the
            user's original node name).

    Raises:
        PipelineError: naming the node, for anything outside the supported chain.
    """
    graph = wrapper.graph
    tensor = graph.input[0].name
    output_name = graph.output[0].name
    input_format: FixedFormat | None = None
    layers: list[dict] = []
    visited = 0
    while tensor != output_name:
        consumers = wrapper.find_consumers(tensor)
        if len(consumers) != 1:
            where = f"tensor '{tensor}'"
            raise PipelineError(
                STAGE, f"{where} feeds {len(consumers)} nodes; a chain is needed", fix=_FIX_OPS
            )
        node = consumers[0]
        visited += 1
        if node.op_type in ("Quant", "BipolarQuant"):
            fmt = _activation_format(wrapper, node)
            if not layers:
                if input_format is not None:
                    raise _node_error(node, "two input quantizers in a row", _FIX_OPS)
                input_format = fmt
            else:
                layer = layers[-1]
                if layer["output"] is not None:
                    raise _node_error(node, "two activation quantizers after one dense layer", _FIX_OPS)
                layer["output"] = fmt
                if not fmt.signed:
                    layer["activation"] = "relu"
        elif node.op_type == "MatMul":
            if input_format is None:
                raise _node_error(
                    node,
                    "the graph input is not quantized before the first dense layer",
                    "add an input quantizer (Brevitas: QuantIdentity; QKeras: QActivation(quantized_bits))",
                )
            if layers and layers[-1]["output"] is None:
                raise _node_error(node, "a dense layer without an activation quantizer feeds", _FIX_OPS)
            weight_raw, weight_fractional = _constant_raw(wrapper, node.input[1], node, "weights")
            if weight_raw.ndim != 2:
                raise _node_error(node, f"weights of shape {weight_raw.shape}", _FIX_OPS)
            layers.append(
                {
                    "name": node.name,
                    "label": node_label(node),
                    "weight_raw": weight_raw,
                    "weight_fractional_bits": weight_fractional,
                    "bias_raw": None,
                    "bias_fractional_bits": 0,
                    "accumulator": None,
                    "activation": "linear",
                    "output": None,
                }
            )
        elif (
            node.op_type == "Add"
            and layers
            and layers[-1]["bias_raw"] is None
            and layers[-1]["output"] is None
        ):
            other = node.input[1] if node.input[0] == tensor else node.input[0]
            bias_raw, bias_fractional = _constant_raw(wrapper, other, node, "bias")
            layers[-1]["bias_raw"] = bias_raw.reshape(-1)
            layers[-1]["bias_fractional_bits"] = bias_fractional
        elif node.op_type == "Relu" and layers and layers[-1]["activation"] == "linear":
            layers[-1]["activation"] = "relu"
        else:
            raise _node_error(node, f"{node.op_type} at this place in the chain", _FIX_OPS)
        tensor = node.output[0]
    if input_format is None or not layers:
        raise PipelineError(STAGE, "the QONNX graph has no input Quant or no MatMul", fix=_FIX_OPS)
    chain_nodes = len([node for node in graph.node if not _is_constant(wrapper, node)])
    if visited != chain_nodes:
        raise PipelineError(
            STAGE, "the QONNX graph has nodes outside the input-to-output chain", fix=_FIX_OPS
        )
    dense = []
    for layer in layers:
        fan_out = layer["weight_raw"].shape[1]
        if layer["bias_raw"] is None:
            layer["bias_raw"] = np.zeros(fan_out, dtype=np.int64)
        if layer["bias_raw"].shape != (fan_out,):
            raise PipelineError(
                STAGE, f"bias of {layer['label']} has shape {layer['bias_raw'].shape}", fix=_FIX_OPS
            )
        dense.append(DenseLayer(**{key: value for key, value in layer.items() if key != "label"}))
    network = IntegerNetwork(input_format=input_format, layers=tuple(dense))
    if accumulator_bits:
        labels = {layer["label"]: layer["name"] for layer in layers}
        by_name = {labels.get(key, key): int(value) for key, value in accumulator_bits.items()}
        try:
            network = with_accumulators(network, by_name)
        except ValueError as error:
            raise PipelineError(
                STAGE, str(error), input="accumulator_bits", fix="name MatMul nodes"
            ) from error
    return network


def _is_constant(wrapper: ModelWrapper, node: onnx.NodeProto) -> bool:
    return all(wrapper.get_initializer(name) is not None for name in node.input if name)


def check_same_network(
    reference: IntegerNetwork, candidate: IntegerNetwork, features: np.ndarray, what: str
) -> dict[str, Any]:
    """The cross-check of two readings of one model: equal formats and integer weights, and identical
    logits of the integer emulator on every jet of ``features``.

    Returns the record ``{"equal_networks", "jets", "logit_mismatches"}``.

    Raises:
        PipelineError: naming the first difference (a layer's field, or the first differing jet).
    """
    from pipeline.deploy.emulator import emulate

    differences = network_differences(reference, candidate)
    if differences:
        raise PipelineError(
            STAGE,
            f"{what}: the integer network read from QONNX differs from the one read from QKeras: "
            + "; ".join(differences),
            fix="the QONNX export changed a weight or a format; report it (or re-export the model)",
        )
    first = emulate(reference, features).logits_raw
    second = emulate(candidate, features).logits_raw
    differs = np.flatnonzero(np.any(first != second, axis=1))
    if len(differs):
        jet = int(differs[0])
        raise PipelineError(
            STAGE,
            f"{what}: QKeras and QONNX integer networks give different logits on {len(differs)} jets; "
            f"first: jet {jet} ({first[jet].tolist()} vs {second[jet].tolist()})",
            fix="report it: equal networks must give equal logits",
        )
    return {"equal_networks": True, "jets": len(features), "logit_mismatches": 0}
