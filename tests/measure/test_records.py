"""Metric records: JSON round trip, stable keys, skipped records, measure_model end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, Dataset
from pipeline.errors import PipelineError
from pipeline.measure import (
    load_metrics,
    measure_model,
    save_metrics,
    save_skipped,
    with_qonnx_inference_cost,
)
from pipeline.models.build import build_model
from pipeline.models.spec import load_spec


def tiny_dataset(n: int = 200) -> Dataset:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    y = np.arange(n, dtype=np.int64) % 5
    return Dataset(x, y, x, y, x, y, FEATURE_NAMES, CLASS_NAMES, np.zeros(16), np.ones(16))


def test_measure_model_round_trips_json(tmp_path):
    spec = load_spec(Path(__file__).resolve().parents[2] / "models" / "jet_dnn_q6.yaml")
    model = build_model(spec, seed=2)
    dataset = tiny_dataset()
    metrics = measure_model(model, dataset, spec, stage="train", details={"epochs_run": 0})
    logits = model.predict(dataset.x_test, verbose=0)
    assert metrics.physics.accuracy == pytest.approx(np.mean(np.argmax(logits, axis=1) == dataset.y_test))
    assert sum(map(sum, metrics.physics.confusion_matrix)) == 200
    assert [layer.name for layer in metrics.information.layers] == ["relu_1", "relu_2", "relu_3"]
    assert metrics.cost.params == 4389
    path = tmp_path / "metrics.json"
    save_metrics(metrics, path)
    data = json.loads(path.read_text())
    assert list(data) == ["schema_version", "model", "stage", "physics", "cost", "information", "details"]
    assert load_metrics(path) == metrics
    exported = with_qonnx_inference_cost(metrics, {"total_bops": 1234.0}, stage="export")
    save_metrics(exported, path)
    assert load_metrics(path).cost.qonnx_inference_cost == {"total_bops": 1234.0}
    assert load_metrics(path).stage == "export" and metrics.cost.qonnx_inference_cost is None


def test_skipped_and_corrupt(tmp_path):
    save_skipped(tmp_path / "a" / "metrics.json", "float model", pruned=False)
    assert load_metrics(tmp_path / "a" / "metrics.json") == {"skipped": "float model", "pruned": False}
    (tmp_path / "bad.json").write_text('{"model": 1}')
    with pytest.raises(PipelineError, match="schema"):
        load_metrics(tmp_path / "bad.json")
