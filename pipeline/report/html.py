"""One self-contained HTML page (PNG figures embedded as base64) from the collected report document.

Pure formatting: every number shown comes from the document (``report/metrics.json``); nothing is
computed here beyond layout.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}
td:first-child,th:first-child{text-align:left}.missing{color:#a00}.note{color:#555;font-size:0.9em}
img{max-width:100%;margin:0.3em}.figs{display:flex;flex-wrap:wrap}
"""


def format_value(value: Any) -> str:
    """A table cell: floats with 4 significant digits, ``None`` as an en dash, the rest as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (one table column each); lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def table(rows: Sequence[Mapping[str, Any]], first_column: str | None = None) -> str:
    """An HTML table of dict rows; columns: the union of the rows' flattened keys, first-seen order."""
    flat_rows = [flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat_rows:
        columns.extend(key for key in row if key not in columns)
    if first_column in columns:
        columns.remove(first_column)
        columns.insert(0, first_column)
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in flat_rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def image(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded as a data URI."""
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


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


def render_page(document: Mapping[str, Any], figures: Mapping[str, bytes], title: str) -> str:
    """The report page.

    Args:
        document: the collected report (``report/metrics.json`` content).
        figures: PNG bytes by file name (``roc_<class>.png``, ``pareto_bops.png``, ...).
        title: page title (the run's name).
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    parts.append(f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>")
    missing = document.get("missing") or []
    if missing:
        items = "".join(f"<li>{html.escape(item)}</li>" for item in missing)
        parts.append(f"<h2>Missing records</h2><ul class='missing'>{items}</ul>")
    parts.append(_summary_section(document))
    parts.append(_figure_section("ROC curves (test split)", figures, "roc_"))
    parts.append(_working_point_section(document))
    parts.append(_figure_section("Accuracy versus cost", figures, "pareto_"))
    parts.append(_layer_section(document))
    parts.append(_firmware_section(document))
    parts.append(_timing_section(document, figures))
    versions = document.get("tool_versions") or {}
    if versions:
        parts.append("<h2>Tool versions</h2>")
        parts.append(
            table([{"package": name, "version": version} for name, version in sorted(versions.items())])
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_section(document: Mapping[str, Any]) -> str:
    rows = []
    for model, record in document.get("models", {}).items():
        row: dict[str, Any] = {"model": model}
        performance = record.get("performance") or {}
        for kind in ("exact", "float"):
            row[f"accuracy ({kind})"] = (performance.get(kind) or {}).get("accuracy")
        for field, entry in (record.get("summary") or {}).items():
            if field != "accuracy":
                row[field] = entry["value"]
        rows.append(row)
    note = (
        "<p class='note'>Accuracy on the test split from the stored models (exact = integer emulator, "
        "bit-identical to the firmware); other figures as recorded by the stages (source of each in "
        "metrics.json, <code>models.&lt;model&gt;.summary</code>).</p>"
    )
    return "<h2>Models</h2>" + note + (table(rows) if rows else "<p class='missing'>no models</p>")


def _figure_section(heading: str, figures: Mapping[str, bytes], prefix: str) -> str:
    images = [image(png, name) for name, png in figures.items() if name.startswith(prefix)]
    if not images:
        return f"<h2>{heading}</h2><p class='missing'>not available (records missing)</p>"
    return f"<h2>{heading}</h2><div class='figs'>{''.join(images)}</div>"


def _working_point_section(document: Mapping[str, Any]) -> str:
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
                        "AUC": entry.get("auc"),
                        "target eff_S": point["target_signal_efficiency"],
                        "threshold": point["threshold"],
                        "eff_S": point["signal_efficiency"],
                        "eff_B": point["background_efficiency"],
                        "rejection 1/eff_B": point["background_rejection"]
                        if point["selected_background"]
                        else "no background jet passes",
                    }
                )
    if not rows:
        return "<h2>Working points</h2><p class='missing'>not available</p>"
    return "<h2>Working points (deployed model)</h2>" + table(rows)


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


def _layer_section(document: Mapping[str, Any]) -> str:
    parts = ["<h2>Per-layer figures</h2>"]
    for model, record in document.get("models", {}).items():
        source, rows = layer_rows(record, document.get("stage_order", []))
        if rows:
            parts.append(f"<h3>{html.escape(model)} <span class='note'>({html.escape(source)})</span></h3>")
            parts.append(table(rows))
    if len(parts) == 1:
        parts.append("<p class='missing'>no per-layer records stored</p>")
    return "".join(parts)


def _firmware_section(document: Mapping[str, Any]) -> str:
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
        for model, row in rows_by_model.items():
            sources = row.get("sources") if isinstance(row, Mapping) else None
            if isinstance(sources, Mapping):
                text = "; ".join(f"{key}: {value}" for key, value in sources.items())
                parts.append(f"<p class='note'>{html.escape(model)} sources: {html.escape(text)}</p>")
    skipped = report.get("skipped") if isinstance(report, Mapping) else None
    if isinstance(skipped, Mapping) and skipped:
        items = "".join(f"<li>{html.escape(str(m))}: {html.escape(str(r))}</li>" for m, r in skipped.items())
        parts.append(f"<p>Not built:</p><ul>{items}</ul>")
    if len(parts) == 1:
        parts.append("<p class='missing'>firmware stage records not available</p>")
    return "".join(parts)


def _timing_section(document: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
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
    return "<h2>Stage timings</h2>" + table(rows) + (image(timing, "stage timings") if timing else "")
