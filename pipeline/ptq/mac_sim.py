"""Check the MAC units of :mod:`pipeline.ptq.mac_rtl` in Verilator against the numpy model on every
pair of codes, and synthesize them with Yosys (LUTs per MAC: the cost model of the exploration)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.ptq.mac_rtl import MacUnit, mac_verilog, operand_codes, product_units
from pipeline.rtl.verilator import compile_runtime, verilator_include_dir
from pipeline.rtl.yosys import SynthesisResult, synthesize

#: Exact accumulators wider than this do not fit the testbench's 64-bit words.
MAX_SIMULATED_ACCUMULATOR_BITS = 64


def _run(command: list[str], cwd: Path) -> str:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return completed.stdout


@dataclass(frozen=True)
class MacCheck:
    """Verilator vs numpy on every (weight, activation) pair, plus random running sums."""

    unit: str
    pairs: int
    mismatches: int


def exhaustive_vectors(unit: MacUnit, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(weight, activation, acc_in)`` for every code pair (with ``acc_in = 0`` and with a
    random accumulator value) and the expected ``acc_out`` (two's complement, wrapped to the width)."""
    rng = np.random.default_rng(seed)
    bits = unit.accumulator_bits
    rows, expected = [], []
    for weight in operand_codes(unit.weight):
        for activation in operand_codes(unit.activation):
            product = product_units(unit, weight, activation)
            for acc_in in (0, int(rng.integers(-(2 ** (bits - 2)), 2 ** (bits - 2)))):
                total = (acc_in + product + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)
                rows.append((weight, activation, acc_in % 2**bits))
                expected.append(total % 2**bits)
    return np.array(rows, dtype=np.uint64), np.array(expected, dtype=np.uint64)


_MULTI_TESTBENCH_BLOCK = r"""
    {
        const long n = std::atol(argv[{arg}]);
        std::vector<uint64_t> in(n * 3), out(n);
        FILE *f = std::fopen("in_{index}.bin", "rb");
        if (!f || std::fread(in.data(), 8, in.size(), f) != in.size()) return 3;
        std::fclose(f);
        Vmac{index} dut(&context);
        for (long i = 0; i < n; ++i) {
            dut.weight = in[3 * i]; dut.activation = in[3 * i + 1]; dut.acc_in = in[3 * i + 2];
            dut.eval();
            out[i] = dut.acc_out;
        }
        f = std::fopen("out_{index}.bin", "wb");
        if (!f || std::fwrite(out.data(), 8, n, f) != size_t(n)) return 4;
        std::fclose(f);
    }
"""


def check_macs(units: list[MacUnit], work_dir: Path) -> list[MacCheck]:
    """Verilate every unit's ``mac_comb`` (one model each), build one testbench for all of them (one
    compile: the expensive step) and compare each with :func:`product_units` on every code pair."""
    for unit in units:
        if unit.accumulator_bits > MAX_SIMULATED_ACCUMULATOR_BITS:
            raise ValueError(f"{unit.name}: {unit.accumulator_bits}-bit accumulator is wider than 64 bits")
    work_dir.mkdir(parents=True, exist_ok=True)
    expected_outputs, blocks, headers, sources = [], [], [], []
    for index, unit in enumerate(units):
        (work_dir / f"mac_{index}.v").write_text(mac_verilog(unit))
        options = ["--cc", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "mac_comb"]
        options += ["--prefix", f"Vmac{index}", "--Mdir", f"obj_{index}", f"mac_{index}.v"]
        _run(["verilator", *options], work_dir)
        inputs, expected = exhaustive_vectors(unit)
        (work_dir / f"in_{index}.bin").write_bytes(inputs.tobytes())
        expected_outputs.append((len(inputs), expected))
        headers.append(f'#include "Vmac{index}.h"')
        blocks.append(_MULTI_TESTBENCH_BLOCK.replace("{index}", str(index)).replace("{arg}", str(index + 1)))
        sources += sorted(str(path) for path in (work_dir / f"obj_{index}").glob("*.cpp"))
    preamble = ["#include <cstdint>", "#include <cstdio>", "#include <cstdlib>", "#include <vector>"]
    main = [
        "int main(int argc, char **argv) {",
        "    VerilatedContext context;",
        *blocks,
        "    return 0;",
        "}",
    ]
    testbench = "\n".join([*preamble, '#include "verilated.h"', *headers, *main, ""])
    (work_dir / "testbench.cpp").write_text(testbench)
    include = verilator_include_dir()
    runtime = compile_runtime(work_dir / "verilator_runtime")
    flags = ["-std=c++17", "-O0", f"-I{include}", f"-I{include}/vltstd", "-pthread"]
    flags += [f"-Iobj_{index}" for index in range(len(units))]
    _run(["g++", *flags, "testbench.cpp", *sources, *map(str, runtime), "-o", "simulate"], work_dir)
    _run(["./simulate", *(str(count) for count, _ in expected_outputs)], work_dir)
    checks = []
    for index, (unit, (count, expected)) in enumerate(zip(units, expected_outputs, strict=True)):
        mask = np.uint64(2**unit.accumulator_bits - 1)
        got = np.frombuffer((work_dir / f"out_{index}.bin").read_bytes(), dtype=np.uint64) & mask
        checks.append(MacCheck(unit.name, count, int(np.count_nonzero(got != expected))))
    return checks


def check_mac(unit: MacUnit, work_dir: Path) -> MacCheck:
    """:func:`check_macs` for one unit."""
    return check_macs([unit], work_dir)[0]


def synthesize_mac(unit: MacUnit, work_dir: Path, family: str = "xcup") -> SynthesisResult:
    """Yosys ``synth_xilinx`` of ``mac_top`` (accumulator register included), via the firmware
    stage's :func:`pipeline.rtl.yosys.synthesize` (LUTs count INV cells, as there)."""
    source = work_dir / "src" / "mac_top.v"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(mac_verilog(unit))
    return synthesize(work_dir, "mac_top", work_dir / "synth", family=family)
