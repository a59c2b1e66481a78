"""One self-contained HTML page (PNG figures embedded as base64) from the collected report document.

Pure formatting: every number shown comes from the document (``report/metrics.json``), the checks'
results (``checks/checks.json``) or a scan's table; nothing is computed here beyond layout. Reading
order: the headline (per model the deployed figures and the checks' verdict, the best model under the
budgets), the checks, each model's figures stage by stage, then ROC curves, working points, costs,
per-layer and firmware details, a scan's trials, timings and versions. Every table sits in its own
horizontally scrolling box, so the page never runs off the right edge.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.report import numbers
from pipeline.report.glance import VIEW_STAGES, best_model, check_verdicts, headline, stage_view
from pipeline.report.markup import Markup, flatten, format_value, image, table, verdict_cell
from pipeline.report.sections import (
    checks_section,
    firmware_section,
    layer_rows,
    layer_section,
    per_layer_rows,
    scan_section,
    timing_section,
    working_point_section,
)

__all__ = ["flatten", "format_value", "image", "layer_rows", "per_layer_rows", "render_page", "table"]

_CSS = """
*{box-sizing:border-box}
body{font-family:Helvetica,Arial,sans-serif;margin:0 auto;padding:1em 1.5em;max-width:1280px;color:#222;
line-height:1.35}
h1{border-bottom:2px solid #444;margin-bottom:0.2em}h2{margin-top:1.6em;border-bottom:1px solid #bbb}
h3{margin:1em 0 0.3em}.sub{color:#555;margin-top:0}
.scroll{overflow-x:auto;max-width:100%;margin:0.4em 0 1em}.tall{max-height:32em;overflow-y:auto}
table{border-collapse:collapse;font-size:0.88em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}th{background:#eee}
td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:0.9em}.notes{color:#555;font-size:0.9em;margin:0.3em 0 0.8em}
.absent{background:#fff8e1;border-left:4px solid #e0a800;padding:0.3em 0.8em;font-size:0.9em}
.pass{background:#e3f4e3;color:#1b5e20}.fail{background:#fde0e0;color:#a00;font-weight:bold}
.warn{background:#fff1cc;color:#8a5a00;font-weight:bold}.missing{background:#f1f1f1;color:#666}
.skipped{color:#999}.best{background:#eef5ff;border-left:4px solid #2a6ad6;padding:0.4em 0.8em}
img{max-width:100%;height:auto;display:block}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:0.6em}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:0.6em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:0 1.5em}
"""


def render_page(
    document: Mapping[str, Any],
    figures: Mapping[str, bytes],
    title: str,
    checks: Mapping[str, Any] | None = None,
    scan: Mapping[str, Any] | None = None,
) -> str:
    """The report page.

    Args:
        document: the collected report (``report/metrics.json`` content).
        figures: PNG bytes by file name (``roc_<class>.png``, ``pareto_bops.png``, ...).
        title: page title (the run's name).
        checks: the checks' results (``checks/checks.json``), ``None`` when no budget is configured.
        scan: a scan's trials (:func:`pipeline.report.scan.read_scan`), ``None`` when no scan ran.
    """
    models = list(document.get("models") or {})
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    parts.append("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    parts.append(f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>")
    parts.append(f"<p class='sub'>{len(models)} models; test-split figures of the deployed models.</p>")
    parts.append(_headline_section(document, checks))
    parts.append(_absences(document))
    parts.append(checks_section(checks, models, _verdict_table(checks, models)))
    parts.append(_stage_view_section(document, checks))
    parts.append(_figure_section("ROC curves (test split, one class against the rest)", figures, "roc_"))
    parts.append(working_point_section(document))
    parts.append(_figure_section("Accuracy versus cost", figures, "pareto_", grid="grid2"))
    parts.append(layer_section(document))
    parts.append(firmware_section(document))
    parts.append(scan_section(scan, figures))
    parts.append(timing_section(document, figures))
    versions = document.get("tool_versions") or {}
    if versions:
        parts.append("<h2>Tool versions</h2>")
        parts.append(
            table([{"package": name, "version": version} for name, version in sorted(versions.items())])
        )
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)


def _headline_section(document: Mapping[str, Any], checks: Mapping[str, Any] | None) -> str:
    rows = headline(document, checks)
    if not rows:
        return "<h2>At a glance</h2><p class='absent'>no models in this run</p>"
    mode = checks.get("mode") if isinstance(checks, Mapping) else None
    shown = []
    for row in rows:
        detail = row["bit_exact_detail"]
        differ = ", ".join(f"{k} {numbers.count(v)}" for k, v in detail.items() if v)
        exact = (
            "–" if row["bit_exact"] is None else ("yes" if row["bit_exact"] else f"NO ({differ} jets differ)")
        )
        latency = (
            "–"
            if row["latency_cycles"] is None
            else f"{numbers.count(row['latency_cycles'])} cycles = {numbers.plain(row['latency_ns'])} ns"
        )
        shown.append(
            {
                "model": row["model"],
                "accuracy": Markup(numbers.percent(row["accuracy"], 2)),
                "scores": row["scores"],
                "mean AUC": Markup(numbers.plain(row["mean_auc"], 3)),
                "BOPs": Markup(numbers.si(row["bops"])),
                "LUTs": Markup(numbers.count(row["luts"])),
                "FFs": Markup(numbers.count(row["flip_flops"])),
                "latency": Markup(latency),
                "bit-exact": Markup(exact, "" if row["bit_exact"] is not False else "fail"),
                "checks": verdict_cell(row["checks"], mode),
            }
        )
    name, reason = best_model(rows, checks)
    if name is None:
        best = f"<p class='best'>No model qualifies as best: {html.escape(reason)}.</p>"
    else:
        row = next(row for row in rows if row["model"] == name)
        best = (
            f"<p class='best'><b>Best model: {html.escape(name)}</b> ({html.escape(reason)}): "
            f"{numbers.percent(row['accuracy'], 2)} accuracy, {numbers.count(row['luts'])} LUTs"
            + (f", {numbers.plain(row['latency_ns'])} ns" if row["latency_ns"] is not None else "")
            + ".</p>"
        )
    note = (
        "<p class='note'>Accuracy and AUC of the deployed model on the test split: firmware-exact scores "
        "(integer emulator, bit-identical to the hls4ml C simulation and the RTL) for quantized models, "
        "float scores otherwise (column scores). Bit-exact: no test jet differs between the model and the "
        "hls4ml C simulation (convert) nor the Verilator RTL simulation (firmware). LUTs and FFs from "
        "Yosys synthesis of the da4ml RTL; latency from the da4ml pipeline at the configured clock. "
        "Sources in metrics.json "
        "(<code>models.&lt;model&gt;.summary</code>).</p>"
    )
    return "<h2>At a glance</h2>" + best + table(shown) + note


def _absences(document: Mapping[str, Any]) -> str:
    """Expected absences (a float model has no firmware-exact scores, a stage skipped a model) as notes;
    anything else that is absent in a box of its own."""
    expected, other = [], []
    for item in document.get("missing") or []:
        (expected if "float model" in item or "skipped" in item else other).append(item)
    parts = []
    if other:
        items = "".join(f"<li>{html.escape(item)}</li>" for item in other)
        parts.append(f"<div class='absent'>Not available in this run:<ul>{items}</ul></div>")
    if expected:
        items = "; ".join(html.escape(item) for item in expected)
        parts.append(f"<p class='notes'>Notes: {items}.</p>")
    return "".join(parts)


def _verdict_table(checks: Mapping[str, Any] | None, models: Sequence[str]) -> str:
    if not isinstance(checks, Mapping):
        return ""
    mode = checks.get("mode")
    rows = []
    for model in models:
        by_stage, overall = check_verdicts(checks, model)
        row: dict[str, Any] = {"model": model}
        row |= {stage: verdict_cell(by_stage.get(stage, "-"), mode) for stage in VIEW_STAGES}
        row["verdict"] = verdict_cell(overall, mode)
        rows.append(row)
    return table(rows)


_STAGE_COLUMNS = (
    ("accuracy", "accuracy", lambda v: numbers.percent(v, 2)),
    ("mean_auc", "mean AUC", lambda v: numbers.plain(v, 3)),
    ("bops", "BOPs", numbers.si),
    ("sparsity", "sparsity", lambda v: numbers.percent(v, 1)),
    ("neural_efficiency", "neural eff.", lambda v: numbers.plain(v, 3)),
    ("aiq", "aIQ", lambda v: numbers.plain(v, 3)),
    ("luts", "LUTs", numbers.count),
    ("latency_cycles", "latency [cycles]", numbers.count),
    ("latency_ns", "latency [ns]", numbers.plain),
    ("mismatches", "mismatched jets", numbers.count),
)


def _stage_view_section(document: Mapping[str, Any], checks: Mapping[str, Any] | None) -> str:
    """Per model a table with the stages as columns (train -> ... -> firmware) and the figures as rows,
    the checks' verdict per stage in the last row; stages that skipped the model are named in a note."""
    mode = checks.get("mode") if isinstance(checks, Mapping) else None
    cards = []
    for model, record in (document.get("models") or {}).items():
        by_stage, _ = check_verdicts(checks, model)
        view = stage_view(record)
        applied = [(stage, values) for stage, values in view if "skipped" not in values]
        skipped: dict[str, list[str]] = {}
        for stage, values in view:
            if "skipped" in values:
                skipped.setdefault(values["skipped"], []).append(stage)
        rows = []
        for key, title, render in _STAGE_COLUMNS:
            if any(values[key] is not None for _, values in applied):
                rows.append({"figure": title} | {s: Markup(render(values[key])) for s, values in applied})
        if checks is not None:
            rows.append(
                {"figure": "checks"} | {s: verdict_cell(by_stage.get(s, "-"), mode) for s, _ in applied}
            )
        body = table(rows) if rows else "<p class='note'>no stage records of this model</p>"
        for reason, stages in skipped.items():
            body += f"<p class='notes'>{html.escape(', '.join(stages))}: skipped ({html.escape(reason)}).</p>"
        cards.append(f"<div><h3>{html.escape(model)}</h3>{body}</div>")
    note = (
        "<p class='note'>Figures each stage recorded for the model, left to right in pipeline order "
        "(train: QAT; prune: QAP; constrain: A2Q/A2Q+ fine-tuning; export: QONNX; convert: hls4ml; "
        "firmware: da4ml RTL + Yosys). Mismatched jets: qonnx executor (export), hls4ml C simulation "
        "(convert), Verilator RTL (firmware) against the model.</p>"
    )
    return "<h2>Stage by stage</h2>" + note + f"<div class='cards'>{''.join(cards)}</div>"


def _figure_section(heading: str, figures: Mapping[str, bytes], prefix: str, grid: str = "grid") -> str:
    images = [image(png, name) for name, png in figures.items() if name.startswith(prefix)]
    if not images:
        return f"<h2>{heading}</h2><p class='note'>not available: the records it needs are absent</p>"
    return f"<h2>{heading}</h2><div class='{grid}'>{''.join(images)}</div>"
