"""The shipped firmware budgets (pipeline.yaml ``checks:``) evaluated on the default run's stored
firmware records (``benchmarks/results/firmware_default_run.json`` = ``firmware/report.json`` of
``make run``), with the real checks code: which default model fits 25 ns and 2 % of the part.

Usage: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_checks.py`` (well under a second of CPU).
Writes ``benchmarks/results/checks_default_firmware.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipeline.checks.evaluate import evaluate_stage
from pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "results" / "firmware_default_run.json"
OUTPUT = ROOT / "benchmarks" / "results" / "checks_default_firmware.json"


def main() -> None:
    config = load_config(ROOT / "pipeline.yaml")
    checks = config.values.checks
    hls = yaml.safe_load((config.root / config.section("convert").hls4ml_config).read_text())
    part = config.section("firmware").part or hls["Part"]  # what the firmware stage builds for
    report = json.loads(RECORDS.read_text())
    results = {}
    for model, row in report["models"].items():
        records = {"firmware": {"metrics": row, "firmware": {"part": part}}}
        results[model] = [result.to_dict() for result in evaluate_stage("firmware", model, records, checks)]
    document = {
        "command": "PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_checks.py",
        "input": str(RECORDS.relative_to(ROOT)),
        "part": part,
        "budgets": checks.all.firmware.model_dump(exclude_none=True),
        "cpu_budget": "< 1 s, no stage rerun",
        "results": results,
    }
    OUTPUT.write_text(json.dumps(document, indent=2) + "\n")
    for model, model_results in results.items():
        print(model, [(r["check"], r["value"], r["status"]) for r in model_results])


if __name__ == "__main__":
    main()
