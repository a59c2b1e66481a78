"""ROC curves and working points on hand-checkable inputs and against pipeline.measure's AUC."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.measure.physics import roc_auc
from pipeline.report.working_points import (
    area_under_curve,
    class_performance,
    roc_curve,
    softmax,
    working_point,
)


def test_roc_curve_groups_ties_and_counts_efficiencies():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    is_signal = np.array([True, True, False, False, True])
    signal_efficiency, background_efficiency, thresholds = roc_curve(scores, is_signal)
    np.testing.assert_array_equal(thresholds, [0.9, 0.8, 0.3, 0.1])
    np.testing.assert_allclose(signal_efficiency, [1 / 3, 2 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(background_efficiency, [0.0, 0.5, 1.0, 1.0])


def test_auc_equals_mann_whitney_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500).astype(bool)
    scores = np.round(rng.normal(labels * 0.7, 1.0), 1)  # coarse: many ties, like firmware scores
    signal_efficiency, background_efficiency, _ = roc_curve(scores, labels)
    assert area_under_curve(signal_efficiency, background_efficiency) == pytest.approx(
        roc_auc(scores, labels)
    )


def test_working_point_threshold_and_rejection_by_hand():
    scores = np.array([0.95, 0.9, 0.7, 0.6, 0.2, 0.85, 0.5, 0.4, 0.1, 0.05])
    is_signal = np.array([True] * 5 + [False] * 5)
    point = working_point(scores, is_signal, 0.5)
    # 3 of 5 signal jets needed (ceil 2.5): threshold = third-highest signal score 0.7
    assert point["threshold"] == 0.7
    assert point["signal_efficiency"] == pytest.approx(0.6)
    assert point["selected_background"] == 1  # only 0.85 passes
    assert point["background_rejection"] == pytest.approx(5.0)
    tight = working_point(scores, is_signal, 0.3)
    assert tight["threshold"] == 0.9 and tight["selected_background"] == 0
    assert tight["background_rejection"] is None


def test_working_point_rejects_impossible_target():
    with pytest.raises(ValueError):
        working_point(np.array([0.1, 0.2]), np.array([True, False]), 0.0)


def test_class_performance_accuracy_and_one_vs_rest():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1, 2, 1])
    result = class_performance(softmax(logits), labels, ("a", "b", "c"), targets=(0.5,))
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["classes"]["b"]["n_signal"] == 2
    assert result["classes"]["a"]["auc"] == pytest.approx(1.0)
    assert len(result["classes"]["c"]["working_points"]) == 1


def test_softmax_of_large_integer_logits_is_finite():
    probabilities = softmax(np.array([[1000.0, 999.0, -1000.0]]))
    assert np.all(np.isfinite(probabilities)) and probabilities.sum() == pytest.approx(1.0)
