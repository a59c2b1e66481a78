"""The command line: help lists the stages; user errors exit 2 with one line and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGE_NAMES = ["data", "train", "prune", "constrain", "export", "convert", "firmware", "report"]


def cli(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_help_lists_every_stage_and_run_and_status() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for name in [*STAGE_NAMES, "run", "status"]:
        assert f"\n    {name}" in result.stdout


def test_unknown_config_key_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("name: bad\ntrain: {epochz: 3}\n")
    result = cli("status", "--config", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "train.epochz" in lines[0] and str(config) in lines[0]


def test_missing_config_exits_2_and_debug_shows_traceback(tmp_path: Path) -> None:
    result = cli("run", "--config", str(tmp_path / "none.yaml"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr
    debug = cli("run", "--config", str(tmp_path / "none.yaml"), "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_status_on_empty_run_dir_lists_all_stages_missing(tmp_path: Path) -> None:
    result = cli("status", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    states = dict(line.split()[:2] for line in result.stdout.strip().splitlines())
    assert states == dict.fromkeys(STAGE_NAMES, "missing")
