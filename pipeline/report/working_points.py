"""Per-class performance of a multi-class tagger for the report: AUC and working points at several
signal efficiencies, one class against the rest.

The figures themselves (softmax, ROC curve, AUC, working point) have one definition each, in
:mod:`pipeline.measure.physics` (re-exported here for the report's modules); the stage metrics use
the same functions, so a stage's ``metrics.json`` and the report agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.measure.physics import (  # noqa: F401 (re-exported for the report's modules)
    WORKING_POINT_DEFINITION,
    accuracy,
    area_under_curve,
    roc_auc,
    roc_curve,
    softmax,
    working_point,
)

TARGET_EFFICIENCIES: tuple[float, ...] = (0.3, 0.5, 0.7)
"""Signal efficiencies at which working points are defined."""


def class_performance(
    probabilities: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    targets: Sequence[float] = TARGET_EFFICIENCIES,
) -> dict:
    """Accuracy, and per class the AUC and the working points, of one set of scores.

    Args:
        probabilities: ``(n, n_classes)`` class scores (softmax outputs).
        labels: ``(n,)`` truth class indices.
        class_names: names in score-column order.
        targets: signal efficiencies of the working points.

    Returns ``{"n_jets", "accuracy", "classes": {name: {"auc", "n_signal", "working_points": [...]}}}``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    classes = {}
    for index, name in enumerate(class_names):
        is_signal = labels == index
        if not is_signal.any() or is_signal.all():
            classes[name] = {"auc": None, "n_signal": int(is_signal.sum()), "working_points": []}
            continue
        classes[name] = {
            "auc": roc_auc(probabilities[:, index], is_signal),
            "n_signal": int(is_signal.sum()),
            "working_points": [working_point(probabilities[:, index], is_signal, t) for t in targets],
        }
    return {
        "n_jets": int(labels.size),
        "accuracy": accuracy(probabilities, labels),
        "classes": classes,
    }
