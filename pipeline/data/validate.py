"""Checks every data source passes before anything is written (errors name the file and problem)."""

from __future__ import annotations

import numpy as np

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES
from pipeline.errors import PipelineError

STAGE = "data"


def check_columns(columns: list[str], label_columns: tuple[str, ...], source: str) -> str:
    """Check a table has exactly the 16 feature columns plus one label column; return the label column.

    Raises PipelineError naming missing or extra columns.
    """
    present = [column for column in label_columns if column in columns]
    missing = [name for name in FEATURE_NAMES if name not in columns]
    if not present:
        missing.append(" or ".join(label_columns))
    extra = [column for column in columns if column not in FEATURE_NAMES and column not in label_columns]
    if len(present) > 1:
        extra.extend(present[1:])
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        raise PipelineError(
            STAGE,
            "; ".join(parts),
            input=source,
            fix=f"provide exactly the 16 feature columns {list(FEATURE_NAMES)} and a 'class' column",
        )
    return present[0]


def labels_from_names(values, source: str) -> np.ndarray:
    """Map class names (``g, q, w, z, t``, any case) to indices; unknown names are a PipelineError."""
    names = np.asarray([str(value).strip().lower() for value in values])
    known = np.isin(names, CLASS_NAMES)
    if not known.all():
        unknown = sorted(set(names[~known].tolist()))[:5]
        raise PipelineError(
            STAGE,
            f"unknown class labels {unknown}",
            input=source,
            fix=f"use the class names {list(CLASS_NAMES)}",
        )
    lookup = {name: index for index, name in enumerate(CLASS_NAMES)}
    return np.array([lookup[name] for name in names], dtype=np.int64)


def check_arrays(features: np.ndarray, labels: np.ndarray, source: str) -> None:
    """Check shapes, finiteness, label range and that every class has jets."""
    if features.ndim != 2 or features.shape[1] != len(FEATURE_NAMES):
        raise PipelineError(
            STAGE,
            f"features have shape {features.shape}, expected (n, 16)",
            input=source,
            fix="check the file",
        )
    if len(features) != len(labels):
        raise PipelineError(STAGE, "features and labels differ in length", input=source, fix="check the file")
    finite = np.isfinite(features)
    if not finite.all():
        rows, columns = np.nonzero(~finite)
        bad = sorted({FEATURE_NAMES[column] for column in columns})
        raise PipelineError(
            STAGE,
            f"{len(set(rows.tolist()))} jets have NaN or infinite values in {bad}",
            input=source,
            fix="remove or repair those rows",
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise PipelineError(STAGE, "labels outside the 5 classes", input=source, fix="check the labels")
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    empty = [CLASS_NAMES[index] for index, count in enumerate(counts) if count == 0]
    if empty:
        raise PipelineError(
            STAGE,
            f"classes {empty} have no jets",
            input=source,
            fix="provide jets of all five classes g, q, w, z, t",
        )
