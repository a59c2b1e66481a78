"""Detail sections of the report page: checks, working points, per-layer figures, firmware, a scan's
trials, stage timings. Formatting only: each figure comes from the documents it is given."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.report import numbers
from pipeline.report.markup import Markup, image, table, verdict_cell
from pipeline.report.scan import front


def checks_section(checks: Mapping[str, Any] | None, models: Sequence[str], verdict_table: str) -> str:
    """The checks: the model x stage verdicts and one row per failing or unmeasured check."""
    if not isinstance(checks, Mapping):
        return (
            "<h2>Checks</h2><p class='note'>No budgets configured (the <code>checks:</code> section of the "
            "pipeline YAML), so nothing was checked.</p>"
        )
    mode = checks.get("mode")
    rows = []
    for stage in checks.get("stage_order", []):
        for result in (checks.get("stages", {}).get(stage) or {}).get("results", []):
            if result["status"] in ("fail", "missing"):
                relation = "≤" if result["check"].startswith("max_") else "≥"
                unit = result.get("unit") or ""
                rows.append(
                    {
                        "model": result["model"],
                        "stage": result["stage"],
                        "figure": result["figure"],
                        "value": Markup(f"{numbers.plain(result['value'])} {unit}".strip()),
                        "budget": Markup(f"{relation} {numbers.plain(result['limit'])} {unit}".strip()),
                        "result": verdict_cell(result["status"], mode),
                        "record read": result["source"],
                        "note": result.get("note") or "",
                    }
                )
    counts: dict[str, int] = {}
    for entry in (checks.get("stages") or {}).values():
        for result in entry.get("results", []):
            counts[result["status"]] = counts.get(result["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    mode_text = (
        "gate: a failing check stops its model and the run exits with status 3"
        if mode == "gate"
        else "warn: failing checks are marked, the run goes on"
    )
    parts = [
        "<h2>Checks</h2>",
        f"<p class='note'>Mode {html.escape(mode_text)}. {html.escape(summary)} "
        "(every check with its limit, value and the record it read: <code>checks/checks.json</code>).</p>",
        verdict_table,
    ]
    if rows:
        parts.append(table(rows))
    return "".join(parts)


def working_point_section(document: Mapping[str, Any]) -> str:
    rows = []
    for model, record in document.get("models", {}).items():
        performance = record.get("performance") or {}
        kind = "exact" if "exact" in performance else "float"
        for class_name, entry in (performance.get(kind) or {}).get("classes", {}).items():
            for point in entry.get("working_points", []):
                rows.append(
                    {
                        "model": model,
                        "scores": kind,
                        "class": class_name,
                        "AUC": Markup(numbers.plain(entry.get("auc"), 3)),
                        "target eff_S": point["target_signal_efficiency"],
                        "threshold": point["threshold"],
                        "eff_S": point["signal_efficiency"],
                        "eff_B": point["background_efficiency"],
                        "rejection 1/eff_B": Markup(numbers.plain(point["background_rejection"], 3))
                        if point["selected_background"]
                        else "no background jet passes",
                    }
                )
    if not rows:
        return "<h2>Working points</h2><p class='note'>not available: no model was scored</p>"
    return "<h2>Working points (deployed model)</h2><div class='tall'>" + table(rows) + "</div>"


def per_layer_rows(record: Any) -> list[dict] | None:
    """The per-layer list of a record: a list of dicts under ``layers`` / ``per_layer`` (or a dict of
    dicts keyed by layer name), searched one level deep; ``None`` if the record has none."""
    if not isinstance(record, Mapping):
        return None
    for key in ("layers", "per_layer"):
        value = record.get(key)
        if isinstance(value, list) and value and all(isinstance(row, Mapping) for row in value):
            return [dict(row) for row in value]
        if isinstance(value, Mapping) and value and all(isinstance(row, Mapping) for row in value.values()):
            return [{"layer": name, **row} for name, row in value.items()]
    for value in record.values():
        if isinstance(value, Mapping):
            rows = per_layer_rows(value)
            if rows:
                return rows
    return None


ACCUMULATOR_COLUMNS = {
    "data_type_bits": "acc. bits data-type bound",
    "weight_level_bits": "acc. bits weight-level bound",
    "exact_bits": "acc. bits exact need",
    "target_bits": "acc. bits target P",
    "accumulator_bits": "acc. bits",
    "method": "acc. constraint",
}
"""Columns taken from ``constrain/<model>/accumulators.json`` per layer (key -> column title)."""

CONVERT_COLUMNS = {
    "accumulator_types": "deployed accumulator",
    "accumulator_overflows": "acc. overflows (test)",
    "saturations": "saturations (test)",
}
"""Per-layer mappings taken from ``convert/<model>/metrics.json`` (key -> column title)."""


def layer_rows(model_record: Mapping[str, Any], stage_order: Sequence[str]) -> tuple[str, list[dict]]:
    """One row per dense layer of a model from its latest stored metrics: cost figures (bits, params,
    sparsity, BOPs), the neural efficiency of the ReLU that follows it (``relu_k`` after ``dense_k``,
    the naming of :mod:`pipeline.models.spec`), the accumulator widths of ``accumulators.json`` and
    the deployed accumulator types and overflow counts recorded by the convert stage.

    Returns ``(source, rows)``; ``source`` names the metrics record used (empty when none is stored).
    """
    stages = model_record.get("stages", {})
    for stage in reversed(stage_order):
        metrics = stages.get(stage, {}).get("metrics")
        if isinstance(metrics, Mapping) and isinstance(metrics.get("cost"), Mapping):
            break
    else:
        return "", []
    rows = {layer["name"]: dict(layer) for layer in metrics["cost"].get("layers", [])}
    for layer in (metrics.get("information") or {}).get("layers", []):
        dense = layer["name"].replace("relu_", "dense_", 1)
        target = rows.get(dense)
        if target is not None:
            target |= {
                "relu entropy [bits]": layer.get("entropy_bits"),
                "neural efficiency": layer.get("efficiency"),
            }
    for layer in per_layer_rows(stages.get("constrain", {}).get("accumulators")) or []:
        target = rows.get(layer.get("name", layer.get("layer")))
        if target is not None:
            target |= {label: layer[key] for key, label in ACCUMULATOR_COLUMNS.items() if key in layer}
    convert = stages.get("convert", {}).get("metrics")
    if isinstance(convert, Mapping):
        for key, label in CONVERT_COLUMNS.items():
            for name, value in (convert.get(key) or {}).items():
                if name in rows:
                    rows[name][label] = value
    return f"{stage}/metrics.json", list(rows.values())


def layer_section(document: Mapping[str, Any]) -> str:
    parts = ["<h2>Per-layer figures</h2>"]
    for model, record in document.get("models", {}).items():
        source, rows = layer_rows(record, document.get("stage_order", []))
        if rows:
            parts.append(f"<h3>{html.escape(model)} <span class='note'>({html.escape(source)})</span></h3>")
            parts.append(table(rows))
    if len(parts) == 1:
        parts.append("<p class='note'>no per-layer records stored</p>")
    return "".join(parts)


def firmware_section(document: Mapping[str, Any]) -> str:
    """Latency and resources per model: ``firmware/report.json`` rows, else each model's firmware
    ``metrics.json``; nested fields (``sources``) become one note per model."""
    parts = ["<h2>Firmware latency and resources</h2>"]
    report = document.get("firmware_report")
    rows_by_model: dict[str, Mapping] = {}
    if isinstance(report, Mapping) and isinstance(report.get("models"), Mapping):
        rows_by_model = dict(report["models"])
    else:
        for model, record in document.get("models", {}).items():
            stored = record.get("stages", {}).get("firmware", {}).get("metrics")
            if isinstance(stored, Mapping) and "skipped" not in stored:
                rows_by_model[model] = stored
    rows = [
        {
            "model": model,
            **{key: value for key, value in row.items() if not isinstance(value, Mapping | list)},
        }
        for model, row in rows_by_model.items()
        if isinstance(row, Mapping)
    ]
    if rows:
        parts.append(table(rows, first_column="model"))
        sources = next(
            (row.get("sources") for row in rows_by_model.values() if isinstance(row, Mapping)), None
        )
        if isinstance(sources, Mapping):
            text = "; ".join(f"{key}: {value}" for key, value in sources.items())
            parts.append(f"<p class='note'>Sources: {html.escape(text)}</p>")
    skipped = report.get("skipped") if isinstance(report, Mapping) else None
    if isinstance(skipped, Mapping) and skipped:
        text = "; ".join(f"{m}: {r}" for m, r in skipped.items())
        parts.append(f"<p class='notes'>Not built: {html.escape(text)}.</p>")
    if len(parts) == 1:
        parts.append("<p class='note'>firmware stage records not available</p>")
    return "".join(parts)


def scan_section(scan: Mapping[str, Any] | None, figures: Mapping[str, bytes]) -> str:
    """A scan's trials: the accuracy-versus-LUT figure, the front, then every trial (scrolling box)."""
    if scan is None:
        return ""
    parts = ["<h2>Scan</h2>"]
    trials = list(scan.get("trials") or [])
    files = ", ".join(scan.get("files") or [])
    parts.append(f"<p class='note'>{len(trials)} trials from scan/{html.escape(files or '(none)')}.</p>")
    for problem in scan.get("problems") or []:
        parts.append(f"<p class='absent'>{html.escape(problem)}</p>")
    if "scan_front.png" in figures:
        parts.append(
            f"<div class='grid2'>{image(figures['scan_front.png'], 'scan: accuracy versus LUTs')}</div>"
        )
    marked = front(trials)
    if marked:
        parts.append(f"<h3>Front ({len(marked)} trials)</h3>" + table(marked))
    if trials:
        parts.append("<h3>All trials</h3><div class='tall'>" + table(trials) + "</div>")
    return "".join(parts)


def timing_section(document: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    rows = []
    for stage, entry in document.get("stages", {}).items():
        rows.append(
            {
                "stage": stage,
                "status": entry.get("status") if entry.get("present") else "not run",
                "wall time [s]": entry.get("wall_time_seconds"),
                "finished at": entry.get("finished_at"),
            }
        )
    timing = figures.get("stage_timings.png")
    figure = f"<div class='grid2'>{image(timing, 'stage timings')}</div>" if timing else ""
    return "<h2>Stage timings</h2>" + table(rows) + figure
