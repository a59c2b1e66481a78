"""Pareto front, firmware candidates and the best point under an accuracy floor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.models.spec import load_spec
from pipeline.scan.front import best_point, firmware_candidates, mark_front, pareto_mask, write_best_spec
from tests.scan.conftest import REPO


def test_pareto_mask():
    accuracy = np.array([0.70, 0.72, 0.71, 0.72, 0.60])
    luts = np.array([1000, 3000, 3500, 2500, 500])
    assert pareto_mask(accuracy, luts).tolist() == [True, False, False, True, True]


def _table():
    spec = json.loads(json.dumps({"name": "x", "layers": [{"units": 5, "activation": "linear"}]}))
    return pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "status": ["done", "done", "failed", "done"],
            "accuracy": [0.73, 0.70, np.nan, 0.72],
            "luts": [4000.0, 1000.0, np.nan, 5000.0],
            "latency_cycles": [5, 4, -1, 3],
            "spec": [json.dumps(spec)] * 4,
        }
    )


def test_front_candidates_and_best():
    table = mark_front(_table())
    assert table["on_front_luts"].tolist() == [True, True, False, False]
    assert table["on_front_latency"].tolist() == [True, False, False, True]  # d: better and faster than b
    assert table["on_front"].tolist() == [True, True, False, True]
    assert firmware_candidates(table, 0.715, None)["key"].tolist() == ["a", "d", "b"]
    assert firmware_candidates(table, 0.715, 1)["key"].tolist() == ["a"]
    assert firmware_candidates(table, 0.9, 2)["key"].tolist() == ["a", "d"]  # none clears: most accurate
    assert best_point(table, 0.715)["key"] == "a"
    assert best_point(table, 0.0)["key"] == "b"
    assert best_point(table, 0.9) is None
    table["yosys_luts"] = [6000.0, np.nan, np.nan, 4500.0]  # measured LUTs win over the estimate
    assert best_point(table, 0.715)["key"] == "d"


def test_best_spec_loads_unchanged(tmp_path):
    base = load_spec(REPO / "models" / "jet_dnn_q6_qap.yaml")
    row = pd.Series({"spec": json.dumps(base.model_dump(mode="json"))})
    path = tmp_path / "jet_dnn_best.yaml"
    write_best_spec(row, "jet_dnn_best", path, "a note")
    loaded = load_spec(path)
    assert loaded.name == "jet_dnn_best" and loaded.layers == base.layers
