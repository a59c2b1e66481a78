"""Gather every stored record of a run into one document (``report/metrics.json``).

Reads only what the stages stored: each stage's ``manifest.json`` and, per model, the JSON records of
``<stage>/<model>/``. Nothing is recomputed and nothing is invented: a stage, model or file that is
absent is listed under ``"missing"`` and its fields are left out (never filled with a guess).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

PIPELINE_STAGES: tuple[str, ...] = ("data", "train", "prune", "constrain", "export", "convert", "firmware")
"""The stages whose records the report reads, in pipeline order (the report itself comes last)."""

MODEL_RECORDS: Mapping[str, tuple[str, ...]] = {
    "train": ("metrics.json",),
    "prune": ("metrics.json",),
    "constrain": ("metrics.json", "accumulators.json"),
    "export": ("metrics.json", "check.json"),
    "convert": ("metrics.json", "bit_exact.json"),
    "firmware": ("metrics.json", "firmware.json"),
}
"""JSON records expected in ``<stage>/<model>/`` (stored under the file stem in the document)."""

STAGE_RECORDS: Mapping[str, tuple[str, ...]] = {"data": ("provenance.json",), "firmware": ("report.json",)}
"""Stage-wide JSON records copied into the document."""

MANIFEST_FIELDS: tuple[str, ...] = (
    "status",
    "key",
    "wall_time_seconds",
    "finished_at",
    "packages",
    "summary",
)


def read_json(path: Path) -> Any | None:
    """The parsed JSON at ``path``, or ``None`` when absent or unreadable (never raises)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def model_names(run_dir: Path, stages: Sequence[str] = PIPELINE_STAGES) -> tuple[str, ...]:
    """Models that have a subdirectory in any finished stage, sorted by name."""
    names: set[str] = set()
    for stage in stages:
        stage_dir = Path(run_dir) / stage
        if stage_dir.is_dir():
            names.update(
                child.name
                for child in stage_dir.iterdir()
                if child.is_dir() and not child.name.startswith((".", "_"))
            )
    return tuple(sorted(names))


def with_external_models(stage_dirs: Mapping[str, Path], models: Sequence[str]) -> tuple[str, ...]:
    """The run's ``models`` (config order) followed by the bring-your-own models the export stage wrote
    (``export/<model>/source.json`` says ``"model": "export"``), sorted by name: the report gives them
    the same rows, figures and score exports as the run's models."""
    export_dir = stage_dirs.get("export")
    external: list[str] = []
    if export_dir is not None and Path(export_dir).is_dir():
        for child in sorted(Path(export_dir).iterdir()):
            source = read_json(child / "source.json") if child.is_dir() else None
            if isinstance(source, dict) and source.get("model") == "export" and child.name not in models:
                external.append(child.name)
    return tuple(models) + tuple(external)


def _is_skipped(record: Any) -> bool:
    return isinstance(record, dict) and "skipped" in record


def collect_run(
    stage_dirs: Mapping[str, Path], models: Sequence[str], stages: Sequence[str] = PIPELINE_STAGES
) -> dict:
    """The run's records as one JSON-serialisable document (schema: README, ``report/metrics.json``).

    Args:
        stage_dirs: finished directory of each stage (``<run-dir>/<stage>``); a stage absent from the
            mapping or without ``manifest.json`` is reported missing.
        models: the run's models, in config order.
        stages: stage names to read, in pipeline order.

    Returns ``{"schema_version", "stage_order", "models_order", "stages", "tool_versions", "models",
    "firmware_report", "data_provenance", "missing"}``.
    """
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "stage_order": list(stages),
        "models_order": list(models),
        "stages": {},
        "tool_versions": {},
        "models": {model: {"stages": {}} for model in models},
        "missing": [],
    }
    missing: list[str] = document["missing"]
    for stage in stages:
        stage_dir = stage_dirs.get(stage)
        manifest = read_json(stage_dir / "manifest.json") if stage_dir is not None else None
        if stage_dir is None or not stage_dir.is_dir():
            missing.append(f"{stage}: stage not run")
            document["stages"][stage] = {"present": False}
            continue
        entry: dict[str, Any] = {"present": True}
        if isinstance(manifest, dict):
            entry.update({name: manifest[name] for name in MANIFEST_FIELDS if name in manifest})
        else:
            missing.append(f"{stage}/manifest.json: absent or unreadable")
        document["stages"][stage] = entry
        _merge_versions(document["tool_versions"], entry.get("packages"), stage)
        for filename in STAGE_RECORDS.get(stage, ()):
            record = read_json(stage_dir / filename)
            if record is None:
                missing.append(f"{stage}/{filename}: absent or unreadable")
            entry[Path(filename).stem] = record
        for model in models:
            _collect_model_stage(document, missing, stage, stage_dir, model)
    document["firmware_report"] = document["stages"].get("firmware", {}).pop("report", None)
    document["data_provenance"] = document["stages"].get("data", {}).pop("provenance", None)
    return document


