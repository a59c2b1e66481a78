"""Report figures in the mplhep (ROOT) style, drawn with matplotlib's Agg backend into PNG bytes.

ROC curves follow Duarte et al., JINST 13 (2018) P07027 (background rejection ``1/eps_B`` on a log
axis versus signal efficiency ``eps_S``, one class against the rest). Pareto plots show accuracy
against a cost (BOPs, Baskin et al., "UNIQ", ACM TOCS 37 (2021); LUTs from synthesis) with the
non-dominated models joined.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from pipeline.report.working_points import roc_curve


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_READABLE = {
    "font.size": 14,
    "axes.labelsize": 16,
    "axes.titlesize": 16,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "legend.fontsize": 11,
}


def _style() -> list:
    """mplhep's ROOT style with font sizes fit for a figure embedded in a page."""
    import mplhep

    return [mplhep.style.ROOT, _READABLE]


def _plain_minor_ticks(axis, which: str) -> None:
    from matplotlib.ticker import NullFormatter

    getattr(axis, f"{which}axis").set_minor_formatter(NullFormatter())


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(
        buffer, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight", pad_inches=0.15
    )
    _pyplot().close(figure)
    return buffer.getvalue()


def roc_figure(
    class_name: str,
    curves: Mapping[str, Mapping[str, np.ndarray]],
    labels: np.ndarray,
    class_index: int,
) -> bytes:
    """PNG of the ROC curves of one class for every model.

    Args:
        class_name: the signal class (title and axis label).
        curves: ``{model: {"exact": scores (n, n_classes), "float": scores}}``; either kind may be absent.
        labels: truth class indices ``(n,)``.
        class_index: column of ``class_name`` in the score arrays.
    """
    plt = _pyplot()
    is_signal = np.asarray(labels) == class_index
    with plt.style.context(_style()):
        figure, axis = plt.subplots(figsize=(6.4, 5.6))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for number, (model, kinds) in enumerate(curves.items()):
            colour = colours[number % len(colours)]
            for kind, line_style in (("exact", "-"), ("float", "--")):
                scores = kinds.get(kind)
                if scores is None:
                    continue
                signal_efficiency, background_efficiency, _ = roc_curve(scores[:, class_index], is_signal)
                keep = background_efficiency > 0
                axis.plot(
                    signal_efficiency[keep],
                    1.0 / background_efficiency[keep],
                    line_style,
                    color=colour,
                    label=f"{model} ({'firmware-exact' if kind == 'exact' else 'float'})",
                )
        axis.set_yscale("log")
        axis.set_xlim(0, 1)
        axis.set_xlabel(f"Signal efficiency ({class_name} jets)")
        axis.set_ylabel("Background rejection 1/$\\epsilon_B$")
        axis.set_title(f"{class_name} jets vs all other jets")
        axis.legend(loc="lower left", fontsize=9)
        figure.tight_layout(rect=(0.0, 0.0, 0.97, 1.0))
    return _png(figure)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated ``(cost, accuracy)`` points (lower cost, higher accuracy), by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best = -np.inf
    for index in order:
        if points[index][1] > best:
            front.append(index)
            best = points[index][1]
    return front


def pareto_figure(points: Mapping[str, tuple[float, float]], cost_label: str, accuracy_label: str) -> bytes:
    """PNG of accuracy versus a cost for each model (log cost axis), the Pareto front joined."""
    plt = _pyplot()
    names = list(points)
    values = [points[name] for name in names]
    with plt.style.context(_style()):
        figure, axis = plt.subplots(figsize=(8, 6.5))
        for name, (cost, accuracy) in zip(names, values, strict=True):
            axis.plot(cost, accuracy, "o", markersize=9)
            axis.annotate(name, (cost, accuracy), textcoords="offset points", xytext=(6, 6), fontsize=11)
        front = pareto_front(values)
        if len(front) > 1:
            axis.plot(
                [values[i][0] for i in front], [values[i][1] for i in front], "k:", label="Pareto front"
            )
            axis.legend(loc="lower right")
        axis.margins(0.15)
        costs = [cost for cost, _ in values]
        if costs and min(costs) > 0 and max(costs) / min(costs) > 10:  # a log axis only over > 1 decade
            axis.set_xscale("log")
            _plain_minor_ticks(axis, "x")
        axis.set_xlabel(cost_label)
        axis.set_ylabel(accuracy_label)
        figure.tight_layout(rect=(0.0, 0.0, 0.97, 1.0))
    return _png(figure)


def timing_figure(wall_times: Mapping[str, float]) -> bytes:
    """PNG of a horizontal bar chart of the stages' wall times (seconds)."""
    plt = _pyplot()
    with plt.style.context(_style()):
        figure, axis = plt.subplots(figsize=(8, 0.5 * len(wall_times) + 2))
        names = list(wall_times)
        axis.barh(names, [wall_times[name] for name in names])
        axis.invert_yaxis()
        axis.set_xlabel("Wall time [s]")
        figure.tight_layout(rect=(0.0, 0.0, 0.97, 1.0))
    return _png(figure)


def scan_figure(trials: Sequence[Mapping]) -> bytes | None:
    """PNG of a scan's trials: accuracy versus LUTs (log axis over > 1 decade), the trials marked
    ``on_front`` joined and highlighted; ``None`` when no trial has both ``accuracy`` and ``luts``."""
    points = [
        (float(row["luts"]), float(row["accuracy"]), bool(row.get("on_front")))
        for row in trials
        if isinstance(row.get("luts"), int | float) and isinstance(row.get("accuracy"), int | float)
    ]
    if not points:
        return None
    plt = _pyplot()
    with plt.style.context(_style()):
        figure, axis = plt.subplots(figsize=(8, 6.5))
        others = [(cost, acc) for cost, acc, on in points if not on]
        marked = sorted((cost, acc) for cost, acc, on in points if on)
        if others:
            axis.plot(*zip(*others, strict=True), "o", color="0.6", markersize=6, label="trials")
        if marked:
            axis.plot(*zip(*marked, strict=True), "o-", color="C3", markersize=8, label="front")
        costs = [cost for cost, _, _ in points]
        if min(costs) > 0 and max(costs) / min(costs) > 10:
            axis.set_xscale("log")
            _plain_minor_ticks(axis, "x")
        axis.margins(0.1)
        axis.set_xlabel("LUTs")
        axis.set_ylabel("Accuracy")
        axis.legend(loc="lower right")
        figure.tight_layout(rect=(0.0, 0.0, 0.97, 1.0))
    return _png(figure)
