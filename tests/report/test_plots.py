"""Report figures: valid PNGs that depend on their data, and the Pareto front."""

from __future__ import annotations

import io

import numpy as np

from pipeline.report.plots import pareto_figure, pareto_front, roc_figure, timing_figure
from pipeline.report.working_points import softmax


def _image(png: bytes) -> np.ndarray:
    import matplotlib.image

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_pareto_front_keeps_non_dominated_points():
    points = [(100.0, 0.70), (50.0, 0.72), (200.0, 0.75), (300.0, 0.74), (50.0, 0.60)]
    assert pareto_front(points) == [1, 2]


def test_roc_figure_is_a_png_and_depends_on_the_scores():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    good = softmax(np.eye(3)[labels] * 2 + rng.normal(0, 1, (300, 3)))
    poor = softmax(rng.normal(0, 1, (300, 3)))
    one = _image(roc_figure("a", {"m": {"exact": good, "float": good}}, labels, 0))
    two = _image(roc_figure("a", {"m": {"exact": good}, "n": {"float": poor}}, labels, 0))
    assert one.ndim == 3 and one.shape[2] == 4 and min(one.shape[:2]) > 500  # an RGBA figure, cropped tight
    assert not np.array_equal(one[:100, :100], np.zeros_like(one[:100, :100])) and not (
        one.shape == two.shape and np.array_equal(one, two)
    )


def test_pareto_and_timing_figures_render():
    pareto = _image(pareto_figure({"a": (1e3, 0.7), "b": (5e4, 0.76)}, "BOPs", "Accuracy"))
    timing = _image(timing_figure({"data": 2.0, "train": 30.0}))
    assert pareto.shape[0] > 100 and timing.shape[0] > 100
