"""The ``optuna`` strategy: multi-objective ask/tell (Optuna 5, TPE or NSGA-II) over Dask futures.

Objectives: integer (deployed) accuracy up, da4ml LUTs down, latency in cycles down. The study lives
in memory; on a rerun it is rebuilt from the table (``study.add_trial``), so finished trials are
never run again and the sampler continues from what is known. Up to the cluster's parallelism trials
are in flight at once; a failed trial is told :data:`FAILED_VALUES` (worse than any design). A point the
sampler asks again is not run twice: it is told the known values (or ``FAIL`` while the first one runs)
and the next ask is a uniformly random point of the space (``enqueue_trial``): TPE otherwise tends to
ask its best known point again and again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.engine import TaskStream, parallelism
from pipeline.scan.table import read_table

DIRECTIONS = ("maximize", "minimize", "minimize")
#: Asked points in a row that repeat a known or running point before the scan stops asking.
MAX_REPEATS = 50


def _encode(value: Any) -> Any:
    """Optuna categorical choices must be None/bool/int/float/str: lists become JSON text."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def _study(config):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if config.sampler == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(
            seed=config.seed, population_size=max(4, min(20, config.trials // 4))
        )
    else:
        sampler = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=max(4, config.trials // 5))
    return optuna.create_study(directions=list(DIRECTIONS), sampler=sampler)


#: What the sampler is told for a failed trial (e.g. a degenerate network da4ml cannot trace): worse than
#: any design in every objective. Told as ``FAIL`` instead, TPE leaves it out of its model and can ask the
#: same point again and again (the repeat guard then ended a scan at 23 of 60 trials).
FAILED_VALUES = [0.0, 1.0e9, 1.0e6]


def _values(row: Any) -> list[float]:
    """The objectives of a finished trial's row (:data:`FAILED_VALUES` for a failed one)."""
    if row["status"] != "done":
        return list(FAILED_VALUES)
    return [float(row["accuracy"]), float(row["luts"]), float(row["latency_cycles"])]


def enqueue_random_point(study: Any, dimensions: dict[str, list[Any]], rng: np.random.Generator) -> None:
    """Make the study's next ask a uniformly random point of the space (after a repeated point: TPE
    tends to ask its best known point again and again)."""
    study.enqueue_trial(
        {name: _encode(options[int(rng.integers(len(options)))]) for name, options in dimensions.items()}
    )


def run_optuna(
    scan, stream: TaskStream, done: set[str], progress: Callable, log: Callable[[str], None]
) -> None:
    """Ask, run and tell until ``trials`` trials of this scan have rows."""
    import optuna

    config = scan.config
    dimensions = config.space.dimensions()
    distributions = {
        name: optuna.distributions.CategoricalDistribution([_encode(value) for value in values])
        for name, values in dimensions.items()
    }
    decode = {name: {_encode(value): value for value in values} for name, values in dimensions.items()}
    study = _study(config)
    table = scan.current(read_table(scan.scan_dir))
    known = {}
    for _, row in table.iterrows():
        point = json.loads(row["params"])
        if set(point) != set(dimensions):
            continue
        values = _values(row)
        params = {name: _encode(value) for name, value in point.items()}
        if any(params[name] not in decode[name] for name in params):
            continue
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, values=values))
        known[row["key"]] = values
    finished = len(known)
    log(
        f"optuna ({config.sampler}): {finished} trials already finished (skipped), "
        f"{max(0, config.trials - finished)} to run"
    )
    rng = np.random.default_rng(config.seed)
    in_flight: dict[str, Any] = {}
    width = parallelism(config.cluster)
    number = finished
    repeats = 0
    with progress("scan trials", config.trials) as bar:
        bar.advance(min(finished, config.trials))
        while finished < config.trials:
            while len(in_flight) < width and number < config.trials and repeats < MAX_REPEATS:
                trial = study.ask(distributions)
                point = {name: decode[name][trial.params[name]] for name in dimensions}
                task = scan.task(point, number)
                if task.key in known or task.key in done or task.key in in_flight:
                    # a repeat: told what is known (a point still in flight: as failed), never run twice
                    values = known.get(task.key)
                    if values is None:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(trial, values)
                    repeats += 1
                    enqueue_random_point(study, dimensions, rng)
                    continue
                repeats = 0
                number += 1
                in_flight[task.key] = trial
                scan.running[task.key] = task.number
                stream.submit(task)
            scan.write_running()
            if not in_flight:  # the sampler only repeats known points: the space is exhausted
                log(f"optuna: {MAX_REPEATS} repeated points in a row, stopping at {finished} trials")
                break
            task, row, error = stream.next()
            if error is not None:
                row = {
                    "key": task.key,
                    "number": task.number,
                    "status": "failed",
                    "error": f"worker lost: {error}",
                }
            scan.record(task, row)
            values = _values(row)
            study.tell(in_flight.pop(task.key), values)
            known[task.key] = values
            scan.running.pop(task.key, None)
            finished += 1
            repeats = 0  # new information: the sampler may propose new points again
            bar.advance()
        scan.write_running()
