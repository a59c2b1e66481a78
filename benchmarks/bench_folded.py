"""Benchmark: LUT + FF of the folded architecture versus the accumulator width P (issue 11).

Usage (after ``trigger-pipeline convert`` has produced ``data`` and ``constrain``)::

    PYTHONPATH=$PWD NUMBA_CACHE_DIR=/tmp/numba_cache python benchmarks/bench_folded.py \
        --run-dir runs/default [--model jet_dnn_q6_a2q_plus_qap] [--baseline jet_dnn_q6_qap] \
        [--reuse-factor 16] [--clock-period 5] [--json benchmarks/results/folded_accumulators.json]

For the A2Q model, three accumulator choices through the same folded generator
(:mod:`pipeline.rtl.folded`): 32 bits everywhere (the A2Q papers' baseline), hls4ml's automatic
width (the data-type bound plus a bias bit), and the model's own A2Q/A2Q+ widths P. Each design is
simulated with Verilator on every test jet against the integer emulator with the same P-bit
wrap-around accumulators (0 mismatches required) and synthesized with Yosys
(``synth_xilinx -flatten -nodsp``: multipliers and accumulators in LUTs, as in FINN's LUT-based
matrix-vector unit). Accuracy: the A2Q model's emulator accuracy at each choice, and the baseline
(unconstrained) model's at its automatic width and when wrapped at the A2Q model's P.
The JSON is rewritten after every design, so an interrupted run leaves the finished points.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _accuracy(network, features, labels) -> tuple[float, dict]:
    import numpy as np

    from pipeline.deploy.emulator import emulate

    result = emulate(network, features)
    accuracy = float(np.mean(np.argmax(result.logits_raw, axis=1) == labels))
    return accuracy, result.accumulator_overflows


def _network_with_widths(constrain_dir: Path, widths_from: Path | None = None):
    """The model's integer network with the accumulator widths of ``widths_from`` (default: its own)."""
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.stage_io import parse_accumulator_bits
    from pipeline.models.io import load_model

    model = load_model(constrain_dir / "model.h5")
    plain = integer_network_from_qkeras(model)
    source = (widths_from or constrain_dir) / "accumulators.json"
    data = json.loads(source.read_text()) if source.is_file() else {}
    widths = parse_accumulator_bits(data, {layer.name for layer in plain.layers})
    return plain, integer_network_from_qkeras(model, widths)


def measure_design(network, features, scratch: Path, reuse_factor: int, clock: float, family: str) -> dict:
    """Fold, simulate (every jet) and synthesize one network; returns its figures."""
    from pipeline.rtl.folded import TOP, plan_folded, write_folded
    from pipeline.rtl.folded_sim import build_folded_simulator, check_folded_bit_exact
    from pipeline.rtl.timing import parse_sta
    from pipeline.rtl.yosys import synthesize

    plan = plan_folded(network, reuse_factor)
    write_folded(plan, scratch / "rtl")
    start = time.perf_counter()
    simulator = build_folded_simulator(plan, scratch / "rtl", scratch / "build", scratch.parent / "runtime")
    report, run = check_folded_bit_exact(simulator, network, features)
    simulation_seconds = time.perf_counter() - start
    synthesis = synthesize(scratch / "rtl", TOP, scratch / "yosys", family, ("-nodsp",))
    timing = parse_sta(synthesis.sta_text, clock, family)
    return {
        "plan": plan.summary(),
        "accumulator_bits": [layer.accumulator_bits for layer in plan.layers],
        "bit_exact": report.to_dict(),
        "measured_latency_cycles": run.latency_cycles,
        "luts": synthesis.luts,
        "flip_flops": synthesis.flip_flops,
        "luts_plus_flip_flops": synthesis.luts + synthesis.flip_flops,
        "carry": synthesis.carry,
        "dsps": synthesis.dsps,
        "muxf": synthesis.count(("MUXF",)),
        "timing": timing.to_dict(),
        "latency_ns": round(plan.latency_cycles * max(clock, timing.critical_path_ns), 1),
        "seconds": {"verilator": round(simulation_seconds, 1), "yosys": round(synthesis.seconds, 1)},
    }


