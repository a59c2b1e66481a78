"""Simulate da4ml's pipelined Verilog with Verilator 5.006 (Debian) and compare raw integers.

da4ml 0.5.2's own build (``build_binder.mk``) expects a newer Verilator. Every workaround for the
Debian 5.006 package lives in :data:`VERILATOR_5006_WORKAROUNDS` / :func:`patch_for_verilator_5006`
and :func:`verilator_include_dir`:

* the lint code ``WIDTHTRUNC`` (in ``negative.v``) is unknown to 5.006: rewritten to ``WIDTH``;
* ``verilator -V`` reports an empty ``VERILATOR_ROOT``: the include directory is found on disk;
* there is no prebuilt ``libverilated.a``: ``verilated.cpp`` and ``verilated_threads.cpp`` are
  compiled with the model.

Instead of da4ml's I/O wrapper and ctypes binder, a small C++ testbench drives the top module's
packed ``model_inp`` and reads ``model_out`` every clock; packing is done here in numpy.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VERILATOR_5006_WORKAROUNDS: dict[str, str] = {"WIDTHTRUNC": "WIDTH"}
"""Text replacements applied to copies of the generated Verilog before verilating."""

_INCLUDE_CANDIDATES = (Path("/usr/share/verilator/include"), Path("/usr/local/share/verilator/include"))

_TESTBENCH_PRELUDE = r"""
#include <cstdint>
#include <cstdio>
#include <memory>
#include <type_traits>
#include <vector>
#include "verilated.h"
#include {header}

template <typename T> void put_words(T &port, const uint32_t *words) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t value = words[0];
        if (IN_WORDS > 1) value |= uint64_t(words[1]) << 32;
        port = static_cast<T>(value);
    } else {
        for (int i = 0; i < IN_WORDS; ++i) port[i] = words[i];
    }
}

template <typename T> void get_words(const T &port, uint32_t *words) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t value = port;
        words[0] = uint32_t(value);
        if (OUT_WORDS > 1) words[1] = uint32_t(value >> 32);
    } else {
        for (int i = 0; i < OUT_WORDS; ++i) words[i] = port[i];
    }
}

"""


def testbench_prelude(header: str) -> str:
    """The C++ head shared by the Verilator testbenches: includes (the model's header ``header``, a
    quoted file name or a macro) and ``put_words``/``get_words``, which copy packed 32-bit words to and
    from a port whatever width Verilator gave it (integral up to 64 bits, ``VlWide`` above)."""
    return _TESTBENCH_PRELUDE.replace("{header}", header)


_TESTBENCH = (
    testbench_prelude("TOP_HEADER")
    + r"""int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const long n = std::atol(argv[3]);
    std::vector<uint32_t> in(n * IN_WORDS), out(n * OUT_WORDS);
    FILE *fin = std::fopen(argv[1], "rb");
    if (!fin || std::fread(in.data(), 4, in.size(), fin) != in.size()) return 3;
    std::fclose(fin);
    auto context = std::make_unique<VerilatedContext>();
    auto dut = std::make_unique<TOP_CLASS>(context.get());
    for (long t = 0; t < n + LATENCY; ++t) {
        if (t < n) put_words(dut->model_inp, &in[t * IN_WORDS]);
        dut->clk = 0;
        dut->eval();
        dut->clk = 1;
        dut->eval();
        if (t >= LATENCY) get_words(dut->model_out, &out[(t - LATENCY) * OUT_WORDS]);
    }
    dut->final();
    FILE *fout = std::fopen(argv[2], "wb");
    if (!fout || std::fwrite(out.data(), 4, out.size(), fout) != out.size()) return 4;
    std::fclose(fout);
    return 0;
}
"""
)


def verilator_include_dir() -> Path:
    """Verilator's C++ runtime sources (``VERILATOR_ROOT/include``; empty root on Debian 5.006)."""
    for candidate in _INCLUDE_CANDIDATES:
        if (candidate / "verilated.cpp").is_file():
            return candidate
    raise FileNotFoundError("verilated.cpp not found: install verilator (apt-get install verilator)")


