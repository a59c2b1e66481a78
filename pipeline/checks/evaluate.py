"""Evaluate a stage's budgets on the records it stored: pure functions on the parsed JSON records.

A check reads exactly one stored figure (and, for an accuracy drop, the stored figure it compares
with) and says where it read it. Nothing is recomputed: a figure the stage did not store gives the
status ``missing`` (never a guess), a model the stage skipped gives ``skipped``.

Figures: ``metrics.json`` of :mod:`pipeline.measure` (physics: accuracy, one-vs-rest AUC, background
rejection 1/eps_B at eps_S = 0.5; cost: BOPs after Hawks et al., Front. AI 4 (2021) 676564;
information: neural efficiency and aIQ after Schaub & Hotaling, arXiv:1905.10688), the export
stage's ``check.json`` (qonnx executor vs QKeras), convert's ``bit_exact.json`` (hls4ml C-sim vs
QKeras) and the firmware stage's ``metrics.json`` / ``firmware.json`` (Yosys cells, da4ml latency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pipeline.checks.config import CHECKED_STAGES, ChecksConfig
from pipeline.checks.parts import part_resources

Status = Literal["pass", "fail", "missing", "skipped"]

ModelRecords = Mapping[str, Mapping[str, Any]]
"""One model's records by stage, then by record name: ``{"train": {"metrics": {...}}, ...}``."""


