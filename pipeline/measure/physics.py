"""Physics performance of a multi-class jet tagger: the one definition of each figure.

Accuracy, one-vs-rest ROC curve and AUC, the working point at a target signal efficiency (and the
background efficiency and rejection there), confusion matrix, as in the hls4ml jet-tagging benchmark
(Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics", JINST 13
(2018) P07027): for class ``c`` the signal is the jets whose truth is ``c``, the background every
other jet, the discriminant the softmax score of ``c``. Stage metrics (:mod:`pipeline.measure`), the
report (:mod:`pipeline.report.working_points`) and the API all use these functions.

Definitions:

* ROC curve: signal and background efficiency of the selection ``score >= t`` for every distinct
  score ``t``; tied scores (frequent with firmware-exact scores) are one point.
* AUC: the trapezoidal area under that curve from (0, 0), which equals the Mann-Whitney U statistic
  with ties counted one half.
* Working point at signal efficiency ``s``: the highest threshold whose selection keeps at least
  ``s`` of the signal (a cut one can apply in a trigger, no interpolation between thresholds);
  background efficiency ``eps_B`` = fraction of background jets passing it, rejection ``1/eps_B``
  (``None`` when no background jet passes).
"""

from __future__ import annotations

import numpy as np

WORKING_POINT_DEFINITION = (
    "threshold rule: the highest threshold t whose selection score >= t keeps at least the target "
    "signal efficiency; eps_B = fraction of background with score >= t; rejection = 1/eps_B"
)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, classes)`` logits in float64 (max-subtracted, so large integer
    logits never overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose arg-max score equals the label."""
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(labels)))


def roc_curve(scores: np.ndarray, is_signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal and background efficiency for every distinct threshold ``score >= t``.

    Returns ``(signal_efficiency, background_efficiency, thresholds)`` with thresholds descending.
    Ties are one point, so the curve never interpolates inside a tie.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_signal = is_signal[order]
    last_of_tie = np.r_[np.nonzero(np.diff(sorted_scores))[0], sorted_scores.size - 1]
    true_positives = np.cumsum(sorted_signal)[last_of_tie]
    false_positives = (last_of_tie + 1) - true_positives
    n_signal = max(int(is_signal.sum()), 1)
    n_background = max(int((~is_signal).sum()), 1)
    return true_positives / n_signal, false_positives / n_background, sorted_scores[last_of_tie]


def area_under_curve(signal_efficiency: np.ndarray, background_efficiency: np.ndarray) -> float:
    """Trapezoidal area under ``eps_S`` versus ``eps_B``, from the point (0, 0)."""
    x = np.r_[0.0, background_efficiency]
    y = np.r_[0.0, signal_efficiency]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def roc_auc(scores: np.ndarray, is_signal: np.ndarray) -> float:
    """Area under :func:`roc_curve` (= P(score_signal > score_background) + 0.5 P(equal)).
    NaN if the signal or the background is empty."""
    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.all() or not is_signal.any():
        return float("nan")
    return area_under_curve(*roc_curve(scores, is_signal)[:2])


def working_point(scores: np.ndarray, is_signal: np.ndarray, target_efficiency: float) -> dict:
    """The working point at ``target_efficiency`` (:data:`WORKING_POINT_DEFINITION`).

    Returns ``{"target_signal_efficiency", "threshold", "signal_efficiency", "background_efficiency",
    "background_rejection", "selected_background"}``; ``background_rejection`` is ``None`` when no
    background jet passes (rejection unmeasurably large on this sample; ``selected_background`` = 0).

    Raises:
        ValueError: no signal jets, or a target outside (0, 1].
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    signal_scores = np.sort(scores[is_signal])[::-1]
    if signal_scores.size == 0 or not 0.0 < target_efficiency <= 1.0:
        raise ValueError("working_point needs signal jets and a target efficiency in (0, 1]")
    needed = int(np.ceil(target_efficiency * signal_scores.size - 1e-9))
    threshold = float(signal_scores[max(needed, 1) - 1])
    selected_background = int(np.sum(scores[~is_signal] >= threshold))
    n_background = int((~is_signal).sum())
    background_efficiency = selected_background / n_background if n_background else float("nan")
    return {
        "target_signal_efficiency": float(target_efficiency),
        "threshold": threshold,
        "signal_efficiency": float(np.mean(signal_scores >= threshold)),
        "background_efficiency": float(background_efficiency),
        "background_rejection": (1.0 / background_efficiency) if selected_background else None,
        "selected_background": selected_background,
    }


def background_efficiency(scores: np.ndarray, is_signal: np.ndarray, signal_efficiency: float) -> float:
    """Background efficiency eps_B at the :func:`working_point` of ``signal_efficiency`` (NaN if the
    signal or the background is empty)."""
    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.all() or not is_signal.any():
        return float("nan")
    return working_point(scores, is_signal, signal_efficiency)["background_efficiency"]


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts; row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix
