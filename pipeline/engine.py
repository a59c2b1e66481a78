"""The distributed engine: Dask for every piece of work that outgrows one process.

Jet generation (``data.workers``) and design-space scans (``trigger-pipeline scan``) submit their
work through this module, so that the same code runs on a laptop (a :class:`distributed.LocalCluster`
of worker processes), an HTCondor pool or a Slurm cluster (:mod:`dask_jobqueue`). Nothing here is a
home-made pool: scheduling, retries of tasks whose worker died and streaming of results are Dask's
(``client.map(..., retries=...)`` and :func:`distributed.as_completed`, the pattern coffea uses).

Batch clusters need a filesystem shared by the client and the workers for the run directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import Field

from pipeline.stage_api import StrictModel

#: Environment of every worker process: one thread for TensorFlow / BLAS / numba, quiet TensorFlow.
WORKER_ENVIRONMENT: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


class ClusterConfig(StrictModel):
    """Where the work runs (``scan.cluster`` and ``data.cluster`` in the YAML).

    ``kind: local`` starts ``workers`` worker processes on this machine (default: one per core).
    ``htcondor`` / ``slurm`` build a :mod:`dask_jobqueue` cluster with one job per worker of ``cores``
    cores, ``memory`` and ``walltime`` each, scaled adaptively between ``adapt_minimum`` and
    ``adapt_maximum`` jobs.
    """

    kind: Literal["local", "htcondor", "slurm"] = "local"
    workers: int | None = Field(default=None, ge=1)
    cores: int = Field(default=1, ge=1)
    memory: str = "4GiB"
    walltime: str = "04:00:00"
    queue: str | None = None
    account: str | None = None
    job_extra_directives: tuple[str, ...] = ()
    adapt_minimum: int = Field(default=0, ge=0)
    adapt_maximum: int = Field(default=10, ge=1)
    local_directory: str | None = None
    log_directory: str | None = None
    retries: int = Field(default=3, ge=0)


def local_worker_count(config: ClusterConfig) -> int:
    """Worker processes of a local cluster: ``config.workers`` or the cores this process may use."""
    if config.workers is not None:
        return config.workers
    return max(1, len(os.sched_getaffinity(0)))


def make_cluster(config: ClusterConfig, *, dashboard: bool = True) -> Any:
    """Build (but do not connect to) the cluster ``config`` describes.

    Local clusters use processes (TensorFlow and Pythia are not thread-safe enough to share a
    process) with one thread each. Batch clusters get the same single-thread worker environment.
    """
    if config.kind == "local":
        from distributed import LocalCluster

        return LocalCluster(
            n_workers=local_worker_count(config),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0" if dashboard else None,
            env=dict(WORKER_ENVIRONMENT),
            local_directory=config.local_directory,
        )
    prologue = [f"export {name}={value}" for name, value in WORKER_ENVIRONMENT.items()]
    common: dict[str, Any] = {
        "cores": config.cores,
        "processes": config.cores,  # one single-threaded worker process per core
        "memory": config.memory,
        "job_script_prologue": prologue,
        "local_directory": config.local_directory,
        "log_directory": config.log_directory,
    }
    if config.kind == "htcondor":
        from dask_jobqueue import HTCondorCluster

        directives = {"+MaxRuntime": str(walltime_seconds(config.walltime))}
        directives.update(_condor_directives(config.job_extra_directives))
        return HTCondorCluster(disk=config.memory, job_extra_directives=directives, **common)
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        walltime=config.walltime,
        queue=config.queue,
        account=config.account,
        job_extra_directives=list(config.job_extra_directives),
        **common,
    )


def walltime_seconds(walltime: str) -> int:
    """``"HH:MM:SS"`` (or ``"MM:SS"``, ``"SS"``) as seconds; HTCondor takes ``+MaxRuntime`` in seconds."""
    seconds = 0
    for part in walltime.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _condor_directives(lines: Sequence[str]) -> Iterator[tuple[str, str]]:
    for line in lines:
        key, _, value = line.partition("=")
        yield key.strip(), value.strip()


@contextmanager
def dask_client(config: ClusterConfig, *, announce: Callable[[str], None] | None = None) -> Iterator[Any]:
    """A connected :class:`distributed.Client` for ``config``; the cluster is closed on exit.

    ``announce`` receives one line with the dashboard address (users watch the scan there).
    Batch clusters scale adaptively within ``[adapt_minimum, adapt_maximum]`` jobs.
    """
    from distributed import Client

    cluster = make_cluster(config)
    try:
        if config.kind != "local":
            cluster.adapt(minimum=config.adapt_minimum, maximum=config.adapt_maximum)
        client = Client(cluster)
        try:
            if announce is not None and client.dashboard_link:
                announce(f"Dask dashboard: {client.dashboard_link}")
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def map_as_completed(
    client: Any, function: Callable[..., Any], items: Iterable[Any], *, retries: int = 3
) -> Iterator[tuple[Any, Any]]:
    """Submit ``function(item)`` for every item and yield ``(item, future)`` as each one finishes.

    A task whose worker dies is rescheduled by Dask up to ``retries`` times. The caller reads
    ``future.result()`` (which re-raises the task's exception) so one failed item never stops the
    others.
    """
    from distributed import as_completed

    items = list(items)
    futures = client.map(function, items, retries=retries, pure=False)
    by_future = {future.key: item for future, item in zip(futures, items, strict=True)}
    for future in as_completed(futures):
        yield by_future[future.key], future


def parallelism(config: ClusterConfig) -> int:
    """How many tasks the cluster runs at once at most (local workers, or jobs x cores)."""
    if config.kind == "local":
        return local_worker_count(config)
    return config.adapt_maximum * config.cores


class TaskStream:
    """Futures submitted one by one and streamed as they finish, with lost work resubmitted.

    Dask reschedules a task whose worker died (up to ``distributed.scheduler.allowed-failures``
    times); when it gives up (:class:`distributed.KilledWorker`) or the task is cancelled, the stream
    submits the item again, at most ``resubmissions`` times, then reports the error. ``function``
    should return its own errors as values: an exception it raises is re-raised by :meth:`results`.
    """

    def __init__(self, client: Any, function: Callable[[Any], Any], *, resubmissions: int = 3) -> None:
        from distributed import as_completed

        self._client = client
        self._function = function
        self._resubmissions = resubmissions
        self._pending: dict[str, tuple[Any, int]] = {}
        self._completed = as_completed([], with_results=False)

    def submit(self, item: Any, attempt: int = 0) -> None:
        """Submit ``function(item)``."""
        future = self._client.submit(self._function, item, pure=False)
        self._pending[future.key] = (item, attempt)
        self._completed.add(future)

    def __len__(self) -> int:
        return len(self._pending)

    def next(self) -> tuple[Any, Any, BaseException | None]:
        """Block until one submitted item finishes; return ``(item, result, error)``.

        ``error`` is the :class:`distributed.KilledWorker` (or cancellation) of an item that could not
        be resubmitted any more; ``result`` is then ``None``.
        """
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        while True:
            future = next(self._completed)
            item, attempt = self._pending.pop(future.key)
            try:
                return item, future.result(), None
            except (KilledWorker, CancelledError) as error:
                if attempt >= self._resubmissions:
                    return item, None, error
                self.submit(item, attempt + 1)
