"""Save/load round trip keeps QKeras quantizers and predictions."""

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.models.build import build_model
from pipeline.models.io import load_model, save_model
from pipeline.models.spec import parse_spec


def test_round_trip(tmp_path):
    spec = parse_spec(
        {
            "name": "toy",
            "input_quantizer": {"bits": 12, "integer_bits": 4},
            "defaults": {
                "weight": {"bits": 4, "integer_bits": 0},
                "bias": {"bits": 8, "integer_bits": 2},
                "activation": {"bits": 5, "integer_bits": 1},
            },
            "layers": [{"units": 6}, {"units": 3, "activation": "linear"}],
            "output_quantizer": {"bits": 10, "integer_bits": 4},
            "input_features": 4,
        },
        "toy",
    )
    model = build_model(spec, seed=3)
    save_model(model, tmp_path / "sub" / "model.h5")
    loaded = load_model(tmp_path / "sub" / "model.h5")
    x = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32) * 4
    assert np.array_equal(model(x).numpy(), loaded(x).numpy())
    quantizer = loaded.get_layer("dense_1").bias_quantizer_internal
    assert (quantizer.bits, quantizer.integer, quantizer.alpha) == (8, 2, 1)
    assert loaded.get_layer("output_quant").quantizer.bits == 10


def test_missing_file_is_pipeline_error(tmp_path):
    with pytest.raises(PipelineError, match="not found"):
        load_model(tmp_path / "none.h5")
