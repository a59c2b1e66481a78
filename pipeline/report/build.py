"""Build the report directory of a run from its stored artifacts (the report stage's body).

Writes ``metrics.json``, ``index.html``, the PNG figures, ``working_points.json``, ``scores.h5`` and
``scores.root``. The report stage requires every earlier stage (``REQUIRES``), so under the runner
they are all present; called directly on a partial run directory, :func:`build_report` lists the
stages, models and files that are missing in the document and on the page instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.report.collect import PIPELINE_STAGES, collect_run, read_json, summarise_model
from pipeline.report.scan import read_scan
from pipeline.report.scores import ModelScores, write_scores_h5, write_scores_root
from pipeline.report.working_points import TARGET_EFFICIENCIES, class_performance

if TYPE_CHECKING:
    from pipeline.model_work import ModelWork

WORKING_POINTS_FILE = "working_points.json"


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, allow_nan=False, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def score_model(task: tuple[dict[str, Path], str, np.ndarray]) -> tuple[ModelScores | None, list[str]]:
    """Float and (for a quantized model) firmware-exact test-split scores of one model, and the
    ``missing`` entries it adds; ``(None, [...])`` when no model file is stored. A picklable task of
    :class:`pipeline.model_work.ModelWork` (``(stage_dirs, model, standardised features)``)."""
    from pipeline.errors import PipelineError
    from pipeline.models.training import fresh_model_state
    from pipeline.report.deployed import load_deployed

    stage_dirs, model, features_standardised = task
    fresh_model_state(0)  # scoring draws no random number: this gives one thread and a clean session
    try:
        deployed = load_deployed(stage_dirs, model)
    except PipelineError as error:
        return None, [f"scores/{model}: {error.problem}"]
    exact = deployed.exact_logits(features_standardised) if deployed.has_exact else None
    notes = (
        [] if exact is not None else [f"scores/{model}: no firmware-exact scores ({deployed.exact_problem})"]
    )
    return ModelScores(deployed.float_logits(features_standardised), exact, deployed.model_file), notes


def compute_scores(
    stage_dirs: Mapping[str, Path],
    models: Sequence[str],
    features_standardised: np.ndarray,
    missing: list[str],
    advance: Callable[[], None] = lambda: None,
    work: ModelWork | None = None,
) -> dict[str, ModelScores]:
    """Float and (for quantized models) firmware-exact test-split scores of every model that has a
    stored model file (:func:`score_model`, one task per model run by ``work``: serially in this
    process by default); models without one are appended to ``missing``, in model order."""
    from pipeline.model_work import ModelWork

    tasks = [(dict(stage_dirs), model, features_standardised) for model in models]
    results = (work or ModelWork()).map(score_model, tasks, on_done=lambda _task, _result: advance())
    scores: dict[str, ModelScores] = {}
    for model, (model_scores, notes) in zip(models, results, strict=True):
        missing.extend(notes)
        if model_scores is not None:
            scores[model] = model_scores
    return scores


def working_points_document(
    performance: Mapping[str, Mapping[str, Any]], class_names: Sequence[str], targets: Sequence[float]
) -> dict:
    """``working_points.json``: per model the deployed model's working points (exact scores when the
    model is quantized, float otherwise) plus the float model's for comparison."""
    models = {}
    for model, entry in performance.items():
        deployed_kind = "exact" if "exact" in entry else "float"
        models[model] = {
            "scores": deployed_kind,
            "model_file": entry["model_file"],
            "classes": {
                name: value["working_points"] for name, value in entry[deployed_kind]["classes"].items()
            },
            "float_classes": {
                name: value["working_points"] for name, value in entry["float"]["classes"].items()
            },
        }
    return {
        "definition": "per class c: signal = jets of class c, background = all other jets, discriminant = "
        "softmax score of c; selection score >= threshold",
        "target_signal_efficiencies": list(targets),
        "class_names": list(class_names),
        "models": models,
    }


