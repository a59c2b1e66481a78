"""The runner: caching, invalidation, atomic publication, failure handling and SIGKILL resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import PipelineError
from pipeline.manifest import hash_tree
from pipeline.runner import pipeline_status, run_pipeline
from tests.toy_pipeline import STAGES

REPO_ROOT = Path(__file__).resolve().parents[1]


def write_config(directory: Path, text: str) -> Path:
    path = directory / "toy.yaml"
    path.write_text(text)
    return path


def run(config_path: Path, run_dir: Path, **kwargs) -> list[tuple[str, str]]:
    config = load_config(config_path, stages=STAGES)
    return run_pipeline(config, run_dir, ["squares"], quiet=True, stages=STAGES, **kwargs)


def test_second_run_is_cached_and_manifest_records_outputs(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "name: toy\nnumbers: {count: 4}\n")
    run_dir = tmp_path / "run"
    assert run(config_path, run_dir) == [("numbers", "ran"), ("squares", "ran")]
    assert run(config_path, run_dir) == [("numbers", "cached"), ("squares", "cached")]
    manifest = json.loads((run_dir / "squares" / "manifest.json").read_text())
    assert manifest["stage"] == "squares"
    assert manifest["status"] == "done"
    assert manifest["outputs"] == hash_tree(run_dir / "squares")
    assert len(manifest["outputs"]) == 4
    assert manifest["summary"]["total"] == sum(((index * 7 + 20261123) % 101) ** 2 for index in range(4))
    numbers_manifest = json.loads((run_dir / "numbers" / "manifest.json").read_text())
    assert numbers_manifest["packages"]["pyyaml"] == metadata.version("pyyaml")
    assert numbers_manifest["key_parts"]["packages"] == numbers_manifest["packages"]


def test_config_change_reruns_the_stage_and_everything_downstream(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(write_config(tmp_path, "name: toy\nnumbers: {count: 3}\n"), run_dir)
    assert run(write_config(tmp_path, "name: toy\nnumbers: {count: 5}\n"), run_dir) == [
        ("numbers", "ran"),
        ("squares", "ran"),
    ]
    assert len(list((run_dir / "squares").glob("square_*.txt"))) == 5


def test_downstream_config_change_keeps_upstream_cached(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(write_config(tmp_path, "name: toy\n"), run_dir)
    changed = write_config(tmp_path, "name: toy\nsquares: {delay_seconds: 0.001}\n")
    assert run(changed, run_dir) == [("numbers", "cached"), ("squares", "ran")]


def test_seed_change_invalidates(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run(write_config(tmp_path, "name: toy\nseed: 1\n"), run_dir)
    assert run(write_config(tmp_path, "name: toy\nseed: 2\n"), run_dir)[0] == ("numbers", "ran")


def test_modified_output_makes_the_stage_stale_and_it_is_redone(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "name: toy\n")
    run_dir = tmp_path / "run"
    run(config_path, run_dir)
    (run_dir / "numbers" / "numbers.txt").write_text("999\n")
    config = load_config(config_path, stages=STAGES)
    states = {status.stage: status.state for status in pipeline_status(config, run_dir, stages=STAGES)}
    assert states["numbers"] == "stale"
    assert run(config_path, run_dir)[0] == ("numbers", "ran")
    assert (run_dir / "numbers" / "numbers.txt").read_text() != "999\n"


def test_force_reruns_a_cached_stage(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "name: toy\n")
    run_dir = tmp_path / "run"
    run(config_path, run_dir)
    assert run(config_path, run_dir, force=["squares"]) == [("numbers", "cached"), ("squares", "ran")]
    with pytest.raises(PipelineError, match="unknown stage"):
        run(config_path, run_dir, force=["nonsense"])


def test_failed_stage_leaves_no_artifact_and_keeps_earlier_results(tmp_path: Path) -> None:
    good = write_config(tmp_path, "name: toy\n")
    run_dir = tmp_path / "run"
    run(good, run_dir)
    before = hash_tree(run_dir / "squares")
    bad = write_config(tmp_path, "name: toy\nsquares: {fail: true}\n")
    with pytest.raises(RuntimeError, match="toy failure"):
        run(bad, run_dir)
    assert hash_tree(run_dir / "squares") == before  # previous good result untouched
    assert not list((run_dir / ".staging").glob("*"))
    config = load_config(bad, stages=STAGES)
    states = {status.stage: status.state for status in pipeline_status(config, run_dir, stages=STAGES)}
    assert states == {"numbers": "done", "squares": "failed"}
    assert "toy failure" in json.loads((run_dir / ".failures" / "squares.json").read_text())["error"]


def test_sigkill_mid_stage_then_rerun_matches_uninterrupted_run(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "name: toy\nnumbers: {count: 40}\nsquares: {delay_seconds: 0.05}\n")
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    command = [sys.executable, "-m", "tests.toy_pipeline", str(config_path)]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([*command, str(killed_dir)], cwd=REPO_ROOT, env=environment)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = list((killed_dir / ".staging").glob("squares-*/square_*.txt"))
        if len(partial) >= 3:
            break
        time.sleep(0.02)
    else:
        process.kill()
        pytest.fail("the squares stage never started")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert (killed_dir / "numbers" / "manifest.json").is_file()
    assert not (killed_dir / "squares").exists()  # nothing that looks finished
    config = load_config(config_path, stages=STAGES)
    states = {status.stage: status.state for status in pipeline_status(config, killed_dir, stages=STAGES)}
    assert states == {"numbers": "done", "squares": "missing"}

    resumed = subprocess.run(
        [*command, str(killed_dir)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "('numbers', 'cached'), ('squares', 'ran')" in resumed.stdout
    subprocess.run(
        [*command, str(clean_dir)], cwd=REPO_ROOT, env=environment, check=True, capture_output=True
    )
    assert hash_tree(killed_dir / "squares") == hash_tree(clean_dir / "squares")
    assert not list((killed_dir / ".staging").glob("*"))


def test_declared_input_file_change_reruns_the_stage(tmp_path: Path) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_text("1\n")
    config_path = write_config(tmp_path, f"name: toy\nnumbers: {{source_file: {sample}}}\n")
    run_dir = tmp_path / "run"
    run(config_path, run_dir)
    assert run(config_path, run_dir)[0] == ("numbers", "cached")
    sample.write_text("2\n")
    assert run(config_path, run_dir)[0] == ("numbers", "ran")
    manifest = json.loads((run_dir / "numbers" / "manifest.json").read_text())
    assert list(manifest["key_parts"]["input_files"]) == [str(sample)]
