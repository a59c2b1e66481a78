"""working_points.json assembly: the deployed (exact) scores first, float alongside."""

from __future__ import annotations

import numpy as np

from pipeline.report.build import working_points_document
from pipeline.report.working_points import class_performance, softmax


def test_working_points_use_exact_scores_when_the_model_has_them():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200)
    logits = np.stack([labels * 1.0, 1.0 - labels], axis=1) + rng.normal(0, 1, (200, 2))
    exact = class_performance(softmax(np.round(logits * 4) / 4), labels, ("a", "b"))
    floating = class_performance(softmax(logits), labels, ("a", "b"))
    performance = {
        "q": {"model_file": "constrain/q/model.h5", "exact": exact, "float": floating},
        "f": {"model_file": "train/f/model.h5", "float": floating},
    }
    document = working_points_document(performance, ("a", "b"), (0.3, 0.5, 0.7))
    assert document["models"]["q"]["scores"] == "exact"
    assert document["models"]["q"]["classes"]["a"] == exact["classes"]["a"]["working_points"]
    assert document["models"]["q"]["float_classes"]["a"] == floating["classes"]["a"]["working_points"]
    assert document["models"]["f"]["scores"] == "float"
    assert document["target_signal_efficiencies"] == [0.3, 0.5, 0.7]
    assert exact["classes"]["a"]["working_points"] != floating["classes"]["a"]["working_points"]
