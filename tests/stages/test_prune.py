"""The prune stage: QAP reaches the target sparsity, zeros survive in the saved file, pass-through."""

import json
import shutil

import numpy as np
import pytest

from pipeline.measure import ModelMetrics, load_metrics
from pipeline.models.io import load_model
from pipeline.stages import prune, train
from tests.stages.test_train import kernels, make_data_dir, stage_inputs, toy_spec


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("prune")
    data_dir = make_data_dir(tmp_path / "data", n_train=1000)
    specs = {
        "toy_qap": toy_spec(
            tmp_path, "toy_qap", pruning={"target_sparsity": 0.75, "epochs": 2, "frequency": 5}
        ),
        "toy_iter": toy_spec(
            tmp_path,
            "toy_iter",
            pruning={"target_sparsity": 0.5, "schedule": "iterative", "iterations": 2, "epochs": 2},
        ),
        "toy_dense": toy_spec(tmp_path, "toy_dense"),
    }
    # one trained model serves all three specs (same architecture): fewer fits keep the test fast
    train.run(
        stage_inputs(tmp_path / "train", data_dir, {"toy_qap": specs["toy_qap"]}),
        train.Config(epochs_override=1, batch_size_override=64),
    )
    for name in ("toy_iter", "toy_dense"):
        shutil.copytree(tmp_path / "train" / "toy_qap", tmp_path / "train" / name)
    return tmp_path, data_dir, specs


def test_prune_reaches_target_and_zeros_survive(trained):
    tmp_path, data_dir, specs = trained
    out = tmp_path / "prune"
    inputs = stage_inputs(out, data_dir, specs, upstream={"train": tmp_path / "train"})
    summary = prune.run(inputs, prune.Config(batch_size_override=64)).summary
    assert (
        summary["toy_qap"]["pruned"] and summary["toy_iter"]["pruned"] and not summary["toy_dense"]["pruned"]
    )

    for name, target in (("toy_qap", 0.75), ("toy_iter", 0.5)):
        metrics = load_metrics(out / name / "metrics.json")
        assert isinstance(metrics, ModelMetrics) and metrics.stage == "prune"
        reached = metrics.details["reached_sparsity"]
        assert set(reached) == {"dense_1", "dense_2", "dense_3"}
        assert all(abs(value - target) < 0.02 for value in reached.values()), reached
        # the zeros are in the saved HDF5 file itself and survive the 6-bit weight quantizer
        saved = kernels(out / name / "model.h5")
        assert len(saved) == 3
        assert all(np.mean(kernel == 0) >= target - 0.02 for kernel in saved)
        model = load_model(out / name / "model.h5")
        for layer in ("dense_1", "dense_2", "dense_3"):
            dense = model.get_layer(layer)
            quantized = dense.kernel_quantizer_internal(dense.kernel).numpy()
            assert np.all(quantized[dense.kernel.numpy() == 0] == 0)
        assert all(layer.weight_sparsity >= target - 0.02 for layer in metrics.cost.layers)
        assert json.loads((out / name / "history.json").read_text())["loss"]

    unpruned = load_metrics(tmp_path / "train" / "toy_dense" / "metrics.json")
    passed = load_metrics(out / "toy_dense" / "metrics.json")
    assert passed.details["pruned"] is False and passed.stage == "prune"
    assert passed.physics == unpruned.physics and passed.cost == unpruned.cost
    assert (out / "toy_dense" / "model.h5").read_bytes() == (
        tmp_path / "train" / "toy_dense" / "model.h5"
    ).read_bytes()
    trained_bops = load_metrics(tmp_path / "train" / "toy_qap" / "metrics.json").cost.bops
    assert load_metrics(out / "toy_qap" / "metrics.json").cost.bops < 0.5 * trained_bops


def test_specs_that_prune_alike_are_pruned_once(trained):
    """A twin spec (same training and pruning, another name) gets the first one's pruned weights,
    byte for byte what pruning it alone writes."""
    tmp_path, data_dir, specs = trained
    twin_spec = toy_spec(tmp_path, "toy_twin", pruning={"target_sparsity": 0.75, "epochs": 2, "frequency": 5})
    shutil.copytree(tmp_path / "train" / "toy_qap", tmp_path / "train" / "toy_twin")
    both = {"toy_qap": specs["toy_qap"], "toy_twin": twin_spec}
    upstream = {"train": tmp_path / "train"}
    config = prune.Config(batch_size_override=64)
    summary = prune.run(stage_inputs(tmp_path / "both", data_dir, both, upstream=upstream), config).summary
    assert summary["toy_twin"]["same_result_as"] == "toy_qap" and summary["toy_twin"]["pruned"]
    prune.run(stage_inputs(tmp_path / "alone", data_dir, {"toy_twin": twin_spec}, upstream=upstream), config)
    copied, alone = tmp_path / "both" / "toy_twin", tmp_path / "alone" / "toy_twin"
    assert kernels(copied / "model.h5") and all(
        (kernel_a == kernel_b).all()
        for kernel_a, kernel_b in zip(kernels(copied / "model.h5"), kernels(alone / "model.h5"), strict=True)
    )
    assert load_metrics(copied / "metrics.json").physics == load_metrics(alone / "metrics.json").physics
    assert load_metrics(copied / "metrics.json").details["same_result_as"] == "toy_qap"
