"""Benchmark: the numpy integer emulator vs hls4ml's compiled C-simulation ``predict`` on 100k jets.

Builds the jet_dnn_q6 architecture (16-64-32-32-5, 6-bit) from ``models/jet_dnn_q6.yaml`` with seeded
initial weights, exports it to QONNX, converts it with hls4ml (Vitis, Latency, io_parallel), compiles
the C simulation, and times both on the same 100k random standardised jets in one run (wall time and
this process's CPU time, best of ``--repeats``: the CPU-time ratio does not depend on other load on
the machine). Also checks that the two agree on every jet. Target: ratio >= 50.

Usage: python benchmarks/bench_emulator.py [--jets 100000] [--repeats 3]
                                           [--output benchmarks/results/emulator_100k_jets.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "emulator_100k_jets.json"
    )
    args = parser.parse_args()
    process_started = time.process_time()

    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.export_qonnx import (
        dense_node_names,
        export_qonnx,
        integer_logits,
        output_fractional_bits,
    )
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.hls import build_hls_config, convert_to_hls, load_hls_settings
    from pipeline.manifest import write_json
    from pipeline.models.build import build_model
    from pipeline.models.spec import load_spec

    model = build_model(load_spec(REPO / "models" / "jet_dnn_q6.yaml"), seed=0)
    network = integer_network_from_qkeras(model)
    wrapper = export_qonnx(model, network)
    settings = load_hls_settings(REPO / "hls4ml_configs" / "vitis_latency.yml")
    features = np.random.default_rng(0).normal(0, 1, (args.jets, 16)).astype(np.float64)
    with tempfile.TemporaryDirectory() as scratch:
        with contextlib.redirect_stdout(io.StringIO()):
            config = build_hls_config(wrapper, network, dense_node_names(wrapper, network), settings)
            hls_model = convert_to_hls(wrapper, config, settings, Path(scratch) / "hls4ml_prj")
            started = time.perf_counter()
            hls_model.compile()
        compile_seconds = time.perf_counter() - started
        print(f"hls4ml C-sim compile: {compile_seconds:.1f} s")
        csim_times, emulator_times, csim_cpu, emulator_cpu = [], [], [], []
        for _ in range(args.repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            csim = hls_model.predict(np.ascontiguousarray(features))
            csim_times.append(time.perf_counter() - started)
            csim_cpu.append(time.process_time() - started_cpu)
            started, started_cpu = time.perf_counter(), time.process_time()
            result = emulate(network, features)
            emulator_times.append(time.perf_counter() - started)
            emulator_cpu.append(time.process_time() - started_cpu)
    csim_raw = integer_logits(np.asarray(csim).reshape(len(features), -1), output_fractional_bits(network))
    mismatches = int(np.count_nonzero(np.any(csim_raw != result.logits_raw, axis=1)))
    csim_best, emulator_best = min(csim_times), min(emulator_times)
    print(f"jets: {args.jets}, emulator vs C-sim mismatching jets: {mismatches}")
    print(f"hls4ml predict: {csim_best:.3f} s ({args.jets / csim_best:,.0f} jets/s)")
    print(f"emulator:       {emulator_best:.3f} s ({args.jets / emulator_best:,.0f} jets/s)")
    ratio = csim_best / emulator_best
    cpu_ratio = min(csim_cpu) / min(emulator_cpu)
    print(f"ratio (predict / emulator, wall time, best of {args.repeats}): {ratio:.1f}x (target >= 50x)")
    print(f"ratio (predict / emulator, CPU time of this process, best of {args.repeats}): {cpu_ratio:.1f}x")
    write_json(
        args.output,
        {
            "benchmark": "benchmarks/bench_emulator.py",
            "command": " ".join(["python", "benchmarks/bench_emulator.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d"),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
            "model": "jet_dnn_q6 architecture, seeded initial weights (models/jet_dnn_q6.yaml, seed 0)",
            "hls4ml_config": "hls4ml_configs/vitis_latency.yml",
            "jets": args.jets,
            "repeats": args.repeats,
            "hls4ml_predict_seconds": csim_times,
            "emulator_seconds": emulator_times,
            "hls4ml_predict_cpu_seconds": csim_cpu,
            "emulator_cpu_seconds": emulator_cpu,
            "speedup_best_of_repeats": ratio,
            "speedup_cpu_time_best_of_repeats": cpu_ratio,
            "load_average_at_end": os.getloadavg(),
            "note": "both single-threaded (OMP_NUM_THREADS=1); the CPU-time ratio is robust to other load",
            "mismatching_jets": mismatches,
            "compile_seconds": compile_seconds,
            "cpu_seconds_used": round(time.process_time() - process_started, 1),
        },
    )


if __name__ == "__main__":
    main()
