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
    assert states == {"numbers": "done", "squares": "failed", "scaled": "missing", "totals": "missing"}
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
    assert states["numbers"] == "done" and states["squares"] == "missing"

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
    assert list(manifest["key_parts"]["input_files"]) == ["sample.txt"]  # relative to the config root


def write_models(directory: Path, factors: dict[str, int]) -> None:
    (directory / "models").mkdir(exist_ok=True)
    for name, factor in factors.items():
        (directory / "models" / f"{name}.yaml").write_text(f"factor: {factor}\n")


def run_all(config_path: Path, run_dir: Path) -> dict[str, str]:
    config = load_config(config_path, stages=STAGES)
    return dict(run_pipeline(config, run_dir, ["squares", "totals"], quiet=True, stages=STAGES))


def test_editing_one_model_spec_reruns_only_that_models_work(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "computed.log"
    monkeypatch.setenv("TOY_LOG", str(log))
    write_models(tmp_path, {"alpha": 2, "beta": 3, "gamma": 5})
    config_path = write_config(tmp_path, "name: toy\nmodels: [alpha, beta, gamma]\n")
    run_dir = tmp_path / "run"
    run_all(config_path, run_dir)
    assert len(log.read_text().split()) == 6
    log.unlink()

    write_models(tmp_path, {"beta": 7})
    results = run_all(config_path, run_dir)
    assert results["numbers"] == "cached"  # no model spec in a stage that uses no models
    assert results["scaled"] == results["totals"] == "ran"
    assert log.read_text().split() == ["scaled:beta", "totals:beta"]  # only beta's work was redone
    manifest = json.loads((run_dir / "totals" / "manifest.json").read_text())
    assert manifest["reused_models"] == ["alpha", "gamma"]
    assert set(manifest["summary"]) == {"alpha", "beta", "gamma"}

    # the incremental result equals a run from scratch, stage-wide files included
    fresh = tmp_path / "fresh"
    run_all(config_path, fresh)
    for stage in ("scaled", "totals"):
        assert hash_tree(run_dir / stage) == hash_tree(fresh / stage)
        reused = json.loads((run_dir / stage / "manifest.json").read_text())
        scratch = json.loads((fresh / stage / "manifest.json").read_text())
        assert reused["key"] == scratch["key"] and reused["summary"] == scratch["summary"]
    assert [line.split()[0] for line in (run_dir / "totals" / "index.txt").read_text().splitlines()] == [
        "alpha",
        "beta",
        "gamma",
    ]


def test_adding_and_removing_models_and_stage_wide_changes(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "computed.log"
    monkeypatch.setenv("TOY_LOG", str(log))
    write_models(tmp_path, {"alpha": 2, "beta": 3})
    run_dir = tmp_path / "run"
    run_all(write_config(tmp_path, "name: toy\nmodels: [alpha]\n"), run_dir)
    log.unlink()
    run_all(write_config(tmp_path, "name: toy\nmodels: [alpha, beta]\n"), run_dir)
    assert log.read_text().split() == ["scaled:beta", "totals:beta"]
    log.unlink()
    run_all(write_config(tmp_path, "name: toy\nmodels: [beta]\n"), run_dir)
    assert not log.exists()  # beta carried over, alpha dropped
    assert [path.name for path in sorted((run_dir / "totals").iterdir()) if path.is_dir()] == ["beta"]
    # a stage-wide change (config section, upstream data, --force) redoes every model
    run_all(write_config(tmp_path, "name: toy\nmodels: [alpha, beta]\nscaled: {offset: 1}\n"), run_dir)
    assert sorted(log.read_text().split()) == ["scaled:alpha", "scaled:beta", "totals:alpha", "totals:beta"]
    log.unlink()
    config = load_config(tmp_path / "toy.yaml", stages=STAGES)
    run_pipeline(config, run_dir, ["totals"], quiet=True, stages=STAGES, force=["totals"])
    assert sorted(log.read_text().split()) == ["totals:alpha", "totals:beta"]


def test_modified_file_of_one_model_is_not_carried_over(tmp_path: Path, monkeypatch) -> None:
    log = tmp_path / "computed.log"
    monkeypatch.setenv("TOY_LOG", str(log))
    write_models(tmp_path, {"alpha": 2, "beta": 3})
    config_path = write_config(tmp_path, "name: toy\nmodels: [alpha, beta]\n")
    run_dir = tmp_path / "run"
    run_all(config_path, run_dir)
    log.unlink()
    (run_dir / "totals" / "alpha" / "total.txt").write_text("tampered\n")
    run_all(config_path, run_dir)
    assert log.read_text().split() == ["totals:alpha"]
    assert (run_dir / "totals" / "alpha" / "total.txt").read_text() != "tampered\n"


def copy_checkout(destination: Path) -> Path:
    """The package and the toy pipeline, as a fresh checkout of the same commit at ``destination``."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "pipeline", destination / "pipeline", ignore=ignore)
    shutil.copytree(
        REPO_ROOT / "tests" / "toy_pipeline", destination / "tests" / "toy_pipeline", ignore=ignore
    )
    (destination / "tests" / "__init__.py").write_text("")
    (destination / "sample.txt").write_text("1\n")
    (destination / "toy.yaml").write_text("name: toy\nnumbers: {source_file: sample.txt}\n")
    return destination


def run_checkout(checkout: Path) -> str:
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-m", "tests.toy_pipeline", "toy.yaml", "run"]
    return subprocess.run(
        command, cwd=checkout, env=environment, capture_output=True, text=True, check=True
    ).stdout


def test_keys_do_not_depend_on_the_checkout_path_but_on_the_code(tmp_path: Path) -> None:
    first, second = copy_checkout(tmp_path / "a" / "checkout"), copy_checkout(tmp_path / "elsewhere")
    run_checkout(first)
    run_checkout(second)
    for stage in ("numbers", "squares"):
        keys = [
            json.loads((root / "run" / stage / "manifest.json").read_text())["key"]
            for root in (first, second)
        ]
        assert keys[0] == keys[1]
    # the same run directory moved to another checkout of the same commit is still cached
    os.rename(second / "run", second / "moved")
    os.rename(first / "run", second / "run")
    assert "('numbers', 'cached'), ('squares', 'cached')" in run_checkout(second)
    # editing code a stage runs (here a module no stage imports at start-up) invalidates the cache
    ecf = second / "pipeline" / "data" / "ecf.py"
    ecf.write_text(ecf.read_text() + "\n# an edit\n")
    assert "('numbers', 'ran'), ('squares', 'ran')" in run_checkout(second)


def test_the_runner_and_its_helpers_use_no_assert_for_control_flow() -> None:
    import ast

    for module in ("runner.py", "keys.py", "publish.py", "config.py", "cli.py", "manifest.py"):
        tree = ast.parse((REPO_ROOT / "pipeline" / module).read_text())
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts == [], f"pipeline/{module} uses assert at lines {asserts} (stripped by python -O)"


def test_real_stage_keys_hold_no_checkout_path_and_data_has_no_model_spec(tmp_path: Path) -> None:
    from pipeline.keys import stage_key_parts
    from pipeline.stages import STAGES as REAL_STAGES
    from pipeline.stages import data

    config = load_config(REPO_ROOT / "pipeline.yaml", stages=REAL_STAGES)
    parts = stage_key_parts(data, config, tmp_path)
    assert parts is not None and "model_specs" not in parts and "models" not in parts
    assert list(parts["input_files"]) == ["triggers_data/jets_pythia.h5"]
    assert str(REPO_ROOT) not in json.dumps(parts)