def _collect_model_stage(document: dict, missing: list[str], stage: str, stage_dir: Path, model: str) -> None:
    expected = MODEL_RECORDS.get(stage)
    if not expected:
        return
    model_dir = stage_dir / model
    if not model_dir.is_dir():
        missing.append(f"{stage}/{model}: no output for this model")
        return
    records: dict[str, Any] = {}
    metrics = read_json(model_dir / "metrics.json")
    for filename in expected:
        record = metrics if filename == "metrics.json" else read_json(model_dir / filename)
        if record is None:
            if not _is_skipped(metrics):
                missing.append(f"{stage}/{model}/{filename}: absent or unreadable")
            continue
        records[Path(filename).stem] = record
    document["models"][model]["stages"][stage] = records


def _merge_versions(versions: dict[str, Any], packages: Any, stage: str) -> None:
    """Union of the stages' package versions; a package seen with two versions keeps both, by stage."""
    if not isinstance(packages, dict):
        return
    for name, version in packages.items():
        if name not in versions:
            versions[name] = version
        elif versions[name] != version:
            previous = (
                versions[name] if isinstance(versions[name], dict) else {"(first seen)": versions[name]}
            )
            previous[stage] = version
            versions[name] = previous


def find_number(record: Any, keys: Sequence[str]) -> tuple[float, str] | None:
    """First numeric value stored under one of ``keys`` (depth-first, key order preserved) with its
    dotted path in ``record``; ``None`` when no such field exists. Booleans are not numbers here."""
    wanted = {key.lower() for key in keys}
    stack: list[tuple[Any, str]] = [(record, "")]
    while stack:
        value, path = stack.pop(0)
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if (
                    str(key).lower() in wanted
                    and isinstance(item, int | float)
                    and not isinstance(item, bool)
                ):
                    return float(item), child
                if isinstance(item, dict):
                    stack.append((item, child))
    return None


SUMMARY_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # field: (stages searched, latest first; key names)
    "accuracy": (
        ("firmware", "convert", "export", "constrain", "prune", "train"),
        ("accuracy", "test_accuracy"),
    ),
    # export/convert store BOPs too: the only source for bring-your-own models, equal to constrain's else
    "bops": (("convert", "export", "constrain", "prune", "train"), ("bops", "total_bops")),
    "luts": (("firmware",), ("luts", "lut", "total_luts")),
    "flip_flops": (("firmware",), ("flip_flops", "ffs", "ff")),
    "dsps": (("firmware",), ("dsps", "dsp")),
    "brams": (("firmware",), ("brams", "bram")),
    "latency_cycles": (("firmware",), ("cycles", "latency_cycles")),
    "latency_ns": (("firmware",), ("latency_ns",)),
    "da4ml_lut_estimate": (("firmware",), ("da4ml_lut_estimate",)),
    "rtl_mismatched_jets": (("firmware",), ("mismatched_jets",)),
    "bit_exact_mismatches": (("convert",), ("mismatches", "csim_mismatches")),
    "emulator_vs_csim_mismatches": (("convert",), ("emulator_vs_csim_mismatches",)),
}


def summarise_model(model_record: Mapping[str, Any]) -> dict[str, dict]:
    """Headline figures of one model, each ``{"value", "source"}`` with ``source`` = ``stage/record:path``.

    A figure not stored by any stage is absent from the result (never estimated).
    """
    summary: dict[str, dict] = {}
    stage_records = model_record.get("stages", {})
    for field, (stages, keys) in SUMMARY_FIELDS.items():
        for stage in stages:
            for name, record in stage_records.get(stage, {}).items():
                found = find_number(record, keys)
                if found is not None:
                    summary[field] = {"value": found[0], "source": f"{stage}/{name}:{found[1]}"}
                    break
            if field in summary:
                break
    return summary
