"""Benchmark: the default run from scratch with 1 worker (serial, in one process) and with the default
engine (one worker process per core), side by side in one invocation.

Runs ``--config`` (default ``pipeline.yaml``: the bundled 50k-jet sample, every stage) twice through
the real CLI, each into a fresh run directory under ``--runs-dir``: first ``--workers 1`` (the
per-model work of the model stages one model after another in the main process, as before the
engine ran it), then with the config's ``engine`` (``--workers N`` if given). Records each run's
wall time and per-stage wall seconds (the stage manifests), the ratio parallel / serial in total and
per stage, the 1/5/15-minute load average before, between and after, and checks that both runs give
identical per-model results: every model's ``metrics.json`` of every stage and the report's per-model
record, with wall-time fields (``*seconds*``, ``*cached*``) left out; it also lists the stages whose
output trees are byte-identical. Writes ``--output`` (default
``benchmarks/results/default_run_speed.json``) after each run, so an interrupted benchmark leaves
the serial run's figures. Exit status 1 if the per-model results differ.

With ``--readme`` it writes one sentence with the figures into ``README.md`` between the markers
``<!-- results:<output stem> -->`` and ``<!-- /results:<output stem> -->``.

Usage (the full benchmark: ~20 min on 2 idle cores; run it on an otherwise idle machine):
    python benchmarks/bench_default_run_speed.py --readme
    python benchmarks/bench_default_run_speed.py --config tiny.yaml --runs-dir /tmp/speed --output /tmp/s.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_default_run import machine, update_readme  # noqa: E402
from pipeline.manifest import MANIFEST_NAME, Manifest, hash_tree, write_json  # noqa: E402
from pipeline.stage_api import iter_model_dirs  # noqa: E402

TIMING_WORDS = ("seconds", "cached", "wall_time", "finished_at")


def without_timings(value: Any) -> Any:
    """``value`` (parsed JSON) without the keys that hold wall times or cache hits (they vary per run)."""
    if isinstance(value, dict):
        return {
            key: without_timings(item)
            for key, item in value.items()
            if not any(word in key for word in TIMING_WORDS)
        }
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def without_keys(value: Any, keys: tuple[str, ...]) -> Any:
    """``value`` (parsed JSON) without the dictionary entries named in ``keys``, at any depth."""
    if isinstance(value, dict):
        return {key: without_keys(item, keys) for key, item in value.items() if key not in keys}
    if isinstance(value, list):
        return [without_keys(item, keys) for item in value]
    return value


def per_model_results(run_dir: Path) -> dict[str, Any]:
    """``{"<stage>/<model>": metrics.json, "report/<model>": record}`` of a finished run, timings left out."""
    results: dict[str, Any] = {}
    for stage_dir in sorted(path for path in run_dir.iterdir() if path.is_dir() and path.name[0] not in "._"):
        for model, model_dir in iter_model_dirs(stage_dir):
            metrics = model_dir / "metrics.json"
            if metrics.is_file():
                results[f"{stage_dir.name}/{model}"] = without_timings(json.loads(metrics.read_text()))
    report = run_dir / "report" / "metrics.json"
    if report.is_file():
        for model, record in json.loads(report.read_text()).get("models", {}).items():
            results[f"report/{model}"] = without_timings(record)
    return results


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Wall seconds of each stage from its manifest, in run order."""
    seconds = {}
    for manifest_path in run_dir.glob(f"*/{MANIFEST_NAME}"):
        manifest = Manifest.read(manifest_path)
        if manifest is not None:
            seconds[manifest.stage] = manifest.wall_time_seconds
    from pipeline.stages import STAGES

    order = [module.NAME for module in STAGES]
    return {stage: seconds[stage] for stage in order if stage in seconds}


def run_once(
    config: Path, run_dir: Path, workers: int | None, until: str | None = None, repo: Path = REPO
) -> dict[str, Any]:
    """Run the pipeline of the checkout ``repo`` from scratch into ``run_dir`` (deleted first); its
    wall time and stage times."""
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--run-dir", str(run_dir)]
    command += [] if until is None else ["--until", until]
    command += ["--quiet"] + ([] if workers is None else ["--workers", str(workers)])
    environment = {**os.environ, "PYTHONPATH": str(repo)}
    load_before = os.getloadavg()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode not in (0, 3):  # 3: a check failed in gate mode; the timings still count
        raise SystemExit(f"the run failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return {
        "command": " ".join(command[1:]),
        "workers": workers,
        "exit_status": completed.returncode,
        "wall_seconds": round(wall, 1),
        "stage_wall_seconds": stage_seconds(run_dir),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
    }


