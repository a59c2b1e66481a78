"""The integer emulator: exact QKeras arithmetic when wide, two's complement wrapping when narrow.

Equality with the hls4ml C simulation is tested in test_hls.py (one compile per session)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate, round_half_even_shift, wrap
from pipeline.deploy.from_qkeras import integer_network_from_qkeras
from pipeline.deploy.integer_network import FixedFormat
from tests.deploy.tiny_model import build_tiny_model, random_features


@pytest.fixture(scope="module")
def tiny():
    model = build_tiny_model()
    features = random_features(3000)
    return model, features, model.predict(features, verbose=0)


def test_round_half_even_shift_matches_numpy_round():
    raw = np.arange(-64, 65, dtype=np.int64)
    for shift in (1, 2, 3):
        assert np.array_equal(round_half_even_shift(raw, shift), np.round(raw / 2.0**shift).astype(np.int64))
    assert np.array_equal(round_half_even_shift(raw, -2), raw * 4)


def test_wrap_is_twos_complement():
    fmt = FixedFormat(bits=4, integer_bits=4, signed=True)
    assert wrap(np.array([7, 8, -8, -9, 23]), fmt).tolist() == [7, -8, -8, 7, 7]


def test_wide_emulator_equals_qkeras_on_every_jet(tiny):
    model, features, expected = tiny
    result = emulate(integer_network_from_qkeras(model), features)
    assert result.output_fractional_bits == 6 + 5  # relu output f=6, output weights f=5
    assert np.array_equal(result.logits, expected.astype(np.float64))
    assert result.accumulator_overflows == {"dense_1": 0, "output": 0}
    assert result.saturations["dense_1"] > 0  # the relu saturates for some jets


def test_narrow_accumulator_wraps_and_is_counted(tiny):
    model, features, expected = tiny
    narrow = emulate(integer_network_from_qkeras(model, {"output": 13}), features)
    ideal = emulate(
        integer_network_from_qkeras(model, {"output": 13}), features, ideal=True, keep_layers=True
    )
    wrong_jets = np.any(narrow.logits != expected, axis=1)
    assert narrow.accumulator_overflows["output"] > 0
    assert wrong_jets.sum() > 0
    # every differing logit is off by a multiple of 2**13 raw units (wrap-around, not rounding)
    difference = narrow.logits_raw - ideal.logits_raw
    assert np.all(difference % (1 << 13) == 0)
    assert np.array_equal(ideal.logits, expected.astype(np.float64))
    assert [trace.name for trace in ideal.layers] == ["dense_1", "output"]
