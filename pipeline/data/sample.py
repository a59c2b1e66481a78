"""Jet sample files (the generator's output, e.g. the bundled ``triggers_data/jets_pythia.h5``).

Layout: datasets ``features`` float32 ``(n, 16)`` (raw benchmark features) and ``labels`` int8
``(n,)`` (index into ``class_names``), root attrs ``feature_names``, ``class_names`` and
``generator`` (JSON: generator version, seed, settings). Gzip-compressed, no timestamps: equal
content gives byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES


def write_sample(path: Path, features: np.ndarray, labels: np.ndarray, generator: dict) -> None:
    """Write a jet sample file (deterministic bytes for equal inputs)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", track_order=True) as handle:
        handle.attrs["feature_names"] = list(FEATURE_NAMES)
        handle.attrs["class_names"] = list(CLASS_NAMES)
        handle.attrs["generator"] = json.dumps(generator, sort_keys=True)
        options = {"compression": "gzip", "compression_opts": 9, "shuffle": True, "track_times": False}
        handle.create_dataset("features", data=np.asarray(features, dtype=np.float32), **options)
        handle.create_dataset("labels", data=np.asarray(labels, dtype=np.int8), **options)


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...], dict]:
    """Read ``(features float32, labels int64, feature_names, class_names, generator info)``.

    Raises OSError/KeyError/ValueError on unreadable files; callers turn them into PipelineErrors.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        features = handle["features"][...].astype(np.float32)
        labels = handle["labels"][...].astype(np.int64)
        feature_names = tuple(str(name) for name in handle.attrs["feature_names"])
        class_names = tuple(str(name) for name in handle.attrs["class_names"])
        generator = json.loads(handle.attrs.get("generator", "{}"))
    return features, labels, feature_names, class_names, generator
