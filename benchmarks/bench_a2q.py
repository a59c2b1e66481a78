"""Accuracy vs accumulator width P, a fair comparison: unconstrained (wrap-around at P), A2Q, A2Q+.

Per seed, one shared base: the spec's model (default ``jet_dnn_q6_qap``: 6-bit, 75 % QAP) trained and
pruned once. Every arm then gets the same fine-tuning budget (``--finetune-epochs`` epochs, no early
stopping, same batch size and learning rate) from that base:

* ``unconstrained``: the pruned model fine-tuned with its pruning mask kept (zeros stay zero), then
  evaluated with the swept layers' accumulators wrapping at P bits (hls4ml's default ``AP_WRAP``);
* ``a2q`` / ``a2q_plus``: the swept layers constrained (:mod:`pipeline.a2q.layers`), fine-tuned,
  stripped, checked exactly before anything else (the check is recorded, nothing is repaired) and
  evaluated with the same P-bit wrap-around.

Two sweeps, each holding the other layers at their exact width (no constraint, no wrap):

* ``hidden``: the layers after the first (unsigned 6-bit ReLU inputs) at P in ``--hidden-bits`` and
  at their data-type bound (``"data_type"``: per layer, the width no M-bit weights can overflow);
* ``input``: the first layer (signed 16-bit input) at P in ``--input-bits`` and its data-type bound;
  A2Q+ is not defined there (a signed input, see :mod:`pipeline.a2q.layers`), so two arms.

Accuracy is the integer emulator's (:mod:`pipeline.deploy.emulator`, equal to the hls4ml C-sim) on the
test split. Per run: accuracy, wrapped sums, kernel sparsity of the integer weights, per-layer L1
norms, A2Q+ channel counts and the exact check. Mean and standard deviation over seeds per point;
the JSON is rewritten after every run, so an interrupted run leaves its results.

Usage: ``python benchmarks/bench_a2q.py [--sample triggers_data/jets_pythia.h5] [--seeds 0 1 2]
[--out benchmarks/results/a2q_sample.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ARMS = ("unconstrained", "a2q", "a2q_plus")


def _dataset(options, seed: int):
    from pipeline.data.io import load_dataset

    if options.data:
        return load_dataset(Path(options.data))
    from pipeline.stage_api import StageInputs
    from pipeline.stages import data

    with tempfile.TemporaryDirectory() as directory:
        inputs = StageInputs(
            output_dir=Path(directory),
            upstream={},
            models=(),
            model_specs={},
            repo_root=REPO,
            seed=seed,
            quiet=True,
        )
        data.run(inputs, data.Config(sample=options.sample))
        return load_dataset(Path(directory))


def _input_formats(network) -> dict:
    formats, fmt = {}, network.input_format
    for layer in network.layers:
        formats[layer.name] = fmt
        fmt = layer.output
    return formats


def data_type_widths(network, weight_bits: int) -> dict[str, int]:
    """Per dense layer, the [A2Q] data-type bound (no M-bit weights can overflow it)."""
    from pipeline.a2q.bounds import data_type_bound_bits

    formats = _input_formats(network)
    return {
        layer.name: data_type_bound_bits(
            formats[layer.name].bits, formats[layer.name].signed, weight_bits, layer.weight_raw.shape[0]
        )
        for layer in network.layers
    }


def exact_widths(network) -> dict[str, int]:
    """Per dense layer, the narrowest accumulator that holds its exact worst case (no wrap ever)."""
    from pipeline.a2q.check import check_layer

    formats = _input_formats(network)
    return {layer.name: check_layer(layer, formats[layer.name], 64).exact_bits for layer in network.layers}


def keep_mask(model):
    """A Keras callback that re-applies the pruning mask of every dense kernel after each batch (as
    tfmot does), so fine-tuning the unconstrained model cannot regrow pruned weights."""
    import tensorflow as tf

    masks = [
        (layer.kernel, tf.constant(layer.kernel.numpy() != 0, dtype=layer.kernel.dtype))
        for layer in model.layers
        if type(layer).__name__ == "QDense"
    ]

    def reapply(batch, logs=None):
        for kernel, mask in masks:
            kernel.assign(kernel * mask)

    return tf.keras.callbacks.LambdaCallback(on_train_batch_end=reapply)


def describe(network, accumulator_bits: dict[str, int], dataset, constrained=None) -> dict:
    """Accuracy with P-bit wrap-around, wraps, sparsity, L1 norms and exact checks of ``network``
    (and the A2Q+ channel counts of the ``constrained`` model it was stripped from)."""
    from pipeline.a2q.check import check_layer
    from pipeline.deploy.emulator import emulate

    result = emulate(network, dataset.x_test, accumulator_bits=accumulator_bits)
    formats = _input_formats(network)
    kernels = [layer.weight_raw for layer in network.layers]
    record = {
        "accuracy": float(np.mean(result.logits_raw.argmax(1) == dataset.y_test)),
        "wrapped_sums": {k: int(v) for k, v in result.accumulator_overflows.items() if v},
        "sparsity": float(sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)),
        "layers": {},
    }
    for layer in network.layers:
        l1 = np.abs(layer.weight_raw).sum(axis=0)
        entry = {
            "sparsity": float((layer.weight_raw == 0).mean()),
            "l1_max": int(l1.max()),
            "l1_mean": float(l1.mean()),
            "exact_bits": check_layer(layer, formats[layer.name], 64).exact_bits,
        }
        if layer.name in accumulator_bits:
            check = check_layer(layer, formats[layer.name], accumulator_bits[layer.name])
            entry["accumulator_bits"] = accumulator_bits[layer.name]
            entry["fits"] = check.fits
            entry["failing_channels"] = len(check.failing_channels)
        record["layers"][layer.name] = entry
    if constrained is not None:
        from pipeline.a2q.layers import constraint_summary

        for name, summary in constraint_summary(constrained).items():
            record["layers"][name].update(summary)
    return record


def summarise(runs: list[dict]) -> dict:
    """Mean, std (ddof=1) and n of accuracy per (sweep, P label, arm); the A2Q+ >= A2Q goal per P."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["sweep"], str(run["bits"]), run["arm"]), []).append(run)
    points = []
    for (sweep, bits, arm), members in groups.items():
        accuracy = np.array([m["accuracy"] for m in members])
        points.append(
            {
                "sweep": sweep,
                "bits": bits,
                "arm": arm,
                "n_seeds": len(members),
                "accuracy_mean": float(accuracy.mean()),
                "accuracy_std": float(accuracy.std(ddof=1)) if len(members) > 1 else None,
                "sparsity_mean": float(np.mean([m["sparsity"] for m in members])),
                "l1_mean_by_layer": {
                    name: float(np.mean([m["layers"][name]["l1_mean"] for m in members]))
                    for name in members[0]["layers"]
                },
                "zero_centred_channels_by_layer": {
                    name: float(np.mean([m["layers"][name]["zero_centred_channels"] for m in members]))
                    for name in members[0]["layers"]
                    if "zero_centred_channels" in members[0]["layers"][name]
                },
                "all_checks_fit": all(
                    layer.get("fits", True) for m in members for layer in m["layers"].values()
                ),
            }
        )
    by_key = {(p["sweep"], p["bits"], p["arm"]): p for p in points}
    goal = []
    for (sweep, bits, arm), point in sorted(by_key.items()):
        if sweep == "hidden" and arm == "a2q_plus" and (sweep, bits, "a2q") in by_key:
            a2q = by_key[(sweep, bits, "a2q")]
            difference = point["accuracy_mean"] - a2q["accuracy_mean"]
            goal.append(
                {
                    "bits": bits,
                    "a2q_plus": point["accuracy_mean"],
                    "a2q": a2q["accuracy_mean"],
                    "difference": difference,
                }
            )
    return {
        "points": points,
        "goal_a2q_plus_ge_a2q": {
            "per_bits": goal,
            "met_at_every_bits": bool(goal) and all(g["difference"] >= 0 for g in goal),
        },
    }


