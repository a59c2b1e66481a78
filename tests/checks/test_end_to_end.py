"""Checks through the real CLI on a tiny run (slice of the bundled sample, 16-8-5 models, Yosys LUTs):
a LUT budget the quantized model cannot meet is marked in ``warn`` mode (exit 0), stops the run with
exit status 3 in ``gate`` mode, and shows in ``checks.json``, ``status`` and the report. Changing a
budget reruns no stage (checks are not in any cache key); bad ``checks:`` keys exit 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = ("tiny_float", "tiny_q_a2q")
LINE = (
    "check failed: tiny_q_a2q: firmware LUTs = {luts:,} LUT, budget <= 10 LUT "
    "(max_luts; read firmware/tiny_q_a2q/metrics.json:luts)"
)

pytestmark = pytest.mark.slow


def write_config(directory: Path, checks: str) -> Path:
    config = directory / "tiny.yaml"
    config.write_text(
        f"""
name: tiny
seed: 7
models: [{", ".join(MODELS)}]
models_dir: {REPO_ROOT / "tests" / "e2e" / "models"}
data: {{source: pythia, sample: {REPO_ROOT / "triggers_data" / "jets_pythia.h5"}, max_jets_per_class: 300}}
constrain: {{epochs: 2}}
convert: {{hls4ml_config: {REPO_ROOT / "hls4ml_configs" / "vitis_latency.yml"}, testbench_jets: 20}}
firmware: {{clock_period_ns: 5.0, max_test_jets: 200}}
checks:
{checks}
"""
    )
    return config


def budgets(mode: str, stop_all: bool = False) -> str:
    return f"""  mode: {mode}
  stop_all: {str(stop_all).lower()}
  float_reference: tiny_float
  all:
    prune: {{max_accuracy_drop_vs_previous: 50}}
    convert: {{max_accuracy_drop_vs_float: 50, max_mismatches: 0}}
    firmware: {{max_luts: 10, max_latency_ns: 100, max_mismatches: 0}}
"""


def cli(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="session")
def warn_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The whole tiny pipeline in ``warn`` mode with a 10-LUT budget (run once per session)."""
    directory = tmp_path_factory.mktemp("checks-e2e")
    config = write_config(directory, budgets("warn"))
    run_dir = directory / "run"
    result = cli("run", "--config", str(config), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return config, run_dir, result


def _luts(run_dir: Path) -> int:
    return json.loads((run_dir / "firmware" / "tiny_q_a2q" / "metrics.json").read_text())["luts"]


def test_warn_mode_finishes_and_marks_the_failure(warn_run):
    _, run_dir, result = warn_run
    assert (run_dir / "report" / "manifest.json").is_file()  # the run went on to the end
    table = result.stderr[result.stderr.index("checks (warn)") :].splitlines()
    assert table[2].split()[0] == "tiny_q_a2q" and table[2].split()[-2:] == ["warn", "warn"]
    document = json.loads((run_dir / "checks" / "checks.json").read_text())
    failure = document["first_failure"]
    assert (failure["model"], failure["stage"], failure["figure"]) == ("tiny_q_a2q", "firmware", "LUTs")
    assert failure["value"] == _luts(run_dir) > 10 and failure["limit"] == 10
    assert failure["source"] == "firmware/tiny_q_a2q/metrics.json:luts"
    assert document["by_stage"]["tiny_q_a2q"] == {"prune": "pass", "convert": "pass", "firmware": "fail"}
    assert document["by_stage"]["tiny_float"]["firmware"] == "skipped"
    latency = [r for r in document["stages"]["firmware"]["results"] if r["check"] == "max_latency_ns"]
    assert [r["status"] for r in latency] == ["skipped", "pass"]


def test_status_and_report_show_the_checks(warn_run):
    config, run_dir, _ = warn_run
    status = cli("status", "--config", str(config), "--run-dir", str(run_dir))
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines() if line.startswith("  tiny")}
    assert rows["tiny_q_a2q"][-3:] == ["pass", "warn", "warn"]
    assert f"warn: tiny_q_a2q: firmware LUTs = {_luts(run_dir):,} LUT" in status.stdout
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert metrics["checks"]["by_model"]["tiny_q_a2q"] == "fail"
    page = (run_dir / "report" / "index.html").read_text()
    assert "<td class='warn'>warn</td>" in page and f"{_luts(run_dir):,} LUT" in page


def test_gate_exits_3_naming_model_stage_figure_value_limit_and_reruns_no_stage(warn_run, tmp_path):
    _, warn_dir, _ = warn_run
    run_dir = tmp_path / "run"
    shutil.copytree(warn_dir, run_dir)
    report_manifest = (run_dir / "report" / "manifest.json").read_text()

    config = write_config(tmp_path, budgets("gate", stop_all=True))
    stopped = cli("run", "--config", str(config), "--run-dir", str(run_dir))
    assert stopped.returncode == 3, stopped.stderr[-3000:]
    assert stopped.stderr.strip().splitlines()[-1] == LINE.format(luts=_luts(run_dir))
    assert "[running]" not in stopped.stderr  # a budget is not in any cache key: nothing retrained
    assert "[cached ] firmware" in stopped.stderr and "report" not in stopped.stderr  # stopped before it
    assert (run_dir / "report" / "manifest.json").read_text() == report_manifest

    config = write_config(tmp_path, budgets("gate"))
    finished = cli("run", "--config", str(config), "--run-dir", str(run_dir), "--quiet")
    assert finished.returncode == 3, finished.stderr[-3000:]  # tiny_float goes on: the report is built
    assert finished.stderr.strip().splitlines()[-1] == LINE.format(luts=_luts(run_dir))
    page = (run_dir / "report" / "index.html").read_text()
    assert "<td class='fail'>FAIL</td>" in page
    document = json.loads((run_dir / "checks" / "checks.json").read_text())
    assert document["mode"] == "gate" and document["by_model"]["tiny_q_a2q"] == "fail"


@pytest.mark.parametrize(
    ("checks", "key"),
    [
        ("  all: {firmware: {max_lutz: 10}}", "checks.all.firmware.max_lutz"),
        ("  models: {tiny_q: {firmware: {max_luts: 10}}}", "checks.models.tiny_q"),
    ],
)
def test_bad_checks_keys_exit_2_naming_the_key(tmp_path, checks, key):
    config = write_config(tmp_path, checks)
    result = cli("run", "--config", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert f"unknown key '{key}'" in result.stderr and not (tmp_path / "run").exists()
