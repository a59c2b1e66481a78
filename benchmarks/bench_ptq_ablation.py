"""Where integer PTQ loses accuracy on the jet tagger: activations vs weights, and calibration size.

For each seed the float 16-64-32-32-5 MLP is trained exactly as in ``bench_ptq.py`` (same data split,
epochs, seeds: the float accuracies equal that file's), then at 4 and 6 bits:

* ``activations_only``: float (power-of-two-equalized) weights and biases, only the hidden activations
  quantized with per-tensor MMSE ``quantized_relu`` formats chosen on the calibration jets;
* ``activations_only_equalized``: the same after activation equalization (per-channel power-of-two
  activation scales, :mod:`pipeline.ptq.activation_equalization`);
* ``weights_biases_only``: the weights and biases of the best PTQ arm (equalization, activation
  equalization, GPTQ, format search), activations left in float;
* ``best_arm``: that arm in full, for 1000, 5000 and 30000 calibration jets.

Usage (result: ``benchmarks/results/ptq_ablation.json``)::

    python benchmarks/bench_ptq_ablation.py [--seeds 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_ptq import INPUT_BITS, REPO, RESULTS, accuracy, load_data, train

BITS = (4, 6)
CALIBRATION_SIZES = (1000, 5000, 30000)


def _hidden_forward(weights, features, activation_bits=None, calibration=None, input_integer_bits=4):
    """Logits with the 16-bit input quantizer; hidden activations quantized per tensor when
    ``activation_bits`` is given (formats chosen by MMSE on ``calibration``, sequentially)."""
    from pipeline.ptq.fixed_point import mmse_integer_bits, quantize

    x = quantize(np.asarray(features, dtype=np.float64), INPUT_BITS, input_integer_bits, signed=True)
    c = None
    if calibration is not None:
        c = quantize(np.asarray(calibration, dtype=np.float64), INPUT_BITS, input_integer_bits, signed=True)
    for index, (kernel, bias) in enumerate(weights):
        x = x @ kernel + bias
        if c is not None:
            c = c @ kernel + bias
        if index < len(weights) - 1:
            x = np.maximum(x, 0.0)
            if activation_bits is not None:
                c = np.maximum(c, 0.0)
                integer_bits = mmse_integer_bits(c, activation_bits, signed=False)
                x = quantize(x, activation_bits, integer_bits, signed=False)
                c = quantize(c, activation_bits, integer_bits, signed=False)
    return x


def ablation_rows(weights, dataset, seed: int, bits: int) -> dict:
    from pipeline.ptq.activation_equalization import equalize_activations
    from pipeline.ptq.fixed_point import mmse_integer_bits
    from pipeline.ptq.mmse import PTQSettings, equalize_power_of_two, forward
    from pipeline.ptq.search import calibrate

    rng = np.random.default_rng(seed)
    calibration = dataset.x_train[rng.choice(len(dataset.x_train), 5000, replace=False)]
    input_integer_bits = mmse_integer_bits(calibration, INPUT_BITS, signed=True)
    equalized = equalize_power_of_two(weights)
    act_equalized = equalize_activations(equalized, calibration, bits)
    settings = PTQSettings(
        INPUT_BITS,
        bits,
        bits,
        bits,
        equalization=True,
        activation_equalization=True,
        rounding="gptq",
        format_search=True,
    )

    def scores(logits_fn) -> dict:
        return {
            "val": accuracy(logits_fn(dataset.x_val), dataset.y_val),
            "test": accuracy(logits_fn(dataset.x_test), dataset.y_test),
        }

    rows = {
        "activations_only": scores(
            lambda x: _hidden_forward(equalized, x, bits, calibration, input_integer_bits)
        ),
        "activations_only_equalized": scores(
            lambda x: _hidden_forward(act_equalized, x, bits, calibration, input_integer_bits)
        ),
    }
    best = calibrate(weights, calibration, settings)
    quantized = [(layer.weight, layer.bias) for layer in best.layers]
    rows["weights_biases_only"] = scores(
        lambda x: _hidden_forward(quantized, x, input_integer_bits=best.input_integer_bits)
    )
    for size in CALIBRATION_SIZES:
        rows_rng = np.random.default_rng(seed)
        subset = dataset.x_train[rows_rng.choice(len(dataset.x_train), size, replace=False)]
        result = calibrate(weights, subset, settings)
        rows[f"best_arm_{size}_calibration_jets"] = scores(lambda x, result=result: forward(result, x))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=Path, default=REPO / "triggers_data" / "jets_pythia.h5")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=RESULTS / "ptq_ablation.json")
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pipeline.models.spec import load_spec
    from pipeline.models.training import configure_determinism
    from pipeline.ptq.keras import dense_weights
    from pipeline.ptq.search import float_logits

    started = time.perf_counter()
    per_seed = []
    with tempfile.TemporaryDirectory() as scratch:
        dataset = load_data(options.sample, 20261123, Path(scratch))
        for seed in range(options.seeds):
            configure_determinism(seed)
            spec = load_spec(REPO / "models" / "jet_dnn_float.yaml")
            model = train(spec, dataset, seed, options.epochs, options.batch_size)
            weights = [(k.astype(np.float64), b.astype(np.float64)) for k, b in dense_weights(model)]
            run = {
                "seed": seed,
                "float": {
                    "val": accuracy(float_logits(weights, dataset.x_val), dataset.y_val),
                    "test": accuracy(float_logits(weights, dataset.x_test), dataset.y_test),
                },
                "bits": {str(bits): ablation_rows(weights, dataset, seed, bits) for bits in BITS},
            }
            per_seed.append(run)
            print(json.dumps(run), flush=True)
            arms = per_seed[0]["bits"]["4"].keys()
            summary = {
                str(bits): {
                    arm: float(np.mean([r["bits"][str(bits)][arm]["test"] for r in per_seed])) for arm in arms
                }
                for bits in BITS
            }
            summary["float"] = float(np.mean([r["float"]["test"] for r in per_seed]))
            result = {
                "command": f"python benchmarks/bench_ptq_ablation.py --seeds {options.seeds} "
                f"--epochs {options.epochs} --batch-size {options.batch_size}",
                "budget": {
                    "epochs": options.epochs,
                    "batch_size": options.batch_size,
                    "input_bits": INPUT_BITS,
                },
                "per_seed": per_seed,
                "mean_test": summary,
                "wall_seconds": round(time.perf_counter() - started, 1),
            }
            options.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
