"""Sanity check of the generated features: test accuracy of a float 16-64-32-32-5 MLP.

Runs the data stage on the bundled sample (or ``--sample``) and trains plain Keras Dense layers
(ReLU, logits out, ``from_logits=True``) with Adam. The hls4ml benchmark's float model reaches ~76 %
on the OpenML/Zenodo data; a value far from that on generated jets means the features need checking.
Measured (seed 0, 60 epochs, 30 000 training jets): 65.9 % on the first sample (W/Z
recoiling against a gluon), 73.3 % on ``triggers_data/jets_pythia.h5`` (W/Z/t from Z'/W'
decays); see ``triggers_data/PROVENANCE.md``.
Usage: ``python benchmarks/float_mlp_accuracy.py [--epochs 30] [--batch-size 256] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Build the dataset, train, print test accuracy and per-class accuracy as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--sample", default="triggers_data/jets_pythia.h5")
    options = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from pipeline.data.io import load_dataset
    from pipeline.stage_api import StageInputs
    from pipeline.stages import data

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(options.seed)
    with tempfile.TemporaryDirectory() as directory:
        inputs = StageInputs(
            output_dir=Path(directory),
            upstream={},
            models=(),
            model_specs={},
            repo_root=REPO,
            seed=options.seed,
            quiet=True,
        )
        data.run(inputs, data.Config(sample=options.sample))
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
    model.fit(
        dataset.x_train,
        dataset.y_train,
        validation_data=(dataset.x_val, dataset.y_val),
        epochs=options.epochs,
        batch_size=options.batch_size,
        verbose=0,
        callbacks=[tf.keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    predicted = model.predict(dataset.x_test, batch_size=4096, verbose=0).argmax(axis=1)
    per_class = {
        name: float((predicted[dataset.y_test == index] == index).mean())
        for index, name in enumerate(dataset.class_names)
    }
    result = {
        "test_accuracy": float((predicted == dataset.y_test).mean()),
        "train_accuracy": float(
            (
                model.predict(dataset.x_train, batch_size=4096, verbose=0).argmax(axis=1) == dataset.y_train
            ).mean()
        ),
        "per_class": per_class,
        "train_jets": len(dataset.y_train),
        "test_jets": len(dataset.y_test),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
