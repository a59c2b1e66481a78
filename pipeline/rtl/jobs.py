"""The firmware stage's per-design tool jobs, each a chain of subprocesses that may run concurrently
with the others (the stage submits them to a thread pool: the threads only wait on Yosys, Verilator
and g++ processes) and each reusing a :class:`~pipeline.rtl.cache.ToolCache` entry when its inputs
(tool version, flags, Verilog bytes) did not change.

* :func:`synthesize_cached`: Yosys ``synth_xilinx`` + ``stat``, then the timing estimate
  (:mod:`pipeline.rtl.netlist_timing` where the family has a delay table, else Yosys ``sta`` with
  :mod:`pipeline.rtl.timing`'s route share, :func:`pipeline.rtl.yosys.runs_yosys_sta`);
* :func:`check_unrolled` / :func:`check_folded`: build (or reuse) the Verilator testbench and always
  rerun the simulation against the integer emulator.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from pipeline.deploy.integer_network import IntegerNetwork
from pipeline.rtl.cache import ToolCache, content_key, tool_version

_SYNTHESIS_FILES = ("synth.ys", "stat.txt", "netlist_timing.json")
_STA_FILE = "sta.txt"  # only where Yosys sta runs (pipeline.rtl.yosys.runs_yosys_sta)
_RUNTIME_LOCK = threading.Lock()


def _runtime(build_dir: Path) -> Path:
    """Verilator's runtime objects, compiled once per stage run (``<scratch>/verilator_runtime``)."""
    from pipeline.rtl.verilator import compile_runtime

    runtime_dir = build_dir.parent.parent / "verilator_runtime"
    with _RUNTIME_LOCK:  # concurrent jobs must not compile the same objects at once
        compile_runtime(runtime_dir)
    return runtime_dir


def _verilog_sources(rtl_dir: Path, top: str) -> list[Path]:
    src = Path(rtl_dir) / "src"
    return [src / f"{top}.v", *sorted(src.glob(f"{top}_stage*.v")), *sorted((src / "static").glob("*.v"))]


def synthesize_cached(
    rtl_dir: Path,
    top: str,
    work_dir: Path,
    family: str,
    options: tuple[str, ...],
    clock_period_ns: float,
    cache: ToolCache,
) -> dict:
    """Synthesize (or reuse) one design; returns ``{"synthesis", "timing", "seconds", "cached"}``.

    ``synth/`` files (``synth.ys``, ``stat.txt``, ``netlist_timing.json``, ``sta.txt`` where Yosys
    ``sta`` runs) are copied next to the RTL so users can rerun ``yosys synth/synth.ys`` from the RTL
    directory. ``timing_yosys_sta`` is ``None`` where ``sta`` did not run (the family's netlist timing
    is the estimate).
    """
    from pipeline.rtl import netlist_timing
    from pipeline.rtl.timing import parse_sta
    from pipeline.rtl.yosys import read_result, synthesis_script, synthesize

    start = time.perf_counter()
    script = synthesis_script(rtl_dir, top, family, options)
    key = content_key([tool_version("yosys"), script], _verilog_sources(rtl_dir, top))
    entry = cache.lookup("yosys", key, _SYNTHESIS_FILES)
    if entry is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / _STA_FILE).unlink(missing_ok=True)
        for name in (*_SYNTHESIS_FILES, _STA_FILE):
            if (entry / name).is_file():
                shutil.copy(entry / name, work_dir / name)
        result = read_result(work_dir, family, time.perf_counter() - start)
    else:
        result = synthesize(rtl_dir, top, work_dir, family, options)
    names = [name for name in (*_SYNTHESIS_FILES, _STA_FILE) if (work_dir / name).is_file()]
    if entry is None:
        cache.store("yosys", key, {name: work_dir / name for name in names})
    synth_dir = Path(rtl_dir) / "synth"
    synth_dir.mkdir(exist_ok=True)
    (synth_dir / _STA_FILE).unlink(missing_ok=True)
    for name in names:
        shutil.copy(work_dir / name, synth_dir / name)
    yosys_sta = None
    if result.sta_text is not None:
        yosys_sta = parse_sta(result.sta_text, clock_period_ns, family).to_dict()
    stored = json.loads((work_dir / "netlist_timing.json").read_text())
    timing = netlist_timing.record(stored, clock_period_ns) or yosys_sta
    if timing is None:
        raise RuntimeError(f"no timing for {rtl_dir}: {stored.get('unavailable', 'netlist timing failed')}")
    return {
        "synthesis": result.to_dict(),
        "timing": timing,
        "timing_yosys_sta": yosys_sta,
        "seconds": time.perf_counter() - start,
        "cached": entry is not None,
    }


def _reuse_executable(cache: ToolCache, key: str, build_dir: Path) -> Path | None:
    entry = cache.lookup("verilator", key, ("simulate",))
    if entry is None:
        return None
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    shutil.copy2(entry / "simulate", build_dir / "simulate")
    return build_dir / "simulate"


def check_unrolled(design, network: IntegerNetwork, features: np.ndarray, build_dir: Path, cache: ToolCache):
    """Verilate (or reuse) the da4ml design and compare it with the emulator on ``features``.

    Returns ``(BitExactReport, compile seconds, cached)``.
    """
    from pipeline.rtl.design import check_bit_exact, compile_design
    from pipeline.rtl.verilator import _TESTBENCH, Simulator, port_layout

    start = time.perf_counter()
    params = repr((design.cycles, design.inp_qint, design.out_qint))
    texts = [tool_version("verilator"), tool_version("g++"), _TESTBENCH, params]
    key = content_key(texts, _verilog_sources(design.rtl_dir, design.top))
    executable = _reuse_executable(cache, key, build_dir)
    if executable is not None:
        simulator = Simulator(
            executable, design.cycles, port_layout(design.inp_qint), port_layout(design.out_qint), 0.0
        )
    else:
        simulator = compile_design(design, build_dir, runtime_dir=_runtime(build_dir))
        cache.store("verilator", key, {"simulate": simulator.executable})
    compile_seconds = time.perf_counter() - start
    return check_bit_exact(simulator, network, features), compile_seconds, executable is not None


def check_folded(plan, rtl_dir: Path, features: np.ndarray, build_dir: Path, cache: ToolCache):
    """Verilate (or reuse) the folded design, stream ``features`` through it and compare with the
    emulator run with the plan's P-bit accumulators. Returns ``(BitExactReport, FoldedRun, compile
    seconds, cached)``."""
    from pipeline.rtl.folded import TOP
    from pipeline.rtl.folded_sim import (
        _TESTBENCH,
        FoldedSimulator,
        _layouts,
        build_folded_simulator,
        check_folded_bit_exact,
    )

    start = time.perf_counter()
    texts = [tool_version("verilator"), tool_version("g++"), _TESTBENCH, repr(_layouts(plan))]
    key = content_key(texts, [Path(rtl_dir) / "src" / f"{TOP}.v"])
    executable = _reuse_executable(cache, key, build_dir)
    if executable is not None:
        inputs, outputs = _layouts(plan)
        simulator = FoldedSimulator(
            executable, inputs, outputs, plan.latency_cycles, plan.initiation_interval, 0.0
        )
    else:
        simulator = build_folded_simulator(plan, rtl_dir, build_dir, _runtime(build_dir))
        cache.store("verilator", key, {"simulate": simulator.executable})
    compile_seconds = time.perf_counter() - start
    report, run = check_folded_bit_exact(simulator, plan.network, features)
    return report, run, compile_seconds, executable is not None
