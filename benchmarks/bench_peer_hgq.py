"""Benchmark: learned precision (ours, QKeras) against HGQ (peer) on the same split, same firmware flow.

Usage (one sweep, then Verilator + Yosys on chosen points, then a narrower architecture of ours)::

    NUMBA_CACHE_DIR=... python benchmarks/bench_peer_hgq.py --data-dir runs/default/data \
        --ours-betas 3e-7 1e-6 --hgq-betas 1e-6 1e-5 --epochs 30 --prune-epochs 10 --hgq-epochs 40 \
        --save-networks /tmp/nets --json benchmarks/results/peer_hgq.json
    python benchmarks/bench_peer_hgq.py --data-dir ... --rtl-from /tmp/nets/ours_...pkl --yosys
    python benchmarks/bench_peer_hgq.py --data-dir ... --spec models/jet_dnn_learned_w24.yaml --append ...

Per beta: train (ours: learned-precision QKeras for ``--epochs``, frozen, then QAP for ``--prune-epochs``;
HGQ: HQuantize + HDense with its own EBOPs term for ``--hgq-epochs``, by default the same total, proxy
model after ``trace_minmax``) the spec's architecture; accuracy of the deployed integer model on the test
split (ours: :mod:`pipeline.deploy.emulator` on the per-feature-quantized features, also with the single
container format; HGQ: the exact proxy emulator, checked against HGQ's proxy on every test jet), and LUTs:
da4ml's cost estimate of the traced RTL. ``--rtl-from`` writes saved points as Verilog, simulates them with
Verilator against the emulator on every test jet and (``--yosys``) synthesizes them. Results are written
after every point (an interrupted run leaves a file); the figure goes next to the JSON.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLOCK_NS = 5.0
SEED = 20261123  # the sweep's seed; other seeds (--seed) repeat chosen points for the noise
BASELINE_LUTS = 20353  # jet_dnn_q6_qap, Yosys, default run (benchmarks/results/firmware_default_run.json)


def load_learned_spec(
    path: Path,
    beta: float,
    sparsity: float | None,
    input_min_bits: int | None = None,
    input_min_integer_bits: int | None = None,
):
    """The learned-precision spec at ``path`` with ``beta`` (and the QAP target ``sparsity``, the floors of
    the per-feature input widths ``input_min_bits`` / integer bits ``input_min_integer_bits``) set."""
    from pipeline.models.spec import load_spec

    spec = load_spec(path)
    precision = {"beta": beta}
    if input_min_bits is not None:
        precision["input_min_bits"] = input_min_bits
    if input_min_integer_bits is not None:
        precision["input_min_integer_bits"] = input_min_integer_bits
    update = {"precision": spec.precision.model_copy(update=precision)}
    if sparsity is not None:
        update["pruning"] = spec.pruning.model_copy(update={"target_sparsity": sparsity})
    return spec.model_copy(update=update)


def ours_point(
    dataset,
    spec_path: Path,
    beta: float,
    sparsity: float | None,
    epochs: int,
    prune_epochs: int,
    seed: int,
    container_cost: bool,
    input_min_bits: int | None = None,
    input_min_integer_bits: int | None = None,
) -> tuple[dict, dict]:
    """Train, freeze and prune our learned-precision model at ``beta``; returns (record, payload).

    Deployed with per-feature input precision: the learned per-feature input quantizer is applied to
    every split after the learned phase (where the trigger computes the features), the QAP fine-tuning and
    the test run on those inputs, and da4ml is told each input's format. The same network is also
    costed and scored with the single container format alone (the network's input quantizer, without the
    per-feature formats upstream of it).
    """
    from dataclasses import replace

    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.build import build_model
    from pipeline.models.learned import feature_formats, freeze, learned_widths, quantize_features
    from pipeline.models.pruning import prune_model
    from pipeline.models.training import fit
    from pipeline.rtl.trace import trace_network

    spec = load_learned_spec(spec_path, beta, sparsity, input_min_bits, input_min_integer_bits)
    start = time.perf_counter()
    model = build_model(spec, seed)
    history = fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=256,
        learning_rate=spec.training.learning_rate,
        patience=None,
        seed=seed,
    )
    widths = learned_widths(model, spec)
    formats = feature_formats(widths)
    frozen, fixed = freeze(model, spec)
    quantized = replace(
        dataset,
        **{
            name: quantize_features(getattr(dataset, name), formats)
            for name in ("x_train", "x_val", "x_test")
        },
    )
    if prune_epochs > 0:
        frozen, _ = prune_model(frozen, fixed, quantized, seed=seed, batch_size=256, epochs=prune_epochs)
    train_seconds = time.perf_counter() - start
    network = integer_network_from_qkeras(frozen)
    per_feature = emulate(network, quantized.x_test).logits_raw
    container = emulate(network, dataset.x_test).logits_raw
    start = time.perf_counter()
    traced = trace_network(network, CLOCK_NS, input_formats=formats)
    record = {
        "model": "ours",
        "beta": beta,
        "target_sparsity": fixed.pruning.target_sparsity if prune_epochs > 0 else 0.0,
        "input_min_bits": spec.precision.input_min_bits,
        "input_min_integer_bits": spec.precision.input_min_integer_bits,
        "accuracy": float(np.mean(per_feature.argmax(1) == dataset.y_test)),
        "da4ml_lut_estimate": float(traced.comb.cost),
        "container_input": {"accuracy": float(np.mean(container.argmax(1) == dataset.y_test))},
        "final_cross_entropy_plus_resource": round(float(history["loss"][-1]), 4),
        "resource_term": round(beta * widths["ebops"], 4),
        "train_seconds": round(train_seconds, 1),
        "trace_seconds": round(time.perf_counter() - start, 1),
        "learned_precision": widths,
        "frozen_input": fixed.input_quantizer.model_dump(),
    }
    if container_cost:
        record["container_input"]["da4ml_lut_estimate"] = float(trace_network(network, CLOCK_NS).comb.cost)
    payload = {"kind": "ours", "beta": beta, "network": network, "input_formats": formats}
    return record, payload


def hgq_point(dataset, beta: float, units: tuple[int, ...], epochs: int, seed: int) -> tuple[dict, dict]:
    """Train HGQ at ``beta``; accuracy from the exact emulator (checked against HGQ's proxy)."""
    from pipeline.peers import hgq

    start = time.perf_counter()
    model, proxy, history = hgq.train_hgq(
        dataset, beta, epochs=epochs, batch_size=256, learning_rate=3e-3, seed=seed, units=units
    )
    train_seconds = time.perf_counter() - start
    network = hgq.read_proxy(proxy)
    emulated = hgq.emulate(network, dataset.x_test)
    proxied = proxy.predict(dataset.x_test, verbose=0, batch_size=4096).astype(np.float64)
    start = time.perf_counter()
    traced = hgq.trace(network, CLOCK_NS)
    ebops = hgq.ebops(model)
    record = {
        "model": "hgq",
        "beta": beta,
        "accuracy": float(np.mean(emulated.argmax(1) == dataset.y_test)),
        "emulator_vs_proxy_mismatched_jets": int((emulated != proxied).any(axis=1).sum()),
        "ebops": ebops,
        "da4ml_lut_estimate": float(traced.comb.cost),
        "final_cross_entropy_plus_resource": round(float(history["loss"][-1]), 4),
        "resource_term": round(beta * ebops, 4),
        "zero_weights_fraction": hgq.zero_weight_fraction(network),
        "train_seconds": round(train_seconds, 1),
        "trace_seconds": round(time.perf_counter() - start, 1),
        "input_bits": network.input_quantizer.bits.tolist(),
    }
    return record, {"kind": "hgq", "beta": beta, "network": network}


def reference_point(dataset, spec_path: Path, epochs: int, prune_epochs: int, seed: int) -> tuple[dict, dict]:
    """A fixed-precision reference (``jet_dnn_float``, ``jet_dnn_q6_qap``) trained in this run with the
    default run's recipe (:mod:`pipeline.stages.train` / :mod:`pipeline.stages.prune`: the spec's
    learning rate and early stopping, batch 256, ``epochs`` + ``prune_epochs``); accuracy of the float
    model, or of the deployed integer model (:mod:`pipeline.deploy.emulator`) on the test split."""
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.build import build_model
    from pipeline.models.pruning import prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit

    spec = load_spec(spec_path)
    start = time.perf_counter()
    model = build_model(spec, seed)
    epochs = min(epochs, spec.training.epochs)
    fit(
        model,
        dataset,
        epochs=epochs,
        batch_size=256,
        learning_rate=spec.training.learning_rate,
        patience=spec.training.patience,
        seed=seed,
    )
    if spec.pruning is not None and prune_epochs > 0:
        model, _ = prune_model(model, spec, dataset, seed=seed, batch_size=256, epochs=prune_epochs)
    record = {"model": spec.name, "train_seconds": round(time.perf_counter() - start, 1), "seed": seed}
    if spec.input_quantizer is None:
        logits = model.predict(dataset.x_test, verbose=0, batch_size=4096)
        record["accuracy"] = float(np.mean(logits.argmax(1) == dataset.y_test))
        return record, {}
    network = integer_network_from_qkeras(model)
    record["accuracy"] = float(
        np.mean(emulate(network, dataset.x_test).logits_raw.argmax(1) == dataset.y_test)
    )
    return record, {"kind": "reference", "network": network, "input_formats": None}


CONFIRM_SEEDS = 3
"""Seeds a configuration needs before goal 2 counts as met (single points carry ~0.5 points of noise)."""
CONFIGURATION = (
    "spec",
    "architecture",
    "target_sparsity",
    "input_min_bits",
    "input_min_integer_bits",
    "beta",
)
"""What makes one of our configurations (its seeds are repeats of it) in the goal-2 summary."""


def goal2_summary(results: dict) -> dict:
    """Goal 2 of issue 13 per configuration (:data:`CONFIGURATION`) over its seeds: accuracy mean and
    sample spread, Yosys LUTs per seed, and ``met``: at least :data:`CONFIRM_SEEDS` seeds, every seed
    synthesized, every seed's Yosys LUTs <= jet_dnn_q6_qap / 4, and the mean accuracy >= float - 1
    point (``passes_on_its_seeds``: the same without the seed count)."""
    baseline = results["baseline"]
    target_luts = baseline["yosys_luts"] / 4
    floor = results["float_accuracy"] - 0.01
    yosys = {
        (*(r.get(k) for k in CONFIGURATION), r.get("seed", SEED)): r["yosys"]["luts"]
        for r in results["rtl_points"]
        if "yosys" in r and r["model"] == "ours"
    }
    groups: dict[tuple, list[dict]] = {}
    for point in results["points"]:
        if point["model"] == "ours":
            groups.setdefault(tuple(point.get(k) for k in CONFIGURATION), []).append(point)
    rows = []
    for key, points in sorted(groups.items(), key=str):
        accuracies = [p["accuracy"] for p in points]
        luts = [yosys[(*key, p.get("seed", SEED))] for p in points if (*key, p.get("seed", SEED)) in yosys]
        mean = float(np.mean(accuracies))
        passes = bool(luts) and len(luts) == len(points) and max(luts) <= target_luts and mean >= floor
        rows.append(
            {
                **dict(zip(CONFIGURATION, key, strict=True)),
                "seeds": [p.get("seed", SEED) for p in points],
                "accuracy_mean": round(mean, 5),
                "accuracy_std": round(float(np.std(accuracies, ddof=1)), 5) if len(points) > 1 else None,
                "accuracy_min": min(accuracies),
                "da4ml_lut_estimate_mean": round(
                    float(np.mean([p["da4ml_lut_estimate"] for p in points])), 1
                ),
                "yosys_luts": luts,
                "lut_reduction_vs_baseline": round(baseline["yosys_luts"] / max(luts), 2) if luts else None,
                "passes_on_its_seeds": passes,
                "met": passes and len(points) >= CONFIRM_SEEDS,
            }
        )
    return {"target_yosys_luts": target_luts, "accuracy_floor": round(floor, 5), "configurations": rows}


def _status(row: dict) -> str:
    if row["met"]:
        return f"met ({len(row['seeds'])} seeds)"
    if row["passes_on_its_seeds"]:
        return f"passes on {len(row['seeds'])} seed, unconfirmed"
    return "not met"


def goal2_table(results: dict) -> str:
    """The README table of goal 2: one row per configuration of :func:`goal2_summary`, references last."""
    summary = goal2_summary(results)
    rows = [
        "| model | architecture, QAP | beta | input floor | seeds | accuracy (mean ± spread) "
        "| Yosys LUT per seed | fewer LUTs than q6_qap | goal 2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["configurations"]:
        accuracy = f"{100 * row['accuracy_mean']:.2f} %"
        if row["accuracy_std"] is not None:
            accuracy += f" ± {100 * row['accuracy_std']:.2f}"
        luts = " / ".join(f"{v:,}".replace(",", " ") for v in row["yosys_luts"]) or "-"
        ratio = f"{row['lut_reduction_vs_baseline']:.2f}x" if row["lut_reduction_vs_baseline"] else "-"
        floors = [
            f"{row[k]}" + suffix
            for k, suffix in (("input_min_bits", ""), ("input_min_integer_bits", " int"))
            if row.get(k) is not None
        ]
        floor = ", ".join(floors) or "-"
        arch = f"{row['architecture']}, {100 * row['target_sparsity']:.0f} %"
        rows.append(
            f"| ours, learned | {arch} | {row['beta']:g} | {floor} | {len(row['seeds'])} | {accuracy} "
            f"| {luts} | {ratio} | {_status(row)} |"
        )
    baseline = results["baseline"]
    rows.append(
        "| jet_dnn_q6_qap | 16-64-32-32-5, 75 % | - | - | 1 | "
        + (f"{100 * baseline['accuracy']:.2f} %" if "accuracy" in baseline else "-")
        + f" | {baseline['yosys_luts']:,} | 1x (reference: {baseline['source']}) | - |".replace(",", " ")
    )
    float_source = results.get("float_source", results["baseline"].get("source"))
    rows.append(
        f"| jet_dnn_float | 16-64-32-32-5 | - | - | 1 | {100 * results['float_accuracy']:.2f} % "
        f"| - | ({float_source}) | - |"
    )
    return "\n".join(rows)


def trace_payload(payload: dict):
    """The da4ml graph of a saved point (ours: with its per-feature input formats)."""
    from pipeline.rtl.trace import trace_network

    if payload["kind"] in ("ours", "reference"):
        return trace_network(payload["network"], CLOCK_NS, input_formats=payload["input_formats"])
    from pipeline.peers import hgq

    return hgq.trace(payload["network"], CLOCK_NS)


def layer_estimates(payload: dict) -> dict[str, float]:
    """Ours: da4ml's LUT estimate of each dense layer traced alone, fed with its real input formats (the
    per-feature formats for the first layer, the previous layer's activation format after it)."""
    from dataclasses import replace

    from pipeline.rtl.trace import trace_network

    network, formats = payload["network"], payload["input_formats"]
    estimates = {}
    for index, layer in enumerate(network.layers):
        if index == 0:
            alone = replace(network, layers=(layer,))
            traced = trace_network(alone, CLOCK_NS, input_formats=formats)
        else:
            alone = replace(network, input_format=network.layers[index - 1].output, layers=(layer,))
            traced = trace_network(alone, CLOCK_NS)
        estimates[layer.name] = float(traced.comb.cost)
    return estimates


def rtl_check(payload: dict, dataset, work: Path, yosys: bool, verilator: bool = True) -> dict:
    """Verilog (da4ml) -> Verilator against the emulator on every test jet (and Yosys)."""
    from pipeline.rtl.design import check_bit_exact, compile_design, simulate_raw, write_design
    from pipeline.rtl.yosys import synthesize

    network = payload["network"]
    start = time.perf_counter()
    traced = trace_payload(payload)
    design = write_design(traced, work / "rtl", CLOCK_NS, "xcvu13p-flga2577-2-e")
    if not verilator:
        report = None
    elif payload["kind"] == "ours":
        from pipeline.models.learned import quantize_features

        features = quantize_features(dataset.x_test, payload["input_formats"])
        report = check_bit_exact(compile_design(design, work / "build"), network, features).to_dict()
    elif payload["kind"] == "reference":
        report = check_bit_exact(compile_design(design, work / "build"), network, dataset.x_test).to_dict()
    else:
        from pipeline.peers import hgq

        x_raw, fractional = hgq.input_raw(network, dataset.x_test)
        expected = hgq.emulate(network, dataset.x_test) * 2.0**traced.output_fractional_bits
        simulator = compile_design(design, work / "build")
        rtl = simulate_raw(simulator, x_raw, fractional, traced.output_fractional_bits)
        different = rtl != np.round(expected).astype(np.int64)
        report = {
            "samples": len(x_raw),
            "mismatched_samples": int(different.any(axis=1).sum()),
            "mismatched_values": int(different.sum()),
        }
    result = {
        "da4ml_lut_estimate": float(traced.comb.cost),
        "da4ml_layer_estimates": layer_estimates(payload) if payload["kind"] == "ours" else None,
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


def _widths(point: dict) -> str:
    if point["model"] == "hgq":
        bits = point["input_bits"]
        zero = 100 * point["zero_weights_fraction"]
        return f"input {min(bits)}-{max(bits)} bits per feature; per-weight widths, {zero:.0f} % 0-bit"
    learned = point["learned_precision"]
    inputs = [f["bits"] for f in learned["input_features"]]
    layers = list(learned["layers"].values())
    weights = "/".join(str(layer["weight"]["bits"]) for layer in layers)
    activations = "/".join(str(layer["activation"]["bits"]) for layer in layers if "activation" in layer)
    return f"input {min(inputs)}-{max(inputs)} bits per feature; weights {weights}, activations {activations}"


def markdown_table(results: dict) -> str:
    """The README table: one row per point, Yosys LUTs and Verilator where measured."""
    synthesized = {
        (r["model"], r["beta"], r["architecture"], r.get("target_sparsity")): r for r in results["rtl_points"]
    }
    rows = [
        "| method | architecture, QAP | beta | accuracy | LUT (da4ml est.) | Yosys LUT | RTL vs emulator "
        "| widths |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def key(p: dict) -> tuple:
        return p["model"], p["beta"], p["architecture"], p.get("target_sparsity")

    main = [p for p in results["points"] if p.get("seed", SEED) == SEED]
    order = sorted(main, key=lambda p: (p["model"] != "ours", p["architecture"], -p["accuracy"]))
    for point in order:
        rtl = synthesized.get(key(point), {})
        seeds = [100 * p["accuracy"] for p in results["points"] if key(p) == key(point)]
        accuracy = f"{100 * point['accuracy']:.2f} %"
        if len(seeds) > 1:
            accuracy += f" ({len(seeds)} seeds: {np.mean(seeds):.2f} ± {np.std(seeds, ddof=1):.2f})"
        luts = f"{rtl['yosys']['luts']:,}".replace(",", " ") if "yosys" in rtl else "-"
        check = rtl.get("verilator")
        exact = f"{check['mismatched_samples']} of {check['samples']} jets differ" if check else "-"
        sparsity = point.get("target_sparsity")
        arch = point["architecture"] + (f", {100 * sparsity:.0f} %" if sparsity else "")
        name = "ours" if point["model"] == "ours" else "HGQ 0.2.6"
        estimate = f"{point['da4ml_lut_estimate']:,.0f}".replace(",", " ")
        rows.append(
            f"| {name} | {arch} | {point['beta']:g} | {accuracy} | {estimate} | {luts} "
            f"| {exact} | {_widths(point)} |"
        )
    return "\n".join(rows)


def plot(results: dict, path: Path) -> None:
    """Accuracy vs LUTs: da4ml estimates of every point (lines), Yosys LUTs of the synthesized points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"ours": "ours (learned QKeras + QAP)", "hgq": "HGQ 0.2.6"}
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for kind, marker, color in (("ours", "o", "tab:blue"), ("hgq", "s", "tab:orange")):
        groups = {(p.get("architecture", ""), p.get("target_sparsity")) for p in results["points"]}
        for arch, sparsity in sorted(groups, key=str):
            points = sorted(
                (
                    p
                    for p in results["points"]
                    if p["model"] == kind
                    and p.get("seed", SEED) == SEED
                    and (p.get("architecture", ""), p.get("target_sparsity")) == (arch, sparsity)
                ),
                key=lambda p: p["da4ml_lut_estimate"],
            )
            if not points:
                continue
            narrow = arch not in ("", "16-64-32-32-5")
            pruned = f", {100 * sparsity:.0f} % QAP" if sparsity else ""
            for point in points:
                axis.annotate(
                    f"{point['beta']:g}",
                    (point["da4ml_lut_estimate"], 100 * point["accuracy"]),
                    fontsize=6,
                    xytext=(3, -8),
                    textcoords="offset points",
                )
            axis.plot(
                [p["da4ml_lut_estimate"] for p in points],
                [100 * p["accuracy"] for p in points],
                marker=marker,
                color=color,
                linestyle=":" if narrow else ("--" if sparsity not in (None, 0.75) else "-"),
                alpha=0.6,
                label=f"{labels[kind]} {arch}{pruned}, da4ml est.",
            )
        repeats = [p for p in results["points"] if p["model"] == kind and p.get("seed", SEED) != SEED]
        if repeats:
            axis.scatter(
                [p["da4ml_lut_estimate"] for p in repeats],
                [100 * p["accuracy"] for p in repeats],
                marker=marker,
                facecolors="none",
                edgecolors=color,
                label=f"{labels[kind]}, other seeds",
            )
        synthesized = [r for r in results.get("rtl_points", []) if r["model"] == kind and "yosys" in r]
        if synthesized:
            axis.scatter(
                [r["yosys"]["luts"] for r in synthesized],
                [100 * r["accuracy"] for r in synthesized],
                marker="*",
                s=160,
                color=color,
                edgecolor="black",
                zorder=5,
                label=f"{labels[kind]}, Yosys",
            )
    axis.axvline(BASELINE_LUTS, color="grey", linestyle="--", label="jet_dnn_q6_qap (Yosys)")
    axis.axvline(BASELINE_LUTS / 4, color="grey", linestyle=":", label="jet_dnn_q6_qap / 4")
    axis.axhline(100 * results["float_accuracy"] - 1.0, color="green", linestyle=":", label="float - 1 point")
    floor = 69.5  # points below (a collapsed beta) are listed in the title, not drawn off the scale
    below = [p for p in results["points"] if 100 * p["accuracy"] < floor]
    top = max(100 * p["accuracy"] for p in results["points"])
    axis.set_ylim(floor, top + 0.4)
    note = "; ".join(f"{p['model']} beta {p['beta']:g}: {100 * p['accuracy']:.1f} %" for p in below)
    axis.set_xscale("log")
    axis.set_xlabel("LUTs")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title(
        "accuracy vs LUTs, beta sweep (same data, same epochs)"
        + (f"\nbelow the axis: {note}" if note else ""),
        fontsize=9,
    )
    axis.set_xlim(left=3000)
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def run_references(results: dict, dataset, args, save) -> None:
    """``--references``: jet_dnn_float and jet_dnn_q6_qap trained in this run (:func:`reference_point`),
    q6_qap through Verilator + Yosys; the float accuracy and q6_qap's Yosys LUTs become this file's
    references for goal 2 (replacing the values cited from the default run)."""
    references = results.setdefault("references", [])
    for name in ("jet_dnn_float", "jet_dnn_q6_qap"):
        record, payload = reference_point(
            dataset, REPO / "models" / f"{name}.yaml", args.epochs, args.prune_epochs, args.seed
        )
        if payload:
            with tempfile.TemporaryDirectory() as scratch:
                record.update(rtl_check(payload, dataset, Path(scratch), yosys=True))
        references.append(record)
        print(json.dumps({k: v for k, v in record.items() if k != "yosys"}), flush=True)
        if name == "jet_dnn_float":
            results["float_accuracy"] = record["accuracy"]
            results["float_source"] = "this run (--references)"
        elif "yosys" in record:
            results["baseline"] = {
                "model": name,
                "yosys_luts": record["yosys"]["luts"],
                "accuracy": record["accuracy"],
                "source": "this run (--references)",
            }
        save()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--table", action="store_true", help="print the README table of --json and exit")
    parser.add_argument("--spec", type=Path, default=REPO / "models" / "jet_dnn_learned.yaml")
    parser.add_argument("--sparsity", type=float, default=None, help="QAP target (default: the spec's)")
    parser.add_argument(
        "--input-min-integer-bits",
        type=int,
        default=None,
        help="floor of the learned input integer bits (default: the spec's)",
    )
    parser.add_argument(
        "--input-min-bits",
        type=int,
        default=None,
        help="floor of the learned input widths (default: the spec's)",
    )
    parser.add_argument("--ours-betas", type=float, nargs="*", default=[3e-7, 1e-6, 3e-6])
    parser.add_argument("--hgq-betas", type=float, nargs="*", default=[3e-6, 3e-5])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hgq-epochs", type=int, default=40, help="default: ours' train + QAP epochs")
    parser.add_argument("--prune-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--save-networks", type=Path, default=None, help="pickle each point's network here")
    parser.add_argument(
        "--rtl-from",
        type=Path,
        nargs="*",
        default=None,
        help="instead of training: Verilator (+ --yosys) on these saved networks, added to --json",
    )
    parser.add_argument("--yosys", action="store_true")
    parser.add_argument(
        "--skip-verilator", action="store_true", help="with --rtl-from / --firmware-below: Yosys only"
    )
    parser.add_argument(
        "--container-cost", action="store_true", help="also cost ours with the single input container"
    )
    parser.add_argument(
        "--firmware-below",
        type=float,
        default=None,
        help="Verilator + Yosys in this run on each of our points whose da4ml estimate is below this",
    )
    parser.add_argument(
        "--references",
        action="store_true",
        help="also train jet_dnn_float and jet_dnn_q6_qap in this run (q6_qap: Verilator + Yosys)",
    )
    parser.add_argument("--goal2", action="store_true", help="write the goal-2 summary (issue 13) on save")
    parser.add_argument(
        "--goal2-table", action="store_true", help="print the goal-2 table of --json and exit"
    )
    parser.add_argument(
        "--append", action="store_true", help="add this run's points (another --spec) to an existing --json"
    )
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "peer_hgq.json")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(args.json.read_text())))
        return 0
    if args.goal2_table:
        print(goal2_table(json.loads(args.json.read_text())))
        return 0
    if args.data_dir is None:
        parser.error("--data-dir is required")

    from pipeline.data.io import load_dataset
    from pipeline.models.training import configure_determinism

    configure_determinism(args.seed)
    dataset = load_dataset(args.data_dir)
    started = time.perf_counter()
    data = {"train": len(dataset.y_train), "val": len(dataset.y_val), "test": len(dataset.y_test)}
    if args.rtl_from is not None or args.append:
        results = json.loads(args.json.read_text())
        if results["data"] != data:
            raise SystemExit(f"{args.json} was made on another data split")
    else:
        results = {
            "data": data,
            "baseline": {
                "model": "jet_dnn_q6_qap",
                "yosys_luts": BASELINE_LUTS,
                "accuracy": 0.732,
                "source": "benchmarks/results/default_run.json",
            },
            "float_accuracy": 0.7339,
            "float_source": "benchmarks/results/default_run.json",
            "runs": [],
            "points": [],
            "rtl_points": [],
        }
    spec = load_learned_spec(args.spec, 0.0, args.sparsity, args.input_min_bits, args.input_min_integer_bits)
    units = tuple(layer.units for layer in spec.resolved_layers())
    architecture = "-".join(str(v) for v in (spec.input_features, *units))
    run_settings = {
        "spec": str(args.spec.relative_to(REPO)) if args.spec.is_relative_to(REPO) else str(args.spec),
        "architecture": architecture,
        "epochs": args.epochs,
        "hgq_epochs": args.hgq_epochs,
        "prune_epochs": args.prune_epochs,
        "target_sparsity": spec.pruning.target_sparsity,
        "input_min_bits": spec.precision.input_min_bits,
        "input_min_integer_bits": spec.precision.input_min_integer_bits,
        "batch_size": 256,
        "seed": args.seed,
        "clock_ns": CLOCK_NS,
    }
    cpu_before = results.get("cpu_seconds") or 0.0

    def save() -> None:
        if args.goal2:
            results["goal2"] = goal2_summary(results)
        results["cpu_seconds"] = round(cpu_before + time.process_time(), 1)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        plot(results, args.json.with_suffix(".png"))

    if args.rtl_from is not None:
        for path in args.rtl_from:
            payload = pickle.loads(path.read_bytes())
            point = next(
                p
                for p in results["points"]
                if p["model"] == payload["kind"]
                and p["beta"] == payload["beta"]
                and p.get("architecture") == payload["architecture"]
                and payload.get("target_sparsity", p.get("target_sparsity")) == p.get("target_sparsity")
                and payload.get("seed", SEED) == p.get("seed", SEED)
            )
            try:
                with tempfile.TemporaryDirectory() as scratch:
                    record = rtl_check(payload, dataset, Path(scratch), args.yosys, not args.skip_verilator)
            except Exception as error:
                record = {"error": repr(error)}
            keys = ("model", "beta", "architecture", "target_sparsity", "accuracy")
            entry = {**{k: point.get(k) for k in keys}, **record}
            same = [r for r in results["rtl_points"] if all(r.get(k) == entry[k] for k in keys)]
            if same:  # a later check of the same point (e.g. Verilator after Yosys) completes the record
                same[0].update({k: v for k, v in entry.items() if v is not None})
                entry = same[0]
            else:
                results["rtl_points"].append(entry)
            print(json.dumps(entry), flush=True)
            save()
        return 0

    results["runs"].append({"command": "python " + " ".join(sys.argv), "settings": run_settings})
    if args.references:
        run_references(results, dataset, args, save)
    ours = [("ours", beta) for beta in args.ours_betas]
    peer = [("hgq", beta) for beta in args.hgq_betas]
    jobs = [job for pair in zip(ours, peer, strict=False) for job in pair]  # one of each first
    jobs += ours[len(peer) :] + peer[len(ours) :]
    for kind, beta in jobs:
        try:
            if kind == "ours":
                record, payload = ours_point(
                    dataset,
                    args.spec,
                    beta,
                    args.sparsity,
                    args.epochs,
                    args.prune_epochs,
                    args.seed,
                    args.container_cost,
                    args.input_min_bits,
                    args.input_min_integer_bits,
                )
            else:
                record, payload = hgq_point(dataset, beta, units, args.hgq_epochs, args.seed)
        except Exception as error:  # record and go on: one failed point must not lose the others
            results.setdefault("failed", []).append({"model": kind, "beta": beta, "error": repr(error)})
            save()
            continue
        record["architecture"] = payload["architecture"] = architecture
        record["seed"] = payload["seed"] = args.seed
        record["spec"] = run_settings["spec"]
        payload["target_sparsity"] = record.get("target_sparsity")
        results["points"].append(record)
        if (
            kind == "ours"
            and args.firmware_below is not None
            and record["da4ml_lut_estimate"] < args.firmware_below
        ):
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    check = rtl_check(payload, dataset, Path(scratch), True, not args.skip_verilator)
                except Exception as error:
                    check = {"error": repr(error)}
            keys = ("model", *CONFIGURATION, "accuracy", "seed")
            results["rtl_points"].append({**{k: record.get(k) for k in keys}, **check})
        if args.save_networks is not None:
            args.save_networks.mkdir(parents=True, exist_ok=True)
            suffix = "" if args.seed == SEED else f"_seed{args.seed}"
            name = f"{kind}_{architecture}_s{record.get('target_sparsity', 0):g}_{beta:g}{suffix}.pkl"
            (args.save_networks / name).write_bytes(pickle.dumps(payload))
        print(json.dumps({k: v for k, v in record.items() if k != "learned_precision"}), flush=True)
        results["wall_seconds"] = round(time.perf_counter() - started, 1)
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
