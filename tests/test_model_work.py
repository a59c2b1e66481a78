"""Per-model work of the model stages: serial in this process or on a real Dask LocalCluster of 2
worker processes; a model's artifacts (and the report's scores) are byte-identical either way (real
CLI runs of a tiny config)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import load_config, with_engine_workers
from pipeline.engine import ClusterConfig
from pipeline.errors import PipelineError
from pipeline.manifest import hash_tree
from pipeline.model_work import ModelWork

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data", "train", "prune", "constrain", "export", "convert")
HLS4ML_CONFIG = REPO_ROOT / "hls4ml_configs" / "vitis_latency.yml"
TINY_QUANTIZED = REPO_ROOT / "tests" / "e2e" / "models" / "tiny_q_a2q.yaml"
TINY_Q4 = REPO_ROOT / "tests" / "e2e" / "models" / "tiny_q4.yaml"  # no pruning, no A2Q: passed through


def _square_in(task: tuple[int, str]) -> tuple[int, int]:
    """``(pid, value**2)``; writes a marker file per task, sleeps 0.5 s, fails on request."""
    value, marker_dir = task
    (Path(marker_dir) / str(value)).touch()
    if value == 1:
        raise PipelineError("train", f"model {value} is broken", input=f"models/m{value}.yaml", fix="fix it")
    if value == 3:
        raise ValueError("not a pipeline error")
    time.sleep(0.5)
    return os.getpid(), value * value


def test_serial_work_runs_in_this_process_in_order_and_starts_no_cluster(tmp_path: Path) -> None:
    done = []
    work = ModelWork(ClusterConfig(workers=1))
    results = work.map(
        _square_in, [(0, str(tmp_path)), (2, str(tmp_path))], on_done=lambda t, r: done.append(t[0])
    )
    assert results == [(os.getpid(), 0), (os.getpid(), 4)] and done == [0, 2]
    parallel = ModelWork(ClusterConfig(workers=2))
    assert parallel.map(_square_in, [(4, str(tmp_path))]) == [(os.getpid(), 16)]  # one task: no cluster
    assert parallel._client is None
    with pytest.raises(PipelineError) as serial_error:
        work.map(_square_in, [(0, str(tmp_path)), (1, str(tmp_path)), (2, str(tmp_path))])
    assert serial_error.value.message == "[train] model 1 is broken (input: models/m1.yaml). Fix: fix it"


@pytest.fixture(scope="module")
def two_workers():
    work = ModelWork(ClusterConfig(workers=2))
    yield work
    work.close()


@pytest.mark.slow  # starts a LocalCluster of 2 worker processes (a few seconds)
def test_parallel_work_keeps_task_order_and_runs_in_worker_processes(tmp_path: Path, two_workers) -> None:
    done = []
    tasks = [(value, str(tmp_path)) for value in (0, 2, 4, 5, 6)]
    results = two_workers.map(_square_in, tasks, on_done=lambda task, _result: done.append(task[0]))
    assert [square for _pid, square in results] == [0, 4, 16, 25, 36]
    assert os.getpid() not in {pid for pid, _square in results}
    assert len({pid for pid, _square in results}) == 2  # both workers took tasks
    assert sorted(done) == [0, 2, 4, 5, 6]


@pytest.mark.slow
def test_a_failed_task_raises_its_error_and_no_later_task_starts(tmp_path: Path, two_workers) -> None:
    tasks = [(value, str(tmp_path)) for value in (0, 1, 2, 4, 5)]
    with pytest.raises(PipelineError) as error:
        two_workers.map(_square_in, tasks)
    assert error.value.message == "[train] model 1 is broken (input: models/m1.yaml). Fix: fix it"
    assert sorted(int(path.name) for path in tmp_path.iterdir()) == [0, 1]  # task 0 finished, none started
    with pytest.raises(ValueError, match="not a pipeline error") as other:
        two_workers.map(_square_in, [(0, str(tmp_path)), (3, str(tmp_path))])
    assert any("raised in a Dask worker" in note for note in other.value.__notes__)


def test_engine_section_is_validated(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("name: run\nengine: {workers: 2}\n")
    assert load_config(config).values.engine.workers == 2
    assert with_engine_workers(load_config(config), 1).values.engine.workers == 1  # the CLI's --workers
    with pytest.raises(PipelineError, match="--workers 0"):
        with_engine_workers(load_config(config), 0)
    for bad, problem in (
        ("{workers: 0}", "invalid value for 'engine.workers'"),
        ("{wrokers: 2}", "unknown key"),
    ):
        config.write_text(f"name: run\nengine: {bad}\n")
        with pytest.raises(PipelineError, match=problem):
            load_config(config)


def _tiny_config(directory: Path, workers: int, models: str = "[tiny_q_a2q, tiny_q4]") -> Path:
    models_dir = directory / "models"
    models_dir.mkdir(exist_ok=True)
    (models_dir / "tiny_q_a2q.yaml").write_text(TINY_QUANTIZED.read_text())
    (models_dir / "tiny_q4.yaml").write_text(TINY_Q4.read_text())
    bad = TINY_Q4.read_text().replace("name: tiny_q4", "name: tiny_bad")
    (models_dir / "tiny_bad.yaml").write_text(bad.replace("input_features: 16", "input_features: 12"))
    config = directory / f"workers_{workers}.yaml"
    config.write_text(
        f"name: tiny\nseed: 11\nmodels: {models}\nmodels_dir: {models_dir}\n"
        f"engine: {{workers: {workers}}}\n"
        f"data: {{sample: {REPO_ROOT / 'triggers_data' / 'jets_pythia.h5'}, max_jets_per_class: 150}}\n"
        "constrain: {epochs: 1}\n"
        f"convert: {{hls4ml_config: {HLS4ML_CONFIG}, testbench_jets: 20}}\n"
        "firmware: {synthesize: false, vendor: false, max_test_jets: 50}\n"
    )
    return config


def _cli(config: Path, run_dir: Path, until: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "pipeline", "run", "--until", until]
    command += ["--config", str(config), "--run-dir", str(run_dir)]
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True)


@pytest.mark.slow  # two tiny runs of every stage (no Yosys): ~2.5 min on 2 cores, ~6 min when loaded
def test_one_and_two_workers_give_byte_identical_artifacts(tmp_path: Path) -> None:
    runs = {}
    for workers in (1, 2):
        run_dir = tmp_path / f"run_{workers}"
        result = _cli(_tiny_config(tmp_path, workers), run_dir, "report")
        assert result.returncode == 0, result.stderr[-3000:]
        runs[workers] = (run_dir, result.stderr)
    assert "Dask dashboard" not in runs[1][1] and "Dask dashboard" in runs[2][1]  # serial vs the cluster
    assert "WARNING" not in runs[2][1]  # the workers are as quiet as the CLI
    for stage in STAGES:
        serial, parallel = (hash_tree(run_dir / stage) for run_dir, _ in runs.values())
        assert serial and serial == parallel, f"{stage}: artifacts differ between 1 and 2 workers"
        manifests = [
            json.loads((run_dir / stage / "manifest.json").read_text()) for run_dir, _ in runs.values()
        ]
        for field in ("key", "model_keys", "summary", "outputs_hash"):
            assert manifests[0].get(field) == manifests[1].get(field), f"{stage}: {field}"
    models = {path.name for path in (runs[2][0] / "convert").iterdir() if path.is_dir()}
    assert models == {"tiny_q_a2q", "tiny_q4"}
    for name in ("scores.h5", "working_points.json"):  # the report scores each model on the workers
        serial, parallel = ((run_dir / "report" / name).read_bytes() for run_dir, _ in runs.values())
        assert serial == parallel, f"report/{name} differs between 1 and 2 workers"


@pytest.mark.slow  # data + one tiny training on a 2-worker cluster: ~40 s
def test_a_failed_model_in_a_worker_gives_the_clear_error_and_publishes_nothing(tmp_path: Path) -> None:
    config = _tiny_config(tmp_path, 2, models="[tiny_q4, tiny_bad]")
    run_dir = tmp_path / "run"
    result = _cli(config, run_dir, "train")
    assert result.returncode == 2
    expected = "[train] spec expects 12 input features, the dataset has 16"
    assert expected in result.stderr and "tiny_bad.yaml: input_features" in result.stderr
    assert (run_dir / "data").is_dir() and not (run_dir / "train").exists()
    assert not list((run_dir / ".staging").glob("train-*"))
    assert expected in json.loads((run_dir / ".failures" / "train.json").read_text())["error"]
