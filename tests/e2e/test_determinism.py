"""Determinism: the same config and seed give byte-identical artifacts (two runs, two run directories)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.manifest import hash_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ("data", "train", "prune", "constrain", "export")

pytestmark = pytest.mark.slow


def test_same_config_and_seed_give_identical_artifacts(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "name: tiny\nseed: 11\nmodels: [tiny_float, tiny_q_a2q]\n"
        f"models_dir: {REPO_ROOT / 'tests' / 'e2e' / 'models'}\n"
        f"data: {{sample: {REPO_ROOT / 'triggers_data' / 'jets_pythia.h5'}, max_jets_per_class: 150}}\n"
        "constrain: {epochs: 1}\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    run_dirs = [tmp_path / "first", tmp_path / "second"]
    for run_dir in run_dirs:
        command = [sys.executable, "-m", "pipeline", "run", "--until", STAGES[-1], "--quiet"]
        command += ["--config", str(config), "--run-dir", str(run_dir)]
        result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
    for stage in STAGES:
        first, second = (hash_tree(run_dir / stage) for run_dir in run_dirs)
        assert first and first == second, f"{stage}: artifacts differ"
        keys = [json.loads((run_dir / stage / "manifest.json").read_text())["key"] for run_dir in run_dirs]
        assert keys[0] == keys[1]