def markdown_tables(summary: dict) -> str:
    """The README tables: accuracy mean +- std (%) per P and arm, one table per sweep."""
    lines = []
    for sweep in ("hidden", "input"):
        points = [p for p in summary["points"] if p["sweep"] == sweep]
        labels = sorted(
            {p["bits"] for p in points}, key=lambda b: (b == "data_type", int(b) if b.isdigit() else 0)
        )
        arms = [arm for arm in ARMS if any(p["arm"] == arm for p in points)]
        lines += [f"{sweep} sweep:", "", "| P | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
        for label in labels:
            cells = []
            for arm in arms:
                match = [p for p in points if p["bits"] == label and p["arm"] == arm]
                if not match:
                    cells.append("-")
                    continue
                point = match[0]
                std = point["accuracy_std"] or 0.0
                cells.append(f"{100 * point['accuracy_mean']:.1f} +- {100 * std:.1f} (n={point['n_seeds']})")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def merge(paths: list[str], out: Path) -> None:
    """Join result files of the same configuration run for different seeds (CPU and wall seconds add
    up: ``cpu_seconds`` is the total CPU time, ``wall_seconds`` the longest single run)."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    runs, seen = [], set()
    for run in (run for part in parts for run in part["runs"]):  # a point run twice counts once
        key = (run["seed"], run["sweep"], str(run["bits"]), run["arm"])
        if key not in seen:
            seen.add(key)
            runs.append(run)
    merged = {**parts[0], "runs": runs}
    for key in ("spec", "data", "budget"):
        if any(part[key] != parts[0][key] for part in parts):
            raise SystemExit(f"cannot merge: the files differ in {key}")
    merged["command"] = [part["command"] for part in parts]
    merged["seeds"] = sorted({seed for part in parts for seed in part["seeds"]})
    merged["exact_widths"] = {k: v for part in parts for k, v in part.get("exact_widths", {}).items()}
    merged["cpu_seconds"] = round(sum(part["cpu_seconds"] for part in parts), 1)
    merged["wall_seconds"] = max(part["wall_seconds"] for part in parts)
    merged["summary"] = summarise(merged["runs"])
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print(markdown_tables(merged["summary"]))
    print(json.dumps(merged["summary"]["goal_a2q_plus_ge_a2q"], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="finished data stage directory (dataset.h5 + scaler.json)")
    parser.add_argument("--sample", default="triggers_data/jets_pythia.h5")
    parser.add_argument("--spec", default="models/jet_dnn_q6_qap.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hidden-bits", type=int, nargs="+", default=[10, 11, 12, 13, 14, 16])
    parser.add_argument("--input-bits", type=int, nargs="+", default=[18, 20, 22, 24])
    parser.add_argument("--epochs", type=int, default=12, help="base training epochs (early stopping: spec)")
    parser.add_argument("--prune-epochs", type=int, default=6)
    parser.add_argument("--finetune-epochs", type=int, default=3, help="the same for every arm")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--sweeps", nargs="+", choices=["hidden", "input"], default=["hidden", "input"])
    parser.add_argument("--out", default="benchmarks/results/a2q_sample.json")
    parser.add_argument(
        "--merge",
        nargs="+",
        help="only merge these result files (e.g. one per seed run in parallel) into --out",
    )
    options = parser.parse_args()
    if options.merge:
        merge(options.merge, Path(options.out))
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from pipeline.a2q.layers import strip, to_accumulator_aware
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.build import build_model
    from pipeline.models.pruning import prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit

    spec = load_spec(REPO / options.spec)
    training = spec.training
    weight_bits = spec.resolved_layers()[0].weight.bits
    out = Path(options.out)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    payload = {
        "command": "python benchmarks/bench_a2q.py " + " ".join(sys.argv[1:]),
        "spec": options.spec,
        "data": options.data or options.sample,
        "seeds": options.seeds,
        "budget": {
            "base_training_epochs": options.epochs,
            "base_early_stopping_patience": training.patience,
            "pruning_epochs": options.prune_epochs,
            "finetune_epochs_every_arm": options.finetune_epochs,
            "finetune_early_stopping": None,
            "batch_size": options.batch_size,
            "learning_rate": training.learning_rate,
        },
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "runs": [],
    }

    def save() -> None:
        payload["cpu_seconds"] = round(time.process_time() - started_cpu, 1)
        payload["wall_seconds"] = round(time.perf_counter() - started_wall, 1)
        payload["summary"] = summarise(payload["runs"])
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload, indent=2) + "\n")
        temporary.replace(out)

    def finetune(model, seed: int, callbacks=()) -> None:
        fit(
            model,
            dataset,
            epochs=options.finetune_epochs,
            batch_size=options.batch_size,
            learning_rate=training.learning_rate,
            patience=None,
            seed=seed,
            callbacks=callbacks,
        )

    for seed in options.seeds:
        dataset = _dataset(options, seed)
        base = build_model(spec, seed)
        fit(
            base,
            dataset,
            epochs=options.epochs,
            batch_size=options.batch_size,
            learning_rate=training.learning_rate,
            patience=training.patience,
            seed=seed,
        )
        base, _ = prune_model(
            base, spec, dataset, seed=seed, batch_size=options.batch_size, epochs=options.prune_epochs
        )
        base_network = integer_network_from_qkeras(base)
        names = [layer.name for layer in base_network.layers]
        data_type = data_type_widths(base_network, weight_bits)
        unconstrained = build_model(spec, seed)  # the unconstrained arm: the same budget, mask kept
        unconstrained.set_weights(base.get_weights())
        finetune(unconstrained, seed, callbacks=[keep_mask(unconstrained)])
        tuned = integer_network_from_qkeras(unconstrained)
        base_exact = {"base": exact_widths(base_network), "unconstrained_finetuned": exact_widths(tuned)}
        payload.setdefault("exact_widths", {})[str(seed)] = base_exact
        payload.setdefault("data_type_widths", data_type)
        print(f"seed {seed}: base ready at {time.process_time() - started_cpu:.0f} CPU s", flush=True)

        sweeps = {
            "hidden": (names[1:], [*options.hidden_bits, "data_type"]),
            "input": (names[:1], [*options.input_bits, "data_type"]),
        }
        for sweep, (swept, bit_labels) in sweeps.items():
            if sweep not in options.sweeps:
                continue
            for label in bit_labels:
                widths = {n: data_type[n] if label == "data_type" else int(label) for n in swept}
                for arm in ARMS:
                    if arm == "a2q_plus" and sweep == "input":
                        continue  # signed input: a2q_plus is an error by design
                    constrained = None
                    network = tuned
                    if arm != "unconstrained":
                        constrained = to_accumulator_aware(base, {n: (widths[n], arm) for n in swept})
                        finetune(constrained, seed)
                        network = integer_network_from_qkeras(strip(constrained))
                    record = describe(network, widths, dataset, constrained)
                    payload["runs"].append(
                        {"seed": seed, "sweep": sweep, "bits": label, "arm": arm, **record}
                    )
                    save()
                    print(
                        f"seed {seed} {sweep} P={label} {arm}: {record['accuracy']:.4f} "
                        f"({time.process_time() - started_cpu:.0f} CPU s)",
                        flush=True,
                    )
    save()
    print(markdown_tables(payload["summary"]))
    print(json.dumps(payload["summary"]["goal_a2q_plus_ge_a2q"], indent=2))


if __name__ == "__main__":
    main()
