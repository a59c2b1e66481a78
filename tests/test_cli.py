"""The command line: help lists the stages; user errors exit 2 with one line and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    lines = result.stdout.strip().splitlines()
    states = dict(line.split()[:2] for line in lines[: len(STAGE_NAMES)])
    assert states == dict.fromkeys(STAGE_NAMES, "missing")


def tiny_config(directory: Path, models: str = "[jet_dnn_q6]") -> Path:
    """A config over the bundled sample that trains in seconds (for tests that run real stages)."""
    path = directory / "tiny.yaml"
    path.write_text(
        f"name: tiny\nmodels: {models}\nmodels_dir: {REPO_ROOT / 'models'}\n"
        f"data: {{sample: {REPO_ROOT / 'triggers_data' / 'jets_pythia.h5'}, max_jets_per_class: 100}}\n"
        "train: {epochs_override: 1}\n"
    )
    return path


def quiet_environment() -> dict[str, str]:
    """The environment of a new user: none of the variables that hide TensorFlow's notices."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for variable in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS"):
        environment.pop(variable, None)
    return environment


@pytest.mark.slow
def test_real_stage_run_has_a_clean_stderr_and_debug_shows_the_notices(tmp_path: Path) -> None:
    config, run_dir = tiny_config(tmp_path), tmp_path / "run"
    command = [sys.executable, "-m", "pipeline", "run", "--until", "train", "--quiet"]
    common = ["--config", str(config), "--run-dir", str(run_dir)]
    result = subprocess.run(
        [*command, *common], cwd=tmp_path, env=quiet_environment(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [f"run directory: {run_dir}"]
    debug = subprocess.run(
        [*command, *common, "--debug", "--force", "train"],
        cwd=tmp_path,
        env=quiet_environment(),
        capture_output=True,
        text=True,
    )
    assert debug.returncode == 0, debug.stderr
    assert "tensorflow" in debug.stderr  # the notices are there, only hidden by default


QUIET_SCRIPT = """
import sys
if sys.argv[1] == "quiet":
    from pipeline.quiet import quiet_third_party_output
    quiet_third_party_output()
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import warnings
figure, axes = plt.subplots()
axes.set_title("x", family="cursive")
figure.canvas.draw()
warnings.warn("a library warning", UserWarning)
"""


def test_quiet_hides_findfont_and_library_warnings() -> None:
    results = {
        mode: subprocess.run(
            [sys.executable, "-c", QUIET_SCRIPT, mode],
            cwd=REPO_ROOT,
            env=quiet_environment(),
            capture_output=True,
            text=True,
        )
        for mode in ("quiet", "loud")
    }
    assert "a library warning" in results["loud"].stderr  # the script does make noise
    assert results["quiet"].returncode == 0 and results["quiet"].stderr == ""
