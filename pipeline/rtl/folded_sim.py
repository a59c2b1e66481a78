"""Verilator testbench of the folded architecture and its bit-exact check against the emulator.

The C++ testbench streams jets through the valid/ready handshake (``out_ready`` held high), records
every output and the cycles from accepting the first jet to its ``out_valid``; numpy packs and
unpacks the ports (:func:`pipeline.rtl.verilator.pack`). Verilator 5.006 workarounds live in
:mod:`pipeline.rtl.verilator` (runtime objects compiled once per ``runtime_dir``).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.deploy.integer_network import IntegerNetwork
from pipeline.rtl.design import BitExactReport
from pipeline.rtl.folded import TOP, FoldedPlan
from pipeline.rtl.verilator import (
    _CXX_FLAGS,
    _DESIGN_OPTIMIZATION,
    PortLayout,
    _run,
    compile_runtime,
    pack,
    testbench_prelude,
    unpack,
    verilator_include_dir,
)

_TESTBENCH = (
    testbench_prelude('"Vtop.h"')
    + r"""int main(int argc, char **argv) {
    if (argc != 5) return 2;
    const long n = std::atol(argv[3]);
    const long max_cycles = std::atol(argv[4]);
    std::vector<uint32_t> in(n * IN_WORDS), out(n * OUT_WORDS);
    FILE *fin = std::fopen(argv[1], "rb");
    if (!fin || std::fread(in.data(), 4, in.size(), fin) != in.size()) return 3;
    std::fclose(fin);
    auto context = std::make_unique<VerilatedContext>();
    auto dut = std::make_unique<Vtop>(context.get());
    dut->rst = 1; dut->in_valid = 0; dut->out_ready = 1;
    for (int t = 0; t < 2; ++t) { dut->clk = 0; dut->eval(); dut->clk = 1; dut->eval(); }
    dut->rst = 0;
    long sent = 0, received = 0, cycle = 0, first_accept = -1, first_output = -1;
    while (received < n && cycle < max_cycles) {
        dut->in_valid = sent < n;
        if (sent < n) put_words(dut->in_data, &in[sent * IN_WORDS]);
        dut->clk = 0;
        dut->eval();
        const bool accepted = dut->in_valid && dut->in_ready;
        if (dut->out_valid) {
            get_words(dut->out_data, &out[received * OUT_WORDS]);
            if (first_output < 0) first_output = cycle;
            ++received;
        }
        dut->clk = 1;
        dut->eval();
        if (accepted) { if (first_accept < 0) first_accept = cycle; ++sent; }
        ++cycle;
    }
    dut->final();
    FILE *fout = std::fopen(argv[2], "wb");
    if (!fout || std::fwrite(out.data(), 4, out.size(), fout) != out.size()) return 4;
    std::fclose(fout);
    std::printf("%ld %ld %ld\n", received, first_output - first_accept, cycle);
    return received == n ? 0 : 5;
}
"""
)


@dataclass(frozen=True)
class FoldedSimulator:
    """A compiled testbench of one folded design."""

    executable: Path
    input_layout: PortLayout
    output_layout: PortLayout
    latency_cycles: int
    initiation_interval: int
    compile_seconds: float


def _layouts(plan: FoldedPlan) -> tuple[PortLayout, PortLayout]:
    first, last = plan.layers[0], plan.layers[-1]
    inp, out = first.input_format, last.output_format
    n_in, n_out = first.fan_in, last.fan_out
    return (
        PortLayout((inp.signed,) * n_in, (inp.bits,) * n_in, (inp.fractional_bits,) * n_in),
        PortLayout((out.signed,) * n_out, (out.bits,) * n_out, (out.fractional_bits,) * n_out),
    )


def build_folded_simulator(
    plan: FoldedPlan, rtl_dir: Path, build_dir: Path, runtime_dir: Path | None = None
) -> FoldedSimulator:
    """Verilate ``rtl_dir/src/folded_network.v`` and compile the streaming testbench into ``build_dir``."""
    start = time.perf_counter()
    if shutil.which("verilator") is None:
        raise FileNotFoundError("verilator is not on PATH")
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    source = Path(rtl_dir).resolve() / "src" / f"{TOP}.v"
    options = ["--cc", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", TOP, "--prefix", "Vtop"]
    _run(["verilator", *options, "--Mdir", "obj_dir", str(source)], build_dir)
    (build_dir / "testbench.cpp").write_text(_TESTBENCH)
    input_layout, output_layout = _layouts(plan)
    include = verilator_include_dir()
    runtime = compile_runtime(runtime_dir if runtime_dir is not None else build_dir / "runtime")
    generated = sorted(str(path) for path in (build_dir / "obj_dir").glob("*.cpp"))
    executable = build_dir / "simulate"
    flags = [*_CXX_FLAGS, _DESIGN_OPTIMIZATION, f"-I{include}", f"-I{include}/vltstd", "-Iobj_dir"]
    flags += [f"-DIN_WORDS={input_layout.words}", f"-DOUT_WORDS={output_layout.words}"]
    objects = [*generated, *[str(path) for path in runtime]]
    _run(["g++", *flags, "testbench.cpp", *objects, "-o", str(executable)], build_dir)
    return FoldedSimulator(
        executable,
        input_layout,
        output_layout,
        plan.latency_cycles,
        plan.initiation_interval,
        time.perf_counter() - start,
    )


@dataclass(frozen=True)
class FoldedRun:
    """Outputs of a testbench run and the cycle counts it measured."""

    outputs: np.ndarray
    latency_cycles: int
    total_cycles: int


def simulate_folded(simulator: FoldedSimulator, inputs_raw: np.ndarray) -> FoldedRun:
    """Stream raw integer inputs ``(n, fan_in)`` through the design; raw outputs ``(n, fan_out)``."""
    import subprocess

    workdir = simulator.executable.parent
    words = pack(inputs_raw, simulator.input_layout)
    (workdir / "inputs.bin").write_bytes(words.tobytes())
    max_cycles = (len(words) + 2) * (simulator.latency_cycles + simulator.initiation_interval + 4)
    command = [str(simulator.executable), "inputs.bin", "outputs.bin", str(len(words)), str(max_cycles)]
    completed = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"folded testbench failed ({completed.returncode}): {completed.stdout[-500:]}")
    _, latency, total = (int(value) for value in completed.stdout.split())
    raw = np.frombuffer((workdir / "outputs.bin").read_bytes(), dtype="<u4")
    outputs = unpack(raw.reshape(len(words), simulator.output_layout.words), simulator.output_layout)
    return FoldedRun(outputs=outputs, latency_cycles=latency, total_cycles=total)


def check_folded_bit_exact(
    simulator: FoldedSimulator, network: IntegerNetwork, features: np.ndarray
) -> tuple[BitExactReport, FoldedRun]:
    """Simulate the folded RTL on real ``features`` and compare with :func:`emulate` of ``network``
    (the same P-bit wrap-around accumulators: pass the network the plan was made from)."""
    from pipeline.deploy.emulator import emulate, quantize_real

    x_raw, _ = quantize_real(features, network.input_format)
    expected = emulate(network, features).logits_raw
    run = simulate_folded(simulator, x_raw)
    different = run.outputs != expected
    report = BitExactReport(len(x_raw), int(different.any(axis=1).sum()), int(different.sum()))
    return report, run
