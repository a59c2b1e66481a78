"""Accuracy vs accumulator width P: unconstrained (emulated wrap-around at P bits), A2Q and A2Q+.

Trains (and prunes, if the spec says so) the base QKeras model of ``--spec`` once, then for every P:

* ``unconstrained``: the base model's integer form with every eligible layer's accumulator wrapping
  at P bits (hls4ml's default ``AP_WRAP``), the bias loaded first as in ``nnet_dense_latency.h``;
* ``a2q`` / ``a2q_plus``: the constrained model (A2Q+: projection initialisation) fine-tuned for
  ``--finetune-epochs``, stripped, checked exactly, and evaluated with the same wrap-around emulation.

Eligible layers are those whose input format admits a non-zero weight at P (a 16-bit input layer
needs P >= 18 for A2Q); the others keep a wide accumulator and are listed in the table. Prints a
markdown table (test accuracy, kernel sparsity, BOPs, constrained layers) and writes ``--out`` JSON.

Usage: ``python benchmarks/bench_a2q.py --data <finished data stage dir> [--spec models/jet_dnn_q6_qap.yaml]``
(without ``--data`` the data stage runs on the bundled sample, which is far too small for the
published comparison: use a generated set of >= 100k jets).
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


def integer_logits(network, x: np.ndarray, wrap_bits: dict[str, int]) -> np.ndarray:
    """Raw integer logits of the emulator; layers named in ``wrap_bits`` wrap at that width."""
    from pipeline.deploy.emulator import emulate

    return emulate(network, x, accumulator_bits=wrap_bits).logits_raw


def eligible_layers(network, bits: int, method: str) -> list[str]:
    """Dense layers whose input format admits a non-zero weight under ``method``'s bound at P bits."""
    from pipeline.a2q.bounds import minimum_accumulator_bits

    names, fmt = [], network.input_format
    for layer in network.layers:
        if bits >= minimum_accumulator_bits(method, fmt.bits, fmt.signed):
            names.append(layer.name)
        fmt = layer.output
    return names


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="finished data stage directory (dataset.h5 + scaler.json)")
    parser.add_argument("--sample", default="triggers_data/jets_pythia.h5")
    parser.add_argument("--spec", default="models/jet_dnn_q6_qap.yaml")
    parser.add_argument("--bits", type=int, nargs="+", default=[12, 14, 16, 18, 20, 32])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the spec's)")
    parser.add_argument("--prune-epochs", type=int, default=None, help="default: the spec's")
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_a2q.json")
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from pipeline.a2q.layers import strip, to_accumulator_aware
    from pipeline.a2q.report import layer_widths
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.measure import measure_model
    from pipeline.models.build import build_model
    from pipeline.models.pruning import prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit

    spec = load_spec(REPO / options.spec)
    dataset = _dataset(options, options.seed)
    training = spec.training
    started = time.perf_counter()
    base = build_model(spec, options.seed)
    fit(
        base,
        dataset,
        epochs=options.epochs or training.epochs,
        batch_size=training.batch_size,
        learning_rate=training.learning_rate,
        patience=training.patience,
        seed=options.seed,
    )
    if spec.pruning is not None:
        base, _ = prune_model(
            base,
            spec,
            dataset,
            seed=options.seed,
            batch_size=training.batch_size,
            epochs=options.prune_epochs or spec.pruning.epochs,
        )
    network = integer_network_from_qkeras(base)
    keras_accuracy = float(np.mean(base.predict(dataset.x_test, verbose=0).argmax(1) == dataset.y_test))
    integer_accuracy = float(np.mean(integer_logits(network, dataset.x_test, {}).argmax(1) == dataset.y_test))
    base_cost = measure_model(base, dataset, spec, stage="bench").cost
    rows = [
        {
            "method": "unconstrained",
            "bits": "wide",
            "accuracy": integer_accuracy,
            "keras_accuracy": keras_accuracy,
            "sparsity": base_cost.weight_sparsity,
            "bops": base_cost.bops,
            "layers": [],
        }
    ]
    print(
        f"base model trained in {time.perf_counter() - started:.0f} s: test accuracy "
        f"{keras_accuracy:.4f} (Keras), {integer_accuracy:.4f} (integer emulation)"
    )
    for bits in options.bits:
        layers = eligible_layers(network, bits, "a2q")
        logits = integer_logits(network, dataset.x_test, dict.fromkeys(layers, bits))
        rows.append(
            {
                "method": "unconstrained",
                "bits": bits,
                "accuracy": float(np.mean(logits.argmax(1) == dataset.y_test)),
                "sparsity": base_cost.weight_sparsity,
                "bops": base_cost.bops,
                "layers": layers,
            }
        )
        for method in ("a2q", "a2q_plus"):
            layers = eligible_layers(network, bits, method)
            targets = dict.fromkeys(layers, (bits, method))
            if not targets:
                continue
            constrained = to_accumulator_aware(base, targets)
            fit(
                constrained,
                dataset,
                epochs=options.finetune_epochs,
                batch_size=training.batch_size,
                learning_rate=training.learning_rate,
                patience=training.patience,
                seed=options.seed,
            )
            model = strip(constrained)
            checks = [r["check"]["fits"] for r in layer_widths(model, targets) if r["check"] is not None]
            stripped = integer_network_from_qkeras(model)
            logits = integer_logits(stripped, dataset.x_test, dict.fromkeys(layers, bits))
            cost = measure_model(model, dataset, spec, stage="bench").cost
            rows.append(
                {
                    "method": method,
                    "bits": bits,
                    "accuracy": float(np.mean(logits.argmax(1) == dataset.y_test)),
                    "sparsity": cost.weight_sparsity,
                    "bops": cost.bops,
                    "layers": layers,
                    "check": all(checks),
                }
            )
        print(f"P={bits} done at {time.perf_counter() - started:.0f} s", flush=True)
    print("\n| method | P | test accuracy | sparsity | BOPs | constrained (wrapped) layers | check |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['method']} | {row['bits']} | {row['accuracy']:.4f} | {row['sparsity']:.3f} "
            f"| {row['bops']:.0f} | {', '.join(row['layers']) or '-'} | {row.get('check', '-')} |"
        )
    Path(options.out).write_text(
        json.dumps({"spec": options.spec, "n_test": int(dataset.y_test.size), "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
