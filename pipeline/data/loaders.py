"""Data sources: the bundled/generated sample, OpenML 42468, and user files (Zenodo h5, parquet, CSV).

Each loader returns raw ``(features float32 (n, 16), labels int64 (n,))`` in the benchmark's feature
and class order, after :mod:`pipeline.data.validate` checks; unreadable input is a PipelineError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES
from pipeline.data.validate import STAGE, check_arrays, check_columns, labels_from_names
from pipeline.errors import PipelineError

OPENML_DATA_ID = 42468
LABEL_COLUMNS = ("class", "jet_type")
# Zenodo hls4ml LHC jet files: `jets` columns of the 16 features, and the one-hot labels j_g..j_t.
ZENODO_FEATURE_COLUMNS = (12, *range(34, 47), 48, 52)
ZENODO_LABEL_NAMES = ("j_g", "j_q", "j_w", "j_z", "j_t")


def _unreadable(path: Path, error: Exception) -> PipelineError:
    return PipelineError(
        STAGE,
        f"cannot read the file ({type(error).__name__}: {error}); it may be truncated or corrupt",
        input=str(path),
        fix="re-copy or regenerate the file",
    )


def load_sample(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read a generator sample file (:mod:`pipeline.data.sample`) and validate it."""
    from pipeline.data.sample import read_sample

    if not path.is_file():
        raise PipelineError(
            STAGE,
            "the jet sample file does not exist",
            input=str(path),
            fix="set data.sample or generate jets",
        )
    try:
        features, labels, feature_names, class_names, generator = read_sample(path)
    except Exception as error:  # h5py raises OSError/KeyError/ValueError for damaged files
        raise _unreadable(path, error) from error
    if feature_names != FEATURE_NAMES or class_names != CLASS_NAMES:
        raise PipelineError(
            STAGE,
            "the sample's feature or class names differ from the benchmark's",
            input=str(path),
            fix="regenerate the sample with this version of the pipeline",
        )
    check_arrays(features, labels, str(path))
    return features, labels, generator


def _decode(names) -> list[str]:
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def load_zenodo_h5(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Zenodo hls4ml jet file: ``jets`` array, features at columns 12, 34-46, 48, 52, one-hot labels
    ``j_g, j_q, j_w, j_z, j_t`` at columns -6:-1 (checked against ``jetFeatureNames`` when present)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if "jets" not in handle:
                raise PipelineError(
                    STAGE,
                    "the HDF5 file has no 'jets' dataset",
                    input=str(path),
                    fix="use a Zenodo hls4ml jet file",
                )
            jets = handle["jets"][...]
            names = _decode(handle["jetFeatureNames"][...]) if "jetFeatureNames" in handle else None
    except PipelineError:
        raise
    except Exception as error:
        raise _unreadable(path, error) from error
    if jets.ndim != 2 or jets.shape[1] < 59:
        raise PipelineError(
            STAGE,
            f"'jets' has shape {jets.shape}, expected (n, >=59)",
            input=str(path),
            fix="use a Zenodo jet file",
        )
    if names is not None:
        found = tuple(names[column] for column in ZENODO_FEATURE_COLUMNS)
        found_labels = tuple(names[len(names) - 6 : len(names) - 1])
        if found != FEATURE_NAMES or found_labels != ZENODO_LABEL_NAMES:
            raise PipelineError(
                STAGE,
                f"jetFeatureNames do not match the expected columns: features {found}, labels {found_labels}",
                input=str(path),
                fix="use an hls4ml LHC jet file with the standard column order",
            )
    features = jets[:, list(ZENODO_FEATURE_COLUMNS)].astype(np.float32)
    onehot = jets[:, -6:-1]
    if not (np.isin(onehot, (0, 1)).all() and (onehot.sum(axis=1) == 1).all()):
        raise PipelineError(
            STAGE, "labels j_g..j_t are not one-hot for every jet", input=str(path), fix="check the file"
        )
    labels = onehot.argmax(axis=1).astype(np.int64)
    check_arrays(features, labels, str(path))
    return features, labels


def frame_to_arrays(frame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a table in the OpenML schema (16 feature columns + ``class``/``jet_type``)."""
    label_column = check_columns([str(column) for column in frame.columns], LABEL_COLUMNS, source)
    try:
        features = frame[list(FEATURE_NAMES)].to_numpy(dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise PipelineError(
            STAGE, f"non-numeric feature values ({error})", input=source, fix="features must be numbers"
        ) from error
    labels = labels_from_names(frame[label_column].to_numpy(), source)
    check_arrays(features, labels, source)
    return features, labels


def load_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a parquet or CSV file in the OpenML schema."""
    import pandas

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise PipelineError(
            STAGE, f"unsupported file type {suffix!r}", input=str(path), fix="use .h5, .parquet or .csv"
        )
    try:
        frame = pandas.read_parquet(path) if suffix == ".parquet" else pandas.read_csv(path)
    except Exception as error:  # pyarrow / pandas parser errors for damaged files
        raise _unreadable(path, error) from error
    return frame_to_arrays(frame, str(path))


def load_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The ``file`` source: a Zenodo h5 file, a directory of them, or a parquet/CSV table."""
    if path.is_dir():
        files = sorted(path.glob("*.h5"))
        if not files:
            raise PipelineError(
                STAGE, "the directory has no .h5 files", input=str(path), fix="point data.path at data"
            )
        parts = [load_zenodo_h5(file) for file in files]
        features, labels = np.vstack([part[0] for part in parts]), np.concatenate([part[1] for part in parts])
        check_arrays(features, labels, str(path))
        return features, labels
    if not path.is_file():
        raise PipelineError(STAGE, "the data file does not exist", input=str(path), fix="check data.path")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return load_zenodo_h5(path)
    return load_table(path)


def load_openml(cache_dir: Path, retries: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark from OpenML (``fetch_openml(data_id=42468)``), cached in ``cache_dir``.

    ``retries``: download attempts after a network error (scikit-learn's ``n_retries``).
    Without network (and no cached copy) raises a PipelineError naming the ``pythia`` and ``file`` sources.
    """
    from sklearn.datasets import fetch_openml

    try:
        bunch = fetch_openml(
            data_id=OPENML_DATA_ID,
            data_home=str(cache_dir),
            as_frame=True,
            parser="auto",
            n_retries=retries,
            delay=1.0,
        )
    except Exception as error:  # URLError, OSError, HTTP errors: all mean "not available here"
        raise PipelineError(
            STAGE,
            f"cannot download OpenML dataset {OPENML_DATA_ID} ({type(error).__name__}: {error})",
            input=f"data.openml_cache={cache_dir}",
            fix="connect to the network, or use `source: pythia` (bundled/generated jets) or "
            "`source: file` with a Zenodo h5 / parquet / CSV file",
        ) from error
    frame = bunch.frame
    if "class" not in frame.columns and bunch.target is not None:
        frame = frame.assign(**{"class": bunch.target})
    return frame_to_arrays(frame, f"openml:{OPENML_DATA_ID}")