def build_report(
    stage_dirs: Mapping[str, Path],
    models: Sequence[str],
    output_dir: Path,
    *,
    title: str = "trigger-pipeline report",
    targets: Sequence[float] = TARGET_EFFICIENCIES,
    max_jets: int | None = None,
    progress: Callable[[str, float | None], Any] | None = None,
    checks_file: Path | None = None,
    scan_dir: Path | None = None,
    work: ModelWork | None = None,
) -> dict:
    """Write the report files into ``output_dir`` and return a short summary for the manifest.

    Args:
        stage_dirs: finished directory of each earlier stage (absent ones are reported missing).
        models: the run's models in config order.
        output_dir: where to write (the report stage's staging directory).
        title: page title.
        targets: signal efficiencies of the working points.
        max_jets: use only the first ``max_jets`` test jets (``None``: all).
        progress: ``progress(description, total)`` context manager factory (``None``: silent).
        checks_file: the checks' results (``<run-dir>/checks/checks.json``); absent: no budgets.
        scan_dir: a scan's folder (``<run-dir>/scan``); absent: no scan section.
        work: runs the per-model scoring (:func:`score_model`); ``None``: serially in this process.
    """
    from pipeline.report.html import render_page

    output_dir.mkdir(parents=True, exist_ok=True)
    document = collect_run(stage_dirs, models, PIPELINE_STAGES)
    missing: list[str] = document["missing"]
    for model in models:
        document["models"][model]["summary"] = summarise_model(document["models"][model])
    data_dir = stage_dirs.get("data")
    scores: dict[str, ModelScores] = {}
    class_names: tuple[str, ...] = ()
    if data_dir is not None and (data_dir / "dataset.h5").is_file():
        from pipeline.data.io import load_dataset, read_raw_splits

        dataset = load_dataset(data_dir)
        raw = read_raw_splits(data_dir)
        limit = slice(None) if max_jets is None else slice(0, max_jets)
        features, labels = dataset.x_test[limit], dataset.y_test[limit]
        class_names = dataset.class_names
        scores = _scores_with_progress(stage_dirs, models, features, missing, progress, work)
        if scores:
            write_scores_h5(
                output_dir / "scores.h5",
                labels,
                raw.features["test"][limit],
                dataset.feature_names,
                class_names,
                scores,
            )
            write_scores_root(
                output_dir / "scores.root",
                labels,
                raw.features["test"][limit],
                dataset.feature_names,
                class_names,
                scores,
            )
        for model, model_scores in scores.items():
            entry: dict[str, Any] = {"model_file": model_scores.model_file}
            entry["float"] = class_performance(model_scores.float_scores, labels, class_names, targets)
            if model_scores.exact_scores is not None:
                entry["exact"] = class_performance(model_scores.exact_scores, labels, class_names, targets)
            document["models"][model]["performance"] = entry
    else:
        missing.append("data/dataset.h5: absent, so no scores, ROC curves or working points")
    performance = {
        m: document["models"][m]["performance"] for m in models if "performance" in document["models"][m]
    }
    if performance:
        (output_dir / WORKING_POINTS_FILE).write_text(
            _dump(working_points_document(performance, class_names, targets))
        )
    checks = read_json(checks_file) if checks_file is not None else None
    document["checks"] = checks if isinstance(checks, dict) else None
    scan = read_scan(scan_dir)
    document["scan"] = None if scan is None else {k: scan[k] for k in ("files", "columns", "problems")}
    if scan is not None:
        document["scan"]["n_trials"] = len(scan["trials"])
    figures = make_figures(document, scores, labels if scores else None, class_names)
    if scan is not None and scan["trials"]:
        from pipeline.report.plots import scan_figure

        png = scan_figure(scan["trials"])
        if png is not None:
            figures["scan_front.png"] = png
    for name, png in figures.items():
        (output_dir / name).write_bytes(png)
    document["figures"] = sorted(figures)
    (output_dir / "metrics.json").write_text(_dump(document))
    (output_dir / "index.html").write_text(render_page(document, figures, title, document["checks"], scan))
    return {
        "models_with_scores": sorted(scores),
        "models_with_exact_scores": sorted(m for m, s in scores.items() if s.exact_logits is not None),
        "figures": len(figures),
        "missing": len(missing),
    }


def _scores_with_progress(stage_dirs, models, features, missing, progress, work) -> dict[str, ModelScores]:
    if progress is None:
        return compute_scores(stage_dirs, models, features, missing, work=work)
    with progress("report: scoring models", len(models)) as bar:
        return compute_scores(
            stage_dirs, models, features, missing, advance=lambda: bar.advance(1), work=work
        )


def make_figures(
    document: Mapping[str, Any],
    scores: Mapping[str, ModelScores],
    labels: np.ndarray | None,
    class_names: Sequence[str],
) -> dict[str, bytes]:
    """PNG figures by file name: ``roc_<class>.png``, ``pareto_bops.png``, ``pareto_luts.png``,
    ``stage_timings.png``; a figure whose figures are not stored is left out."""
    from pipeline.report.plots import pareto_figure, roc_figure, timing_figure

    figures: dict[str, bytes] = {}
    if scores and labels is not None:
        curves = {model: {"exact": s.exact_scores, "float": s.float_scores} for model, s in scores.items()}
        for index, class_name in enumerate(class_names):
            figures[f"roc_{class_name}.png"] = roc_figure(class_name, curves, labels, index)
    for cost, filename, label in (
        ("bops", "pareto_bops.png", "BOPs"),
        ("luts", "pareto_luts.png", "LUTs (Yosys synthesis)"),
    ):
        points = {}
        for model, record in document["models"].items():
            performance = record.get("performance") or {}
            deployed = performance.get("exact") or performance.get("float")
            figure_cost = (record.get("summary") or {}).get(cost)
            if deployed is not None and figure_cost is not None:
                points[model] = (figure_cost["value"], deployed["accuracy"])
        if points:
            figures[filename] = pareto_figure(points, label, "Accuracy (deployed model)")
    wall_times = {
        stage: entry["wall_time_seconds"]
        for stage, entry in document["stages"].items()
        if isinstance(entry.get("wall_time_seconds"), int | float)
    }
    if wall_times:
        figures["stage_timings.png"] = timing_figure(wall_times)
    return figures
