"""Trace an :class:`~pipeline.deploy.integer_network.IntegerNetwork` into a da4ml combinational graph.

da4ml (Sun et al., "da4ml: Distributed Arithmetic for Real-time Neural Networks on FPGAs",
arXiv:2507.04535) implements each constant matrix-vector product as a shift-add graph. Its
``quantize`` offers only truncation or round-half-up (``RND``); hls4ml/QKeras round half to even
(``AP_RND_CONV``). :func:`round_half_even_saturate` expresses the tie-break inside the traced graph
(the one place where this is fixed), so the generated RTL equals :mod:`pipeline.deploy.emulator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork

if TYPE_CHECKING:
    from da4ml.cmvm.types import CombLogic
    from da4ml.trace import FixedVariable, FixedVariableArray


def shift_floor(values: np.ndarray, shift: int) -> np.ndarray:
    """``floor(values * 2**shift)`` for integer arrays (an ``ap_fixed`` cast with ``AP_TRN``)."""
    values = np.asarray(values, dtype=np.int64)
    return values << shift if shift >= 0 else values >> -shift


def da4ml_kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """``(keep_negative, integer bits without sign, fractional bits)``: da4ml's view of ``fmt``."""
    return int(fmt.signed), fmt.integer_bits - int(fmt.signed), fmt.fractional_bits


def latency_cutoff_for_clock(clock_period_ns: float, adder_levels_per_ns: float) -> float:
    """Pipeline cutoff in da4ml latency units (adder levels with ``HWConfig(1, -1, cutoff)``).

    da4ml's own command line pairs a 5 ns clock with a cutoff of 5 adder levels, i.e. one level per ns;
    ``adder_levels_per_ns`` makes that assumption explicit. At least one level fits in a stage.
    """
    if clock_period_ns <= 0 or adder_levels_per_ns <= 0:
        raise ValueError("clock period and adder levels per ns must be positive")
    return max(1.0, float(np.floor(clock_period_ns * adder_levels_per_ns + 1e-9)))  # 5 x 0.6 is 3, not 2


def _round_half_even_saturate_one(value: FixedVariable, fmt: FixedFormat) -> FixedVariable | float:
    keep_negative, integer_bits, fractional_bits = da4ml_kif(fmt)
    if value.low == value.high:  # a constant: compute it exactly here
        raw = float(value.low) * 2.0**fractional_bits
        rounded = float(np.round(raw))  # ties to even
        return float(np.clip(rounded, fmt.raw_min, fmt.raw_max)) * 2.0**-fractional_bits
    source_fractional_bits = value.kif[2]
    drop = source_fractional_bits - fractional_bits
    if drop > 0:
        # floor(y + 1/2 - 2**-drop + lsb(floor(y)) * 2**-drop) == round_half_even(y), y = value * 2**f.
        lsb = value.quantize(0, 1 - fractional_bits, fractional_bits, "WRAP", "TRN")  # {0, 2**-f}
        step = Decimal(2) ** -fractional_bits
        offset = step / 2 - step * Decimal(2) ** -drop
        value = value + offset + lsb * (2.0**-drop)
    return value.quantize(keep_negative, integer_bits, fractional_bits, "SAT", "TRN")


def round_half_even_saturate(values: FixedVariableArray, fmt: FixedFormat) -> FixedVariableArray:
    """Requantize traced ``values`` to ``fmt`` with ``AP_RND_CONV`` (ties to even) and ``AP_SAT``.

    The single place where the QKeras/hls4ml tie-break is written into the da4ml graph.
    """
    from da4ml.trace import FixedVariableArray

    flat = [_round_half_even_saturate_one(value, fmt) for value in values._vars.ravel()]
    result = np.empty(len(flat), dtype=object)
    result[:] = flat
    return FixedVariableArray(result.reshape(values.shape), values.solver_options)


