"""Checks on a run directory: evaluate a finished (or cached) stage's stored records, write the results,
and gate the run.

The runner calls :class:`ChecksHook` after each stage is published or found cached
(``run_pipeline(..., on_stage_done=hook)``). Results go to ``<run-dir>/checks/<stage>.json`` and the
run-wide ``<run-dir>/checks/checks.json``, outside every stage directory, so no stage's outputs or
cache key depend on a budget. The files hold no timestamps: the same records and budgets give the
same bytes (the report stage's cache key hashes ``checks.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.checks.config import CHECKED_STAGES, ChecksConfig, StageBudgets
from pipeline.checks.evaluate import CheckResult, evaluate_stage, verdict
from pipeline.errors import PipelineError
from pipeline.manifest import MANIFEST_NAME, canonical_hash, write_text_atomic

CHECKS_DIR = "checks"
CHECKS_FILE = "checks.json"
EXIT_CHECKS_FAILED = 3
STAGE_RECORDS: Mapping[str, tuple[str, ...]] = {
    "train": ("metrics",),
    "prune": ("metrics",),
    "constrain": ("metrics",),
    "export": ("metrics", "check"),
    "convert": ("metrics", "bit_exact"),
    "firmware": ("metrics", "firmware"),
}
"""The JSON records (``<stage>/<model>/<name>.json``) a stage's checks read."""


class ChecksFailedError(Exception):
    """A ``gate`` check failed: the run stops (CLI exit status 3). ``result`` is the first failure."""

    def __init__(self, result: CheckResult):
        self.result = result
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"check failed: {self.result.line()}"


def validate_checks(config: ChecksConfig, models: Sequence[str]) -> None:
    """Cross-checks of the ``checks:`` section against the run's models.

    Raises:
        PipelineError: a per-model block for a model not in the run, a missing or unknown
            ``float_reference`` while a budget needs it (the message names the key).
    """
    for name in config.models:
        if name not in models:
            raise PipelineError(
                "config",
                f"unknown key 'checks.models.{name}': not a model of this run",
                input="checks.models",
                fix=f"use one of {list(models)}",
            )
    uses_float = any(
        "max_accuracy_drop_vs_float" in config.budgets_for(model, stage)
        for model in models
        for stage in CHECKED_STAGES
    )
    if config.float_reference is not None and config.float_reference not in models:
        raise PipelineError(
            "config",
            f"checks.float_reference '{config.float_reference}' is not a model of this run",
            input="checks.float_reference",
            fix=f"use one of {list(models)}",
        )
    if uses_float and config.float_reference is None:
        raise PipelineError(
            "config",
            "max_accuracy_drop_vs_float needs 'checks.float_reference' (the float baseline model)",
            input="checks.float_reference",
            fix="add e.g. 'float_reference: jet_dnn_float' under checks",
        )


def has_budgets(config: ChecksConfig) -> bool:
    """Whether any budget is set (for all models or for one)."""
    empty = StageBudgets().model_dump()
    return config.all.model_dump() != empty or any(b.model_dump() != empty for b in config.models.values())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_model_records(run_dir: Path, models: Sequence[str], upto: str) -> dict[str, dict[str, dict]]:
    """Every model's stored records of the checked stages up to and including ``upto``."""
    stages = CHECKED_STAGES[: CHECKED_STAGES.index(upto) + 1]
    records: dict[str, dict[str, dict]] = {}
    for model in models:
        records[model] = {}
        for stage in stages:
            stage_records = {}
            for name in STAGE_RECORDS[stage]:
                value = _read_json(run_dir / stage / model / f"{name}.json")
                if value is not None:
                    stage_records[name] = value
            records[model][stage] = stage_records
    return records


def evaluate_run_stage(
    run_dir: Path, stage: str, models: Sequence[str], config: ChecksConfig
) -> list[CheckResult]:
    """The checks of every model after ``stage``, from the records stored in ``run_dir``."""
    records = read_model_records(run_dir, models, stage)
    reference = records.get(config.float_reference) if config.float_reference else None
    return [
        result
        for model in models
        for result in evaluate_stage(stage, model, records[model], config, reference)
    ]


def config_hash(config: ChecksConfig) -> str:
    return canonical_hash(config.model_dump(mode="json"))


def display_status(status: str, mode: str) -> str:
    """The word shown for a check status: a failure is ``FAIL`` in gate mode and ``warn`` in warn mode."""
    if status == "fail":
        return "FAIL" if mode == "gate" else "warn"
    return {"missing": "no figure", "skipped": "skip"}.get(status, status)


