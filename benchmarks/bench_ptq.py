"""Post-training quantization vs QAT, integer vs minifloat, accuracy vs FPGA cost per MAC.

For each seed: the float 16-64-32-32-5 MLP is trained (``jet_dnn_float``'s spec, the epoch cap below)
and, for every total width ``bits`` in 3..8 (weights, biases and activations; the input stays the
16-bit fixed point of the QAT specs):

* integer PTQ (:mod:`pipeline.ptq.mmse`): naive max-scaling, MMSE, MMSE + bias correction, MMSE + bias
  correction + power-of-two equalization, that + GPTQ rounding, that + format search on the output
  divergence (:mod:`pipeline.ptq.search`), and that + activation equalization
  (:mod:`pipeline.ptq.activation_equalization`); both of the last two with learned rounding
  (AdaRound on the network output, :mod:`pipeline.ptq.adaround`) from their GPTQ result;
* minifloat PTQ (:mod:`pipeline.ptq.minifloat_network`): every ExMy with E <= 4, with and without
  subnormals, MMSE scale + bias correction; the best per width chosen on the validation split;
* QAT at the same widths (``jet_dnn_q6``'s recipe at ``bits``), same epoch cap, same seeds.

Costs: every MAC unit (integer b x b, each ExMy with subnormals x its activation format) is generated
(:mod:`pipeline.ptq.mac_rtl`), checked in Verilator against the numpy model on every pair of codes
(0 mismatches required) and synthesized with Yosys (UltraScale+): LUTs per MAC. Formats without
subnormals are evaluated for accuracy only (their MAC differs by the subnormal decode mux); the
Pareto comparison uses the best format with subnormals.

Usage (results: ``benchmarks/results/ptq.json`` and ``ptq_pareto.png``)::

    python benchmarks/bench_ptq.py [--seeds 3] [--epochs 12] [--sample triggers_data/jets_pythia.h5]
        [--reuse-qat-and-costs OLD.json]   # PTQ arms only; QAT and MAC costs from OLD.json, after
                                           # every seed's float model reproduced OLD.json's accuracy

Learned rounding at the converged budget (``benchmarks/results/ptq_4bit.json``): the same command with
the two AdaRound arms, QAT accuracies and MAC costs reused from ``ptq_converged.json`` after every seed's
float model reproduced its float accuracy::

    python benchmarks/bench_ptq.py --bits 4 6 --spec-budget --batch-size-override 256 \
        --reuse-qat-and-costs benchmarks/results/ptq_converged.json --out benchmarks/results/ptq_4bit.json

Converged budget (``benchmarks/results/ptq_converged.json``): only the goal widths, float and QAT trained
with the ``training`` block of ``jet_dnn_float.yaml`` / ``jet_dnn_q6.yaml`` (epochs, batch size, learning
rate, patience) instead of ``--epochs``/``--batch-size``, the batch size replaced by 256 as in the default
run (``pipeline.yaml``: ``train: batch_size_override: 256``); MAC costs (independent of training) from
ptq.json::

    python benchmarks/bench_ptq.py --bits 4 6 --spec-budget --batch-size-override 256 \
        --costs-from benchmarks/results/ptq.json --out benchmarks/results/ptq_converged.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BITS = (3, 4, 5, 6, 7, 8)
INPUT_BITS = 16
MAX_EXPONENT_BITS = 4  # E >= 5 needs exact accumulators wider than 64 bits (and far more range than jets use)


def load_data(sample: Path, seed: int, scratch: Path):
    from pipeline.data.io import load_dataset
    from pipeline.stage_api import StageInputs
    from pipeline.stages import data

    inputs = StageInputs(
        output_dir=scratch / "data",
        upstream={},
        models=(),
        model_specs={},
        repo_root=REPO,
        seed=seed,
        quiet=True,
    )
    data.run(inputs, data.Config(sample=str(sample)))
    return load_dataset(scratch / "data")


def qat_spec(bits: int):
    from pipeline.models.spec import load_spec

    spec = load_spec(REPO / "models" / "jet_dnn_q6.yaml").model_dump(mode="json", exclude_unset=True)
    for key in ("weight", "bias", "activation"):
        spec["defaults"][key] = {"bits": bits, "integer_bits": 0}
    spec["name"] = f"jet_dnn_q{bits}"
    from pipeline.models.spec import parse_spec

    return parse_spec(spec, f"bench_ptq q{bits}")


def train(
    spec, dataset, seed: int, epochs: int, batch_size: int, learning_rate: float = 1e-3, patience: int = 5
):
    return train_with_history(spec, dataset, seed, epochs, batch_size, learning_rate, patience)[0]


def train_with_history(
    spec, dataset, seed: int, epochs: int, batch_size: int, learning_rate: float = 1e-3, patience: int = 5
) -> tuple:
    """The trained model and how training ended: epochs run and the epoch (1-based) whose weights were
    kept (lowest validation loss; early stopping restores it)."""
    from pipeline.models.build import build_model
    from pipeline.models.training import fit

    model = build_model(spec, seed)
    history = fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=patience,
        seed=seed,
    )
    ended = {
        "epochs_run": len(history["val_loss"]),
        "best_epoch": int(np.argmin(history["val_loss"])) + 1,
        "epoch_cap": epochs,
    }
    return model, ended


def training_budget(
    spec, spec_budget: bool, epochs: int, batch_size: int, batch_size_override: int | None = None
) -> dict:
    """Keyword arguments of :func:`train`: the spec's own ``training`` block (epochs cap, batch size,
    learning rate, early-stopping patience) when ``spec_budget``, its batch size replaced by
    ``batch_size_override`` when given (as ``train: batch_size_override`` in ``pipeline.yaml``); else the
    benchmark's epoch cap and batch size with the historical learning rate 1e-3 and patience 5."""
    if spec_budget:
        budget = spec.training.model_dump()
        if batch_size_override is not None:
            budget["batch_size"] = batch_size_override
        return budget
    return {"epochs": epochs, "batch_size": batch_size, "learning_rate": 1e-3, "patience": 5}


