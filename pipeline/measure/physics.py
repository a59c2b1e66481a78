"""Physics performance of a multi-class jet tagger: accuracy, one-vs-rest ROC AUC, background
rejection at fixed signal efficiency, confusion matrix (as in the hls4ml jet-tagging benchmark,
Duarte et al. 2018). Pure numpy functions on scores and integer labels."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, classes)`` logits (numerically stable), float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose arg-max score equals the label."""
    return float(np.mean(np.argmax(scores, axis=1) == np.asarray(labels)))


def roc_auc(scores: np.ndarray, is_signal: np.ndarray) -> float:
    """Area under the ROC curve = P(score_signal > score_background) + 0.5 P(equal)
    (Mann-Whitney U statistic with average ranks for ties). NaN if a class is absent."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    n_signal = int(is_signal.sum())
    n_background = is_signal.size - n_signal
    if n_signal == 0 or n_background == 0:
        return float("nan")
    ranks = rankdata(scores)
    u = ranks[is_signal].sum() - n_signal * (n_signal + 1) / 2.0
    return float(u / (n_signal * n_background))


def background_efficiency(scores: np.ndarray, is_signal: np.ndarray, signal_efficiency: float) -> float:
    """Background efficiency eps_B at the working point with signal efficiency ``signal_efficiency``.

    The ROC curve (sklearn ``roc_curve``: TPR vs FPR over all thresholds) is interpolated linearly in
    TPR, as in the hls4ml jet-tagging benchmark. ``1 / eps_B`` is the background rejection.
    """
    from sklearn.metrics import roc_curve

    is_signal = np.asarray(is_signal, dtype=bool)
    if is_signal.all() or not is_signal.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(is_signal, np.asarray(scores, dtype=np.float64), drop_intermediate=False)
    return float(np.interp(signal_efficiency, tpr, fpr))


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts; row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix
