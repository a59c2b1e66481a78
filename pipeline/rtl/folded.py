"""A folded dense-layer architecture with declared P-bit accumulators, written as plain Verilog.

The A2Q papers measure accumulator savings on architectures whose accumulator is a register of a
declared width: FINN's matrix-vector unit (Umuroglu et al., "FINN: A Framework for Fast, Scalable
Binarized Neural Network Inference", FPGA 2017) and hls4ml's ``Resource`` strategy with reuse factor
R > 1 (Fahim et al., "hls4ml: An Open-Source Codesign Workflow", arXiv:2103.05579). da4ml's fully
unrolled shift-add graphs size every adder from the constant weights, so a declared P changes
nothing there. This module builds the folded architecture:

* a dense layer with fan-in ``K`` runs ``C = min(R, K)`` cycles; each output neuron has
  ``S = ceil(K / C)`` processing elements (lanes); in cycle ``t`` lane ``l`` multiplies input
  ``l*C + t`` (from an input shift register) by its weight from a ROM indexed by ``t``;
* the lanes' products are added, modulo ``2**P``, into the neuron's ``P``-bit two's-complement
  accumulator register, which starts at the bias (aligned to the accumulator's grid): overflow
  wraps, exactly hls4ml's ``AP_WRAP`` of the final sum that :mod:`pipeline.deploy.emulator` models
  (a sum modulo ``2**P`` does not depend on when the wrapping happens);
* the result is ReLU'd (if the layer has it) and requantized to the output format with round half
  to even and saturation (QKeras ``quantized_relu``/``quantized_bits``, hls4ml ``AP_RND_CONV``,
  ``AP_SAT``), the formula of :func:`pipeline.deploy.emulator.round_half_even_shift`;
* layers are chained with valid/ready handshakes; one Verilog file per model with, per layer, a
  layer module, its multiplier and neuron modules, and the top module :data:`TOP`;
* weights come from ROMs read one cycle ahead (block RAM in synthesis), so the accumulator width P
  changes only the neuron modules (:func:`cost_breakdown` splits Yosys' counts accordingly).

Latency from the clock edge accepting a jet to the cycle showing its ``out_valid``: ``sum_k (C_k + 2)``
cycles (per layer ``C_k`` MAC cycles, one to requantize into the output register, one to hand over),
measured by the Verilator testbench; a new jet is accepted every ``max_k C_k + 3`` cycles.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork
from pipeline.rtl.trace import shift_floor

TOP = "folded_network"
"""Name of the top Verilog module (``src/folded_network.v``)."""


def signed_bits(values: np.ndarray) -> int:
    """Smallest two's-complement width (>= 2) holding every integer in ``values``."""
    values = np.asarray(values, dtype=np.int64)
    low, high = int(values.min(initial=0)), int(values.max(initial=0))
    bits = 2
    while not (-(2 ** (bits - 1)) <= low and high <= 2 ** (bits - 1) - 1):
        bits += 1
    return bits


def hls4ml_accumulator_bits(layer: DenseLayer, input_format: FixedFormat) -> int:
    """The accumulator width hls4ml infers (``InferPrecisionTypes._infer_common_precision``, hls4ml
    1.3): ``M + N + ceil(log2 K)`` bits for M-bit weights, N-bit inputs and fan-in K, plus one
    integer bit for a bias; the data-type bound of the A2Q paper up to that bias bit.

    ``M`` is the weights' ROM width (:func:`signed_bits` of the integer weights). The fractional
    bits stay ``f_x + f_w`` (the bias grid is aligned to it, as in the emulator).
    """
    fan_in = int(np.asarray(layer.weight_raw).shape[0])
    weight_bits = signed_bits(layer.weight_raw)
    bits = weight_bits + input_format.bits + math.ceil(math.log2(max(fan_in, 1)))
    if np.any(np.asarray(layer.bias_raw) != 0):
        bits += 1
    return bits