@dataclass(frozen=True)
class CheckResult:
    """One evaluated budget."""

    model: str
    stage: str
    check: str
    figure: str
    unit: str
    limit: float | int | None
    value: float | int | None
    status: Status
    source: str
    note: str = ""

    def line(self) -> str:
        """One line: model, stage, figure, value, limit."""
        relation = "<=" if self.check.startswith("max_") else ">="
        value = "not recorded" if self.value is None else _number(self.value, self.unit)
        return (
            f"{self.model}: {self.stage} {self.figure} = {value}, budget {relation} "
            f"{_number(self.limit, self.unit)} ({self.check}; read {self.source})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: float | int | None, unit: str) -> str:
    if value is None:
        return "none"
    text = f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"
    return f"{text} {unit}".strip()


def is_skipped(records: Mapping[str, Any] | None) -> str | None:
    """The skip reason of a stage's records for one model, or ``None`` when the stage applied."""
    metrics = (records or {}).get("metrics")
    if isinstance(metrics, Mapping) and "skipped" in metrics:
        return str(metrics["skipped"])
    return None


def _get(record: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(record, Mapping):
            return None
        record = record.get(key)
    return record


def _accuracy(model_records: ModelRecords, stage: str) -> float | None:
    value = _get(model_records.get(stage), ("metrics", "physics", "accuracy"))
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def latest_accuracy(model_records: ModelRecords, stages: Sequence[str]) -> tuple[float, str] | None:
    """The accuracy of the latest of ``stages`` (pipeline order) that stored one, with that stage."""
    for stage in reversed(stages):
        accuracy = _accuracy(model_records, stage)
        if accuracy is not None:
            return accuracy, stage
    return None


@dataclass(frozen=True)
class _Reading:
    figure: str
    unit: str
    value: float | int | None
    source: str
    note: str = ""
    scale: float = 1.0  # limit in the config's unit -> unit of value


_METRIC_FIGURES: Mapping[str, tuple[str, tuple[str, ...], str, float]] = {
    # check: (figure, path in metrics.json, unit, config-limit scale)
    "min_accuracy": ("accuracy", ("physics", "accuracy"), "%", 100.0),
    "max_bops": ("BOPs", ("cost", "bops"), "", 1.0),
    "min_neural_efficiency": ("neural efficiency", ("information", "network_efficiency"), "", 1.0),
    "min_aiq": ("aIQ", ("information", "aiq"), "", 1.0),
}

_FIRMWARE_FIGURES: Mapping[str, tuple[str, str, str]] = {
    # check: (figure, key in firmware metrics.json, unit)
    "max_luts": ("LUTs", "luts", "LUT"),
    "max_flip_flops": ("FFs", "flip_flops", "FF"),
    "max_dsps": ("DSPs", "dsps", "DSP"),
    "max_latency_ns": ("latency", "latency_ns", "ns"),
    "max_latency_cycles": ("latency", "cycles", "cycles"),
}

_MISMATCH_RECORDS: Mapping[str, tuple[str, str]] = {
    "export": ("check", "mismatches"),
    "convert": ("bit_exact", "mismatches"),
    "firmware": ("metrics", "mismatched_jets"),
}


def _readings(
    check: str,
    limit: Any,
    stage: str,
    model: str,
    records: ModelRecords,
    reference: ModelRecords | None,
    config: ChecksConfig,
) -> list[tuple[_Reading, Any]]:
    """The figure(s) one budget reads, each with its limit (per-class budgets give one per class)."""
    here = records.get(stage) or {}
    where = f"{stage}/{model}"
    if check in _METRIC_FIGURES:
        figure, path, unit, scale = _METRIC_FIGURES[check]
        value = _get(here.get("metrics"), path)
        value = None if value is None else float(value) * scale
        return [(_Reading(figure, unit, value, f"{where}/metrics.json:{'.'.join(path)}", scale=scale), limit)]
    if check in ("min_auc", "min_background_rejection"):
        key = "auc" if check == "min_auc" else "background_rejection"
        per_class = _get(here.get("metrics"), ("physics", key)) or {}
        classes = limit if isinstance(limit, Mapping) else dict.fromkeys(per_class or ["?"], limit)
        out = []
        for class_name, class_limit in classes.items():
            value = per_class.get(class_name) if isinstance(per_class, Mapping) else None
            note = ""
            efficiency = _get(here.get("metrics"), ("physics", "background_efficiency", class_name))
            if key == "background_rejection" and value is None and efficiency == 0:
                note = "no background jet passes the working point: rejection unbounded"
            figure = f"{'AUC' if key == 'auc' else '1/eps_B at eps_S=0.5'} ({class_name})"
            source = f"{where}/metrics.json:physics.{key}.{class_name}"
            out.append((_Reading(figure, "", value, source, note), class_limit))
        return out
    if check in ("max_accuracy_drop_vs_previous", "max_accuracy_drop_vs_float"):
        current = _accuracy(records, stage)
        earlier = CHECKED_STAGES[: CHECKED_STAGES.index(stage)]
        if check == "max_accuracy_drop_vs_previous":
            before, label = latest_accuracy(records, earlier), "previous stage"
        else:
            upto = CHECKED_STAGES[: CHECKED_STAGES.index(stage) + 1]
            before = latest_accuracy(reference or {}, upto)
            label = f"float ({config.float_reference})"
        source = f"{where}/metrics.json:physics.accuracy"
        if before is None or current is None:
            return [(_Reading(f"accuracy drop vs {label}", "points", None, source), limit)]
        reference_model = model if check.endswith("previous") else config.float_reference
        source += f" vs {before[1]}/{reference_model}/metrics.json:physics.accuracy"
        drop = round(100.0 * (before[0] - current), 6)
        return [(_Reading(f"accuracy drop vs {label}", "points", drop, source), limit)]
    if check == "max_mismatches":
        record_name, key = _MISMATCH_RECORDS[stage]
        value = _get(here.get(record_name), (key,))
        return [(_Reading("mismatched jets", "jets", value, f"{where}/{record_name}.json:{key}"), limit)]
    if check in _FIRMWARE_FIGURES:
        figure, key, unit = _FIRMWARE_FIGURES[check]
        value = _get(here.get("metrics"), (key,))
        return [(_Reading(figure, unit, value, f"{where}/metrics.json:{key}"), limit)]
    if check.endswith("_percent"):
        resource = check.removeprefix("max_").removesuffix("_percent")
        figure, key, unit = _FIRMWARE_FIGURES[f"max_{resource}"]
        used = _get(here.get("metrics"), (key,))
        part = _get(here.get("firmware"), ("part",))
        counts = config.part_resources.model_dump() if config.part_resources else None
        counts = counts or (part_resources(part) if isinstance(part, str) else None)
        source = f"{where}/metrics.json:{key} / {where}/firmware.json:part"
        if used is None or counts is None:
            if counts is not None:
                note = ""
            elif part is None:
                note = "firmware.json records no part"
            else:
                note = f"part {part!r} not tabulated: set checks.part_resources"
            return [(_Reading(f"{figure} share of part", "%", None, source, note), limit)]
        share = round(100.0 * float(used) / counts[key], 6)
        note = f"{used:,} of {counts[key]:,} on {part}"
        return [(_Reading(f"{figure} share of part", "%", share, source, note), limit)]
    raise ValueError(f"unknown check {check}")


def evaluate_stage(
    stage: str,
    model: str,
    records: ModelRecords,
    config: ChecksConfig,
    reference: ModelRecords | None = None,
) -> list[CheckResult]:
    """Every budget of ``config`` that applies to ``model`` after ``stage``, evaluated on its records.

    Args:
        stage: one of :data:`pipeline.checks.config.CHECKED_STAGES`.
        model: the model's name.
        records: the model's stored records by stage (this stage and the earlier ones).
        config: the ``checks:`` section.
        reference: the float reference model's records (``max_accuracy_drop_vs_float``).
    """
    limits = config.budgets_for(model, stage)
    skipped = is_skipped(records.get(stage))
    where = f"{stage}/{model}/metrics.json"
    results = []
    for check, limit in limits.items():
        if skipped is not None:
            results.append(CheckResult(model, stage, check, check, "", None, None, "skipped", where, skipped))
            continue
        for reading, class_limit in _readings(check, limit, stage, model, records, reference, config):
            bound = float(class_limit) * reading.scale
            if reading.value is None:
                status: Status = "pass" if reading.note.startswith("no background jet") else "missing"
            elif check.startswith("max_"):
                status = "pass" if reading.value <= bound else "fail"
            else:
                status = "pass" if reading.value >= bound else "fail"
            limit_value = int(bound) if float(bound).is_integer() else bound
            results.append(
                CheckResult(
                    model,
                    stage,
                    check,
                    reading.figure,
                    reading.unit,
                    limit_value,
                    reading.value,
                    status,
                    reading.source,
                    reading.note,
                )
            )
    return results


def verdict(statuses: Sequence[str]) -> str:
    """``fail`` if any check failed, else ``missing`` if a figure was not recorded, else ``pass``
    (``-`` when nothing was checked)."""
    if "fail" in statuses:
        return "fail"
    if "missing" in statuses:
        return "missing"
    if "pass" in statuses:
        return "pass"
    return "skipped" if statuses else "-"
