"""Crash-safe publication: a process SIGKILLed at every step of publishing keeps a complete output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.manifest import hash_tree
from pipeline.publish import FAULT_VARIABLE, PUBLISH_STEPS, VERSIONS_DIR, recover

REPO_ROOT = Path(__file__).resolve().parents[1]


def toy_run(config: Path, run_dir: Path, fault: str | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop(FAULT_VARIABLE, None)
    if fault is not None:
        environment[FAULT_VARIABLE] = fault
    command = [sys.executable, "-m", "tests.toy_pipeline", str(config), str(run_dir), "numbers"]
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True)


def numbers_output(run_dir: Path) -> str:
    manifest = json.loads((run_dir / "numbers" / "manifest.json").read_text())
    assert hash_tree(run_dir / "numbers") == manifest["outputs"]  # complete, not a mixture
    return (run_dir / "numbers" / "numbers.txt").read_text()


@pytest.mark.parametrize("step", PUBLISH_STEPS)
def test_sigkill_at_each_publish_step_keeps_a_complete_output(tmp_path: Path, step: str) -> None:
    config = tmp_path / "toy.yaml"
    run_dir = tmp_path / "run"
    config.write_text("name: toy\nnumbers: {count: 3}\n")
    assert toy_run(config, run_dir).returncode == 0
    old = numbers_output(run_dir)

    config.write_text("name: toy\nnumbers: {count: 4}\n")
    killed = toy_run(config, run_dir, fault=step)
    assert killed.returncode == -signal.SIGKILL
    published = numbers_output(run_dir)  # readable right after the kill, before any recovery
    assert published == old if step in ("before_version", "after_version") else published != old

    assert toy_run(config, run_dir).returncode == 0  # recovers and brings the stage up to date
    assert len(numbers_output(run_dir).split()) == 4
    versions = list((run_dir / VERSIONS_DIR).iterdir())
    assert versions == [(run_dir / "numbers").resolve()]  # the unreferenced copies were removed
    assert not list((run_dir / ".staging").glob("*"))


def test_recover_relinks_an_unlinked_version_instead_of_deleting_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    version = run_dir / VERSIONS_DIR / "numbers-1234abcd"
    version.mkdir(parents=True)
    (version / "manifest.json").write_text("{}")
    (version / "numbers.txt").write_text("1\n")
    incomplete = run_dir / VERSIONS_DIR / "numbers-99999999"
    incomplete.mkdir()
    (incomplete / "numbers.txt").write_text("half")
    actions = recover(run_dir, ["numbers"])
    assert (run_dir / "numbers" / "numbers.txt").read_text() == "1\n"
    assert not incomplete.exists()
    assert any("re-linked" in action for action in actions)


def test_a_run_directory_from_before_versioned_outputs_is_migrated(tmp_path: Path) -> None:
    config = tmp_path / "toy.yaml"
    run_dir = tmp_path / "run"
    config.write_text("name: toy\nnumbers: {count: 3}\n")
    assert toy_run(config, run_dir).returncode == 0
    target = (run_dir / "numbers").resolve()
    (run_dir / "numbers").unlink()
    os.replace(target, run_dir / "numbers")  # a real directory, as older versions published
    config.write_text("name: toy\nnumbers: {count: 5}\n")
    killed = toy_run(config, run_dir, fault="after_link")
    assert killed.returncode == -signal.SIGKILL
    assert len(numbers_output(run_dir).split()) == 5
    assert toy_run(config, run_dir).returncode == 0
    assert (run_dir / "numbers").is_symlink() and len(list((run_dir / VERSIONS_DIR).iterdir())) == 1