def patch_for_verilator_5006(text: str) -> str:
    """Apply :data:`VERILATOR_5006_WORKAROUNDS` to one Verilog source."""
    for old, new in VERILATOR_5006_WORKAROUNDS.items():
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class PortLayout:
    """Bit layout of a packed port: per element ``(signed, width, fractional bits)``, LSB first."""

    signed: tuple[bool, ...]
    widths: tuple[int, ...]
    fractional_bits: tuple[int, ...]

    @property
    def total_bits(self) -> int:
        return int(sum(self.widths))

    @property
    def words(self) -> int:
        return max(1, (self.total_bits + 31) // 32)


def port_layout(qintervals: list) -> PortLayout:
    """Layout of a da4ml port from its ``QInterval`` list (minimal ``kif`` per element, as codegen packs)."""
    from da4ml.cmvm.types import _minimal_kif

    kifs = [_minimal_kif(qint) for qint in qintervals]
    return PortLayout(
        signed=tuple(bool(k) for k, _, _ in kifs),
        widths=tuple(int(k + i + f) for k, i, f in kifs),
        fractional_bits=tuple(int(f) for _, _, f in kifs),
    )


def pack(values: np.ndarray, layout: PortLayout) -> np.ndarray:
    """Pack integer ``values`` ``(n, elements)`` (already on each element's grid) into uint32 words."""
    values = np.asarray(values, dtype=np.int64)
    columns = []
    for index, width in enumerate(layout.widths):
        if width == 0:
            continue
        shifts = np.arange(width, dtype=np.int64)
        columns.append(((values[:, index, None] >> shifts) & 1).astype(np.uint8))
    bits = np.concatenate(columns, axis=1)
    padded = np.zeros((bits.shape[0], layout.words * 32), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return np.packbits(padded, axis=1, bitorder="little").view("<u4").reshape(-1, layout.words)


def unpack(words: np.ndarray, layout: PortLayout) -> np.ndarray:
    """Inverse of :func:`pack`: int64 ``(n, elements)``, sign-extended where the element is signed."""
    as_bytes = np.ascontiguousarray(words.astype("<u4")).view(np.uint8)
    bits = np.unpackbits(as_bytes, axis=1, bitorder="little").astype(np.int64)
    result = np.zeros((words.shape[0], len(layout.widths)), dtype=np.int64)
    offset = 0
    for index, width in enumerate(layout.widths):
        if width == 0:
            continue
        field = bits[:, offset : offset + width] @ (np.int64(1) << np.arange(width, dtype=np.int64))
        if layout.signed[index]:
            field = np.where(field >= (np.int64(1) << (width - 1)), field - (np.int64(1) << width), field)
        result[:, index] = field
        offset += width
    return result


def _run(command: list[str], cwd: Path) -> None:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")


@dataclass(frozen=True)
class Simulator:
    """A compiled Verilator testbench of one pipelined da4ml design."""

    executable: Path
    latency_cycles: int
    input_layout: PortLayout
    output_layout: PortLayout
    compile_seconds: float


_CXX_FLAGS = ["-std=c++17", "-faligned-new", "-pthread", "-DVM_TRACE=0", "-DVM_COVERAGE=0", "-DVM_SC=0"]
_DESIGN_OPTIMIZATION = "-O0"
"""The generated model is compiled unoptimised: for the 16-64-32-32-5 MLP ``-O1`` took ~240 s to
compile, ``-O0`` 16 s, while simulating 20k jets took 0.07 s vs 0.3 s (measured here)."""


def compile_runtime(runtime_dir: Path) -> list[Path]:
    """Compile Verilator's runtime (``verilated.cpp``, ``verilated_threads.cpp``) once into ``runtime_dir``.

    Debian's 5.006 ships no ``libverilated.a``; the objects are reused by every design built with the
    same ``runtime_dir`` (reused when already present).
    """
    include = verilator_include_dir()
    runtime_dir.mkdir(parents=True, exist_ok=True)
    objects = []
    for name in ("verilated", "verilated_threads"):
        target = runtime_dir / f"{name}.o"
        if not target.is_file():
            partial = runtime_dir / f"{name}.o.partial"
            source = str(include / f"{name}.cpp")
            flags = [*_CXX_FLAGS, "-O1", f"-I{include}", f"-I{include}/vltstd"]
            _run(["g++", *flags, "-c", source, "-o", str(partial)], runtime_dir)
            partial.rename(target)
        objects.append(target)
    return objects


def build_simulator(
    rtl_dir: Path,
    top: str,
    build_dir: Path,
    latency_cycles: int,
    inp_qint: list,
    out_qint: list,
    runtime_dir: Path | None = None,
) -> Simulator:
    """Verilate ``rtl_dir/src/{top}.v`` (+ stages and ``src/static``) and compile the testbench.

    ``latency_cycles`` is the number of pipeline stages (da4ml ``len(pipeline.solutions)``);
    ``runtime_dir`` holds the shared Verilator runtime objects (default: ``build_dir/runtime``).
    """
    start = time.perf_counter()
    if shutil.which("verilator") is None:
        raise FileNotFoundError("verilator is not on PATH")
    source_dir = build_dir / "src"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    source_dir.mkdir(parents=True)
    sources = [rtl_dir / "src" / f"{top}.v", *sorted((rtl_dir / "src").glob(f"{top}_stage*.v"))]
    sources += sorted((rtl_dir / "src" / "static").glob("*.v"))
    copies = []
    for source in sources:
        copy = source_dir / source.name
        copy.write_text(patch_for_verilator_5006(source.read_text()))
        copies.append(copy)
    input_layout, output_layout = port_layout(inp_qint), port_layout(out_qint)
    options = ["--cc", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", top, "--prefix", "Vtop"]
    _run(["verilator", *options, "--Mdir", "obj_dir", *[str(copy) for copy in copies]], build_dir)
    (build_dir / "testbench.cpp").write_text(_TESTBENCH)
    include = verilator_include_dir()
    runtime = compile_runtime(runtime_dir if runtime_dir is not None else build_dir / "runtime")
    generated = sorted(str(path) for path in (build_dir / "obj_dir").glob("*.cpp"))
    executable = build_dir / "simulate"
    flags = [*_CXX_FLAGS, _DESIGN_OPTIMIZATION, f"-I{include}", f"-I{include}/vltstd", "-Iobj_dir"]
    flags += ['-DTOP_HEADER="Vtop.h"', "-DTOP_CLASS=Vtop", f"-DLATENCY={latency_cycles}"]
    flags += [f"-DIN_WORDS={input_layout.words}", f"-DOUT_WORDS={output_layout.words}"]
    objects = [*generated, *[str(path) for path in runtime]]
    _run(["g++", *flags, "testbench.cpp", *objects, "-o", str(executable)], build_dir)
    return Simulator(executable, latency_cycles, input_layout, output_layout, time.perf_counter() - start)


def simulate(simulator: Simulator, inputs_on_grid: np.ndarray) -> np.ndarray:
    """Run the testbench on integer inputs ``(n, fan_in)`` (each at its port's LSB) -> port integers."""
    workdir = simulator.executable.parent
    words = pack(inputs_on_grid, simulator.input_layout)
    (workdir / "inputs.bin").write_bytes(words.tobytes())
    _run([str(simulator.executable), "inputs.bin", "outputs.bin", str(len(words))], workdir)
    raw = np.frombuffer((workdir / "outputs.bin").read_bytes(), dtype="<u4")
    return unpack(raw.reshape(len(words), simulator.output_layout.words), simulator.output_layout)
