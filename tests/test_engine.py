"""The engine builds real Dask clusters from a ClusterConfig (no scheduler here: job scripts only)."""

from __future__ import annotations

import re

import pytest

from pipeline.engine import (
    ClusterConfig,
    TaskStream,
    dask_client,
    make_cluster,
    parallelism,
    walltime_seconds,
)


def _job_script(config: ClusterConfig) -> str:
    cluster = make_cluster(config, dashboard=False)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def test_htcondor_job_script_requests_cores_memory_walltime():
    config = ClusterConfig(
        kind="htcondor",
        cores=4,
        memory="8GiB",
        walltime="02:30:00",
        job_extra_directives=("+AccountingGroup = cms",),
    )
    script = _job_script(config)
    assert "RequestCpus = MY.DaskWorkerCores" in script and "MY.DaskWorkerCores = 4" in script
    assert "RequestMemory = floor(MY.DaskWorkerMemory / 1048576)" in script
    assert f"MY.DaskWorkerMemory = {8 * 2**30}" in script
    assert re.search(r"\+MaxRuntime\s*=\s*9000", script)
    assert "AccountingGroup" in script
    assert "--nworkers 4" in script and "--nthreads 1" in script
    assert "OMP_NUM_THREADS=1" in script


def test_slurm_job_script_requests_cores_memory_walltime():
    config = ClusterConfig(
        kind="slurm", cores=8, memory="16GiB", walltime="01:00:00", queue="short", account="trig"
    )
    script = _job_script(config)
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH --mem=16G" in script
    assert "#SBATCH -t 01:00:00" in script
    assert "#SBATCH -p short" in script and "#SBATCH -A trig" in script
    assert "--nworkers 8" in script


def test_walltime_and_parallelism():
    assert walltime_seconds("01:02:03") == 3723
    assert parallelism(ClusterConfig(kind="local", workers=3)) == 3
    assert parallelism(ClusterConfig(kind="slurm", cores=4, adapt_maximum=25)) == 100


def _square(value: int) -> int:
    return value * value


@pytest.mark.slow
def test_task_stream_on_a_local_cluster():
    with dask_client(ClusterConfig(kind="local", workers=1)) as client:
        stream = TaskStream(client, _square)
        for value in range(4):
            stream.submit(value)
        results = sorted(stream.next()[1] for _ in range(4))
    assert results == [0, 1, 4, 9]
