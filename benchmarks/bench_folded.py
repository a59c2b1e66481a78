"""Benchmark: LUT + FF + CARRY and cycles of the folded architecture versus the hidden-layer accumulator
width P, for three accumulator choices, with the accuracy of the equally fine-tuned arms (issue 11).

Usage::

    PYTHONPATH=$PWD python benchmarks/folded_training.py --seed 0 --out /tmp/folded/seed0.pkl
    PYTHONPATH=$PWD python benchmarks/bench_folded.py --networks /tmp/folded/seed0.pkl \
        [--reuse-factor 16] [--json benchmarks/results/folded_accumulators.json]

The networks are ``bench_a2q.py``'s A2Q+ arm (same spec, seed, epochs: ``folded_training.py`` reruns
its protocol for one seed and reproduces its seed-0 accuracies exactly): hidden layers constrained to
P bits, the input layer unconstrained. For each P the same network (the same weight ROMs) is folded
(:mod:`pipeline.rtl.folded`, reuse factor 16) with three accumulator choices, so the accumulator width
is the only difference between the designs:

* ``32_bits``: 32-bit accumulators everywhere (the A2Q papers' baseline);
* ``hls4ml_auto``: hls4ml's automatic width everywhere (the data-type bound of the ROM width M,
  :func:`pipeline.rtl.folded.hls4ml_accumulator_bits`);
* ``a2q_p``: P bits on the hidden layers (A2Q+ guarantees no overflow), hls4ml's automatic width on
  the unconstrained input layer.

Each design is simulated with Verilator on the test jets against the integer emulator with the same
P-bit wrap-around accumulators (0 mismatches required, the measured latency recorded) and synthesized
with Yosys ``synth_xilinx -nodsp -nowidelut`` (multipliers and accumulators in LUTs, as in FINN's
LUT-based matrix-vector unit; weight ROMs in block RAM, identical in every arm). The cost is split
into multipliers, accumulators (the only part P changes) and the rest
(:func:`pipeline.rtl.folded.cost_breakdown`). Accuracy: ``benchmarks/results/a2q_sample.json`` (3
seeds, the same fine-tuning epochs per arm). The JSON is rewritten after every design.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CHOICES = {"32_bits": 32, "hls4ml_auto": "hls4ml_auto", "a2q_p": "a2q_p"}
SYNTH_OPTIONS = ("-nodsp", "-nowidelut")


_SYNTHESIS_CACHE: dict = {}


def synthesis_key(verilog: str) -> str:
    """Hash of the Verilog without the ROM contents and the bias constants: neither can change the
    synthesized LUT/FF/CARRY counts (the ROMs are block RAM, each bias a constant on a port of a kept
    neuron module), so designs that differ only there are synthesized once."""
    import hashlib
    import re

    text = re.sub(r"_mem\[\d+\] = [^;]*;", "", verilog)
    text = re.sub(r"\.bias\([^)]*\)", "", text)
    return hashlib.sha256(text.encode()).hexdigest()


SYNTHESIS_FIGURES = (
    "cycles",
    "initiation_interval_cycles",
    "luts",
    "flip_flops",
    "luts_plus_flip_flops",
    "carry",
    "brams",
    "bram_cells",
    "dsps",
    "breakdown",
    "modules",
    "yosys_seconds",
)


def seed_cache(record: dict, network, reuse_factor: int) -> None:
    """Put a resumed design's synthesis figures into the cache under its netlist's key."""
    from pipeline.rtl.folded import TOP, plan_folded
    from pipeline.rtl.folded_verilog import render_network

    key = synthesis_key(render_network(plan_folded(network, reuse_factor), TOP))
    record["synthesis_key"] = key
    _SYNTHESIS_CACHE.setdefault(key, {name: record[name] for name in SYNTHESIS_FIGURES})


def measure_design(network, features, scratch: Path, reuse_factor: int, family: str, verilate: bool) -> dict:
    """Fold, simulate (``features``) and synthesize one network; returns its figures."""
    from pipeline.rtl.folded import TOP, cost_breakdown, module_costs, plan_folded, write_folded
    from pipeline.rtl.folded_sim import build_folded_simulator, check_folded_bit_exact
    from pipeline.rtl.yosys import synthesize

    plan = plan_folded(network, reuse_factor)
    write_folded(plan, scratch / "rtl")
    record: dict = {
        "plan": plan.summary(),
        "accumulator_bits": [layer.accumulator_bits for layer in plan.layers],
    }
    if verilate:
        start = time.perf_counter()
        simulator = build_folded_simulator(
            plan, scratch / "rtl", scratch / "build", scratch.parent / "runtime"
        )
        report, run = check_folded_bit_exact(simulator, network, features)
        record["bit_exact"] = report.to_dict()
        record["measured_latency_cycles"] = run.latency_cycles
        record["verilator_seconds"] = round(time.perf_counter() - start, 1)
    record["synthesis_key"] = synthesis_key((scratch / "rtl" / "src" / f"{TOP}.v").read_text())
    if record["synthesis_key"] in _SYNTHESIS_CACHE:
        record.update(_SYNTHESIS_CACHE[record["synthesis_key"]])
        record["synthesis_reused_from_identical_netlist"] = True
        return record
    synthesis = synthesize(scratch / "rtl", TOP, scratch / "yosys", family, SYNTH_OPTIONS)
    figures = {
        "cycles": plan.latency_cycles,
        "initiation_interval_cycles": plan.initiation_interval,
        "luts": synthesis.luts,
        "flip_flops": synthesis.flip_flops,
        "luts_plus_flip_flops": synthesis.luts + synthesis.flip_flops,
        "carry": synthesis.carry,
        "brams": synthesis.brams,
        "bram_cells": {name: count for name, count in synthesis.cells.items() if name.startswith("RAMB")},
        "dsps": synthesis.dsps,
        "breakdown": cost_breakdown((scratch / "yosys" / "stat.txt").read_text()),
        "modules": module_costs((scratch / "yosys" / "stat.txt").read_text()),
        "yosys_seconds": round(synthesis.seconds, 1),
    }
    _SYNTHESIS_CACHE[record["synthesis_key"]] = figures
    record.update(figures)
    return record


def accuracy_points(path: Path) -> dict:
    """Per hidden P label: mean/std accuracy of the A2Q+ and unconstrained arms (``a2q_sample.json``)."""
    summary = json.loads(path.read_text())["summary"]["points"]
    points: dict = {}
    for point in summary:
        if point["sweep"] == "hidden":
            points.setdefault(point["bits"], {})[point["arm"]] = {
                "mean": point["accuracy_mean"],
                "std": point["accuracy_std"],
                "n_seeds": point["n_seeds"],
            }
    return points


def _cost(design: dict, part: str | None = None) -> int:
    """LUT + FF of a design, or of one part of its :func:`cost_breakdown`."""
    if part is None:
        return design["luts_plus_flip_flops"]
    return design["breakdown"][part]["luts_plus_flip_flops"]


def operating_point_details(designs: dict) -> dict:
    """What the LUT + FF of the three designs at one P consist of (from the per-module costs): the
    hidden layers' neurons (the only A2Q+-constrained accumulators), the input layer's neurons, the
    multipliers (the same Verilog in every arm: their spread is ABC's), and the best ratio any
    accumulator could give (accumulators costing nothing)."""

    def neurons(design: dict, hidden: bool) -> int:
        return sum(
            figures["luts"] + figures["flip_flops"]
            for name, figures in design["modules"].items()
            if name.endswith("_neuron") and (name.split("_")[-2] != "layer1") == hidden
        )

    ours = designs["a2q_p"]
    without_accumulators = _cost(ours) - _cost(ours, "accumulators")
    details = {
        "hidden_layer_neurons": {label: neurons(design, True) for label, design in designs.items()},
        "input_layer_neurons": {label: neurons(design, False) for label, design in designs.items()},
        "multipliers": {label: _cost(design, "multipliers") for label, design in designs.items()},
        "rest": {label: _cost(design, "rest") for label, design in designs.items()},
        "a2q_p_luts_plus_flip_flops_without_accumulators": without_accumulators,
    }
    for label in ("32_bits", "hls4ml_auto"):
        details[f"hidden_layer_neurons_{label}_over_a2q_p"] = round(
            details["hidden_layer_neurons"][label] / details["hidden_layer_neurons"]["a2q_p"], 3
        )
        details[f"ceiling_{label}_over_free_accumulators"] = round(
            _cost(designs[label]) / without_accumulators, 3
        )
    return details


def summarize(results: dict) -> None:
    """Ratios per P and the issue's goals at the narrowest P within 0.5 points of the unconstrained arm."""
    reference = results["accuracy_3_seeds"]["data_type"]["unconstrained"]["mean"]
    rows = []
    for bits, designs in sorted(results["designs"].items(), key=lambda item: int(item[0])):
        if len(designs) < 3:
            continue
        ours = designs["a2q_p"]
        row = {"hidden_bits": int(bits)}
        for label in ("32_bits", "hls4ml_auto"):
            theirs = designs[label]
            row[f"total_{label}_over_a2q_p"] = round(
                theirs["luts_plus_flip_flops"] / ours["luts_plus_flip_flops"], 3
            )
            outside = {
                name: _cost(design) - _cost(design, "multipliers")
                for name, design in (("theirs", theirs), ("ours", ours))
            }
            row[f"outside_multipliers_{label}_over_a2q_p"] = round(outside["theirs"] / outside["ours"], 3)
            row[f"accumulators_{label}_over_a2q_p"] = round(
                theirs["breakdown"]["accumulators"]["luts_plus_flip_flops"]
                / ours["breakdown"]["accumulators"]["luts_plus_flip_flops"],
                3,
            )
        row["accumulator_share_of_luts_plus_flip_flops"] = {
            label: round(_cost(design, "accumulators") / _cost(design), 3)
            for label, design in designs.items()
        }
        row["multiplier_share_of_luts_plus_flip_flops"] = round(
            ours["breakdown"]["multipliers"]["luts_plus_flip_flops"] / ours["luts_plus_flip_flops"], 3
        )
        accuracy = results["accuracy_3_seeds"].get(str(bits), {}).get("a2q_plus")
        row["a2q_plus_accuracy_mean"] = accuracy["mean"] if accuracy else None
        row["points_below_unconstrained"] = (
            round(100 * (reference - accuracy["mean"]), 2) if accuracy else None
        )
        rows.append(row)
    results["ratios"] = rows
    flat = results.get("flat_check", {}).get("designs", {})
    if "a2q_p" in flat:
        results["flat_check"]["ratios_over_a2q_p"] = {
            label: round(design["luts_plus_flip_flops"] / flat["a2q_p"]["luts_plus_flip_flops"], 3)
            for label, design in flat.items()
        }
        hierarchical = results["designs"][str(results["flat_check"]["hidden_bits"])]
        results["flat_check"]["flat_over_hierarchical"] = {
            label: round(design["luts_plus_flip_flops"] / hierarchical[label]["luts_plus_flip_flops"], 3)
            for label, design in flat.items()
        }
    eligible = [row for row in rows if row["points_below_unconstrained"] is not None]
    eligible = [row for row in eligible if row["points_below_unconstrained"] <= 0.5]
    if not eligible:
        results["goals"] = {
            "met": False,
            "reason": "no measured P within 0.5 points of the unconstrained arm",
        }
        return
    best = min(eligible, key=lambda row: row["hidden_bits"])
    results["goals"] = {
        "unconstrained_reference": "a2q_sample.json hidden sweep, unconstrained arm at the data-type bound",
        "unconstrained_accuracy_mean": reference,
        "operating_point_hidden_bits": best["hidden_bits"],
        "points_below_unconstrained": best["points_below_unconstrained"],
        "luts_plus_flip_flops_32_bits_over_a2q_p": best["total_32_bits_over_a2q_p"],
        "luts_plus_flip_flops_hls4ml_auto_over_a2q_p": best["total_hls4ml_auto_over_a2q_p"],
        "outside_multipliers_32_bits_over_a2q_p": best["outside_multipliers_32_bits_over_a2q_p"],
        "outside_multipliers_hls4ml_auto_over_a2q_p": best["outside_multipliers_hls4ml_auto_over_a2q_p"],
        "accumulators_32_bits_over_a2q_p": best["accumulators_32_bits_over_a2q_p"],
        "accumulators_hls4ml_auto_over_a2q_p": best["accumulators_hls4ml_auto_over_a2q_p"],
        "at_the_operating_point": operating_point_details(results["designs"][str(best["hidden_bits"])]),
        "at_least_1_5x_vs_32_bits": best["total_32_bits_over_a2q_p"] >= 1.5,
        "at_least_1_2x_vs_hls4ml_auto": best["total_hls4ml_auto_over_a2q_p"] >= 1.2,
    }


def markdown_table(results: dict) -> str:
    """The README table: per hidden P, A2Q+ accuracy (3 seeds) and LUT + FF (LUT / FF / CARRY) per choice."""
    lines = [
        "| hidden P | A2Q+ accuracy (3 seeds) | 32-bit | hls4ml automatic | A2Q+ at P | 32-bit / A2Q+ |"
        " automatic / A2Q+ | accumulators only: 32-bit / A2Q+, automatic / A2Q+ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ratios = {row["hidden_bits"]: row for row in results.get("ratios", [])}
    for bits, designs in sorted(results["designs"].items(), key=lambda item: int(item[0])):
        if int(bits) not in ratios:
            continue
        row = ratios[int(bits)]
        accuracy = results["accuracy_3_seeds"][bits]["a2q_plus"]
        cells = []
        for design in (designs["32_bits"], designs["hls4ml_auto"], designs["a2q_p"]):
            detail = f"{design['luts']:,} / {design['flip_flops']:,} / {design['carry']:,}"
            cells.append(f"{design['luts_plus_flip_flops']:,} ({detail})")
        lines.append(
            f"| {bits} | {100 * accuracy['mean']:.1f} +- {100 * (accuracy['std'] or 0):.1f} % | "
            + " | ".join(cells)
            + f" | {row['total_32_bits_over_a2q_p']:.2f}x | {row['total_hls4ml_auto_over_a2q_p']:.2f}x |"
            f" {row['accumulators_32_bits_over_a2q_p']:.2f}x,"
            f" {row['accumulators_hls4ml_auto_over_a2q_p']:.2f}x |"
        )
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    """LUT + FF vs hidden P per accumulator choice (solid: total, dashed: accumulators only), and the
    3-seed A2Q+ accuracy on a second axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(results["designs"].items(), key=lambda item: int(item[0]))
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for label, color in (("32_bits", "tab:red"), ("hls4ml_auto", "tab:orange"), ("a2q_p", "tab:blue")):
        points = [(int(bits), designs[label]) for bits, designs in rows if label in designs]
        xs = [bits for bits, _ in points]
        axis.plot(xs, [d["luts_plus_flip_flops"] / 1e3 for _, d in points], "o-", color=color, label=label)
        accumulators = [d["breakdown"]["accumulators"]["luts_plus_flip_flops"] / 1e3 for _, d in points]
        axis.plot(xs, accumulators, "s--", color=color, alpha=0.6, label=f"{label}: accumulators")
    axis.set_xlabel("hidden-layer accumulator width P (bits)")
    axis.set_ylabel("LUT + FF (thousands, Yosys)")
    axis.set_ylim(bottom=0)
    accuracy = results["accuracy_3_seeds"]
    xs = [int(bits) for bits, _ in rows if "a2q_plus" in accuracy.get(bits, {})]
    second = axis.twinx()
    second.errorbar(
        xs,
        [100 * accuracy[str(bits)]["a2q_plus"]["mean"] for bits in xs],
        yerr=[100 * (accuracy[str(bits)]["a2q_plus"]["std"] or 0) for bits in xs],
        fmt="k^:",
        label="A2Q+ accuracy (3 seeds)",
    )
    second.axhline(100 * accuracy["data_type"]["unconstrained"]["mean"], color="gray", lw=0.8)
    second.set_ylabel("test accuracy (%)")
    lines = axis.get_legend_handles_labels()
    extra = second.get_legend_handles_labels()
    axis.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=7, loc="center right")
    axis.set_title("Folded 16-64-32-32-5, reuse factor 16: LUT + FF vs accumulator width", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def flat_check(trained: dict, bits: int, labels: list[str], reuse_factor: int, family: str) -> dict:
    """Synthesize designs at hidden P = ``bits`` flat (``keep_hierarchy`` removed: Yosys may optimize
    across the multiplier and neuron modules) to compare with the hierarchical figures."""
    from pipeline.rtl.folded import TOP, plan_folded, with_accumulators, write_folded
    from pipeline.rtl.yosys import synthesize

    base = trained["networks"][bits]
    hidden = {layer.name: bits for layer in base.layers[1:]}
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        for label in labels:
            choice = hidden if CHOICES[label] == "a2q_p" else CHOICES[label]
            rtl = Path(scratch) / label / "rtl"
            source = write_folded(plan_folded(with_accumulators(base, choice), reuse_factor), rtl)
            source.write_text(source.read_text().replace("(* keep_hierarchy *)\n", ""))
            result = synthesize(rtl, TOP, Path(scratch) / label / "yosys", family, SYNTH_OPTIONS)
            figures[label] = {
                "luts": result.luts,
                "flip_flops": result.flip_flops,
                "luts_plus_flip_flops": result.luts + result.flip_flops,
                "carry": result.carry,
                "brams": result.brams,
                "yosys_seconds": round(result.seconds, 1),
            }
            print(f"flat P={bits} {label}: {figures[label]}", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=Path, help="pickle of folded_training.py")
    parser.add_argument("--hidden-bits", type=int, nargs="+", default=None)
    parser.add_argument("--reuse-factor", type=int, default=16)
    parser.add_argument("--family", default="xcup")
    parser.add_argument("--max-test-jets", type=int, default=None)
    parser.add_argument("--no-verilator", action="store_true", help="skip the bit-exact simulation")
    parser.add_argument("--accuracy", type=Path, default=Path("benchmarks/results/a2q_sample.json"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/folded_accumulators.json"))
    parser.add_argument("--resume", action="store_true", help="keep finished designs of --json")
    parser.add_argument("--flat-check", type=int, default=None, help="P: add flat syntheses to --json")
    parser.add_argument("--flat-labels", nargs="+", default=list(CHOICES))
    parser.add_argument("--plot", type=Path, default=None, help="only draw this PNG from --json")
    args = parser.parse_args()
    if args.plot:  # recompute the summary of a finished (or partial) run and draw it
        results = json.loads(args.json.read_text())
        summarize(results)
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        plot(results, args.plot)
        print(markdown_table(results))
        print(json.dumps(results.get("goals"), indent=2))
        return 0

    if args.flat_check is not None:
        results = json.loads(args.json.read_text())
        trained = pickle.loads(args.networks.read_bytes())
        flat = results.setdefault("flat_check", {"hidden_bits": args.flat_check, "designs": {}})
        for label in args.flat_labels:
            figures = flat_check(trained, args.flat_check, [label], args.reuse_factor, args.family)
            flat["designs"].update(figures)
            flat["command"] = "python benchmarks/bench_folded.py " + " ".join(sys.argv[1:])
            args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        return 0

    import numpy as np

    from pipeline.deploy.emulator import emulate
    from pipeline.rtl.folded import with_accumulators

    started = time.perf_counter()
    trained = pickle.loads(args.networks.read_bytes())
    features, labels = trained["x_test"][: args.max_test_jets], trained["y_test"][: args.max_test_jets]
    bits_list = args.hidden_bits or sorted(trained["networks"])
    results: dict = {
        "command": [
            "python benchmarks/folded_training.py --seed 0 --out seed0.pkl",
            "python benchmarks/bench_folded.py " + " ".join(sys.argv[1:]),
        ],
        "networks": "bench_a2q.py protocol, A2Q+ arm, seed 0 (folded_training.py)",
        "training_budget": trained["budget"],
        "seed": trained["seed"],
        "reuse_factor": args.reuse_factor,
        "family": args.family,
        "synthesis": "yosys 0.23 synth_xilinx -flatten " + " ".join(SYNTH_OPTIONS) + " (keep_hierarchy"
        " on the multiplier and neuron modules: each synthesized once per layer, counted per instance)",
        "rom_accounting": "weight ROMs as Verilog memories with rom_style=block, read synchronously: Yosys"
        " maps them to RAMB18E2/RAMB36E2 (bram_cells); no LUTs or FFs; the same ROMs in all three arms",
        "test_jets": len(features),
        "accuracy_3_seeds": accuracy_points(args.accuracy),
        "accuracy_seed_emulator": {},
        "designs": {},
    }
    previous = json.loads(args.json.read_text())["designs"] if args.resume and args.json.is_file() else {}
    with tempfile.TemporaryDirectory() as scratch:
        for bits in bits_list:
            base = trained["networks"][bits]
            hidden = {layer.name: bits for layer in base.layers[1:]}
            for label, choice in CHOICES.items():
                network = with_accumulators(base, hidden if choice == "a2q_p" else choice)
                widths = [layer.accumulator.bits for layer in network.layers]
                done = previous.get(str(bits), {}).get(label)
                if done is not None and done["accumulator_bits"] == widths:
                    results["designs"].setdefault(str(bits), {})[label] = done  # --resume
                    seed_cache(done, network, args.reuse_factor)
                    continue
                logits = emulate(network, features).logits_raw
                record = measure_design(
                    network,
                    features,
                    Path(scratch) / f"{bits}_{label}",
                    args.reuse_factor,
                    args.family,
                    not args.no_verilator,
                )
                record["accuracy_seed"] = float(np.mean(logits.argmax(1) == labels))
                results["designs"].setdefault(str(bits), {})[label] = record
                summarize(results)
                results["wall_seconds"] = round(time.perf_counter() - started, 1)
                args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
                print(
                    f"P={bits} {label}: acc bits {record['accumulator_bits']} LUT {record['luts']}"
                    f" FF {record['flip_flops']} CARRY {record['carry']} exact {record.get('bit_exact')}"
                    f" yosys {record['yosys_seconds']} s",
                    flush=True,
                )
    results["cpu_budget"] = {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "load_average": os.getloadavg(),
    }
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results.get("goals"), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
