"""Benchmark: the tutorial-style baseline against the A2Q+ model through the same RTL flow, one run.

Usage (after ``trigger-pipeline run`` has produced at least ``data``, ``constrain`` and ``convert``)::

    NUMBA_CACHE_DIR=/tmp/numba_cache python benchmarks/bench_firmware.py --run-dir runs/default \
        [--baseline jet_dnn_q6_qap] [--candidate jet_dnn_q6_a2q_plus_qap] [--float jet_dnn_float] \
        [--clock-period 5] [--max-test-jets N] [--json out.json]

Both models are traced with da4ml, simulated with Verilator against the integer emulator, and
synthesized with Yosys back to back on the same machine and test jets. Prints cycles, ns, LUT, FF,
the LUT ratio, and the accuracy of each model (from ``constrain/<model>/metrics.json``) next to the
float model's, and checks the goals of issue 7: >= 4x fewer LUTs, accuracy within 1.0 point of float,
latency <= 25 ns at 200 MHz.
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


def _accuracy(run_dir: Path, model: str) -> float | None:
    for stage in ("constrain", "prune", "train"):
        path = run_dir / stage / model / "metrics.json"
        if path.is_file():
            accuracy = (json.loads(path.read_text()).get("physics") or {}).get("accuracy")
            if accuracy is not None:
                return float(accuracy)
    return None


def measure(run_dir: Path, model: str, config, features, scratch: Path) -> dict:
    """Run the firmware flow on one model of a run directory; returns its firmware record."""
    from pipeline.stages.firmware import build_one, load_network

    network, skipped = load_network(model, run_dir / "constrain" / model)
    if network is None:
        raise SystemExit(f"{model}: {skipped}")
    start = time.perf_counter()
    out_dir = scratch / model
    out_dir.mkdir(parents=True)
    record = build_one(
        network,
        features,
        out_dir,
        scratch / f"{model}_build",
        config,
        run_dir / "convert" / model / "hls4ml_prj",
    )
    record["wall_seconds"] = round(time.perf_counter() - start, 1)
    record["accuracy"] = _accuracy(run_dir, model)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--baseline", default="jet_dnn_q6_qap")
    parser.add_argument("--candidate", default="jet_dnn_q6_a2q_plus_qap")
    parser.add_argument("--float", dest="float_model", default="jet_dnn_float")
    parser.add_argument("--clock-period", type=float, default=5.0)
    parser.add_argument("--max-test-jets", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from pipeline.data.io import load_dataset
    from pipeline.stages.firmware import Config

    config = Config(clock_period_ns=args.clock_period, max_test_jets=args.max_test_jets, vendor=False)
    features = load_dataset(args.run_dir / "data").x_test[: args.max_test_jets]
    with tempfile.TemporaryDirectory() as scratch:
        records = {
            model: measure(args.run_dir, model, config, features, Path(scratch))
            for model in (args.baseline, args.candidate)
        }
    print(
        f"{'model':32s} {'cycles':>6s} {'ns':>6s} {'LUT':>8s} {'FF':>7s} {'acc':>7s} {'exact':>6s} {'s':>6s}"
    )
    for model, record in records.items():
        design, synthesis = record["design"], record["synthesis"]
        accuracy = "-" if record["accuracy"] is None else f"{100 * record['accuracy']:.2f}"
        print(
            f"{model:32s} {design['cycles']:6d} {design['latency_ns']:6.1f} {synthesis['luts']:8d} "
            f"{synthesis['flip_flops']:7d} {accuracy:>7s} {record['bit_exact']['bit_exact']!s:>6s} "
            f"{record['wall_seconds']:6.0f}"
        )
    base, cand = records[args.baseline], records[args.candidate]
    ratio = base["synthesis"]["luts"] / max(cand["synthesis"]["luts"], 1)
    float_accuracy = _accuracy(args.run_dir, args.float_model)
    goals = {
        "lut_ratio": round(ratio, 2),
        "lut_ratio_goal_met": ratio >= 4.0,
        "latency_goal_met": cand["design"]["latency_ns"] <= 25.0 and args.clock_period <= 5.0,
        "float_accuracy": float_accuracy,
        "accuracy_goal_met": None
        if float_accuracy is None or cand["accuracy"] is None
        else (float_accuracy - cand["accuracy"]) <= 0.01,
    }
    print(json.dumps(goals, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"models": records, "goals": goals}, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
