"""Per-model work of the model stages (train, prune, constrain, export, convert), run one model after
another in this process or in parallel on the run's Dask cluster (:mod:`pipeline.engine`).

A stage hands :meth:`ModelWork.map` a module-level function and one picklable task per model; it gets
the results back in task order. With one worker (``engine: {workers: 1}``) the tasks run in this
process, one after another (the behaviour before the engine ran model stages). With more, the run's
cluster runs at most :func:`pipeline.engine.parallelism` tasks at once; it is started when a stage
first has more than one task and closed at the end of the run, so a cached or one-model run never
starts one. Each task must reset the per-process state it depends on (seeds, Keras session:
:func:`pipeline.models.training.fresh_model_state`), so a model's artifacts do not depend on which
process ran it or what ran there before (``tests/test_model_work.py`` checks 1 vs 2 workers byte for
byte).

A failed task stops the submission of further tasks; the tasks already running finish (they write
only into the stage's staging directory, which the runner then removes) and the error of the first
failed task in task order is raised: a :class:`pipeline.errors.PipelineError` with the same message
as in a serial run.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from pipeline.engine import ClusterConfig, TaskStream, dask_client, parallelism
from pipeline.errors import PipelineError
from pipeline.quiet import QUIET_VARIABLE, quiet_third_party_output

#: Dask settings of the run's cluster: no statistical profiler sampling each worker every 10 ms and no
#: GIL monitor (they cost CPU while a task runs and ~4 % of a core per idle worker, e.g. during the
#: firmware stage); the dashboard still shows tasks, memory and progress.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}

Task = TypeVar("Task")
Result = TypeVar("Result")


def _run_task(item: tuple[int, Callable[[Any], Any], Any]) -> tuple[str, Any]:
    """Worker side: ``("ok", result)`` or the task's error as a picklable value (never raised)."""
    _index, function, task = item
    if os.environ.get(QUIET_VARIABLE):  # the CLI quietened the libraries: the same in this worker
        quiet_third_party_output()
    try:
        return "ok", function(task)
    except PipelineError as error:
        return "pipeline_error", (error.stage, error.problem, error.input, error.fix)
    except Exception as error:  # sent back whole, re-raised in the client
        text = "".join(traceback.format_exception(error))
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # one that does not pickle goes back as text
            return "error_text", f"{type(error).__name__}: {error}\n{text}"
        error.add_note(f"raised in a Dask worker:\n{text}")
        return "error", error


def _raise(kind: str, value: Any) -> None:
    if kind == "pipeline_error":
        stage, problem, input_, fix = value
        raise PipelineError(stage, problem, input=input_, fix=fix)
    if kind == "error":
        raise value
    raise RuntimeError(value)


class ModelWork:
    """Runs a stage's per-model tasks serially in this process or on a lazily started Dask cluster.

    Args:
        config: the run's ``engine:`` section; ``None`` or one local worker: serial, in this process.
        announce: receives the Dask dashboard line when the cluster starts (``None``: silent).
    """

    def __init__(
        self, config: ClusterConfig | None = None, *, announce: Callable[[str], None] | None = None
    ) -> None:
        self.config = config or ClusterConfig(workers=1)
        self._announce = announce
        self._exit = ExitStack()
        self._client: Any = None

    @property
    def workers(self) -> int:
        """Tasks run at once at most (1: serially in this process)."""
        return parallelism(self.config)

    def client(self) -> Any:
        """The run's Dask client, started at the first call."""
        if self._client is None:
            import dask
            import distributed  # noqa: F401 -- its config defaults must exist before they are overridden

            with dask.config.set(QUIET_CLUSTER):  # read by the nannies when they start the workers
                self._client = self._exit.enter_context(dask_client(self.config, announce=self._announce))
        return self._client

    def close(self) -> None:
        """Close the cluster if one was started."""
        self._client = None
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)  # "worker process still alive after 4 s, killing": expected (TF)
        try:
            self._exit.close()
        finally:
            nanny.setLevel(level)

    def map(
        self,
        function: Callable[[Task], Result],
        tasks: Sequence[Task],
        *,
        on_done: Callable[[Task, Result], None] | None = None,
    ) -> list[Result]:
        """``[function(task) for task in tasks]``, in parallel when there are workers and tasks to share.

        ``function`` must be importable by name (a module-level function) and ``tasks`` picklable.
        ``on_done(task, result)`` is called in this process as each task finishes (progress bars).
        Raises the error of the first failed task in task order, after the running tasks finished.
        """
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(function(task))
                if on_done is not None:
                    on_done(task, results[-1])
            return results
        return self._map_parallel(function, tasks, on_done)

    def _map_parallel(
        self,
        function: Callable[[Task], Result],
        tasks: list[Task],
        on_done: Callable[[Task, Result], None] | None,
    ) -> list[Result]:
        stream = TaskStream(self.client(), _run_task, resubmissions=self.config.retries)
        waiting = iter(enumerate(tasks))
        results: dict[int, Any] = {}
        failures: dict[int, tuple[str, Any]] = {}

        def submit_next() -> None:
            for index, task in waiting:
                stream.submit((index, function, task))
                return

        for _ in range(min(self.workers, len(tasks))):
            submit_next()
        while len(stream):
            (index, _function, task), outcome, lost = stream.next()
            if lost is not None:  # Dask gave up on it (the worker died each time, e.g. out of memory)
                name = getattr(task, "name", f"task {index}")
                failures[index] = ("error_text", f"the Dask workers running {name} were lost: {lost}")
            elif outcome[0] != "ok":
                failures[index] = outcome
            else:
                results[index] = outcome[1]
                if on_done is not None:
                    on_done(tasks[index], outcome[1])
            if not failures:  # after a failure: let the running tasks finish, submit no more
                submit_next()
        if failures:
            _raise(*failures[min(failures)])
        return [results[index] for index in range(len(tasks))]


@contextmanager
def model_work(config: ClusterConfig | None, *, quiet: bool = True) -> Iterator[ModelWork]:
    """A :class:`ModelWork` for one run; its cluster (if one was started) is closed on exit."""

    def announce(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work = ModelWork(config, announce=None if quiet else announce)
    try:
        yield work
    finally:
        work.close()
