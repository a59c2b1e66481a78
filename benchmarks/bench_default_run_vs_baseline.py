"""Benchmark: the default run from scratch with today's code against an earlier commit's, side by side.

Checks out ``--baseline-ref`` (default ``200dcc2``, main before the speed work of issue 15 item 15) into
a temporary git worktree, then runs the same ``--config`` (default ``pipeline.yaml``, each checkout's
own, identical unless the commits changed it) from scratch through the real CLI with the default engine:
first the baseline's code, then this checkout's, one after the other on the same machine, each into a
fresh run directory under ``--runs-dir``. Records each run's wall time and per-stage wall seconds, the
ratio current / baseline in total and per stage, the load average before and after each run, and checks
that both give identical per-model results (every stage's ``metrics.json`` and the report's record, wall
times left out, and ``same_result_as``, the provenance note a model whose training or pruning was shared
now carries). Writes ``--output`` (default ``benchmarks/results/default_run_vs_baseline.json``) after
each run. Exit status 1 if the per-model results differ. With ``--readme`` it writes one sentence with
the figures into ``README.md`` between ``<!-- results:<output stem> -->`` and ``<!-- /results:<output
stem> -->``.

Usage (~17 min on 2 idle cores; run it on an otherwise idle machine):
    python benchmarks/bench_default_run_vs_baseline.py --readme
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_default_run import machine, update_readme  # noqa: E402
from benchmarks.bench_default_run_speed import (  # noqa: E402
    compare,
    per_model_results,
    run_once,
    without_keys,
)
from pipeline.manifest import write_json  # noqa: E402

PROVENANCE_KEYS = ("same_result_as",)
GOAL_SECONDS = 7 * 60  # issue 15 item 15: the default run in <= 7 min on this machine


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def leaf_differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Dotted paths of the leaves where two parsed JSON values differ (lists compared whole)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            found
            for key in sorted(set(left) | set(right))
            for found in leaf_differences(left.get(key), right.get(key), f"{path}.{key}" if path else key)
        ]
    return [] if left == right else [path]


def differing_fields(baseline_dir: Path, current_dir: Path) -> dict[str, list[str]]:
    """Per differing per-model record, the fields that differ (timings and provenance left out)."""
    baseline = without_keys(per_model_results(baseline_dir), PROVENANCE_KEYS)
    current = without_keys(per_model_results(current_dir), PROVENANCE_KEYS)
    return {
        name: leaf_differences(baseline.get(name), current.get(name))
        for name in sorted(set(baseline) | set(current))
        if baseline.get(name) != current.get(name)
    }


def sentence(record: dict[str, Any]) -> str:
    """The README's sentence (every figure from ``record``)."""
    baseline, current = record["runs"]["baseline"], record["runs"]["current"]
    slowest = sorted(current["stage_wall_seconds"].items(), key=lambda item: -item[1])[:3]
    return (
        f"Default run from scratch on {record['machine']['cpu_count']} cores ({record['date']}), "
        f"side by side in one invocation: {current['wall_seconds'] / 60:.1f} min with this code against "
        f"{baseline['wall_seconds'] / 60:.1f} min with `{record['baseline_ref']}` (ratio "
        f"{record['ratio_current_over_baseline']:.2f}; goal <= 7 min: "
        f"{'met' if record['goal_met'] else 'NOT met'}); the slowest stages now: "
        f"{', '.join(f'{stage} {seconds:.0f} s' for stage, seconds in slowest)}. Per-model results "
        f"identical: {identical(record)} (`benchmarks/results/{record['output_name']}`)."
    )


def identical(record: dict[str, Any]) -> str:
    """ "yes", or "no" with the fields that differ, in a few words."""
    if record["comparison"]["per_model_results_identical"]:
        return "yes"
    fields = sorted(
        {field.rsplit(".", 1)[-1] for found in record["differing_fields"].values() for field in found}
    )
    return f"no, {len(record['differing_fields'])} records differ in {', '.join(f'`{f}`' for f in fields)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="200dcc2", help="git commit to compare against")
    parser.add_argument(
        "--config", default="pipeline.yaml", help="config path inside each checkout (default: pipeline.yaml)"
    )
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "speed_vs_baseline")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "default_run_vs_baseline.json"
    )
    parser.add_argument("--until", default=None, help="stop after this stage (tests; default: every stage)")
    parser.add_argument("--readme", action="store_true", help="write the sentence into README.md")
    parser.add_argument(
        "--compare-only",
        action="store_true",
        help="no runs: recompute the comparison of --output's recorded runs from --runs-dir",
    )
    args = parser.parse_args(argv)
    if args.compare_only:
        record = json.loads(args.output.read_text())
        record["compared_by"] = " ".join(
            ["python", "benchmarks/bench_default_run_vs_baseline.py", *(argv or sys.argv[1:])]
        )
        return finish(record, args)

    record: dict[str, Any] = {
        "benchmark": "benchmarks/bench_default_run_vs_baseline.py",
        "command": " ".join(
            ["python", "benchmarks/bench_default_run_vs_baseline.py", *(argv or sys.argv[1:])]
        ),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "config": args.config,
        "baseline_ref": args.baseline_ref,
        "baseline_commit": git("rev-parse", args.baseline_ref),
        "current_commit": git("rev-parse", "HEAD"),
        "current_tree_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "output_name": args.output.name,
        "budget": "one run of pipeline.yaml from scratch per checkout, baseline first, default engine",
        "until": args.until or "every stage",
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="baseline-") as scratch:
        baseline = Path(scratch) / "checkout"
        git("worktree", "add", "--detach", str(baseline), args.baseline_ref)
        try:
            checkouts = (("baseline", baseline), ("current", REPO))
            for label, checkout in checkouts:
                record["runs"][label] = run_once(
                    checkout / args.config, args.runs_dir / label, None, args.until, repo=checkout
                )
                write_json(args.output, record)  # partial results after each run
        finally:
            git("worktree", "remove", "--force", str(baseline))
    return finish(record, args)


def finish(record: dict[str, Any], args: argparse.Namespace) -> int:
    """Ratios, the goal and the comparison of the two recorded runs; write ``--output`` (and README)."""
    baseline_run, current_run = record["runs"]["baseline"], record["runs"]["current"]
    record["ratio_current_over_baseline"] = round(
        current_run["wall_seconds"] / baseline_run["wall_seconds"], 3
    )
    record["stage_ratio_current_over_baseline"] = {
        stage: round(current_run["stage_wall_seconds"].get(stage, 0.0) / seconds, 3)
        for stage, seconds in baseline_run["stage_wall_seconds"].items()
        if seconds > 0
    }
    record["goal_seconds"] = GOAL_SECONDS
    record["goal_met"] = current_run["wall_seconds"] <= GOAL_SECONDS
    record["comparison"] = compare(
        args.runs_dir / "baseline", args.runs_dir / "current", ignore=PROVENANCE_KEYS
    )
    record["differing_fields"] = differing_fields(args.runs_dir / "baseline", args.runs_dir / "current")
    write_json(args.output, record)
    text = sentence(record)
    if args.readme:
        update_readme(REPO / "README.md", args.output.stem, text)
    print(text)
    return 0 if record["comparison"]["per_model_results_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
