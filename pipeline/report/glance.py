"""What the report page shows first: per model the deployed figures and the checks' verdict, the best
model under the budgets, and each model's figures stage by stage. Pure selection from the collected
document (``report/metrics.json``) and the checks' results (``checks/checks.json``); the only
arithmetic is the mean of the stored per-class AUCs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

VIEW_STAGES: tuple[str, ...] = ("train", "prune", "constrain", "export", "convert", "firmware")
"""Stages of the per-stage view, in pipeline order."""


def mean(values: Any) -> float | None:
    """Mean of the numbers among ``values`` (a mapping's values or a sequence); ``None`` when none."""
    items = values.values() if isinstance(values, Mapping) else values or ()
    numbers = [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def _get(record: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(record, Mapping):
            return None
        record = record.get(key)
    return record


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def stage_row(model_record: Mapping[str, Any], stage: str) -> dict[str, Any] | None:
    """The figures one stage stored for a model (``None`` when the stage has no record of it);
    ``{"skipped": reason}`` when the stage skipped the model."""
    records = _get(model_record, "stages", stage)
    if not isinstance(records, Mapping) or not records:
        return None
    metrics = records.get("metrics")
    if isinstance(metrics, Mapping) and "skipped" in metrics:
        return {"skipped": str(metrics["skipped"])}
    row: dict[str, Any] = {
        "accuracy": _number(_get(metrics, "physics", "accuracy")),
        "mean_auc": mean(_get(metrics, "physics", "auc")),
        "bops": _number(_get(metrics, "cost", "bops")),
        "sparsity": _number(_get(metrics, "cost", "weight_sparsity")),
        "neural_efficiency": _number(_get(metrics, "information", "network_efficiency")),
        "aiq": _number(_get(metrics, "information", "aiq")),
        "luts": None,
        "latency_cycles": None,
        "latency_ns": None,
        "mismatches": None,
    }
    if stage == "firmware" and isinstance(metrics, Mapping):
        row |= {
            "luts": _number(metrics.get("luts")),
            "latency_cycles": _number(metrics.get("cycles")),
            "latency_ns": _number(metrics.get("latency_ns")),
            "mismatches": _number(metrics.get("mismatched_jets")),
        }
    for name, key in (("check", "mismatches"), ("bit_exact", "mismatches")):
        if _number(_get(records, name, key)) is not None:
            row["mismatches"] = _number(_get(records, name, key))
    return row


def stage_view(model_record: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(stage, row)`` for every stage of :data:`VIEW_STAGES` that stored a record of the model."""
    rows = []
    for stage in VIEW_STAGES:
        row = stage_row(model_record, stage)
        if row is not None:
            rows.append((stage, row))
    return rows


def check_verdicts(checks: Mapping[str, Any] | None, model: str) -> tuple[dict[str, str], str]:
    """``({stage: verdict}, overall verdict)`` of a model from ``checks.json`` (``({}, "-")`` without
    checks)."""
    if not isinstance(checks, Mapping):
        return {}, "-"
    by_stage = _get(checks, "by_stage", model) or {}
    return dict(by_stage), str(_get(checks, "by_model", model) or "-")


def headline(document: Mapping[str, Any], checks: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per model: the deployed model's test accuracy and mean AUC (firmware-exact scores for
    quantized models, float otherwise), BOPs, LUTs, FFs, latency, bit-exactness and the checks' verdict."""
    rows = []
    for model, record in (document.get("models") or {}).items():
        performance = record.get("performance") or {}
        kind = "exact" if "exact" in performance else "float"
        deployed = performance.get(kind) or {}
        summary = record.get("summary") or {}

        def value(field: str, summary: Mapping = summary) -> float | None:
            return _number(_get(summary, field, "value"))

        csim, rtl = value("bit_exact_mismatches"), value("rtl_mismatched_jets")
        bit_exact = None if csim is None and rtl is None else (csim or 0) == 0 and (rtl or 0) == 0
        rows.append(
            {
                "model": model,
                "scores": kind if deployed else None,
                "accuracy": _number(deployed.get("accuracy")) if deployed else value("accuracy"),
                "mean_auc": mean({c: e.get("auc") for c, e in (deployed.get("classes") or {}).items()}),
                "bops": value("bops"),
                "luts": value("luts"),
                "flip_flops": value("flip_flops"),
                "latency_cycles": value("latency_cycles"),
                "latency_ns": value("latency_ns"),
                "bit_exact": bit_exact,
                "bit_exact_detail": {"C-sim": csim, "RTL": rtl},
                "checks": check_verdicts(checks, model)[1],
            }
        )
    return rows


def best_model(rows: Sequence[Mapping[str, Any]], checks: Mapping[str, Any] | None) -> tuple[str | None, str]:
    """The most accurate deployable model (firmware built: LUTs recorded) whose checks did not fail,
    with the reason in words; ``(None, reason)`` when no model qualifies."""
    deployable = [row for row in rows if row["luts"] is not None and row["accuracy"] is not None]
    if not deployable:
        return None, "no model has firmware figures yet"
    within = [row for row in deployable if row["checks"] not in ("fail",)]
    if not within:
        return None, "every model with firmware fails a budget"
    best = max(within, key=lambda row: (row["accuracy"], -row["luts"]))
    if not isinstance(checks, Mapping):
        return best["model"], "most accurate model with firmware (no budgets configured)"
    return best["model"], "most accurate model with firmware that passes every configured budget"