def compare(serial_dir: Path, parallel_dir: Path, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Per-model results equal (``ignore``: keys left out of both, at any depth)? Which stages' output
    trees are byte-identical?"""
    serial, parallel = per_model_results(serial_dir), per_model_results(parallel_dir)
    serial, parallel = without_keys(serial, ignore), without_keys(parallel, ignore)
    differing = sorted(key for key in set(serial) | set(parallel) if serial.get(key) != parallel.get(key))
    identical_trees = {}
    for stage in stage_seconds(serial_dir):
        identical_trees[stage] = hash_tree(serial_dir / stage) == hash_tree(parallel_dir / stage)
    return {
        "per_model_results_compared": len(serial),
        "per_model_results_identical": not differing and bool(serial),
        "differing": differing,
        "stage_outputs_byte_identical": identical_trees,
    }


def sentence(record: dict[str, Any]) -> str:
    """The README's sentence (every figure from ``record``)."""
    serial, parallel = record["runs"]["serial"], record["runs"]["parallel"]
    ratio = record["ratio_parallel_over_serial"]
    slowest = sorted(parallel["stage_wall_seconds"].items(), key=lambda item: -item[1])[:3]
    return (
        f"Default run from scratch on {record['machine']['cpu_count']} cores ({record['date']}): "
        f"{serial['wall_seconds'] / 60:.1f} min with `--workers 1` (one model after another) and "
        f"{parallel['wall_seconds'] / 60:.1f} min with the default engine ({record['parallel_workers']}"
        f" worker processes), a ratio of {ratio:.2f} measured side by side in one run; the slowest stages"
        f" then: {', '.join(f'{stage} {seconds:.0f} s' for stage, seconds in slowest)}. Per-model results"
        f" identical: {'yes' if record['comparison']['per_model_results_identical'] else 'NO'}"
        f" (`benchmarks/results/{record['output_name']}`)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "pipeline.yaml")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "speed")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks" / "results" / "default_run_speed.json"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="parallel run's workers (default: engine's)"
    )
    parser.add_argument("--until", default=None, help="stop after this stage (tests; default: every stage)")
    parser.add_argument("--readme", action="store_true", help="write the sentence into README.md")
    args = parser.parse_args(argv)

    from pipeline.config import load_config
    from pipeline.engine import parallelism

    engine = load_config(args.config).values.engine  # type: ignore[attr-defined]
    record: dict[str, Any] = {
        "benchmark": "benchmarks/bench_default_run_speed.py",
        "command": " ".join(["python", "benchmarks/bench_default_run_speed.py", *(argv or sys.argv[1:])]),
        "config": str(
            args.config.resolve().relative_to(REPO)
            if args.config.resolve().is_relative_to(REPO)
            else args.config
        ),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "parallel_workers": args.workers or parallelism(engine),
        "output_name": args.output.name,
        "budget": "two runs of the config from scratch, one after the other",
        "until": args.until or "every stage",
        "runs": {},
    }
    for label, workers in (("serial", 1), ("parallel", args.workers)):
        record["runs"][label] = run_once(args.config, args.runs_dir / label, workers, args.until)
        write_json(args.output, record)  # partial results after each run
    serial, parallel = record["runs"]["serial"], record["runs"]["parallel"]
    record["ratio_parallel_over_serial"] = round(parallel["wall_seconds"] / serial["wall_seconds"], 3)
    record["stage_ratio_parallel_over_serial"] = {
        stage: round(parallel["stage_wall_seconds"][stage] / seconds, 3)
        for stage, seconds in serial["stage_wall_seconds"].items()
        if seconds > 0 and stage in parallel["stage_wall_seconds"]
    }
    record["comparison"] = compare(args.runs_dir / "serial", args.runs_dir / "parallel")
    write_json(args.output, record)
    text = sentence(record)
    if args.readme:
        update_readme(REPO / "README.md", args.output.stem, text)
    print(text)
    return 0 if record["comparison"]["per_model_results_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
