"""Hand-built QONNX graphs in Brevitas's export style (onnx.helper only, no Brevitas needed):
``Quant`` on the input, ``Gemm`` layers with transposed ``(out, in)`` weights behind a weight ``Quant``
(narrow range, as Brevitas' default weight quantizers), an int bias ``Quant`` at scale
``s_in * s_w``, ``Relu`` followed by an unsigned activation ``Quant``, a trailing ``Softmax``."""

from __future__ import annotations

import itertools

import numpy as np

QONNX_DOMAIN = "qonnx.custom_op.general"


def _constant(graph_initializers: list, name: str, value) -> str:
    from onnx import numpy_helper

    graph_initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
    return name


def _quant(nodes, initializers, name, tensor, scale, bits, signed, narrow=0, zero_point=0.0):
    from onnx import helper

    inputs = [
        tensor,
        _constant(initializers, f"{name}_scale", scale),
        _constant(initializers, f"{name}_zeropt", zero_point),
        _constant(initializers, f"{name}_bitwidth", float(bits)),
    ]
    nodes.append(
        helper.make_node(
            "Quant",
            inputs,
            [f"{name}_out"],
            name=name,
            domain=QONNX_DOMAIN,
            signed=int(signed),
            narrow=int(narrow),
            rounding_mode="ROUND",
        )
    )
    return f"{name}_out"


def brevitas_style_mlp(
    sizes=(16, 8, 5),
    seed: int = 0,
    weight_scale: float = 2.0**-5,
    extra_op: str | None = None,
    input_zero_point: float = 0.0,
):
    """A ``sizes`` MLP as Brevitas exports it to QONNX (see the module docstring).

    ``weight_scale`` of the first layer (set a non-power-of-two to test the validation),
    ``extra_op`` an op type inserted after the first ReLU (an unsupported op to test the validation),
    ``input_zero_point`` of the input quantizer.
    """
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    nodes, initializers = [], []
    x = helper.make_tensor_value_info("inp", TensorProto.FLOAT, [1, sizes[0]])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, sizes[-1]])
    input_scale = 2.0**-4
    tensor = _quant(nodes, initializers, "input_quant", "inp", input_scale, 8, True, 0, input_zero_point)
    scale_in = input_scale
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        w_scale = weight_scale if index == 0 else 2.0**-5
        weight = _constant(initializers, f"fc{index}_weight", rng.normal(0, 0.4, (fan_out, fan_in)))
        bias = _constant(initializers, f"fc{index}_bias", rng.normal(0, 0.3, fan_out))
        weight_q = _quant(nodes, initializers, f"fc{index}_weight_quant", weight, w_scale, 6, True, narrow=1)
        bias_q = _quant(nodes, initializers, f"fc{index}_bias_quant", bias, scale_in * 2.0**-5, 16, True)
        gemm_out = f"fc{index}_out"
        nodes.append(
            helper.make_node("Gemm", [tensor, weight_q, bias_q], [gemm_out], name=f"fc{index}", transB=1)
        )
        tensor = gemm_out
        if index < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [tensor], [f"relu{index}_out"], name=f"relu{index}"))
            tensor = f"relu{index}_out"
            if index == 0 and extra_op is not None:
                nodes.append(helper.make_node(extra_op, [tensor], [f"{extra_op}_out"], name="extra_node"))
                tensor = f"{extra_op}_out"
            activation_scale = 2.0**-4
            tensor = _quant(nodes, initializers, f"act{index}_quant", tensor, activation_scale, 6, False)
            scale_in = activation_scale
    nodes.append(helper.make_node("Softmax", [tensor], ["probabilities"], name="softmax", axis=-1))
    graph = helper.make_graph(nodes, "brevitas_style_mlp", [x], [y], initializers)
    model = helper.make_model(
        graph,
        producer_name="hand-built (Brevitas export style)",
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX_DOMAIN, 1)],
    )
    return model
