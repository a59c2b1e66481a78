"""model_inputs / model_dataset (pipeline/models/inputs.py): the per-feature input formats of a spec
applied to the features, the identity without them."""

from __future__ import annotations

import numpy as np

from pipeline.models.spec import parse_spec

FORMATS = [{"bits": 2 + k % 5, "integer_bits": k % 2} for k in range(4)]  # f = 1 + k % 5 - k % 2
SPEC = {
    "name": "tiny",
    "input_features": 4,
    "input_quantizer": {"bits": 8, "integer_bits": 2},
    "defaults": {"weight": {"bits": 6, "integer_bits": 0}},
    "layers": [{"units": 3, "activation": "linear"}],
}


def _features(n: int = 2000) -> np.ndarray:
    x = np.random.default_rng(0).normal(0, 2.0, (n, 4)).astype(np.float32)
    x[:8] = np.arange(8)[:, None] * 0.125  # exact ties of the finest grid
    return x


def test_per_feature_formats_quantize_each_column_and_are_idempotent():
    from pipeline.deploy.emulator import quantize_real
    from pipeline.models.inputs import input_formats, model_inputs

    spec = parse_spec({**SPEC, "input_feature_quantizers": FORMATS}, "tiny.yaml")
    x = _features()
    got = model_inputs(spec, x)
    for column, fmt in enumerate(input_formats(spec)):
        assert fmt.bits == FORMATS[column]["bits"] and fmt.integer_bits == FORMATS[column]["integer_bits"] + 1
        step = 2.0**-fmt.fractional_bits
        assert np.all(got[:, column] / step == np.round(got[:, column] / step))  # on the feature's grid
        assert got[:, column].min() >= -(2.0 ** FORMATS[column]["integer_bits"])
        assert got[:, column].max() <= 2.0 ** FORMATS[column]["integer_bits"] - step
        raw, _ = quantize_real(x[:, column], fmt)
        np.testing.assert_array_equal(got[:, column], raw * step)
    np.testing.assert_array_equal(model_inputs(spec, got), got)
    assert np.any(got != x)


def test_identity_without_per_feature_formats():
    from pipeline.data.io import CLASS_NAMES, Dataset
    from pipeline.models.inputs import input_formats, model_dataset, model_inputs

    plain = parse_spec(SPEC, "tiny.yaml")
    x = _features()
    assert input_formats(plain) is None and input_formats(None) is None
    assert model_inputs(plain, x) is x and model_inputs(None, x) is x
    y = np.zeros(len(x), dtype=np.int64)
    dataset = Dataset(x, y, x, y, x, y, ("a", "b", "c", "d"), CLASS_NAMES, np.zeros(4), np.ones(4))
    assert model_dataset(plain, dataset) is dataset
    per_feature = parse_spec({**SPEC, "input_feature_quantizers": FORMATS}, "tiny.yaml")
    deployed = model_dataset(per_feature, dataset)
    for name in ("x_train", "x_val", "x_test"):
        np.testing.assert_array_equal(getattr(deployed, name), model_inputs(per_feature, x))
    assert deployed.y_train is dataset.y_train and deployed.scaler_std is dataset.scaler_std
