"""A small Python API for physics analyses: load a run's tagger and evaluate it on jets.

>>> tagger = load_tagger("runs/default", "jet_dnn_q6")
>>> scores = tagger.predict(features)            # firmware-exact class scores, (n, 5)
>>> scores = tagger.predict(features, exact=False)   # the QKeras model in floating point
>>> tagger.working_points["classes"]["t"]        # thresholds at signal efficiency 0.3 / 0.5 / 0.7

``features`` are the 16 raw (unstandardised) jet features in benchmark order (``tagger.feature_names``),
as a ``(n, 16)`` array or a pandas DataFrame with those columns in that order. Scores are the softmax
of the logits, columns in ``tagger.class_names`` order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import PipelineError

STAGE = "api"
RUN_STAGES: tuple[str, ...] = ("data", "train", "prune", "constrain", "export")


@dataclass(frozen=True, eq=False)
class Tagger:
    """A run's deployed model with its scaler, working points and metrics (use :func:`load_tagger`)."""

    run_dir: Path
    model: str
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    scaler_mean: np.ndarray
    scaler_std: np.ndarray
    deployed: Any

    @property
    def has_exact(self) -> bool:
        """True when the model has a firmware-exact (integer) form."""
        return self.deployed.has_exact

    def standardise(self, features: Any) -> np.ndarray:
        """Check raw features and standardise them with the run's scaler (float32, ``(n, 16)``).

        Raises:
            PipelineError: wrong number or order of features, non-numeric values, NaN or infinity.
        """
        values = self._as_array(features)
        bad = ~np.isfinite(values)
        if bad.any():
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise PipelineError(
                STAGE,
                f"{int(bad.sum())} feature value(s) are NaN or infinite (first: jet {row}, "
                f"{self.feature_names[column]})",
                input="features",
                fix="remove or fill the jets with missing features before calling predict",
            )
        from pipeline.data.io import standardise

        return standardise(values, self.scaler_mean, self.scaler_std)

    def logits(self, features: Any, exact: bool = True) -> np.ndarray:
        """Logits of the deployed model: firmware-exact (float64 values of the integer outputs) by
        default, the QKeras model in floating point with ``exact=False``."""
        x = self.standardise(features)
        if exact:
            return self.deployed.exact_logits(x)
        return np.asarray(self.deployed.float_logits(x), dtype=np.float64)

    def predict(self, features: Any, exact: bool = True) -> np.ndarray:
        """Class scores ``(n, n_classes)`` (softmax of :meth:`logits`), float64.

        Args:
            features: raw jet features, ``(n, 16)`` array or DataFrame with ``feature_names`` columns.
            exact: firmware-exact scores (default); ``False`` for the float evaluation.
        """
        from pipeline.measure.physics import softmax

        return softmax(self.logits(features, exact=exact))

    @cached_property
    def working_points(self) -> dict:
        """This model's entry of ``report/working_points.json`` (needs the report stage)."""
        document = self._report_file("working_points.json")
        return document["models"][self.model] | {
            "target_signal_efficiencies": document["target_signal_efficiencies"]
        }

    @cached_property
    def metrics(self) -> dict:
        """This model's entry of ``report/metrics.json``: per-stage records, summary, performance."""
        return self._report_file("metrics.json")["models"][self.model]

    def _report_file(self, name: str) -> dict:
        path = self.run_dir / "report" / name
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise PipelineError(
                STAGE, f"cannot read the report: {error}", input=str(path), fix="run the report stage"
            ) from error
        if self.model not in document.get("models", {}):
            raise PipelineError(STAGE, f"the report has no entry for '{self.model}'", input=str(path))
        return document

    def _as_array(self, features: Any) -> np.ndarray:
        names = self.feature_names
        if hasattr(features, "columns"):
            columns = [str(column) for column in features.columns]
            if columns != list(names):
                unknown = sorted(set(columns) - set(names))
                absent = [name for name in names if name not in columns]
                problem = (
                    f"DataFrame columns do not match the features (unknown {unknown}, absent {absent})"
                    if unknown or absent
                    else "DataFrame columns are in the wrong order"
                )
                raise PipelineError(
                    STAGE, problem, input="features", fix="pass features[tagger.feature_names]"
                )
            features = features.to_numpy()
        try:
            values = np.asarray(features, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise PipelineError(STAGE, f"features are not numeric: {error}", input="features") from error
        if values.ndim == 1 and values.size == len(names):
            values = values[None, :]
        if values.ndim != 2 or values.shape[1] != len(names):
            raise PipelineError(
                STAGE,
                f"features have shape {values.shape}; expected (n_jets, {len(names)})",
                input="features",
                fix=f"pass the {len(names)} raw features in benchmark order: {', '.join(names)}",
            )
        return values


def load_tagger(run_dir: str | Path, model: str) -> Tagger:
    """Load ``model`` of the run in ``run_dir`` (its data stage and at least its train stage done).

    Raises:
        PipelineError: the run has no data stage, or no stored model of that name.
    """
    from pipeline.report.collect import read_json
    from pipeline.report.deployed import load_deployed

    run_dir = Path(run_dir)
    scaler = read_json(run_dir / "data" / "scaler.json")
    if not isinstance(scaler, dict) or not {"feature_names", "mean", "std"} <= scaler.keys():
        raise PipelineError(
            STAGE,
            "the run has no readable data/scaler.json",
            input=str(run_dir / "data" / "scaler.json"),
            fix="check the run directory, or run the data stage",
        )
    class_names = _class_names(run_dir / "data" / "dataset.h5")
    stage_dirs = {stage: run_dir / stage for stage in RUN_STAGES if (run_dir / stage).is_dir()}
    deployed = load_deployed(stage_dirs, model)
    return Tagger(
        run_dir=run_dir,
        model=model,
        feature_names=tuple(scaler["feature_names"]),
        class_names=class_names,
        scaler_mean=np.asarray(scaler["mean"], dtype=np.float64),
        scaler_std=np.asarray(scaler["std"], dtype=np.float64),
        deployed=deployed,
    )


def _class_names(dataset_path: Path) -> tuple[str, ...]:
    import h5py

    try:
        with h5py.File(dataset_path, "r") as handle:
            return tuple(str(name) for name in handle.attrs["class_names"])
    except (OSError, KeyError) as error:
        raise PipelineError(
            STAGE, f"cannot read class names: {error}", input=str(dataset_path), fix="run the data stage"
        ) from error
