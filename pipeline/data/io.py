"""The data stage's on-disk contract: ``dataset.h5`` + ``scaler.json`` and :func:`load_dataset`.

Layout of a finished data stage directory::

    dataset.h5      groups train/, val/, test/ each holding
                      features  float32 (n, 16)  RAW (not standardised) feature values
                      labels    int64   (n,)     class index into class_names
                    root attrs feature_names, class_names (lists of str)
    scaler.json     {"feature_names": [...], "mean": [16 floats], "std": [16 floats]}  (fitted on train)
    provenance.json where the jets came from (source, generator settings, seeds, file hashes)

:func:`load_dataset` returns the splits standardised with the saved scaler: ``(x - mean) / std``.
Files are written deterministically (no HDF5 timestamps), so equal inputs give byte-identical files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError

FEATURE_NAMES: tuple[str, ...] = (
    "j_zlogz",
    "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",
    "j_c1_b2_mmdt",
    "j_c2_b1_mmdt",
    "j_c2_b2_mmdt",
    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt",
    "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt",
    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",
    "j_n2_b2_mmdt",
    "j_mass_mmdt",
    "j_multiplicity",
)
"""The 16 high-level features of the hls4ml LHC jet dataset (OpenML 42468), in benchmark order."""

CLASS_NAMES: tuple[str, ...] = ("g", "q", "w", "z", "t")
"""Class order of the labels (index = label), as in the benchmark's one-hot j_g, j_q, j_w, j_z, j_t."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
DATASET_FILE = "dataset.h5"
SCALER_FILE = "scaler.json"


@dataclass(frozen=True)
class Dataset:
    """Standardised train/validation/test splits of the jet features.

    ``x_*`` are float32 ``(n, 16)`` standardised with ``scaler_mean``/``scaler_std`` (fitted on the
    training split); ``y_*`` are int64 class indices into ``class_names``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    scaler_mean: np.ndarray
    scaler_std: np.ndarray


@dataclass(frozen=True)
class RawSplits:
    """Raw (unstandardised) features and labels of each split, as stored in ``dataset.h5``."""

    features: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]


def fit_scaler(features_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature of the training split (std of a constant column -> 1)."""
    values = np.asarray(features_train, dtype=np.float64)
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return mean, std


def standardise(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(features - mean) / std`` as float32."""
    return ((np.asarray(features, dtype=np.float64) - mean) / std).astype(np.float32)


def write_dataset(data_dir: Path, splits: RawSplits) -> tuple[np.ndarray, np.ndarray]:
    """Write ``dataset.h5`` and ``scaler.json`` (scaler fitted on ``splits`` train) into ``data_dir``.

    Returns the scaler ``(mean, std)``. Byte-deterministic: no HDF5 object timestamps.
    """
    import h5py

    data_dir.mkdir(parents=True, exist_ok=True)
    mean, std = fit_scaler(splits.features["train"])
    with h5py.File(data_dir / DATASET_FILE, "w", track_order=True) as handle:
        handle.attrs["feature_names"] = list(splits.feature_names)
        handle.attrs["class_names"] = list(splits.class_names)
        for split in SPLITS:
            group = handle.create_group(split, track_order=True)
            group.create_dataset(
                "features",
                data=np.asarray(splits.features[split], dtype=np.float32),
                track_times=False,
            )
            group.create_dataset(
                "labels",
                data=np.asarray(splits.labels[split], dtype=np.int64),
                track_times=False,
            )
    scaler = {
        "feature_names": list(splits.feature_names),
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    (data_dir / SCALER_FILE).write_text(json.dumps(scaler, indent=2) + "\n")
    return mean, std


def read_raw_splits(data_dir: Path) -> RawSplits:
    """Read the raw splits of a finished data stage directory (no standardisation)."""
    import h5py

    path = Path(data_dir) / DATASET_FILE
    if not path.is_file():
        raise PipelineError(
            "data",
            "the data stage output has no dataset.h5",
            input=str(path),
            fix="rerun the data stage",
        )
    try:
        with h5py.File(path, "r") as handle:
            feature_names = tuple(str(name) for name in handle.attrs["feature_names"])
            class_names = tuple(str(name) for name in handle.attrs["class_names"])
            features = {split: handle[split]["features"][...] for split in SPLITS}
            labels = {split: handle[split]["labels"][...].astype(np.int64) for split in SPLITS}
    except (OSError, KeyError) as error:
        raise PipelineError(
            "data",
            f"dataset.h5 is unreadable or incomplete: {error}",
            input=str(path),
            fix="rerun the data stage",
        ) from error
    return RawSplits(features, labels, feature_names, class_names)


def load_dataset(data_dir: Path) -> Dataset:
    """Load a finished data stage directory (``dataset.h5`` + ``scaler.json``) as standardised splits."""
    data_dir = Path(data_dir)
    raw = read_raw_splits(data_dir)
    scaler_path = data_dir / SCALER_FILE
    try:
        scaler = json.loads(scaler_path.read_text())
        mean = np.asarray(scaler["mean"], dtype=np.float64)
        std = np.asarray(scaler["std"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as error:
        raise PipelineError(
            "data",
            f"scaler.json is missing or invalid: {error}",
            input=str(scaler_path),
            fix="rerun the data stage",
        ) from error
    x = {split: standardise(raw.features[split], mean, std) for split in SPLITS}
    return Dataset(
        x_train=x["train"],
        y_train=raw.labels["train"],
        x_val=x["val"],
        y_val=raw.labels["val"],
        x_test=x["test"],
        y_test=raw.labels["test"],
        feature_names=raw.feature_names,
        class_names=raw.class_names,
        scaler_mean=mean,
        scaler_std=std,
    )
