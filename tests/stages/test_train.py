"""The train stage on a small generated data set: artifacts, metrics, determinism, errors."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
from pipeline.errors import PipelineError
from pipeline.measure import ModelMetrics, load_metrics
from pipeline.stage_api import StageInputs
from pipeline.stages import train

REPO = Path(__file__).resolve().parents[2]


def make_data_dir(path: Path, n_train: int = 1500, seed: int = 0) -> Path:
    """A data-stage directory of 5 Gaussian blobs in 16 raw features (a stand-in for jets)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(5, 16))
    features, labels = {}, {}
    for split, n in (("train", n_train), ("val", n_train // 4), ("test", n_train // 4)):
        y = rng.integers(0, 5, n)
        features[split] = (10 + 3 * (centers[y] + rng.normal(size=(n, 16)))).astype(np.float32)
        labels[split] = y.astype(np.int64)
    write_dataset(path, RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    return path


def toy_spec(path: Path, name: str, **extra) -> Path:
    data = {
        "name": name,
        "input_quantizer": {"bits": 16, "integer_bits": 6},
        "defaults": {
            "weight": {"bits": 6, "integer_bits": 0},
            "bias": {"bits": 6, "integer_bits": 0},
            "activation": {"bits": 6, "integer_bits": 0},
        },
        "layers": [{"units": 16}, {"units": 8}, {"units": 5, "activation": "linear"}],
        "training": {"epochs": 2, "batch_size": 128, "learning_rate": 0.01, "patience": 2},
        **extra,
    }
    file = path / f"{name}.yaml"
    file.write_text(yaml.safe_dump(data))
    return file


def stage_inputs(out: Path, data_dir: Path, specs: dict[str, Path], upstream=None) -> StageInputs:
    return StageInputs(
        output_dir=out,
        upstream={"data": data_dir, **(upstream or {})},
        models=tuple(specs),
        model_specs=specs,
        repo_root=REPO,
        seed=11,
        quiet=True,
    )


def kernels(path: Path) -> list[np.ndarray]:
    with h5py.File(path, "r") as handle:
        found = []
        handle["model_weights"].visititems(
            lambda name, obj: found.append(obj[...]) if "kernel" in name else None
        )
    return found


def test_train_writes_artifacts_and_is_deterministic(tmp_path):
    data_dir = make_data_dir(tmp_path / "data", n_train=1000)
    spec = toy_spec(tmp_path, "toy_q6")
    float_spec = toy_spec(tmp_path, "toy_float", input_quantizer=None, defaults={})
    specs = {"toy_q6": spec, "toy_float": float_spec}
    outputs = train.run(
        stage_inputs(tmp_path / "a", data_dir, specs), train.Config(epochs_override=1, batch_size_override=64)
    )
    for name in specs:
        out = tmp_path / "a" / name
        assert {p.name for p in out.iterdir()} == {"model.h5", "spec.yaml", "history.json", "metrics.json"}
        assert (out / "spec.yaml").read_text() == specs[name].read_text()
        history = json.loads((out / "history.json").read_text())
        assert len(history["loss"]) == 1 and len(history["val_loss"]) == 1
        metrics = load_metrics(out / "metrics.json")
        assert isinstance(metrics, ModelMetrics) and metrics.stage == "train" and metrics.model == name
        assert metrics.physics.accuracy > 0.4  # separable blobs: well above 0.2 chance after one epoch
        assert outputs.summary[name]["epochs_run"] == 1
    assert load_metrics(tmp_path / "a" / "toy_q6" / "metrics.json").cost.layers[0].input_bits == 16
    assert load_metrics(tmp_path / "a" / "toy_float" / "metrics.json").cost.layers[0].weight_bits == 32

    train.run(
        stage_inputs(tmp_path / "b", data_dir, {"toy_q6": spec}),
        train.Config(epochs_override=1, batch_size_override=64),
    )
    first_run = kernels(tmp_path / "a" / "toy_q6" / "model.h5")
    second_run = kernels(tmp_path / "b" / "toy_q6" / "model.h5")
    assert len(first_run) == len(second_run) == 3
    assert all(np.array_equal(a, b) for a, b in zip(first_run, second_run, strict=True))


def test_train_errors_name_the_input(tmp_path):
    data_dir = make_data_dir(tmp_path / "data", n_train=100)
    inputs = StageInputs(
        output_dir=tmp_path / "o",
        upstream={"data": data_dir},
        models=("missing",),
        model_specs={},
        repo_root=REPO,
        seed=1,
        quiet=True,
    )
    with pytest.raises(PipelineError, match="missing"):
        train.run(inputs, train.Config())
    wide = toy_spec(tmp_path, "wide", input_features=20)
    with pytest.raises(PipelineError, match="input_features"):
        train.run(stage_inputs(tmp_path / "p", data_dir, {"wide": wide}), train.Config())


def test_specs_that_train_alike_are_trained_once(tmp_path):
    """A spec differing only in pruning/description gets the first one's weights under its own name,
    byte for byte what training it alone writes; a different recipe trains on its own."""
    data_dir = make_data_dir(tmp_path / "data", n_train=1000)
    pruning = {"target_sparsity": 0.5, "epochs": 1}
    specs = {
        "toy_a": toy_spec(tmp_path, "toy_a"),
        "toy_b": toy_spec(tmp_path, "toy_b", description="a twin", pruning=pruning),
        "toy_c": toy_spec(
            tmp_path, "toy_c", training={"epochs": 2, "batch_size": 128, "learning_rate": 0.02, "patience": 2}
        ),
    }
    config = train.Config(epochs_override=1, batch_size_override=64)
    summary = train.run(stage_inputs(tmp_path / "all", data_dir, specs), config).summary
    assert summary["toy_b"]["same_result_as"] == "toy_a"
    assert "same_result_as" not in summary["toy_a"] and "same_result_as" not in summary["toy_c"]
    twin = load_metrics(tmp_path / "all" / "toy_b" / "metrics.json")
    assert twin.model == "toy_b" and twin.details["same_result_as"] == "toy_a"
    assert (tmp_path / "all" / "toy_b" / "spec.yaml").read_text() == specs["toy_b"].read_text()

    train.run(stage_inputs(tmp_path / "alone", data_dir, {"toy_b": specs["toy_b"]}), config)
    alone = tmp_path / "alone" / "toy_b"
    assert (tmp_path / "all" / "toy_b" / "model.h5").read_bytes() == (alone / "model.h5").read_bytes()
    solo = load_metrics(alone / "metrics.json")
    assert twin.physics == solo.physics and twin.cost == solo.cost
