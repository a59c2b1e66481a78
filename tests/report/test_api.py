"""pipeline.load_tagger: input checks, firmware-exact vs float predictions, working points."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import pipeline
from pipeline.data.io import read_raw_splits
from pipeline.errors import PipelineError
from tests.report import report_fixture

pytestmark = pytest.mark.slow  # trains two small models (shared fixture), scores and plots them


@pytest.fixture(scope="module")
def run_dir():
    return report_fixture.finished_run()


@pytest.fixture(scope="module")
def tagger(run_dir):
    return pipeline.load_tagger(run_dir, "tiny_q6")


@pytest.fixture(scope="module")
def test_jets(run_dir):
    raw = read_raw_splits(run_dir / "data")
    return raw.features["test"], raw.labels["test"]


def test_exact_logits_are_fixed_point_and_agree_with_the_float_model(tagger, test_jets):
    features, _ = test_jets
    exact = tagger.logits(features)
    floating = tagger.logits(features, exact=False)
    # logits carry 6 (quantized_relu(6, 0) activations) + 5 (quantized_bits(6, 0) weights) fractional bits
    on_grid = exact * 2.0**11
    np.testing.assert_array_equal(on_grid, np.round(on_grid))
    # TensorFlow (float32) and the int64 emulator compute the same quantized network
    np.testing.assert_allclose(exact, floating, atol=1e-3)
    probabilities = tagger.predict(features)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_dataframe_input_by_name_and_order(tagger, test_jets):
    features, _ = test_jets
    frame = pd.DataFrame(features[:20], columns=list(tagger.feature_names))
    np.testing.assert_array_equal(tagger.predict(frame), tagger.predict(features[:20]))
    with pytest.raises(PipelineError, match="wrong order"):
        tagger.predict(frame[list(reversed(tagger.feature_names))])
    with pytest.raises(PipelineError, match="absent"):
        tagger.predict(frame.drop(columns=["j_mass_mmdt"]))


def test_bad_inputs_raise_pipeline_errors(tagger, test_jets):
    features, _ = test_jets
    with pytest.raises(PipelineError, match=r"expected \(n_jets, 16\)"):
        tagger.predict(features[:, :15])
    with_nan = features[:5].copy()
    with_nan[3, 14] = np.nan
    with pytest.raises(PipelineError, match="jet 3, j_mass_mmdt"):
        tagger.predict(with_nan)
    with pytest.raises(PipelineError, match="not numeric"):
        tagger.predict([["a"] * 16])


def test_float_model_has_no_exact_scores(run_dir, test_jets):
    floating = pipeline.load_tagger(run_dir, "tiny_float")
    assert not floating.has_exact
    with pytest.raises(PipelineError, match="no firmware-exact form"):
        floating.predict(test_jets[0][:3])
    assert floating.predict(test_jets[0][:3], exact=False).shape == (3, 5)


def test_unknown_model_is_a_pipeline_error(run_dir):
    with pytest.raises(PipelineError, match="no stored model"):
        pipeline.load_tagger(run_dir, "no_such_model")


def test_working_points_reproduce_on_the_test_split(tagger, test_jets):
    features, labels = test_jets
    points = tagger.working_points
    assert points["scores"] == "exact" and points["target_signal_efficiencies"] == [0.3, 0.5, 0.7]
    scores = tagger.predict(features)
    for index, class_name in enumerate(tagger.class_names):
        for point in points["classes"][class_name]:
            selected = scores[:, index] >= point["threshold"]
            is_signal = labels == index
            assert np.mean(selected[is_signal]) == pytest.approx(point["signal_efficiency"])
            assert point["signal_efficiency"] >= point["target_signal_efficiency"]
            assert np.sum(selected[~is_signal]) == point["selected_background"]
    assert tagger.metrics["performance"]["exact"]["accuracy"] == pytest.approx(
        np.mean(np.argmax(scores, axis=1) == labels)
    )


def test_narrow_accumulators_are_honoured(run_dir, test_jets, tmp_path):
    """The exact scores use the deployed accumulator widths: a too-narrow one wraps and changes them."""
    for stage in ("data", "train", "constrain"):
        shutil.copytree(run_dir / stage, tmp_path / stage)
    accumulators = tmp_path / "constrain" / "tiny_q6" / "accumulators.json"
    record = json.loads(accumulators.read_text())
    record["layers"][0]["target_bits"] = 8
    accumulators.write_text(json.dumps(record))
    narrow = pipeline.load_tagger(tmp_path, "tiny_q6")
    wide = pipeline.load_tagger(run_dir, "tiny_q6")
    features = test_jets[0][:100]
    assert not np.array_equal(narrow.logits(features), wide.logits(features))
    with pytest.raises(PipelineError, match="run the report stage"):
        _ = narrow.working_points
