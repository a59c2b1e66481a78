"""ROC curves and working points of a multi-class tagger, one class against the rest.

Follows the jet-tagging convention of Duarte et al., "Fast inference of deep neural networks in FPGAs
for particle physics", JINST 13 (2018) P07027: for class ``c`` the signal is the jets whose truth is
``c``, the background every other jet, the discriminant the softmax score of ``c``; the ROC curve is
background rejection ``1 / eps_B`` versus signal efficiency ``eps_S``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TARGET_EFFICIENCIES: tuple[float, ...] = (0.3, 0.5, 0.7)
"""Signal efficiencies at which working points are defined."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (max-subtracted, so integer-valued logits never overflow)."""
    values = np.asarray(logits, dtype=np.float64)
    shifted = values - values.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def roc_curve(scores: np.ndarray, is_signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal and background efficiency for every distinct threshold ``score >= t``.

    Returns ``(signal_efficiency, background_efficiency, thresholds)`` with thresholds descending.
    Ties (frequent with firmware-exact scores) are one point, so the curve never interpolates inside a tie.
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
    """Trapezoidal area under ``eps_S`` versus ``eps_B`` (the usual AUC), from the point (0, 0)."""
    x = np.r_[0.0, background_efficiency]
    y = np.r_[0.0, signal_efficiency]
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def working_point(scores: np.ndarray, is_signal: np.ndarray, target_efficiency: float) -> dict:
    """The highest threshold ``t`` whose selection ``score >= t`` keeps at least the target signal
    efficiency, with the efficiencies actually reached and the background rejection there.

    Returns ``{"target_signal_efficiency", "threshold", "signal_efficiency", "background_efficiency",
    "background_rejection", "selected_background"}``; ``background_rejection`` is ``None`` when no
    background jet passes (rejection unmeasurably large on this sample; ``selected_background`` = 0).
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
        signal_efficiency, background_efficiency, _ = roc_curve(probabilities[:, index], is_signal)
        classes[name] = {
            "auc": area_under_curve(signal_efficiency, background_efficiency),
            "n_signal": int(is_signal.sum()),
            "working_points": [working_point(probabilities[:, index], is_signal, t) for t in targets],
        }
    return {
        "n_jets": int(labels.size),
        "accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels)),
        "classes": classes,
    }
