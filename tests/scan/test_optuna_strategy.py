"""The optuna strategy's handling of failed and repeated points (real Optuna TPE, no training)."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd

from pipeline.scan.config import load_scan
from pipeline.scan.optuna_strategy import FAILED_VALUES, _encode, _study, _values, enqueue_random_point
from tests.scan.conftest import write_scan


def _space(tmp_path):
    config = load_scan(write_scan(tmp_path, strategy="optuna", trials=20)).config
    dimensions = config.space.dimensions()
    distributions = {
        name: optuna.distributions.CategoricalDistribution([_encode(value) for value in values])
        for name, values in dimensions.items()
    }
    return config, dimensions, distributions


def test_a_failed_trial_is_told_worse_than_any_design(tmp_path):
    config, dimensions, distributions = _space(tmp_path)
    failed = _values(pd.Series({"status": "failed"}))
    assert failed == FAILED_VALUES  # told, not left out (TPE would ask the failed point again)
    done = _values(pd.Series({"status": "done", "accuracy": 0.2, "luts": 50000.0, "latency_cycles": 40}))
    assert failed[0] < done[0] and failed[1] > done[1] and failed[2] > done[2]
    study = _study(config)
    points = [{name: values[k % len(values)] for name, values in dimensions.items()} for k in range(2)]
    for point, values in zip(points, (done, failed), strict=True):
        params = {name: _encode(value) for name, value in point.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, values=values))
    assert [trial.values for trial in study.best_trials] == [done]  # the failed point is dominated


def test_after_a_repeat_the_next_ask_is_a_random_point(tmp_path):
    config, dimensions, distributions = _space(tmp_path)
    study = _study(config)
    rng = np.random.default_rng(0)
    asked = set()
    for _ in range(12):  # the same point told again and again, as a sampler that repeats itself
        trial = study.ask(distributions)
        study.tell(trial, [0.7, 100.0, 3.0])
        enqueue_random_point(study, dimensions, rng)
        asked.add(tuple(sorted(study.ask(distributions).params.items())))
        study.tell(study.trials[-1].number, [0.5, 200.0, 4.0])
    assert len(asked) > 3  # the enqueued random points, not one repeated point
    expected = np.random.default_rng(0)
    first = {name: values[int(expected.integers(len(values)))] for name, values in dimensions.items()}
    assert tuple(sorted(first.items())) in asked
