"""dataset.h5 / scaler.json round trip and the split helpers."""

import numpy as np
import pytest

from pipeline.data.io import SPLITS, RawSplits, fit_scaler, load_dataset, write_dataset
from pipeline.data.split import limit_per_class, stratified_split
from pipeline.errors import PipelineError


def test_write_then_load_standardises_with_train_statistics(tmp_path, small_real_jets):
    features, labels = small_real_jets
    indices = stratified_split(labels, 0.25, 0.25, seed=3)
    raw = RawSplits(
        {split: features[indices[split]] for split in SPLITS},
        {split: labels[indices[split]] for split in SPLITS},
        ("f",) * 16,
        ("g", "q", "w", "z", "t"),
    )
    mean, std = write_dataset(tmp_path, raw)
    dataset = load_dataset(tmp_path)
    expected_mean, expected_std = fit_scaler(features[indices["train"]])
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(dataset.scaler_std, expected_std)
    np.testing.assert_allclose(dataset.x_val, (features[indices["val"]] - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(dataset.y_test, labels[indices["test"]])


def test_stratified_split_keeps_class_fractions_and_is_seeded():
    labels = np.repeat(np.arange(5), [100, 40, 60, 80, 20])
    indices = stratified_split(labels, 0.2, 0.25, seed=1)
    assert sorted(np.concatenate(list(indices.values())).tolist()) == list(range(300))
    np.testing.assert_array_equal(np.bincount(labels[indices["test"]]), [25, 10, 15, 20, 5])
    np.testing.assert_array_equal(np.bincount(labels[indices["val"]]), [20, 8, 12, 16, 4])
    assert np.array_equal(indices["train"], stratified_split(labels, 0.2, 0.25, seed=1)["train"])
    assert not np.array_equal(indices["train"], stratified_split(labels, 0.2, 0.25, seed=2)["train"])


def test_limit_per_class():
    labels = np.repeat(np.arange(3), [10, 3, 7])
    keep = limit_per_class(labels, 5, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[keep]), [5, 3, 5])
    assert limit_per_class(labels, None, seed=0).tolist() == list(range(20))


def test_missing_dataset_is_a_pipeline_error(tmp_path):
    with pytest.raises(PipelineError, match=r"dataset\.h5"):
        load_dataset(tmp_path)
