"""Benchmark: run the default pipeline and record the README's results table in one file.

Runs every stage of ``--config`` (default ``pipeline.yaml``: the bundled 50k-jet sample) into
``--run-dir`` through the real CLI (cached stages are reused unless ``--fresh``), then reads the
report's ``metrics.json`` and the stage manifests and writes ``--output`` (default
``benchmarks/results/default_run.json``) with, per model: the deployed model's accuracy
(firmware-exact for quantized models), the mean one-vs-rest AUC, BOPs, LUT, FF, latency; BOPs and
LUT ratios against the float and the 6-bit baselines; each stage's wall time; and the machine.

With ``--readme`` it also writes the table (:func:`markdown_table`) into ``README.md`` between the
markers ``<!-- results:<output stem> -->`` and ``<!-- /results:<output stem> -->``.

Usage:
    python benchmarks/bench_default_run.py --fresh --readme     # the default run (~11 min on 2 cores)
    python benchmarks/bench_default_run.py --config tiny.yaml --run-dir runs/tiny --output /tmp/t.json
    python benchmarks/bench_default_run.py --no-run --run-dir runs/default   # summarise a finished run
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.manifest import MANIFEST_NAME, Manifest, write_json  # noqa: E402

FLOAT_BASELINE = "jet_dnn_float"
SIX_BIT_BASELINE = "jet_dnn_q6"
TABLE_FIELDS = ("bops", "luts", "flip_flops", "latency_cycles", "latency_ns")


def _summary_value(model: dict[str, Any], field: str) -> float | None:
    entry = model.get("summary", {}).get(field)
    return None if entry is None else entry["value"]


def model_row(name: str, model: dict[str, Any]) -> dict[str, Any]:
    """One row of the results table from the report's per-model record."""
    performance = model.get("performance", {})
    deployed_kind = "exact" if "exact" in performance else "float"
    deployed = performance.get(deployed_kind)
    row: dict[str, Any] = {"model": name, "scores": deployed_kind if deployed else None}
    if deployed:
        aucs = [entry["auc"] for entry in deployed["classes"].values() if entry["auc"] is not None]
        row["accuracy"] = deployed["accuracy"]
        row["mean_auc"] = sum(aucs) / len(aucs) if aucs else None
        row["test_jets"] = deployed["n_jets"]
    for field in TABLE_FIELDS:
        row[field] = _summary_value(model, field)
    return row


def ratios(rows: list[dict[str, Any]], baseline: str) -> dict[str, dict[str, float]]:
    """``baseline``'s BOPs and LUTs divided by each model's (how many times fewer), where both exist."""
    by_name = {row["model"]: row for row in rows}
    if baseline not in by_name:
        return {}
    result = {}
    for row in rows:
        entry = {}
        for field in ("bops", "luts"):
            reference, value = by_name[baseline].get(field), row.get(field)
            if reference and value:
                entry[f"{field}_fewer_x"] = reference / value
        accuracy, reference_accuracy = row.get("accuracy"), by_name[baseline].get("accuracy")
        if accuracy is not None and reference_accuracy is not None:
            entry["accuracy_minus_baseline_points"] = 100.0 * (accuracy - reference_accuracy)
        result[row["model"]] = entry
    return result


def summarise(run_dir: Path) -> dict[str, Any]:
    """The results record of a finished run directory (report stage done)."""
    import json

    report = json.loads((run_dir / "report" / "metrics.json").read_text())
    rows = [model_row(name, report["models"][name]) for name in report["models_order"]]
    stage_seconds = {
        stage: record["wall_time_seconds"]
        for stage, record in report["stages"].items()
        if record.get("present") and "wall_time_seconds" in record
    }
    report_manifest = Manifest.read(run_dir / "report" / MANIFEST_NAME)
    if report_manifest is not None:
        stage_seconds["report"] = report_manifest.wall_time_seconds
    return {
        "models": rows,
        "ratios_vs_float": ratios(rows, FLOAT_BASELINE),
        "ratios_vs_6bit": ratios(rows, SIX_BIT_BASELINE),
        "stage_wall_time_seconds": stage_seconds,
        "tool_versions": report.get("tool_versions", {}),
        "missing": report.get("missing", []),
    }