def _relative(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def ptq_rows(weights, dataset, calibration, bits: int) -> dict:
    """Every PTQ arm at one width: validation and test accuracy."""
    from pipeline.ptq.minifloat import MinifloatFormat
    from pipeline.ptq.minifloat_network import minifloat_quantize
    from pipeline.ptq.mmse import PTQSettings, forward
    from pipeline.ptq.search import calibrate

    rows = {}
    arms = {
        "int_max": {"method": "max", "bias_correction": False},
        "int_mmse": {"method": "mmse", "bias_correction": False},
        "int_mmse_bc": {"method": "mmse", "bias_correction": True},
        "int_mmse_bc_eq": {"method": "mmse", "bias_correction": True, "equalization": True},
        "int_mmse_bc_eq_gptq": {
            "method": "mmse",
            "bias_correction": True,
            "equalization": True,
            "rounding": "gptq",
        },
        "int_mmse_bc_eq_gptq_search": {
            "method": "mmse",
            "bias_correction": True,
            "equalization": True,
            "rounding": "gptq",
            "format_search": True,
        },
        "int_mmse_bc_eq_aeq_gptq_search": {
            "method": "mmse",
            "bias_correction": True,
            "equalization": True,
            "activation_equalization": True,
            "rounding": "gptq",
            "format_search": True,
        },
        "int_mmse_bc_eq_search_adaround": {
            "method": "mmse",
            "bias_correction": True,
            "equalization": True,
            "rounding": "adaround",
            "format_search": True,
        },
        "int_mmse_bc_eq_aeq_search_adaround": {
            "method": "mmse",
            "bias_correction": True,
            "equalization": True,
            "activation_equalization": True,
            "rounding": "adaround",
            "format_search": True,
        },
    }
    for arm, options in arms.items():
        settings = PTQSettings(INPUT_BITS, bits, bits, bits, **options)
        result = calibrate(weights, calibration, settings)
        rows[arm] = {
            "val": accuracy(forward(result, dataset.x_val), dataset.y_val),
            "test": accuracy(forward(result, dataset.x_test), dataset.y_test),
        }
    for exponent in range(1, min(MAX_EXPONENT_BITS, bits - 1) + 1):
        for subnormals in (True, False):
            fmt = MinifloatFormat(exponent, bits - 1 - exponent, subnormals=subnormals)
            network = minifloat_quantize(weights, calibration, fmt, input_bits=INPUT_BITS, bias_bits=bits)
            rows[f"mf_{fmt.name}"] = {
                "val": accuracy(network.logits(dataset.x_val), dataset.y_val),
                "test": accuracy(network.logits(dataset.x_test), dataset.y_test),
            }
    return rows


def mac_costs(work: Path) -> dict:
    """LUT / CARRY / FF per MAC for every unit, all checked in Verilator first (one build)."""
    from pipeline.ptq.mac_rtl import IntegerOperand, MacUnit
    from pipeline.ptq.mac_sim import check_macs, synthesize_mac
    from pipeline.ptq.minifloat import MinifloatFormat
    from pipeline.ptq.minifloat_network import activation_format

    units = {}
    for bits in BITS:
        units[f"{bits}:int{bits}"] = MacUnit(IntegerOperand(bits, True), IntegerOperand(bits, False))
        for exponent in range(1, min(MAX_EXPONENT_BITS, bits - 1) + 1):
            fmt = MinifloatFormat(exponent, bits - 1 - exponent)
            units[f"{bits}:mf_{fmt.name}"] = MacUnit(fmt, activation_format(fmt))
    checks = check_macs(list(units.values()), work / "sim")
    costs = {}
    for (key, unit), check in zip(units.items(), checks, strict=True):
        if check.mismatches:
            raise RuntimeError(f"{unit.name}: {check.mismatches} of {check.pairs} Verilator mismatches")
        synthesis = synthesize_mac(unit, work / unit.name / "synth")
        costs[key] = {
            "unit": unit.name,
            "accumulator_bits": unit.accumulator_bits,
            "verilator_pairs_checked": check.pairs,
            "verilator_mismatches": check.mismatches,
            "luts": synthesis.luts,
            "carry": synthesis.carry,
            "flip_flops": synthesis.flip_flops,
        }
        print(f"  MAC {unit.name}: {synthesis.luts} LUT, {synthesis.carry} CARRY", flush=True)
    return costs


def pareto(points: list[dict]) -> list[dict]:
    """Points not dominated in (accuracy up, LUTs per MAC down)."""
    front = []
    for point in points:
        dominated = any(
            other["accuracy"] >= point["accuracy"]
            and other["luts"] <= point["luts"]
            and (other["accuracy"] > point["accuracy"] or other["luts"] < point["luts"])
            for other in points
        )
        if not dominated:
            front.append(point)
    return sorted(front, key=lambda point: point["luts"])


def _mean_std(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def summarise(per_seed: list[dict], costs: dict, bits_list: tuple[int, ...] = BITS) -> dict:
    """Means over seeds; best minifloat / integer PTQ arm per width (by mean validation accuracy over the
    seeds); the Pareto front; the issue's goals (needs widths 4 and 6), as mean/std and per seed."""
    float_test = _mean_std([run["float"]["test"] for run in per_seed])
    table, points = {}, []
    for bits in bits_list:
        key = str(bits)
        arms = per_seed[0]["ptq"][key].keys()
        row = {arm: _mean_std([run["ptq"][key][arm]["test"] for run in per_seed]) for arm in arms}
        row["qat"] = _mean_std([run["qat"][key]["test"] for run in per_seed])
        minifloats = [arm for arm in arms if arm.startswith("mf_") and not arm.endswith("nosub")]
        best_mf = max(minifloats, key=lambda arm: np.mean([run["ptq"][key][arm]["val"] for run in per_seed]))
        best_int = max(
            (arm for arm in arms if arm.startswith("int_")),
            key=lambda arm: np.mean([run["ptq"][key][arm]["val"] for run in per_seed]),
        )
        int_cost, mf_cost = costs[f"{bits}:int{bits}"]["luts"], costs[f"{bits}:{best_mf}"]["luts"]
        row["best_minifloat"], row["best_integer_ptq"] = best_mf, best_int
        flushing = [arm for arm in arms if arm.endswith("nosub")]
        row["best_minifloat_without_subnormals"] = max(
            flushing, key=lambda arm: np.mean([run["ptq"][key][arm]["val"] for run in per_seed])
        )
        for arm, luts in ((best_int, int_cost), (best_mf, mf_cost), ("qat", int_cost)):
            points.append({"bits": bits, "arm": arm, "accuracy": row[arm]["mean"], "luts": luts})
        integer_wins = row[best_int]["mean"] >= row[best_mf]["mean"] and int_cost <= mf_cost
        minifloat_wins = row[best_mf]["mean"] >= row[best_int]["mean"] and mf_cost <= int_cost
        row["ptq_pareto_optimal_format"] = (
            "integer" if integer_wins else "minifloat" if minifloat_wins else "neither dominates"
        )
        table[key] = row
    best6, best4 = table["6"]["best_integer_ptq"], table["4"]["best_integer_ptq"]
    goals = {
        "best_integer_ptq_6bit": best6,
        "best_integer_ptq_4bit": best4,
        "mmse_6bit_minus_qat_6bit_points": 100 * (table["6"][best6]["mean"] - table["6"]["qat"]["mean"]),
        "mmse_4bit_minus_float_points": 100 * (table["4"][best4]["mean"] - float_test["mean"]),
    }
    goals["met_6bit_within_0.5_of_qat"] = goals["mmse_6bit_minus_qat_6bit_points"] >= -0.5
    goals["met_4bit_within_2_of_float"] = goals["mmse_4bit_minus_float_points"] >= -2.0
    goals["per_seed"] = [
        {
            "seed": run["seed"],
            "mmse_6bit_minus_qat_6bit_points": 100
            * (run["ptq"]["6"][best6]["test"] - run["qat"]["6"]["test"]),
            "mmse_4bit_minus_float_points": 100 * (run["ptq"]["4"][best4]["test"] - run["float"]["test"]),
        }
        for run in per_seed
    ]
    for key in ("mmse_6bit_minus_qat_6bit_points", "mmse_4bit_minus_float_points"):
        goals[f"{key}_std"] = float(np.std([row[key] for row in goals["per_seed"]]))
    return {
        "float": float_test,
        "by_bits": table,
        "pareto_front": pareto(points),
        "points": points,
        "goals": goals,
    }


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for kind, marker in (("int_", "o"), ("mf_", "s"), ("qat", "^")):
        chosen = [point for point in summary["points"] if point["arm"].startswith(kind)]
        label = {"int_": "integer PTQ", "mf_": "minifloat PTQ", "qat": "integer QAT"}[kind]
        axis.scatter(
            [p["luts"] for p in chosen], [100 * p["accuracy"] for p in chosen], marker=marker, label=label
        )
        for point in chosen:
            axis.annotate(str(point["bits"]), (point["luts"], 100 * point["accuracy"]), fontsize=7)
    front = summary["pareto_front"]
    axis.plot(
        [p["luts"] for p in front], [100 * p["accuracy"] for p in front], "k--", lw=0.8, label="Pareto front"
    )
    axis.axhline(100 * summary["float"]["mean"], color="grey", lw=0.8, label="float")
    axis.set_xlabel("LUTs per MAC (Yosys, UltraScale+)")
    axis.set_ylabel("test accuracy [%]")
    axis.set_xscale("log")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=Path, default=REPO / "triggers_data" / "jets_pythia.h5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--calibration-jets", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS / "ptq.json")
    parser.add_argument(
        "--reuse-qat-and-costs",
        type=Path,
        default=None,
        help="take the MAC costs and QAT accuracies from this earlier result (same seeds, epochs and "
        "sample); every seed's float model must reproduce that file's float accuracy exactly",
    )
    parser.add_argument("--resummarise", action="store_true", help="recompute the summary of --out only")
    parser.add_argument(
        "--bits", type=int, nargs="+", default=list(BITS), help="total widths to run (default: 3..8)"
    )
    parser.add_argument(
        "--spec-budget",
        action="store_true",
        help="train float and QAT with the training block of jet_dnn_float.yaml / jet_dnn_q6.yaml "
        "(epochs, batch size, learning rate, patience) instead of --epochs / --batch-size",
    )
    parser.add_argument(
        "--costs-from",
        type=Path,
        default=None,
        help="take only the MAC costs (independent of training) from this earlier result",
    )
    parser.add_argument(
        "--batch-size-override",
        type=int,
        default=None,
        help="with --spec-budget: replaces the specs' batch size, as pipeline.yaml's train: "
        "batch_size_override (256 in the default run)",
    )
    options = parser.parse_args(argv)
    if options.batch_size_override is not None and not options.spec_budget:
        parser.error("--batch-size-override only applies with --spec-budget")
    bits_list = tuple(sorted(set(options.bits)))
    if not set(bits_list) <= set(BITS):
        parser.error(f"--bits must be among {list(BITS)}, got {options.bits}")
    if not {4, 6} <= set(bits_list):
        parser.error("--bits must include 4 and 6 (the goals compare them)")
    pareto_png = options.out.with_name(options.out.stem + "_pareto.png")

    def budget_of(spec) -> dict:
        return training_budget(
            spec, options.spec_budget, options.epochs, options.batch_size, options.batch_size_override
        )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if options.resummarise:
        result = json.loads(options.out.read_text())
        result["summary"] = summarise(result["per_seed"], result["mac_costs"], bits_list)
        options.out.write_text(json.dumps(result, indent=2) + "\n")
        plot(result["summary"], pareto_png)
        print(json.dumps(result["summary"]["goals"], indent=2))
        return
    from pipeline.models.spec import load_spec
    from pipeline.models.training import configure_determinism
    from pipeline.ptq.keras import dense_weights

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        dataset = load_data(options.sample, 20261123, Path(scratch))
        earlier = None
        if options.reuse_qat_and_costs is not None:
            earlier = json.loads(options.reuse_qat_and_costs.read_text())
            costs = earlier["mac_costs"]
        elif options.costs_from is not None:
            costs = json.loads(options.costs_from.read_text())["mac_costs"]
        else:
            print("MAC units: Verilator check + Yosys", flush=True)
            costs = mac_costs(Path(scratch) / "mac")
        per_seed = []
        for seed in range(options.seeds):
            configure_determinism(seed)
            float_spec = load_spec(REPO / "models" / "jet_dnn_float.yaml")
            float_budget = budget_of(float_spec)
            tic = time.perf_counter()
            float_model, float_ended = train_with_history(float_spec, dataset, seed, **float_budget)
            print(f"seed {seed} float: {time.perf_counter() - tic:.0f} s", flush=True)
            weights = dense_weights(float_model)
            rng = np.random.default_rng(seed)
            calibration = dataset.x_train[
                rng.choice(len(dataset.x_train), options.calibration_jets, replace=False)
            ]
            run = {
                "seed": seed,
                "float": {
                    "test": accuracy(float_model.predict(dataset.x_test, verbose=0), dataset.y_test),
                    "training": float_ended,
                },
                "ptq": {},
                "qat": {},
            }
            if earlier is not None:
                before = earlier["per_seed"][seed]
                if before["float"]["test"] != run["float"]["test"]:
                    raise RuntimeError(
                        f"seed {seed}: float accuracy {run['float']['test']} differs from "
                        f"{before['float']['test']} in {options.reuse_qat_and_costs}: cannot reuse its QAT"
                    )
            for bits in bits_list:
                tic = time.perf_counter()
                run["ptq"][str(bits)] = ptq_rows(weights, dataset, calibration, bits)
                ptq_seconds = time.perf_counter() - tic
                if earlier is not None:
                    run["qat"][str(bits)] = earlier["per_seed"][seed]["qat"][str(bits)]
                else:
                    spec = qat_spec(bits)
                    budget = budget_of(spec)
                    qat_model, qat_ended = train_with_history(spec, dataset, seed, **budget)
                    run["qat"][str(bits)] = {
                        "test": accuracy(qat_model.predict(dataset.x_test, verbose=0), dataset.y_test),
                        "training": qat_ended,
                    }
                print(
                    f"seed {seed} bits {bits}: qat {run['qat'][str(bits)]['test']:.4f} "
                    f"mmse+bc {run['ptq'][str(bits)]['int_mmse_bc']['test']:.4f} "
                    f"(PTQ arms {ptq_seconds:.0f} s, with QAT {time.perf_counter() - tic:.0f} s)",
                    flush=True,
                )
            per_seed.append(run)
            summary = summarise(per_seed, costs, bits_list)
            result = {
                "command": "python benchmarks/bench_ptq.py "
                + " ".join(
                    f"--{k.replace('_', '-')} {v}"
                    for k, v in vars(options).items()
                    if k not in ("out", "sample", "reuse_qat_and_costs", "resummarise", "bits", "spec_budget")
                    and not (k in ("costs_from", "batch_size_override") and v is None)
                    and not (options.spec_budget and k in ("epochs", "batch_size"))
                )
                + f" --bits {' '.join(map(str, bits_list))}"
                + (" --spec-budget" if options.spec_budget else "")
                + (
                    ""
                    if options.reuse_qat_and_costs is None
                    else f" --reuse-qat-and-costs {_relative(options.reuse_qat_and_costs)}"
                ),
                "reused": None
                if earlier is None
                else {
                    "mac_costs_and_qat_from": earlier["command"],
                    "float_accuracy_reproduced_per_seed": True,
                },
                "sample": str(options.sample.relative_to(REPO))
                if options.sample.is_relative_to(REPO)
                else str(options.sample),
                "jets": {
                    "train": int(dataset.y_train.size),
                    "val": int(dataset.y_val.size),
                    "test": int(dataset.y_test.size),
                },
                "budget": {
                    "float_training": float_budget,
                    "qat_training": budget if earlier is None else "reused",
                    "spec_budget": options.spec_budget,
                    "epochs": options.epochs,
                    "batch_size": options.batch_size,
                    "calibration_jets": options.calibration_jets,
                    "input_bits": INPUT_BITS,
                },
                "mac_costs_from": None if options.costs_from is None else str(options.costs_from),
                "seeds_completed": len(per_seed),
                "seeds_requested": options.seeds,
                "mac_costs": costs,
                "per_seed": per_seed,
                "summary": summary,
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
            options.out.parent.mkdir(parents=True, exist_ok=True)
            options.out.write_text(json.dumps(result, indent=2) + "\n")
            plot(summary, pareto_png)
    print(json.dumps(result["summary"]["goals"], indent=2))


if __name__ == "__main__":
    main()
