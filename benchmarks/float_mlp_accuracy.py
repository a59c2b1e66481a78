"""Sanity check of the generated features: test accuracy of a float 16-64-32-32-5 MLP.

Runs the data stage on a sample file (default the bundled one) and trains plain Keras Dense layers
(ReLU, logits out, ``from_logits=True``) with Adam, once per ``--seeds`` seed (the seed sets the
stratified 60/20/20 split and the initialisation). The hls4ml benchmark's float model reaches ~76 %
on the OpenML/Zenodo data (~75 % on the CERNBox version); a value far from that on generated jets
means the sample differs from the benchmark's. ``--max-jets-per-class`` compares samples at equal size.
``--output`` writes the JSON (sample hash, generator settings, budget, per-seed results) to a file.

Usage: ``python benchmarks/float_mlp_accuracy.py [--sample FILE] [--epochs 60] [--seeds 0 1 2]
[--max-jets-per-class N] [--output benchmarks/results/NAME.json]``.
Measured numbers: ``benchmarks/results/float_mlp_*.json`` and ``triggers_data/PROVENANCE.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def train_once(sample: Path, seed: int, epochs: int, batch_size: int, max_jets_per_class: int | None) -> dict:
    """Data stage + MLP training with one seed; returns accuracies and per-class accuracy."""
    import tensorflow as tf

    from pipeline.data.io import load_dataset
    from pipeline.stage_api import StageInputs
    from pipeline.stages import data

    tf.keras.utils.set_random_seed(seed)
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
        data.run(inputs, data.Config(sample=str(sample), max_jets_per_class=max_jets_per_class))
        dataset = load_dataset(Path(directory))
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Input(shape=(16,)),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dense(5),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(
        dataset.x_train,
        dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[tf.keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    predicted = model.predict(dataset.x_test, batch_size=4096, verbose=0).argmax(axis=1)
    train_predicted = model.predict(dataset.x_train, batch_size=4096, verbose=0).argmax(axis=1)
    return {
        "seed": seed,
        "test_accuracy": float((predicted == dataset.y_test).mean()),
        "train_accuracy": float((train_predicted == dataset.y_train).mean()),
        "per_class": {
            name: float((predicted[dataset.y_test == index] == index).mean())
            for index, name in enumerate(dataset.class_names)
        },
        "epochs_run": len(history.history["loss"]),
        "train_jets": len(dataset.y_train),
        "test_jets": len(dataset.y_test),
    }


def main() -> None:
    """Train once per seed; print (and optionally write) the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--sample", default="triggers_data/jets_pythia.h5")
    parser.add_argument("--max-jets-per-class", type=int, default=None)
    parser.add_argument("--label", default=None, help="a name for this sample in the JSON")
    parser.add_argument("--output", type=Path, default=None)
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from pipeline.data.sample import read_sample
    from pipeline.stages.data import _sha256

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    sample = Path(options.sample) if Path(options.sample).is_absolute() else REPO / options.sample
    _, labels, _, _, generator = read_sample(sample)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    runs = []
    for seed in options.seeds:
        runs.append(train_once(sample, seed, options.epochs, options.batch_size, options.max_jets_per_class))
        print(json.dumps(runs[-1]), flush=True)
    accuracies = [run["test_accuracy"] for run in runs]
    result = {
        "benchmark": "benchmarks/float_mlp_accuracy.py",
        "label": options.label,
        "sample": {
            "path": options.sample,
            "sha256": _sha256(sample),
            "jets": len(labels),
            "generator": generator,
        },
        "max_jets_per_class": options.max_jets_per_class,
        "model": "float 16-64-32-32-5 ReLU MLP, Adam 1e-3, early stopping (patience 5) on validation loss",
        "epochs_max": options.epochs,
        "batch_size": options.batch_size,
        "seeds": options.seeds,
        "test_accuracy_mean": statistics.fmean(accuracies),
        "test_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else None,
        "runs": runs,
        "budget": {
            "wall_seconds": round(time.perf_counter() - start_wall, 1),
            "cpu_seconds": round(time.process_time() - start_cpu, 1),
            "threads": 1,
        },
    }
    text = json.dumps(result, indent=1, sort_keys=True)
    if options.output is not None:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
