"""Stratified, seeded train/validation/test split and per-class subsampling."""

from __future__ import annotations

import numpy as np

from pipeline.data.io import SPLITS


def limit_per_class(labels: np.ndarray, max_per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices keeping at most ``max_per_class`` jets of each class, chosen at random (seeded)."""
    if max_per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, 1])
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) > max_per_class:
            members = rng.choice(members, max_per_class, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def stratified_split(
    labels: np.ndarray, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Indices of ``train``/``val``/``test``: each class is shuffled (seeded) and cut in the same fractions.

    Every split is shuffled so classes are interleaved. Deterministic for equal labels and seed.
    """
    rng = np.random.default_rng([seed, 2])
    parts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(len(members) * test_fraction)
        n_val = round(len(members) * validation_fraction)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    return {split: rng.permutation(np.concatenate(chunks)) for split, chunks in parts.items()}