def _number(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
    if value is None:
        return "-"
    text = f"{value * scale:,.{digits}f}".replace(",", " ")
    return f"{text}{unit}"


def _bops(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"


def markdown_table(record: dict[str, Any]) -> str:
    """The README's table of a results record (every cell from ``record``)."""
    lines = [
        "| model | accuracy | mean AUC | BOPs | LUT | FF | latency | BOPs fewer vs float / vs 6-bit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in record["models"]:
        name = row["model"]
        cycles, latency = row.get("latency_cycles"), row.get("latency_ns")
        timing = "-" if cycles is None else f"{cycles:.0f} cycles, {latency:.0f} ns"
        versus = [
            record[key].get(name, {}).get("bops_fewer_x") for key in ("ratios_vs_float", "ratios_vs_6bit")
        ]
        ratio_text = " / ".join("-" if value is None else f"{value:.1f}x" for value in versus)
        cells = [
            name,
            _number(row.get("accuracy"), " %", 100.0, 2),
            _number(row.get("mean_auc"), "", 1, 3),
            _bops(row.get("bops")),
            _number(row.get("luts")),
            _number(row.get("flip_flops")),
            timing,
            ratio_text,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    seconds = record["stage_wall_time_seconds"]
    total = sum(seconds.values())
    firmware = seconds.get("firmware", 0.0)
    jets = {row.get("test_jets") for row in record["models"]} - {None}
    cached = (
        " (cached stages reused: their times are from when they ran)"
        if record.get("cached_stages_reused")
        else ""
    )
    lines += [
        "",
        f"Test jets: {', '.join(str(n) for n in sorted(jets))}. Stage wall times sum to {total / 60:.1f} min"
        f" (firmware {firmware / 60:.1f} min) on {record['machine']['cpu_count']} cores,"
        f" {record['date']}{cached}.",
    ]
    return "\n".join(lines)


def update_readme(readme: Path, marker: str, table: str) -> None:
    """Replace the text between ``<!-- results:marker -->`` and ``<!-- /results:marker -->``."""
    text = readme.read_text()
    start, end = f"<!-- results:{marker} -->", f"<!-- /results:{marker} -->"
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} ... {end} block")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(f"{before}{start}\n{table}\n{end}{after}")


def _shown_path(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO)) if resolved.is_relative_to(REPO) else str(path)


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "pipeline.yaml")
    parser.add_argument("--run-dir", type=Path, default=REPO / "runs" / "default")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "default_run.json")
    parser.add_argument("--fresh", action="store_true", help="rerun every stage (--force on all)")
    parser.add_argument("--no-run", action="store_true", help="only summarise an existing run directory")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)

    wall_seconds = None
    command = [sys.executable, "-m", "pipeline", "run", "--config", str(args.config)]
    command += ["--run-dir", str(args.run_dir), "--quiet"]
    if args.fresh:
        from pipeline.stages import STAGES

        command += [argument for module in STAGES for argument in ("--force", module.NAME)]
    if not args.no_run:
        started = time.perf_counter()
        environment = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run(command, cwd=REPO, env=environment, check=True)
        wall_seconds = round(time.perf_counter() - started, 1)
    record = {
        "benchmark": "benchmarks/bench_default_run.py",
        "command": " ".join(["python", "benchmarks/bench_default_run.py", *(argv or sys.argv[1:])]),
        "config": _shown_path(args.config),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "run_wall_time_seconds": wall_seconds,
        "cached_stages_reused": not args.fresh,
        **summarise(args.run_dir),
    }
    write_json(args.output, record)
    table = markdown_table(record)
    if args.readme:
        update_readme(REPO / "README.md", args.output.stem, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