def with_accumulators(network: IntegerNetwork, choice: str | int | Mapping[str, int]) -> IntegerNetwork:
    """``network`` with every layer's accumulator set by ``choice``.

    ``"network"``: keep the network's own (A2Q) widths, layers without one get hls4ml's automatic
    width; ``"hls4ml_auto"``: hls4ml's automatic width everywhere (:func:`hls4ml_accumulator_bits`);
    an integer ``P``: ``P`` bits everywhere (e.g. 32, the A2Q papers' baseline); a mapping
    ``{layer name: P}``: those layers at ``P``, the others at hls4ml's automatic width (an unknown
    name is an error). The accumulator keeps ``f_x + f_w`` fractional bits; built with
    :func:`dataclasses.replace`.
    """
    if isinstance(choice, Mapping):
        unknown = set(choice) - {layer.name for layer in network.layers}
        if unknown:
            raise ValueError(f"no layer named {sorted(unknown)} in the network")
    layers = []
    input_format = network.input_format
    for layer in network.layers:
        fractional_bits = input_format.fractional_bits + layer.weight_fractional_bits
        if isinstance(choice, Mapping):
            bits = choice.get(layer.name) or hls4ml_accumulator_bits(layer, input_format)
        elif choice == "network" and layer.accumulator is not None:
            bits = layer.accumulator.bits
        elif choice in ("network", "hls4ml_auto"):
            bits = hls4ml_accumulator_bits(layer, input_format)
        elif isinstance(choice, int) and choice >= 2:
            bits = choice
        else:
            raise ValueError(f"unknown accumulator choice {choice!r}: 'network', 'hls4ml_auto' or bits >= 2")
        if bits < 2:
            raise ValueError(f"layer {layer.name}: accumulator bits must be >= 2, got {bits}")
        accumulator = FixedFormat(bits=bits, integer_bits=bits - fractional_bits, signed=True)
        layers.append(dataclasses.replace(layer, accumulator=accumulator))
        if layer.output is None and len(layers) < len(network.layers):
            raise ValueError(f"layer {layer.name}: a hidden layer needs an output quantizer")
        input_format = layer.output if layer.output is not None else accumulator
    return dataclasses.replace(network, layers=tuple(layers))


@dataclass(frozen=True)
class FoldedLayer:
    """One layer of the folded architecture (all widths in bits)."""

    layer: DenseLayer
    input_format: FixedFormat
    cycles: int
    lanes: int
    weight_bits: int
    accumulator_bits: int
    accumulator_fractional_bits: int

    @property
    def fan_in(self) -> int:
        return int(self.layer.weight_raw.shape[0])

    @property
    def fan_out(self) -> int:
        return int(self.layer.weight_raw.shape[1])

    @property
    def output_format(self) -> FixedFormat:
        """The raw output: the requantized activation, or the accumulator itself (logits)."""
        if self.layer.output is not None:
            return self.layer.output
        fractional = self.accumulator_fractional_bits
        return FixedFormat(self.accumulator_bits, self.accumulator_bits - fractional, True)

    def bias_on_accumulator_grid(self) -> np.ndarray:
        """Bias raw values aligned to the accumulator grid (floor, as the emulator) and wrapped to P."""
        shift = self.accumulator_fractional_bits - self.layer.bias_fractional_bits
        bias = shift_floor(self.layer.bias_raw, shift)
        modulus = 1 << self.accumulator_bits
        return (bias + (modulus >> 1)) % modulus - (modulus >> 1)


@dataclass(frozen=True)
class FoldedPlan:
    """A whole network folded with reuse factor ``reuse_factor``."""

    network: IntegerNetwork
    reuse_factor: int
    layers: tuple[FoldedLayer, ...]

    @property
    def latency_cycles(self) -> int:
        """Cycles from the edge accepting a jet to the cycle showing its ``out_valid``: sum(C_k + 2)."""
        return sum(layer.cycles + 2 for layer in self.layers)

    @property
    def initiation_interval(self) -> int:
        """Cycles between accepted jets in steady state (the slowest layer: load, C MACs, output)."""
        return max(layer.cycles for layer in self.layers) + 3

    def summary(self) -> dict:
        """JSON-ready description of the architecture."""
        return {
            "architecture": "folded",
            "reuse_factor": self.reuse_factor,
            "cycles": self.latency_cycles,
            "initiation_interval_cycles": self.initiation_interval,
            "layers": [
                {
                    "name": folded.layer.name,
                    "fan_in": folded.fan_in,
                    "fan_out": folded.fan_out,
                    "mac_cycles": folded.cycles,
                    "lanes_per_neuron": folded.lanes,
                    "multipliers": folded.lanes * folded.fan_out,
                    "input_bits": folded.input_format.bits,
                    "weight_bits": folded.weight_bits,
                    "accumulator_bits": folded.accumulator_bits,
                }
                for folded in self.layers
            ],
        }


