"""Which stored model is the deployed one (the convert stage's choice)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.report.deployed import accumulator_widths, deployed_files


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_latest_stage_model_is_deployed(tmp_path):
    stages = {stage: tmp_path / stage for stage in ("train", "prune", "constrain", "export")}
    _touch(stages["train"] / "m" / "model.h5")
    assert deployed_files(stages, "m") == (stages["train"] / "m" / "model.h5", None)
    _touch(stages["prune"] / "m" / "model.h5")
    accumulators = _touch(stages["constrain"] / "m" / "accumulators.json", "{}")
    _touch(stages["constrain"] / "m" / "model.h5")
    assert deployed_files(stages, "m") == (stages["constrain"] / "m" / "model.h5", accumulators)
    assert deployed_files(stages, "other") is None


def test_bring_your_own_model_comes_from_export(tmp_path):
    stages = {stage: tmp_path / stage for stage in ("constrain", "export")}
    _touch(stages["constrain"] / "m" / "model.h5")
    _touch(stages["export"] / "m" / "model.h5")
    _touch(stages["export"] / "m" / "source.json", json.dumps({"model": "constrain"}))
    assert deployed_files(stages, "m")[0] == stages["constrain"] / "m" / "model.h5"
    _touch(stages["export"] / "m" / "source.json", json.dumps({"model": "export", "external": "x.h5"}))
    assert deployed_files(stages, "m")[0] == stages["export"] / "m" / "model.h5"


def test_unconstrained_accumulator_record_means_full_width(tmp_path):
    record = _touch(tmp_path / "accumulators.json", json.dumps({"constrained": False, "layers": None}))
    assert accumulator_widths(keras_model=None, accumulators_file=record) is None
    assert accumulator_widths(keras_model=None, accumulators_file=None) is None


def test_scores_use_the_per_feature_input_formats_of_the_frozen_spec(tmp_path):
    """Report and load_tagger score the deployed chain: a learned model's frozen spec (train/<model>/
    frozen_spec.yaml) brings its per-feature input formats, applied before the network."""
    import numpy as np
    import yaml

    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.inputs import model_inputs
    from pipeline.models.io import save_model
    from pipeline.models.spec import load_spec
    from pipeline.report.deployed import load_deployed
    from tests.deploy.tiny_model import build_tiny_model, random_features

    formats = [{"bits": 2 + k % 4 + k // 4, "integer_bits": k % 4} for k in range(16)]  # in (8, 3)
    spec = {
        "name": "m",
        "input_features": 16,
        "input_quantizer": {"bits": 8, "integer_bits": 3},
        "input_feature_quantizers": formats,
        "defaults": {"weight": {"bits": 6, "integer_bits": 0}, "bias": {"bits": 6, "integer_bits": 0}},
        "layers": [
            {"units": 8, "activation_quantizer": {"bits": 6, "integer_bits": 0}},
            {"units": 5, "activation": "linear"},
        ],
    }
    stages = {stage: tmp_path / stage for stage in ("train", "constrain")}
    _touch(stages["train"] / "m" / "spec.yaml", yaml.safe_dump({**spec, "input_feature_quantizers": None}))
    frozen = _touch(stages["train"] / "m" / "frozen_spec.yaml", yaml.safe_dump(spec))
    model = build_tiny_model()
    save_model(model, stages["constrain"] / "m" / "model.h5")
    deployed = load_deployed(stages, "m")
    x = random_features(1000)
    inputs = model_inputs(load_spec(frozen), x)
    network = integer_network_from_qkeras(model)
    np.testing.assert_array_equal(deployed.exact_logits(x), emulate(network, inputs).logits)
    np.testing.assert_array_equal(deployed.float_logits(x), model.predict(inputs, verbose=0))
    assert np.any(deployed.exact_logits(x) != emulate(network, x).logits)
