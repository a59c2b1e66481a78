"""The score exports of a finished run, read back with uproot and h5py, against the Python API."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import uproot

from pipeline.api import load_tagger
from pipeline.data.io import read_raw_splits
from pipeline.report.scores import branch_name
from tests.report import report_fixture

pytestmark = pytest.mark.slow  # trains two small models (shared fixture), scores and plots them


@pytest.fixture(scope="module")
def run_dir():
    return report_fixture.finished_run()


@pytest.fixture(scope="module")
def raw_test(run_dir):
    raw = read_raw_splits(run_dir / "data")
    return raw.features["test"], raw.labels["test"]


def test_hdf5_scores_equal_the_api_predictions(run_dir, raw_test):
    features, labels = raw_test
    with h5py.File(run_dir / "report" / "scores.h5", "r") as handle:
        np.testing.assert_array_equal(handle["labels"][...], labels)
        np.testing.assert_array_equal(handle["features"][...], features)
        assert list(handle.attrs["class_names"]) == ["g", "q", "w", "z", "t"]
        stored = {
            model: {name: handle[model][name][...] for name in handle[model]}
            for model in handle
            if model in report_fixture.MODELS
        }
        assert not handle["tiny_float"].attrs["has_exact"] and handle["tiny_q6"].attrs["has_exact"]
    assert set(stored["tiny_float"]) == {"float_logits", "float_scores"}
    quantized = load_tagger(run_dir, "tiny_q6")
    np.testing.assert_array_equal(stored["tiny_q6"]["exact_scores"], quantized.predict(features))
    np.testing.assert_array_equal(stored["tiny_q6"]["exact_logits"], quantized.logits(features))
    floating = load_tagger(run_dir, "tiny_float")
    np.testing.assert_allclose(
        stored["tiny_float"]["float_scores"], floating.predict(features, exact=False), atol=1e-6
    )
    np.testing.assert_allclose(
        stored["tiny_q6"]["float_scores"], quantized.predict(features, exact=False), atol=1e-6
    )


def test_root_tree_equals_the_api_predictions(run_dir, raw_test):
    features, labels = raw_test
    tagger = load_tagger(run_dir, "tiny_q6")
    with uproot.open(run_dir / "report" / "scores.root") as handle:
        assert handle.classnames() == {"jets;1": "TTree"}
        tree = handle["jets"]
        assert tree.num_entries == len(labels)
        arrays = tree.arrays(library="np")
    np.testing.assert_array_equal(arrays["label"], labels)
    for index, name in enumerate(tagger.feature_names):
        np.testing.assert_array_equal(arrays[branch_name(name)], features[:, index])
    exact = tagger.predict(features)
    floating = tagger.predict(features, exact=False)
    for index, class_name in enumerate(tagger.class_names):
        np.testing.assert_array_equal(arrays[f"tiny_q6_exact_{class_name}"], exact[:, index])
        np.testing.assert_allclose(arrays[f"tiny_q6_float_{class_name}"], floating[:, index], atol=1e-6)
    assert "tiny_float_exact_g" not in arrays and "tiny_float_float_g" in arrays


def test_branch_names_are_root_identifiers():
    assert branch_name("jet-dnn.q6_exact_g") == "jet_dnn_q6_exact_g"
    assert branch_name("6bit") == "_6bit"
