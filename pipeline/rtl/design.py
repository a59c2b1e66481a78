"""Write a traced network as pipelined Verilog (da4ml ``VerilogModel``) and check it bit for bit.

The pipeline has ``cycles`` register stages at ``clock_period_ns``: latency ``cycles * clock_period_ns``
from the input register to the output register. ``combinational_depth`` is the depth of the
unpipelined graph in da4ml latency units (adder levels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.deploy.integer_network import IntegerNetwork
from pipeline.rtl.trace import TracedNetwork, shift_floor
from pipeline.rtl.verilator import Simulator, build_simulator, simulate

TOP = "network"
"""Name of the top Verilog module (``src/network.v``)."""


@dataclass(frozen=True)
class WrittenDesign:
    """A pipelined design on disk and da4ml's own estimates of it."""

    rtl_dir: Path
    top: str
    cycles: int
    clock_period_ns: float
    latency_cutoff: float
    combinational_depth: float
    da4ml_lut_estimate: float
    da4ml_register_bits: int
    inp_qint: list
    out_qint: list
    output_fractional_bits: int

    @property
    def latency_ns(self) -> float:
        return self.cycles * self.clock_period_ns

    def summary(self) -> dict:
        """JSON-ready figures (source: da4ml)."""
        return {
            "cycles": self.cycles,
            "clock_period_ns": self.clock_period_ns,
            "latency_ns": self.latency_ns,
            "latency_cutoff_adder_levels": self.latency_cutoff,
            "combinational_depth_adder_levels": self.combinational_depth,
            "da4ml_lut_estimate": self.da4ml_lut_estimate,
            "da4ml_register_bits": self.da4ml_register_bits,
        }


def write_design(traced: TracedNetwork, rtl_dir: Path, clock_period_ns: float, part: str) -> WrittenDesign:
    """Pipeline ``traced`` at its latency cutoff and write Verilog into ``rtl_dir`` (da4ml layout)."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import to_pipeline

    pipeline = to_pipeline(traced.comb, traced.latency_cutoff, verbose=False)
    model = VerilogModel(pipeline, TOP, rtl_dir, clock_period=clock_period_ns, part_name=part)
    model.write()
    comb_latency = traced.comb.latency
    depth = float(max(comb_latency)) if isinstance(comb_latency, tuple) else float(comb_latency)
    return WrittenDesign(
        rtl_dir=Path(rtl_dir),
        top=TOP,
        cycles=len(pipeline.solutions),
        clock_period_ns=clock_period_ns,
        latency_cutoff=traced.latency_cutoff,
        combinational_depth=depth,
        da4ml_lut_estimate=float(traced.comb.cost),
        da4ml_register_bits=int(pipeline.reg_bits),
        inp_qint=list(pipeline.inp_qint),
        out_qint=list(pipeline.out_qint),
        output_fractional_bits=traced.output_fractional_bits,
    )


def compile_design(design: WrittenDesign, build_dir: Path, runtime_dir: Path | None = None) -> Simulator:
    """Verilate the written design (see :mod:`pipeline.rtl.verilator`)."""
    return build_simulator(
        design.rtl_dir, design.top, build_dir, design.cycles, design.inp_qint, design.out_qint, runtime_dir
    )


def simulate_raw(
    simulator: Simulator, x_raw: np.ndarray, input_fractional_bits: int, output_fractional_bits: int
) -> np.ndarray:
    """Run the RTL on raw inputs; return raw outputs at ``output_fractional_bits`` (reference units)."""
    inputs = np.stack(
        [
            shift_floor(x_raw[:, index], port_bits - input_fractional_bits)
            for index, port_bits in enumerate(simulator.input_layout.fractional_bits)
        ],
        axis=1,
    )
    port_values = simulate(simulator, inputs)
    columns = []
    for index, port_bits in enumerate(simulator.output_layout.fractional_bits):
        if port_bits > output_fractional_bits:
            raise ValueError("RTL output is finer than the reference grid")
        columns.append(shift_floor(port_values[:, index], output_fractional_bits - port_bits))
    return np.stack(columns, axis=1)


@dataclass(frozen=True)
class BitExactReport:
    """Outcome of comparing RTL outputs with the integer reference."""

    samples: int
    mismatched_samples: int
    mismatched_values: int

    @property
    def bit_exact(self) -> bool:
        return self.mismatched_values == 0

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "mismatched_samples": self.mismatched_samples,
            "mismatched_values": self.mismatched_values,
            "bit_exact": self.bit_exact,
        }


def check_bit_exact(simulator: Simulator, network: IntegerNetwork, features: np.ndarray) -> BitExactReport:
    """Simulate the RTL on real ``features`` and compare with the integer emulator's raw logits.

    The inputs are quantized with the emulator's own function (``quantize_real``: the model's input
    quantizer, half to even, saturating), so both see identical raw inputs.
    """
    from pipeline.deploy.emulator import emulate, quantize_real

    x_raw, _ = quantize_real(features, network.input_format)
    expected = emulate(network, features)
    input_bits, output_bits = network.input_format.fractional_bits, expected.output_fractional_bits
    rtl = simulate_raw(simulator, x_raw, input_bits, output_bits)
    different = rtl != expected.logits_raw
    return BitExactReport(len(x_raw), int(different.any(axis=1).sum()), int(different.sum()))
