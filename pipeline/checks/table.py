"""The checks at a glance: a model x stage text table for ``trigger-pipeline status`` and the CLI's
closing summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.checks.config import CHECKED_STAGES, ChecksConfig
from pipeline.checks.hook import display_status, evaluate_run_stage, summarise


def current_results(
    config: ChecksConfig, run_dir: Path, models: Sequence[str], done_stages: Sequence[str]
) -> dict[str, list[dict]]:
    """The checks of every done stage under the current budgets, evaluated now (nothing written)."""
    return {
        stage: [result.to_dict() for result in evaluate_run_stage(run_dir, stage, models, config)]
        for stage in CHECKED_STAGES
        if stage in done_stages
    }


def render_table(
    results_by_stage: Mapping[str, Sequence[Mapping]], models: Sequence[str], mode: str
) -> list[str]:
    """Lines of the table: one row per model, one column per checked stage, then the model's verdict;
    then one line per failing check. Cells: pass, warn (failed in warn mode), FAIL (failed in gate
    mode), no figure (the stage did not record the figure), skip (the stage skipped the model), -
    (no budget or stage not run)."""
    summary = summarise(results_by_stage, models)
    title = f"checks ({mode})"
    width = max([len(m) + 3 for m in models] + [len(title) + 1])
    lines = [f"{title:<{width}}" + "".join(f"{s:<11}" for s in CHECKED_STAGES) + "verdict"]
    for model in models:
        cells = [display_status(summary["by_stage"][model].get(s, "-"), mode) for s in CHECKED_STAGES]
        overall = display_status(summary["by_model"][model], mode)
        lines.append(f"  {model:<{width - 2}}" + "".join(f"{c:<11}" for c in cells) + overall)
    for stage in CHECKED_STAGES:
        for result in results_by_stage.get(stage, []):
            if result["status"] in ("fail", "missing"):
                lines.append(f"  {display_status(result['status'], mode)}: {_line(result)}")
    return lines


def _line(result: Mapping) -> str:
    from pipeline.checks.evaluate import CheckResult

    return CheckResult(**result).line()