def trace_dense(
    x: FixedVariableArray, input_fractional_bits: int, layer: DenseLayer
) -> tuple[FixedVariableArray, int]:
    """Trace one dense layer (constant matmul, bias, accumulator wrap, relu, output quantizer)."""
    accumulator_fractional_bits = input_fractional_bits + layer.weight_fractional_bits
    if layer.accumulator is not None and layer.accumulator.fractional_bits != accumulator_fractional_bits:
        raise ValueError(
            f"layer {layer.name}: accumulator has {layer.accumulator.fractional_bits} fractional bits, "
            f"expected f_x + f_w = {accumulator_fractional_bits}"
        )
    weights = np.asarray(layer.weight_raw, dtype=np.float64) * 2.0**-layer.weight_fractional_bits
    bias_raw = layer.bias_at(accumulator_fractional_bits)
    accumulator = x @ weights
    bias = bias_raw.astype(np.float64) * 2.0**-accumulator_fractional_bits
    if np.any(bias != 0):
        accumulator = accumulator + bias
    if layer.accumulator is not None:
        keep_negative, integer_bits, fractional_bits = da4ml_kif(layer.accumulator)
        accumulator = accumulator.quantize(keep_negative, integer_bits, fractional_bits, "WRAP", "TRN")
    if layer.activation == "relu":
        accumulator = accumulator.relu()
    if layer.output is None:
        return accumulator, accumulator_fractional_bits
    return round_half_even_saturate(accumulator, layer.output), layer.output.fractional_bits


@dataclass(frozen=True)
class TracedNetwork:
    """The combinational da4ml graph of a network and how its raw integers map onto it.

    Attributes:
        comb: da4ml ``CombLogic`` (inputs in ``input_format``, outputs with ``output_fractional_bits``).
        latency_cutoff: pipelining cutoff used while tracing (da4ml latency units).
        output_fractional_bits: fractional bits of the network's raw outputs (reference semantics).
    """

    comb: CombLogic
    latency_cutoff: float
    output_fractional_bits: int


def check_input_formats(network: IntegerNetwork, input_formats: Sequence[FixedFormat]) -> None:
    """Raise ``ValueError`` unless there is one format per input and each one's values are exact in
    ``network.input_format`` (no more fractional bits, range inside the container's range)."""
    container = network.input_format
    fan_in = int(np.asarray(network.layers[0].weight_raw).shape[0])
    if len(input_formats) != fan_in:
        raise ValueError(f"{len(input_formats)} input formats for {fan_in} inputs")
    for index, fmt in enumerate(input_formats):
        scale = 2.0 ** (container.fractional_bits - fmt.fractional_bits)
        inside = fmt.raw_min * scale >= container.raw_min and fmt.raw_max * scale <= container.raw_max
        if fmt.fractional_bits > container.fractional_bits or not inside:
            raise ValueError(f"input {index}: {fmt} is not exact in the input container {container}")


def trace_network(
    network: IntegerNetwork,
    latency_cutoff: float,
    solver_options: dict[str, Any] | None = None,
    input_formats: Sequence[FixedFormat] | None = None,
) -> TracedNetwork:
    """Trace ``network`` with da4ml's ``FixedVariableArrayInput`` / ``@`` / ``relu`` / ``comb_trace``.

    ``solver_options`` go to da4ml's CMVM solver (default ``{"hard_dc": 2}``, as hls4ml uses).
    ``input_formats``: one format per input for inputs that arrive already quantized to it (each exact in
    ``network.input_format``, :func:`check_input_formats`; e.g. learned per-feature input precision applied
    where the features are computed). The RTL ports keep the container width, but da4ml knows each
    input's range and its zero low bits and sizes the first layer's adders from them. The caller must
    feed inputs on those grids (the graph wraps/truncates anything else).
    """
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace, fixed_variable

    fixed_variable.rd.seed(0)  # variable ids are random UUIDs: seed them for reproducible runs
    options = {"hard_dc": 2} if solver_options is None else dict(solver_options)
    fan_in = int(np.asarray(network.layers[0].weight_raw).shape[0])
    hwconf = HWConfig(1, -1, latency_cutoff)
    inputs = FixedVariableArrayInput(fan_in, hwconf, solver_options=options)
    if input_formats is None:
        values = inputs.quantize(*da4ml_kif(network.input_format), "WRAP", "TRN")
    else:
        check_input_formats(network, input_formats)
        keep, integer, fractional = (np.array(v) for v in zip(*map(da4ml_kif, input_formats), strict=True))
        values = inputs.quantize(keep, integer, fractional, "WRAP", "TRN")
    fractional_bits = network.input_format.fractional_bits
    for layer in network.layers:
        values, fractional_bits = trace_dense(values, fractional_bits, layer)
    comb = comb_trace(inputs, values, keep_dead_inputs=True)
    return TracedNetwork(comb=comb, latency_cutoff=latency_cutoff, output_fractional_bits=fractional_bits)
