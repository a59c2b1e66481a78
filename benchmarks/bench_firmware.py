"""Benchmark: the firmware stage today (one model at a time) against the concurrent, cached stage.

Usage (after ``trigger-pipeline convert`` has produced ``data``, ``constrain`` and ``convert``)::

    PYTHONPATH=$PWD NUMBA_CACHE_DIR=/tmp/numba_cache python benchmarks/bench_firmware.py \
        --run-dir runs/default [--baseline-commit 4faa5b6] [--json benchmarks/results/firmware_speed.json]

Three runs of the stage on the same upstream directories, one after the other, each in its own
process: ``today`` (the stage at ``--baseline-commit``, extracted with ``git archive``: serial, no
cache), ``concurrent`` (this checkout, default config: tool jobs on all cores, empty cache) and
``cached`` (this checkout again: the cache of the previous run is reused; the bit-exact simulation
reruns). Recorded: wall seconds, CPU seconds of each run's process tree, the LUT/FF/cycles/bit-exact
figures of every model (they must agree between the runs), the wall-time ratios, and a projection
of the default run: the upstream stages' wall times from the run directory's manifests plus each
firmware run. The machine's load average is recorded: on a shared machine wall times are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES_BEFORE = ("data", "train", "prune", "constrain", "export", "convert")


def _child(run_dir: Path, output_dir: Path) -> None:
    """Run the firmware stage of the ``pipeline`` package first on ``sys.path`` (default config)."""
    from pipeline.stage_api import StageInputs
    from pipeline.stages import firmware

    config = json.loads(os.environ.get("BENCH_FIRMWARE_CONFIG", "{}"))
    models = tuple(json.loads(os.environ["BENCH_MODELS"]))
    inputs = StageInputs(
        output_dir=output_dir,
        upstream={stage: run_dir / stage for stage in firmware.REQUIRES},
        models=models,
        model_specs={},
        repo_root=REPO,
        seed=0,
        quiet=True,
    )
    firmware.run(inputs, firmware.Config(**config))


def _run_variant(code_root: Path, run_dir: Path, output_dir: Path, models: list[str], config: dict) -> dict:
    environment = dict(os.environ, BENCH_CODE_ROOT=str(code_root), BENCH_MODELS=json.dumps(models))
    environment["BENCH_FIRMWARE_CONFIG"] = json.dumps(config)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(run_dir), str(output_dir)],
        env=environment,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"firmware stage failed ({code_root}):\n{completed.stderr[-3000:]}")
    report = json.loads((output_dir / "report.json").read_text())
    figures = {
        name: {key: row.get(key) for key in ("luts", "flip_flops", "cycles", "bit_exact", "mismatched_jets")}
        for name, row in report["models"].items()
    }
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "figures": figures}


def _upstream_seconds(run_dir: Path) -> dict[str, float]:
    seconds = {}
    for stage in STAGES_BEFORE:
        manifest = run_dir / stage / "manifest.json"
        if manifest.is_file():
            seconds[stage] = float(json.loads(manifest.read_text())["wall_time_seconds"])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--baseline-commit", default="4faa5b6")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["jet_dnn_float", "jet_dnn_q6", "jet_dnn_q6_qap", "jet_dnn_q6_a2q_plus_qap"],
    )
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/firmware_speed.json"))
    args = parser.parse_args()
    run_dir = args.run_dir.resolve()
    results: dict = {
        "command": "python benchmarks/bench_firmware.py " + " ".join(sys.argv[1:]),
        "baseline_commit": args.baseline_commit,
        "cores": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(),
        "upstream_wall_seconds": _upstream_seconds(run_dir),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        today = scratch / "today_code"
        today.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.baseline_commit, "pipeline"], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(today)], input=archive.stdout, check=True)
        bench_run = scratch / "run"  # the upstream stages, linked; the cache lands in bench_run/.cache
        bench_run.mkdir()
        for stage in ("data", "constrain", "convert"):
            (bench_run / stage).symlink_to(run_dir / stage)
        variants = (("concurrent", REPO, {}), ("today", today, {}), ("cached", REPO, {}))
        for label, code_root, config in variants:
            output_dir = scratch / f"out_{label}"
            output_dir.mkdir()
            results["runs"][label] = _run_variant(code_root, bench_run, output_dir, args.models, config)
            results["runs"][label]["load_average_after"] = os.getloadavg()
            print(
                label,
                results["runs"][label]["wall_seconds"],
                results["runs"][label]["cpu_seconds"],
                flush=True,
            )
            args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    runs = results["runs"]
    upstream = sum(results["upstream_wall_seconds"].values())
    results["ratios"] = {
        "today_over_concurrent_wall": round(
            runs["today"]["wall_seconds"] / runs["concurrent"]["wall_seconds"], 2
        ),
        "today_over_cached_wall": round(runs["today"]["wall_seconds"] / runs["cached"]["wall_seconds"], 2),
    }
    results["projected_default_run_seconds"] = {
        label: round(upstream + run["wall_seconds"], 1) for label, run in runs.items()
    }
    results["same_figures"] = all(run["figures"] == runs["today"]["figures"] for run in runs.values())
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(
        json.dumps({key: results[key] for key in ("ratios", "projected_default_run_seconds", "same_figures")})
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        sys.path.insert(0, os.environ["BENCH_CODE_ROOT"])
        os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _child(Path(sys.argv[2]), Path(sys.argv[3]))
        raise SystemExit(0)
    raise SystemExit(main())
