"""Per-jet scores of the run's models and their export to HDF5 (h5py) and a ROOT TTree (uproot).

Float scores are the softmax of the stored QKeras model's logits evaluated by TensorFlow;
firmware-exact scores are the softmax of the integer emulator's logits (the same integers the hls4ml
C-simulation and the RTL produce, :mod:`pipeline.deploy.emulator`). Only quantized models have
firmware-exact scores.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.report.working_points import softmax

SCORES_TREE = "jets"


@dataclass(frozen=True)
class ModelScores:
    """Per-jet outputs of one model on the test split.

    Attributes:
        float_logits: ``(n, n_classes)`` logits of the QKeras model evaluated in floating point.
        exact_logits: ``(n, n_classes)`` real values of the firmware's integer logits, or ``None``
            for a model without a fixed-point form (float model).
        model_file: run-relative path of the model file the scores come from.
    """

    float_logits: np.ndarray
    exact_logits: np.ndarray | None
    model_file: str

    @property
    def float_scores(self) -> np.ndarray:
        """Softmax of the float logits (float64)."""
        return softmax(self.float_logits)

    @property
    def exact_scores(self) -> np.ndarray | None:
        """Softmax of the firmware-exact logits (float64), or ``None``."""
        return None if self.exact_logits is None else softmax(self.exact_logits)

    @property
    def deployed_scores(self) -> np.ndarray:
        """The scores of what runs in the trigger: exact when available, else float."""
        return self.float_scores if self.exact_logits is None else self.exact_scores


def float_logits(keras_model, features_standardised: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits of ``keras_model`` on standardised features, float32, evaluated in inference mode."""
    x = np.asarray(features_standardised, dtype=np.float32)
    outputs = [
        np.asarray(keras_model(x[start : start + batch_size], training=False))
        for start in range(0, max(len(x), 1), batch_size)
    ]
    return (
        np.concatenate(outputs, axis=0) if len(x) else np.zeros((0, keras_model.output_shape[-1]), np.float32)
    )


def branch_name(text: str) -> str:
    """A ROOT-friendly identifier: characters other than letters, digits and ``_`` become ``_``."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", text)
    return f"_{name}" if name[:1].isdigit() else name


def score_columns(scores: Mapping[str, ModelScores], class_names: Sequence[str]) -> dict[str, np.ndarray]:
    """Flat per-jet columns ``<model>_<float|exact>_<class>`` (float64) of every model's scores."""
    columns: dict[str, np.ndarray] = {}
    for model, model_scores in scores.items():
        for kind, values in (("float", model_scores.float_scores), ("exact", model_scores.exact_scores)):
            if values is None:
                continue
            for index, class_name in enumerate(class_names):
                columns[branch_name(f"{model}_{kind}_{class_name}")] = values[:, index]
    return columns


def write_scores_h5(
    path: Path,
    labels: np.ndarray,
    features_raw: np.ndarray,
    feature_names: Sequence[str],
    class_names: Sequence[str],
    scores: Mapping[str, ModelScores],
) -> None:
    """Write ``scores.h5`` (byte-deterministic, no HDF5 timestamps).

    Layout: ``labels`` int64 ``(n,)``; ``features`` float32 ``(n, 16)`` raw (unstandardised) inputs;
    root attrs ``feature_names``, ``class_names``; one group per model holding ``float_scores``,
    ``float_logits`` and, for quantized models, ``exact_scores``, ``exact_logits`` (``(n, n_classes)``),
    with attrs ``model_file`` and ``has_exact``.
    """
    import h5py

    with h5py.File(path, "w", track_order=True) as handle:
        handle.attrs["feature_names"] = list(feature_names)
        handle.attrs["class_names"] = list(class_names)
        handle.create_dataset("labels", data=np.asarray(labels, dtype=np.int64), track_times=False)
        handle.create_dataset("features", data=np.asarray(features_raw, dtype=np.float32), track_times=False)
        for model, model_scores in scores.items():
            group = handle.create_group(model, track_order=True)
            group.attrs["model_file"] = model_scores.model_file
            group.attrs["has_exact"] = model_scores.exact_logits is not None
            arrays = {"float_logits": model_scores.float_logits, "float_scores": model_scores.float_scores}
            if model_scores.exact_logits is not None:
                arrays |= {
                    "exact_logits": model_scores.exact_logits,
                    "exact_scores": model_scores.exact_scores,
                }
            for name, values in arrays.items():
                dtype = np.float32 if name == "float_logits" else np.float64
                group.create_dataset(name, data=np.asarray(values, dtype=dtype), track_times=False)


def write_scores_root(
    path: Path,
    labels: np.ndarray,
    features_raw: np.ndarray,
    feature_names: Sequence[str],
    class_names: Sequence[str],
    scores: Mapping[str, ModelScores],
) -> None:
    """Write ``scores.root``: one flat TTree ``jets``, one entry per test jet.

    Branches: ``label`` (int64 class index), the 16 raw features under their benchmark names
    (float32), and ``<model>_float_<class>`` / ``<model>_exact_<class>`` scores (float64; names made
    ROOT-safe by :func:`branch_name`). UUIDs and timestamps are fixed: equal scores give equal bytes.
    """
    import uproot

    branches: dict[str, np.ndarray] = {"label": np.asarray(labels, dtype=np.int64)}
    features = np.asarray(features_raw, dtype=np.float32)
    for index, name in enumerate(feature_names):
        branches[branch_name(name)] = np.ascontiguousarray(features[:, index])
    branches |= score_columns(scores, class_names)
    with _fixed_root_clock(), uproot.recreate(path, uuid_function=lambda: uuid.UUID(int=0)) as handle:
        tree = handle.mktree(
            SCORES_TREE,
            {name: values.dtype for name, values in branches.items()},
            title="per-jet class scores (float and firmware-exact), truth label, raw input features",
        )
        tree.extend(branches)


@contextmanager
def _fixed_root_clock() -> Iterator[None]:
    """Make uproot stamp ROOT's creation/modification dates with a fixed time (byte-deterministic files).

    uproot 5 reads the clock as ``datetime.datetime.now()`` in its writing modules; they see a module
    whose ``datetime.now`` is fixed while the file is written. Without those modules' ``datetime``
    attribute (another uproot version) the file is written with real timestamps.
    """
    import datetime as real_datetime
    import types

    from uproot.writing import _cascade, _cascadetree, writable

    class _FixedDatetime(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2000, 1, 1, tzinfo=tz)

    shim = types.SimpleNamespace(**{**vars(real_datetime), "datetime": _FixedDatetime})
    modules = [
        module
        for module in (_cascade, _cascadetree, writable)
        if getattr(module, "datetime", None) is real_datetime
    ]
    for module in modules:
        module.datetime = shim
    try:
        yield
    finally:
        for module in modules:
            module.datetime = real_datetime


def exact_logits(
    keras_model, features_standardised: np.ndarray, accumulator_bits: Mapping[str, int] | None = None
) -> np.ndarray:
    """Real values of the firmware's integer logits on standardised features (float64).

    The QKeras model's integer view (:func:`pipeline.deploy.from_qkeras.integer_network_from_qkeras`,
    with the deployed accumulator widths) run through the integer emulator, which equals the hls4ml
    C-simulation jet by jet.
    """
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    network = integer_network_from_qkeras(keras_model, accumulator_bits)
    result = emulate(network, np.asarray(features_standardised, dtype=np.float32))
    return np.asarray(result.logits, dtype=np.float64)
