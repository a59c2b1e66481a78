"""Per-layer accumulator widths of a QKeras model (``accumulators.json`` of the constrain stage).

For every dense layer: the data-type bound (no constraint; from N, M, K), the weight-level bound of
the actual integer weights ([A2Q], as Brevitas' ``calculate_min_accumulator_bit_width``), the exact
minimum over all inputs including the bias (:mod:`pipeline.a2q.check`), and, for constrained layers,
the target P, the method and the exact worst-case check at P.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.a2q.bounds import data_type_bound_bits, l1_bound, weight_level_bound_bits
from pipeline.a2q.check import accumulator_extremes, check_layer, signed_bits_for_range
from pipeline.deploy.emulator import aligned_bias
from pipeline.deploy.from_qkeras import integer_network_from_qkeras

if TYPE_CHECKING:
    import keras


def layer_widths(
    model: keras.Model, targets: Mapping[str, tuple[int, str]] | None = None
) -> list[dict[str, Any]]:
    """One record per dense layer of ``model`` (a plain QKeras model, see
    :func:`pipeline.deploy.from_qkeras.integer_network_from_qkeras`).

    Args:
        targets: ``layer name -> (accumulator_bits P, method)`` of the constrained layers.

    Returns:
        Records with ``name, fan_in, fan_out, input_bits, input_signed, weight_bits,
        data_type_bits, weight_level_bits, exact_bits, max_l1_norm, target_bits, method, l1_bound,
        check`` (``target_bits``/``method``/``l1_bound``/``check`` are ``None`` for unconstrained layers).
    """
    targets = dict(targets or {})
    network = integer_network_from_qkeras(model)
    records = []
    input_format = network.input_format
    for layer in network.layers:
        weight_bits = int(model.get_layer(layer.name).kernel_quantizer_internal.bits)
        fan_in, fan_out = layer.weight_raw.shape
        bias_acc = aligned_bias(layer, input_format)
        low, high = accumulator_extremes(layer.weight_raw, bias_acc, input_format)
        record: dict[str, Any] = {
            "name": layer.name,
            "fan_in": int(fan_in),
            "fan_out": int(fan_out),
            "input_bits": input_format.bits,
            "input_signed": input_format.signed,
            "weight_bits": weight_bits,
            "data_type_bits": data_type_bound_bits(
                input_format.bits, input_format.signed, weight_bits, int(fan_in)
            ),
            "weight_level_bits": weight_level_bound_bits(
                layer.weight_raw, input_format.bits, input_format.signed
            ),
            "exact_bits": signed_bits_for_range(int(low.min()), int(high.max())),
            "max_l1_norm": int(np.abs(layer.weight_raw).sum(axis=0).max(initial=0)),
            "target_bits": None,
            "method": None,
            "l1_bound": None,
            "check": None,
        }
        if layer.name in targets:
            bits, method = targets[layer.name]
            record.update(
                target_bits=int(bits),
                method=method,
                l1_bound=l1_bound(method, int(bits), input_format.bits, input_format.signed),
                check=check_layer(layer, input_format, int(bits)).as_dict(),
            )
        records.append(record)
        input_format = layer.output if layer.output is not None else input_format
    return records
