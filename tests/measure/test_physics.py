"""Physics metrics against hand-computed values."""

import numpy as np
import pytest

from pipeline.measure import physics
from pipeline.measure.compute import physics_metrics


def test_softmax_and_accuracy():
    assert np.allclose(physics.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert physics.accuracy(scores, np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_roc_auc_counts_ordered_pairs_and_ties():
    # signal 0.35 beats 0.1 not 0.4; signal 0.8 beats both: 3 of 4 pairs
    assert physics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert physics.roc_auc(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert np.isnan(physics.roc_auc(np.array([0.5, 0.6]), np.array([1, 1])))


def test_background_efficiency_at_half_signal():
    # signal 0.9 0.8 0.3 0.2; background 0.85 0.1 0.05 0.0: cut at 0.8 keeps 2/4 signal, 1/4 background
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.85, 0.1, 0.05, 0.0])
    is_signal = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    assert physics.background_efficiency(scores, is_signal, 0.5) == pytest.approx(0.25)


def test_confusion_matrix_rows_are_true_classes():
    matrix = physics.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_physics_record():
    # logits chosen so that softmax ranks are as in the hand case for class 1
    logits = np.log(np.array([[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.1, 0.9]]))
    labels = np.array([0, 1, 1, 1])
    record = physics_metrics(logits, labels, ("a", "b"))
    assert record.accuracy == pytest.approx(0.75)
    # class b: signal scores 0.7 0.2 0.9 vs background 0.4 -> 2 of 3 pairs
    assert record.auc["b"] == pytest.approx(2 / 3)
    assert record.confusion_matrix == ((1, 0), (1, 2))
    # class a: one signal (0.6) vs background 0.3 0.8 0.1 -> at 50 % signal efficiency eps_B = 1/3
    assert record.background_efficiency["a"] == pytest.approx(1 / 3)
    assert record.background_rejection["a"] == pytest.approx(3.0)


def tie_heavy_scores(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Five-class logits on a coarse integer grid (as firmware-exact logits are): many ties."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, size=3000)
    logits = rng.integers(-4, 5, size=(3000, 5)).astype(np.float64)
    logits[np.arange(3000), labels] += rng.integers(0, 3, size=3000)
    return logits, labels


def test_stage_metrics_and_report_agree_on_auc_and_rejection() -> None:
    """One definition of AUC and of background rejection: the stage record equals the report's."""
    from pipeline.report.working_points import class_performance

    logits, labels = tie_heavy_scores()
    record = physics_metrics(logits, labels, ("g", "q", "w", "z", "t"))
    report = class_performance(physics.softmax(logits), labels, ("g", "q", "w", "z", "t"), targets=(0.5,))
    for name, performance in report["classes"].items():
        assert record.auc[name] == performance["auc"]
        point = performance["working_points"][0]
        assert record.background_efficiency[name] == point["background_efficiency"]
        assert record.background_rejection[name] == point["background_rejection"]
    assert record.accuracy == report["accuracy"]


def test_auc_equals_an_independent_implementation_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    logits, labels = tie_heavy_scores(seed=5)
    scores = physics.softmax(logits)
    for index in range(5):
        expected = roc_auc_score(labels == index, scores[:, index])
        assert physics.roc_auc(scores[:, index], labels == index) == pytest.approx(expected, abs=1e-12)


def test_working_point_is_a_threshold_not_an_interpolation() -> None:
    # signal 0.9 0.8 0.8 0.2; background 0.8 0.1: eps_S = 0.5 is inside the tie at 0.8, so the cut at
    # 0.8 keeps 3/4 signal and 1/2 background (an interpolated ROC would report eps_B = 1/6)
    scores = np.array([0.9, 0.8, 0.8, 0.2, 0.8, 0.1])
    is_signal = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    assert physics.background_efficiency(scores, is_signal, 0.5) == pytest.approx(0.5)
    assert physics.working_point(scores, is_signal, 0.5)["signal_efficiency"] == pytest.approx(0.75)
