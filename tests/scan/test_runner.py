"""Real scans on a real LocalCluster of 2 worker processes (tiny trials: a few seconds of CPU each).

Slow under a loaded machine (TensorFlow starts in every worker process), hence ``slow``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline.cli import main
from pipeline.engine import ClusterConfig, dask_client
from pipeline.models.spec import load_spec
from pipeline.scan.config import load_scan
from pipeline.scan.runner import run_scan
from pipeline.scan.table import read_table
from tests.scan.conftest import REPO, write_scan

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with dask_client(ClusterConfig(kind="local", workers=2)) as connected:
        yield connected


def _check_every_trial_once(table, trials: int) -> None:
    assert len(table) == trials
    assert table["key"].is_unique
    assert sorted(table["number"]) == list(range(trials))
    assert (table["status"] == "done").all(), table["error"].tolist()


def test_tiny_optuna_scan_to_the_end_then_rerun_skips_everything(tmp_path, client, capsys):
    path = write_scan(tmp_path, strategy="optuna", trials=4, accuracy_floor=0.0)
    summary = run_scan(load_scan(path), tmp_path / "run", quiet=True, client=client)
    scan_dir = tmp_path / "run" / "scan"
    table = read_table(scan_dir)
    _check_every_trial_once(table, 4)
    assert table["on_front"].any() and summary["front"]
    assert (table["accuracy"].between(0.0, 1.0) & (table["luts"] > 0) & (table["latency_cycles"] >= 1)).all()
    for name in ("accuracy_vs_luts.png", "accuracy_vs_latency.png", "front.md", "summary.json"):
        assert (scan_dir / name).is_file()
    best = load_spec(scan_dir / "jet_dnn_scan_best.yaml")  # what `trigger-pipeline run` reads
    assert best.name == "jet_dnn_scan_best"
    assert all((scan_dir / "trials" / key / "model.h5").is_file() for key in table["key"])
    assert main(["scan-status", "--config", str(path), "--run-dir", str(tmp_path / "run")]) == 0
    status = capsys.readouterr().out
    assert "4 done, 0 running, 0 failed" in status and "| key | accuracy |" in status
    run_scan(load_scan(path), tmp_path / "run", quiet=True, client=client)  # nothing left to run
    again = read_table(scan_dir)
    assert again.set_index("key")["finished_at"].to_dict() == table.set_index("key")["finished_at"].to_dict()


def test_worker_killed_mid_trial_scan_still_finishes(tmp_path, client):
    path = write_scan(tmp_path, trials=4, seed=11)
    outcome = {}
    runner = threading.Thread(
        target=lambda: outcome.setdefault(
            "summary", run_scan(load_scan(path), tmp_path / "run", quiet=True, client=client)
        )
    )
    runner.start()
    victim = None
    deadline = time.time() + 900
    while victim is None and time.time() < deadline:
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            time.sleep(3)  # mid-trial
            pids = client.run(os.getpid)
            victim = (busy[0], pids[busy[0]])
            os.kill(victim[1], signal.SIGKILL)
        else:
            time.sleep(0.5)
    runner.join(timeout=1800)
    assert victim is not None and not runner.is_alive()
    with pytest.raises(ProcessLookupError):
        os.kill(victim[1], 0)
    _check_every_trial_once(read_table(tmp_path / "run" / "scan"), 4)
    assert outcome["summary"]["done"] == 4


def test_client_killed_mid_scan_rerun_does_not_rerun_finished_trials(tmp_path, client):
    path = write_scan(tmp_path, trials=4, seed=5, cluster={"kind": "local", "workers": 1})
    run_dir = tmp_path / "run"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "scan",
        "--config",
        str(path),
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=environment,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    table_path = run_dir / "scan" / "trials.parquet"
    deadline = time.time() + 900
    try:
        while time.time() < deadline and process.poll() is None:
            if table_path.is_file() and len(read_table(run_dir / "scan")) >= 1:
                break
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the client and its LocalCluster, mid-scan
        process.wait()
    before = read_table(run_dir / "scan")
    assert 1 <= len(before) < 4
    run_scan(load_scan(path), run_dir, quiet=True, client=client)
    after = read_table(run_dir / "scan")
    _check_every_trial_once(after, 4)
    finished = after.set_index("key").loc[list(before["key"])]
    assert finished["finished_at"].tolist() == before["finished_at"].tolist()  # not rerun
    assert finished["worker"].tolist() == before["worker"].tolist()
