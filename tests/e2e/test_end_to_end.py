"""The whole pipeline through the real CLI on a slice of the bundled sample, with tiny models:
data -> train -> prune -> constrain -> export -> convert (hls4ml C-sim) -> firmware (Verilator,
Yosys) -> report. Also: a SIGKILL in the middle of the real ``train`` stage, then a resume that
gives the same artifacts as an uninterrupted run, and a rerun that is fully cached."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from pipeline.manifest import hash_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = ("tiny_float", "tiny_q_a2q")
STAGES = ("data", "train", "prune", "constrain", "export", "convert", "firmware", "report")

pytestmark = pytest.mark.slow


def write_config(directory: Path) -> Path:
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
firmware: {{clock_period_ns: 5.0}}
"""
    )
    return config


def cli(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    """A full run whose ``train`` stage was killed with SIGKILL once and then resumed."""
    directory = tmp_path_factory.mktemp("e2e")
    config = write_config(directory)
    run_dir = directory / "run"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "pipeline", "run", "--config", str(config), "--run-dir", str(run_dir)]
    process = subprocess.Popen([*command, "--quiet"], cwd=REPO_ROOT, env=environment)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if list((run_dir / ".staging").glob("train-*/*/")):  # train is writing its first model
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before train started"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert (run_dir / "data" / "manifest.json").is_file()
    assert not (run_dir / "train").exists()

    resumed = cli("run", "--config", str(config), "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "[cached ] data" in resumed.stderr
    return config, run_dir


def test_every_stage_done_and_status_says_so(finished_run) -> None:
    config, run_dir = finished_run
    status = cli("status", "--config", str(config), "--run-dir", str(run_dir))
    assert status.returncode == 0
    states = dict(line.split()[:2] for line in status.stdout.strip().splitlines())
    assert states == dict.fromkeys(STAGES, "done")
    assert not list((run_dir / ".staging").glob("*"))


def test_resumed_train_equals_an_uninterrupted_train(finished_run, tmp_path: Path) -> None:
    config, run_dir = finished_run
    clean = cli("train", "--config", str(config), "--run-dir", str(tmp_path / "clean"), "--quiet")
    assert clean.returncode == 0, clean.stderr[-3000:]
    for stage in ("data", "train"):
        assert hash_tree(run_dir / stage) == hash_tree(tmp_path / "clean" / stage), stage


def test_bit_exact_firmware_and_proven_accumulators(finished_run) -> None:
    _, run_dir = finished_run
    accumulators = json.loads((run_dir / "constrain" / "tiny_q_a2q" / "accumulators.json").read_text())
    assert accumulators["constrained"] is True
    assert all(layer["check"]["fits"] and layer["target_bits"] == 14 for layer in accumulators["layers"])
    bit_exact = json.loads((run_dir / "convert" / "tiny_q_a2q" / "bit_exact.json").read_text())
    assert bit_exact["mismatches"] == 0 and bit_exact["jets"] > 0
    assert (run_dir / "convert" / "tiny_q_a2q" / "hls4ml_prj" / "build_prj.tcl").is_file()
    firmware = json.loads((run_dir / "firmware" / "report.json").read_text())
    figures = firmware["models"]["tiny_q_a2q"]
    assert figures["bit_exact"] is True
    assert figures["mismatched_jets"] == 0 and figures["simulated_jets"] > 0
    assert figures["luts"] > 0 and figures["cycles"] >= 1
    assert "tiny_float" in firmware["skipped"]


def test_report_and_score_export(finished_run) -> None:
    _, run_dir = finished_run
    report = run_dir / "report"
    metrics = json.loads((report / "metrics.json").read_text())
    assert set(metrics["models"]) == set(MODELS)
    assert metrics["missing"] == ["scores/tiny_float: no firmware-exact scores (it is a float model)"]
    assert metrics["models"]["tiny_q_a2q"]["summary"]["luts"]["source"].startswith("firmware/")
    assert "<img" in (report / "index.html").read_text()
    with h5py.File(report / "scores.h5") as scores:
        assert scores["tiny_q_a2q/exact_scores"].shape == (scores["labels"].shape[0], 5)


def test_rerun_is_fully_cached(finished_run) -> None:
    config, run_dir = finished_run
    rerun = cli("run", "--config", str(config), "--run-dir", str(run_dir))
    assert rerun.returncode == 0
    assert all(f"[cached ] {stage}" in rerun.stderr for stage in STAGES)