def summarise(results_by_stage: Mapping[str, Sequence[Mapping[str, Any]]], models: Sequence[str]) -> dict:
    """``{"by_stage": {model: {stage: verdict}}, "by_model": {model: verdict}}`` of stored results."""
    by_stage: dict[str, dict[str, str]] = {model: {} for model in models}
    for stage, results in results_by_stage.items():
        for model in models:
            statuses = [r["status"] for r in results if r["model"] == model]
            if statuses:
                by_stage[model][stage] = verdict(statuses)
    by_model = {model: verdict(list(stages.values())) for model, stages in by_stage.items()}
    return {"by_stage": by_stage, "by_model": by_model}


def write_stage_results(
    run_dir: Path, stage: str, results: Sequence[CheckResult], config: ChecksConfig, models: Sequence[str]
) -> dict:
    """Write ``checks/<stage>.json`` and rebuild ``checks/checks.json``; return the run-wide document."""
    directory = run_dir / CHECKS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    manifest = _read_json(run_dir / stage / MANIFEST_NAME) or {}
    stage_document = {
        "stage": stage,
        "stage_outputs_hash": manifest.get("outputs_hash"),
        "config_hash": config_hash(config),
        "mode": config.mode,
        "results": [result.to_dict() for result in results],
    }
    write_text_atomic(directory / f"{stage}.json", json.dumps(stage_document, indent=2) + "\n")
    return rebuild_run_document(run_dir, config, models)


def rebuild_run_document(run_dir: Path, config: ChecksConfig, models: Sequence[str]) -> dict:
    """``checks/checks.json`` from the per-stage files evaluated under the current budgets."""
    directory = run_dir / CHECKS_DIR
    current = config_hash(config)
    stages: dict[str, dict] = {}
    for stage in CHECKED_STAGES:
        document = _read_json(directory / f"{stage}.json")
        if isinstance(document, dict) and document.get("config_hash") == current:
            stages[stage] = {
                "stage_outputs_hash": document["stage_outputs_hash"],
                "results": document["results"],
            }
    results = {stage: entry["results"] for stage, entry in stages.items()}
    failures = [r for stage in CHECKED_STAGES for r in results.get(stage, []) if r["status"] == "fail"]
    run_document = {
        "schema_version": 1,
        "mode": config.mode,
        "stop_all": config.stop_all,
        "budgets": config.model_dump(mode="json"),
        "models_order": list(models),
        "stage_order": list(CHECKED_STAGES),
        "stages": stages,
        **summarise(results, models),
        "first_failure": failures[0] if failures else None,
    }
    write_text_atomic(directory / CHECKS_FILE, json.dumps(run_document, indent=2) + "\n")
    return run_document


class ChecksHook:
    """``on_stage_done`` hook of :func:`pipeline.runner.run_pipeline`.

    After each checked stage (ran or cached) it evaluates the budgets on the stored records and writes
    them. In ``gate`` mode a model with a failing check is stopped (its later checks are still
    evaluated and shown, the stages themselves process all models together); the hook raises
    :class:`ChecksFailedError` at once when ``stop_all`` is set or every model has stopped, otherwise
    :attr:`first_failure` tells the caller to exit with status 3 when the run ends.
    """

    def __init__(self, config: ChecksConfig, run_dir: Path, models: Sequence[str]):
        validate_checks(config, models)
        self.config = config
        self.run_dir = Path(run_dir)
        self.models = tuple(models)
        self.stopped: dict[str, CheckResult] = {}
        self.document: dict | None = None

    @property
    def first_failure(self) -> CheckResult | None:
        """The first failing gate check of this run (``None`` in warn mode or when all passed)."""
        return next(iter(self.stopped.values()), None)

    def __call__(self, stage: str, event: str) -> None:
        if stage not in CHECKED_STAGES:
            return
        results = evaluate_run_stage(self.run_dir, stage, self.models, self.config)
        self.document = write_stage_results(self.run_dir, stage, results, self.config, self.models)
        if self.config.mode != "gate":
            return
        for result in results:
            if result.status == "fail" and result.model not in self.stopped:
                self.stopped[result.model] = result
        if self.stopped and (self.config.stop_all or len(self.stopped) == len(self.models)):
            raise ChecksFailedError(self.first_failure)