def summarize(results: dict) -> None:
    """Add the LUT+FF ratios and the issue's goals to a result with all three designs."""
    designs = results["designs"]
    ours = designs["a2q_p"]["luts_plus_flip_flops"]
    results["ratios"] = {
        "32_bits_over_a2q_p": round(designs["32_bits"]["luts_plus_flip_flops"] / ours, 3),
        "hls4ml_auto_over_a2q_p": round(designs["hls4ml_auto"]["luts_plus_flip_flops"] / ours, 3),
    }
    accuracy_gap = results["accuracy"]["baseline_auto"]["accuracy"] - designs["a2q_p"]["accuracy"]
    results["goals"] = {
        "accuracy_gap_points_vs_baseline": round(100 * accuracy_gap, 2),
        "baseline_equally_fine_tuned": False,
        "accuracy_within_0_5_points": accuracy_gap <= 0.005,
        "at_least_1_5x_vs_32_bits": results["ratios"]["32_bits_over_a2q_p"] >= 1.5,
        "at_least_1_2x_vs_hls4ml_auto": results["ratios"]["hls4ml_auto_over_a2q_p"] >= 1.2,
    }


def merge(paths: list[Path], target: Path) -> int:
    """Combine the designs of partial runs (same model and settings) into ``target``."""
    merged: dict = {}
    for path in paths:
        part = json.loads(path.read_text())
        designs = {**merged.get("designs", {}), **part["designs"]}
        merged = {**part, **merged, "designs": designs}
        merged.setdefault("partial_runs", []).append(part["command"])
    merged.pop("cpu_budget", None)
    if len(merged["designs"]) == 3:
        summarize(merged)
    target.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(json.dumps({key: merged.get(key) for key in ("ratios", "goals")}, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--model", default="jet_dnn_q6_a2q_plus_qap")
    parser.add_argument("--baseline", default="jet_dnn_q6_qap")
    parser.add_argument("--reuse-factor", type=int, default=16)
    parser.add_argument("--clock-period", type=float, default=5.0)
    parser.add_argument("--family", default="xcup")
    parser.add_argument("--max-test-jets", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/folded_accumulators.json"))
    parser.add_argument("--choices", nargs="+", default=["32_bits", "hls4ml_auto", "a2q_p"])
    parser.add_argument("--merge", nargs="+", type=Path, default=None, help="combine partial JSON files")
    args = parser.parse_args()
    if args.merge:
        return merge(args.merge, args.json)

    from pipeline.data.io import load_dataset
    from pipeline.rtl.folded import with_accumulators

    started = time.perf_counter()
    dataset = load_dataset(args.run_dir / "data")
    features, labels = dataset.x_test[: args.max_test_jets], dataset.y_test[: args.max_test_jets]
    _, a2q_network = _network_with_widths(args.run_dir / "constrain" / args.model)
    baseline_plain, baseline_wrapped = _network_with_widths(
        args.run_dir / "constrain" / args.baseline, args.run_dir / "constrain" / args.model
    )
    choices = {"32_bits": 32, "hls4ml_auto": "hls4ml_auto", "a2q_p": "network"}
    choices = {label: choice for label, choice in choices.items() if label in args.choices}
    results: dict = {
        "command": "python benchmarks/bench_folded.py " + " ".join(sys.argv[1:]),
        "run_dir_models": {"a2q": args.model, "baseline": args.baseline},
        "reuse_factor": args.reuse_factor,
        "clock_period_ns": args.clock_period,
        "family": args.family,
        "synthesis": "yosys synth_xilinx -flatten -nodsp (multipliers and accumulators in LUTs)",
        "test_jets": len(features),
        "model_source": "runs/default (make run's config, current code on h/firmware; no h/a2q merge)",
        "accuracy": {},
        "designs": {},
    }
    for name, network in (
        ("baseline_auto", with_accumulators(baseline_plain, "hls4ml_auto")),
        ("baseline_wrapped_at_a2q_p", with_accumulators(baseline_wrapped, "network")),
        ("a2q_at_a2q_p", with_accumulators(a2q_network, "network")),
    ):
        accuracy, overflows = _accuracy(network, features, labels)
        results["accuracy"][name] = {"accuracy": accuracy, "accumulator_overflows": overflows}
    with tempfile.TemporaryDirectory() as scratch:
        for label, choice in choices.items():
            network = with_accumulators(a2q_network, choice)
            accuracy, overflows = _accuracy(network, features, labels)
            record = measure_design(
                network, features, Path(scratch) / label, args.reuse_factor, args.clock_period, args.family
            )
            record.update({"accuracy": accuracy, "accumulator_overflows": overflows})
            results["designs"][label] = record
            print(label, record["accumulator_bits"], record["luts"], record["flip_flops"], flush=True)
            args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if len(results["designs"]) == 3:
        summarize(results)
    wall = round(time.perf_counter() - started, 1)
    results["cpu_budget"] = {"wall_seconds": wall, "load_average": os.getloadavg()}
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps({key: results.get(key) for key in ("ratios", "goals")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
