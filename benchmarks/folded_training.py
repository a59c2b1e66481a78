"""Models for ``bench_folded.py``: A2Q+ hidden layers at each P, trained with ``bench_a2q.py``'s protocol.

Per seed: the spec's model (``jet_dnn_q6_qap``) trained and pruned once, then per hidden-layer P the
A2Q+ arm (:mod:`pipeline.a2q.layers`, input layer unconstrained and held at its exact width)
fine-tuned for the same epochs as every arm of ``bench_a2q.py``, stripped and read as an
:class:`~pipeline.deploy.integer_network.IntegerNetwork`; also the unconstrained arm (mask kept, same
epochs). Written as one pickle (networks, test split, accuracies) so synthesis runs in another process.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _bench_a2q():
    spec = importlib.util.spec_from_file_location("bench_a2q", REPO / "benchmarks" / "bench_a2q.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_networks(
    seed: int,
    hidden_bits: list[int],
    out: Path,
    *,
    sample: str = "triggers_data/jets_pythia.h5",
    spec_path: str = "models/jet_dnn_q6_qap.yaml",
    epochs: int = 10,
    prune_epochs: int = 5,
    finetune_epochs: int = 3,
    batch_size: int = 256,
) -> dict:
    """Train and pickle ``{"networks": {P: IntegerNetwork}, "unconstrained": IntegerNetwork, ...}``."""
    from types import SimpleNamespace

    from pipeline.a2q.layers import strip, to_accumulator_aware
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.build import build_model
    from pipeline.models.pruning import prune_model
    from pipeline.models.spec import load_spec
    from pipeline.models.training import fit

    bench = _bench_a2q()
    spec = load_spec(REPO / spec_path)
    training = spec.training
    dataset = bench._dataset(SimpleNamespace(data=None, sample=sample), seed)

    def accuracy(network, widths=None) -> float:
        logits = emulate(network, dataset.x_test, accumulator_bits=widths).logits_raw
        return float(np.mean(logits.argmax(1) == dataset.y_test))

    def finetune(model, callbacks=()) -> None:
        fit(
            model,
            dataset,
            epochs=finetune_epochs,
            batch_size=batch_size,
            learning_rate=training.learning_rate,
            patience=None,
            seed=seed,
            callbacks=callbacks,
        )

    base = build_model(spec, seed)
    fit(
        base,
        dataset,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=training.learning_rate,
        patience=training.patience,
        seed=seed,
    )
    base, _ = prune_model(base, spec, dataset, seed=seed, batch_size=batch_size, epochs=prune_epochs)
    names = [layer.name for layer in integer_network_from_qkeras(base).layers]
    unconstrained = build_model(spec, seed)
    unconstrained.set_weights(base.get_weights())
    finetune(unconstrained, callbacks=[bench.keep_mask(unconstrained)])
    tuned = integer_network_from_qkeras(unconstrained)
    result = {
        "seed": seed,
        "budget": {
            "base_training_epochs": epochs,
            "pruning_epochs": prune_epochs,
            "finetune_epochs_every_arm": finetune_epochs,
            "batch_size": batch_size,
        },
        "unconstrained": tuned,
        "unconstrained_accuracy": accuracy(tuned),
        "networks": {},
        "accuracy": {},
        "x_test": dataset.x_test,
        "y_test": dataset.y_test,
    }
    for bits in hidden_bits:
        constrained = to_accumulator_aware(base, {name: (bits, "a2q_plus") for name in names[1:]})
        finetune(constrained)
        network = integer_network_from_qkeras(strip(constrained))
        result["networks"][bits] = network
        result["accuracy"][bits] = accuracy(network, {name: bits for name in names[1:]})
        print(f"seed {seed} P={bits}: a2q_plus {result['accuracy'][bits]:.4f}", flush=True)
        out.write_bytes(pickle.dumps(result))
    out.write_bytes(pickle.dumps(result))
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="train the A2Q+ networks of bench_folded.py")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-bits", type=int, nargs="+", default=[12, 13, 14, 16])
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    train_networks(options.seed, options.hidden_bits, options.out)