def plan_folded(network: IntegerNetwork, reuse_factor: int) -> FoldedPlan:
    """Fold ``network`` (every layer must have an accumulator format: see :func:`with_accumulators`)."""
    if reuse_factor < 1:
        raise ValueError("reuse_factor must be >= 1")
    layers = []
    input_format = network.input_format
    for layer in network.layers:
        if layer.accumulator is None:
            raise ValueError(f"layer {layer.name}: no accumulator width (use with_accumulators)")
        fan_in = int(np.asarray(layer.weight_raw).shape[0])
        cycles = min(reuse_factor, fan_in)
        fractional = input_format.fractional_bits + layer.weight_fractional_bits
        if layer.accumulator.fractional_bits != fractional:
            raise ValueError(f"{layer.name}: the accumulator needs f_x + f_w = {fractional} fractional bits")
        layers.append(
            FoldedLayer(
                layer=layer,
                input_format=input_format,
                cycles=cycles,
                lanes=-(-fan_in // cycles),
                weight_bits=signed_bits(layer.weight_raw),
                accumulator_bits=layer.accumulator.bits,
                accumulator_fractional_bits=fractional,
            )
        )
        input_format = layers[-1].output_format
    return FoldedPlan(network=network, reuse_factor=reuse_factor, layers=tuple(layers))


def write_folded(plan: FoldedPlan, rtl_dir: Path, rom_style: str = "block") -> Path:
    """Write ``rtl_dir/src/folded_network.v`` (one file: the layers' modules and the top).

    ``rom_style`` is the weight ROMs' ``rom_style`` attribute: ``"block"`` (block RAM, the default)
    or ``"logic"`` (LUTs and an output register), see :mod:`pipeline.rtl.folded_verilog`."""
    from pipeline.rtl.folded_verilog import render_network

    source = Path(rtl_dir) / "src" / f"{TOP}.v"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(render_network(plan, TOP, rom_style))
    return source


_MODULE_HEADER = re.compile(r"^=== (?P<name>.+) ===\s*$")
_COUNT_LINE = re.compile(r"^\s+(?P<name>\S+)\s+(?P<count>\d+)\s*$")


def module_costs(stat_text: str, top: str = TOP) -> dict[str, dict[str, int]]:
    """Per module of Yosys ``stat`` text: ``instances`` (from the ``design hierarchy`` block, 1 for
    ``top``) and the ``luts`` (with ``INV``), ``flip_flops``, ``carry`` and ``brams`` of all its
    instances together (its own cells times its instance count)."""
    modules: dict[str, dict[str, int]] = {}
    instances: dict[str, int] = {}
    current = None
    for line in stat_text.splitlines():
        header = _MODULE_HEADER.match(line)
        if header:
            current = header.group("name")
            if current != "design hierarchy":
                modules[current] = {}
            continue
        match = _COUNT_LINE.match(line)
        if current is None or match is None:
            continue
        name, count = match.group("name"), int(match.group("count"))
        if current == "design hierarchy":
            if name in modules:
                instances[name] = count
        else:
            modules[current][name] = count
    if top not in modules:
        raise ValueError(f"no module {top!r} in the yosys stat output")
    instances[top] = 1
    costs = {}
    for module, cells in modules.items():
        times = instances.get(module, 0)
        figures = {"instances": times, "luts": 0, "flip_flops": 0, "carry": 0, "brams": 0}
        for cell, count in cells.items():
            if re.fullmatch(r"LUT\d|INV", cell):
                figures["luts"] += times * count
            elif cell.startswith("FD"):
                figures["flip_flops"] += times * count
            elif cell.startswith("CARRY"):
                figures["carry"] += times * count
            elif cell.startswith("RAMB"):
                figures["brams"] += times * count
        costs[module] = figures
    return costs


def cost_breakdown(stat_text: str, top: str = TOP) -> dict[str, dict[str, int]]:
    """LUT, FF and CARRY of the folded design split into its parts, from Yosys ``stat`` text.

    Parts: ``multipliers`` (the ``*_mul`` modules: independent of ``P``), ``accumulators`` (the
    ``*_neuron`` modules: accumulator register, lane adders and requantizer, the only part ``P``
    changes) and ``rest`` (the layers' control, input shift registers and output registers), each
    summed over instances (:func:`module_costs`). LUTs include ``INV``; block RAMs (the weight ROMs)
    are counted in ``rest`` as ``brams``.
    """
    names = ("multipliers", "accumulators", "rest")
    parts = {part: {"luts": 0, "flip_flops": 0, "carry": 0, "brams": 0} for part in names}
    for module, figures in module_costs(stat_text, top).items():
        part = "rest"
        if module.endswith("_mul"):
            part = "multipliers"
        elif module.endswith("_neuron"):
            part = "accumulators"
        for name in parts[part]:
            parts[part][name] += figures[name]
    for figures in parts.values():
        figures["luts_plus_flip_flops"] = figures["luts"] + figures["flip_flops"]
    return parts
