"""Benchmark: learned precision (ours, QKeras) against HGQ (peer) on the same split, same firmware flow.

Usage::

    NUMBA_CACHE_DIR=... python benchmarks/bench_peer_hgq.py --data-dir runs/default/data \
        [--ours-betas 3e-7 1e-6 3e-6] [--hgq-betas 3e-6 3e-5] [--epochs 12] [--hgq-epochs 6] \
        [--prune-epochs 6] [--rtl] [--yosys] [--json benchmarks/results/peer_hgq.json]

Per beta: train (ours: learned-precision QKeras, frozen, then 75 % QAP; HGQ: HQuantize + HDense with its
own EBOPs term, proxy model after ``trace_minmax``), accuracy of the deployed integer model on the test
split (ours: :mod:`pipeline.deploy.emulator`; HGQ: the exact proxy emulator, checked against HGQ's
proxy on every test jet), and LUTs: da4ml's cost estimate of the traced RTL. With ``--rtl`` the best
point of each (highest accuracy with <= the baseline's LUTs / 4, else the most accurate) is written as
Verilog and simulated with Verilator against the emulator; ``--yosys`` synthesizes it. Results are
written after every point (an interrupted run leaves a file); the figure goes next to the JSON.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLOCK_NS = 5.0
BASELINE_LUTS = 20353  # jet_dnn_q6_qap, Yosys, default run (benchmarks/results/firmware_default_run.json)


def ours_point(dataset, beta: float, epochs: int, prune_epochs: int, seed: int) -> tuple[dict, object]:
    """Train, freeze and prune our learned-precision model at ``beta``; returns (record, network)."""
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.build import build_model
    from pipeline.models.learned import freeze, learned_widths
    from pipeline.models.pruning import prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit
    from pipeline.rtl.trace import trace_network

    spec = load_spec(REPO / "models" / "jet_dnn_learned.yaml")
    spec = spec.model_copy(update={"precision": spec.precision.model_copy(update={"beta": beta})})
    start = time.perf_counter()
    model = build_model(spec, seed)
    fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=256,
        learning_rate=spec.training.learning_rate,
        patience=None,
        seed=seed,
    )
    widths = learned_widths(model, spec)
    frozen, fixed = freeze(model, spec)
    if prune_epochs > 0:
        frozen, _ = prune_model(frozen, fixed, dataset, seed=seed, batch_size=256, epochs=prune_epochs)
    train_seconds = time.perf_counter() - start
    network = integer_network_from_qkeras(frozen)
    logits = emulate(network, dataset.x_test).logits_raw
    start = time.perf_counter()
    traced = trace_network(network, CLOCK_NS)
    record = {
        "model": "ours",
        "beta": beta,
        "accuracy": float(np.mean(logits.argmax(1) == dataset.y_test)),
        "da4ml_lut_estimate": float(traced.comb.cost),
        "train_seconds": round(train_seconds, 1),
        "trace_seconds": round(time.perf_counter() - start, 1),
        "learned_precision": widths,
        "frozen_input": fixed.input_quantizer.model_dump(),
    }
    return record, (network, traced)


def hgq_point(dataset, beta: float, epochs: int, seed: int) -> tuple[dict, object]:
    """Train HGQ at ``beta``; accuracy from the exact emulator (checked against HGQ's proxy)."""
    from pipeline.peers import hgq

    start = time.perf_counter()
    model, proxy, _ = hgq.train_hgq(
        dataset, beta, epochs=epochs, batch_size=256, learning_rate=3e-3, seed=seed
    )
    train_seconds = time.perf_counter() - start
    network = hgq.read_proxy(proxy)
    emulated = hgq.emulate(network, dataset.x_test)
    proxied = proxy.predict(dataset.x_test, verbose=0, batch_size=4096).astype(np.float64)
    start = time.perf_counter()
    traced = hgq.trace(network, CLOCK_NS)
    record = {
        "model": "hgq",
        "beta": beta,
        "accuracy": float(np.mean(emulated.argmax(1) == dataset.y_test)),
        "emulator_vs_proxy_mismatched_jets": int((emulated != proxied).any(axis=1).sum()),
        "ebops": hgq.ebops(model),
        "da4ml_lut_estimate": float(traced.comb.cost),
        "train_seconds": round(train_seconds, 1),
        "trace_seconds": round(time.perf_counter() - start, 1),
        "input_bits": network.input_quantizer.bits.tolist(),
    }
    return record, (network, traced)


def rtl_check(kind: str, payload, dataset, work: Path, yosys: bool) -> dict:
    """Verilog (da4ml) -> Verilator against the emulator on the test jets (and Yosys)."""
    from pipeline.rtl.design import check_bit_exact, compile_design, simulate_raw, write_design
    from pipeline.rtl.yosys import synthesize

    network, traced = payload
    start = time.perf_counter()
    design = write_design(traced, work / "rtl", CLOCK_NS, "xcvu13p-flga2577-2-e")
    simulator = compile_design(design, work / "build")
    if kind == "ours":
        report = check_bit_exact(simulator, network, dataset.x_test).to_dict()
    else:
        from pipeline.peers import hgq

        x_raw, fractional = hgq.input_raw(network, dataset.x_test)
        expected = hgq.emulate(network, dataset.x_test) * 2.0**traced.output_fractional_bits
        rtl = simulate_raw(simulator, x_raw, fractional, traced.output_fractional_bits)
        different = rtl != np.round(expected).astype(np.int64)
        report = {
            "samples": len(x_raw),
            "mismatched_samples": int(different.any(axis=1).sum()),
            "mismatched_values": int(different.sum()),
        }
    result = {
        "verilator": report,
        "cycles": design.cycles,
        "latency_ns": design.latency_ns,
        "rtl_seconds": round(time.perf_counter() - start, 1),
    }
    if yosys:
        start = time.perf_counter()
        result["yosys"] = synthesize(design.rtl_dir, design.top, work / "yosys").to_dict()
        result["yosys_seconds"] = round(time.perf_counter() - start, 1)
    return result


def choose(points: list[dict]) -> dict:
    """Most accurate point within BASELINE_LUTS / 4 (da4ml estimate), else the most accurate."""
    small = [p for p in points if p["da4ml_lut_estimate"] <= BASELINE_LUTS / 4]
    return max(small or points, key=lambda p: p["accuracy"])


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for kind, marker in (("ours", "o"), ("hgq", "s")):
        points = sorted(
            (p for p in results["points"] if p["model"] == kind), key=lambda p: p["da4ml_lut_estimate"]
        )
        if points:
            axis.plot(
                [p["da4ml_lut_estimate"] for p in points],
                [100 * p["accuracy"] for p in points],
                marker=marker,
                label={"ours": "ours (learned QKeras)", "hgq": "HGQ 0.2.6"}[kind],
            )
    axis.axvline(BASELINE_LUTS, color="grey", linestyle="--", label="jet_dnn_q6_qap (Yosys)")
    axis.axvline(BASELINE_LUTS / 4, color="grey", linestyle=":", label="baseline / 4")
    axis.set_xlabel("LUTs (da4ml estimate)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("accuracy vs LUTs, beta sweep")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def combine(paths: list[Path], out: Path) -> int:
    """One table and figure from several runs of this benchmark (same data, same settings)."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    merged = {
        "sources": [
            {
                "file": str(path),
                "command": part["command"],
                "settings": part["settings"],
                "cpu_seconds": part.get("cpu_seconds"),
            }
            for path, part in zip(paths, parts, strict=True)
        ],
        "data": parts[0]["data"],
        "baseline": parts[0]["baseline"],
        "float_accuracy": parts[0]["float_accuracy"],
        "points": [point for part in parts for point in part["points"]],
        "rtl": {kind: record for part in parts for kind, record in part.get("rtl", {}).items()},
        "cpu_seconds": round(sum(part.get("cpu_seconds") or 0 for part in parts), 1),
    }
    if any(part["data"] != merged["data"] for part in parts):
        raise SystemExit("the result files were made on different data splits")
    out.write_text(json.dumps(merged, indent=2) + "\n")
    plot(merged, out.with_suffix(".png"))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="*",
        default=None,
        help="merge the points of these result files (runs on the same data) into --json and plot them",
    )
    parser.add_argument("--ours-betas", type=float, nargs="*", default=[3e-7, 1e-6, 3e-6])
    parser.add_argument("--hgq-betas", type=float, nargs="*", default=[3e-6, 3e-5])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--hgq-epochs", type=int, default=6)
    parser.add_argument("--prune-epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--rtl", action="store_true")
    parser.add_argument("--yosys", action="store_true")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "peer_hgq.json")
    args = parser.parse_args()
    if args.combine:
        return combine(args.combine, args.json)
    if args.data_dir is None:
        parser.error("--data-dir is required")

    from pipeline.data.io import load_dataset
    from pipeline.models.training import configure_determinism

    configure_determinism(args.seed)
    dataset = load_dataset(args.data_dir)
    started = time.perf_counter()
    results = {
        "command": "python " + " ".join(sys.argv),
        "data": {"train": len(dataset.y_train), "val": len(dataset.y_val), "test": len(dataset.y_test)},
        "baseline": {
            "model": "jet_dnn_q6_qap",
            "yosys_luts": BASELINE_LUTS,
            "source": "benchmarks/results/firmware_default_run.json",
        },
        "float_accuracy": 0.7339,
        "settings": {
            "epochs": args.epochs,
            "hgq_epochs": args.hgq_epochs,
            "prune_epochs": args.prune_epochs,
            "batch_size": 256,
            "seed": args.seed,
            "clock_ns": CLOCK_NS,
        },
        "points": [],
        "rtl": {},
    }
    payloads = {}

    def save() -> None:
        results["cpu_seconds"] = round(time.process_time(), 1)
        results["wall_seconds"] = round(time.perf_counter() - started, 1)
        args.json.write_text(json.dumps(results, indent=2) + "\n")

    ours = [("ours", beta) for beta in args.ours_betas]
    peer = [("hgq", beta) for beta in args.hgq_betas]
    jobs = [job for pair in zip(ours, peer, strict=False) for job in pair]  # one of each first
    jobs += ours[len(peer) :] + peer[len(ours) :]
    for kind, beta in jobs:
        try:
            if kind == "ours":
                record, payload = ours_point(dataset, beta, args.epochs, args.prune_epochs, args.seed)
            else:
                record, payload = hgq_point(dataset, beta, args.hgq_epochs, args.seed)
        except Exception as error:  # record and go on: one failed point must not lose the others
            results.setdefault("failed", []).append({"model": kind, "beta": beta, "error": repr(error)})
            save()
            continue
        payloads[(kind, beta)] = payload
        results["points"].append(record)
        print(json.dumps({k: v for k, v in record.items() if k != "learned_precision"}), flush=True)
        save()
    plot(results, args.json.with_suffix(".png"))
    if args.rtl:
        for kind in ("ours", "hgq"):
            points = [p for p in results["points"] if p["model"] == kind]
            if not points:
                continue
            best = choose(points)
            try:
                with tempfile.TemporaryDirectory() as scratch:
                    record = rtl_check(
                        kind, payloads[(kind, best["beta"])], dataset, Path(scratch), args.yosys
                    )
            except Exception as error:
                record = {"error": repr(error)}
            results["rtl"][kind] = {"beta": best["beta"], "accuracy": best["accuracy"], **record}
            print(kind, json.dumps(results["rtl"][kind]), flush=True)
            save()
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
