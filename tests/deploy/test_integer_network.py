"""Saving, loading, comparing an IntegerNetwork and giving it accumulator widths."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.integer_network import (
    DenseLayer,
    FixedFormat,
    IntegerNetwork,
    load_network,
    network_differences,
    save_network,
    with_accumulators,
)


def _network(weight_shift: int = 0) -> IntegerNetwork:
    rng = np.random.default_rng(0)
    first = DenseLayer(
        name="dense_1",
        weight_raw=rng.integers(-31, 32, (16, 4)) + weight_shift,
        weight_fractional_bits=5,
        bias_raw=rng.integers(-31, 32, 4),
        bias_fractional_bits=5,
        accumulator=None,
        activation="relu",
        output=FixedFormat(6, 2, False),
    )
    second = DenseLayer(
        name="output",
        weight_raw=rng.integers(-31, 32, (4, 5)),
        weight_fractional_bits=5,
        bias_raw=np.zeros(5, dtype=np.int64),
        bias_fractional_bits=5,
        accumulator=FixedFormat(14, 5, True),
        activation="linear",
        output=None,
    )
    return IntegerNetwork(FixedFormat(8, 4, True), (first, second))


def test_save_load_round_trip_is_exact_and_deterministic(tmp_path):
    network = _network()
    save_network(network, tmp_path / "a.json")
    save_network(load_network(tmp_path / "a.json"), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    loaded = load_network(tmp_path / "a.json")
    assert network_differences(network, loaded) == []
    assert loaded.layers[1].accumulator == FixedFormat(14, 5, True)
    assert loaded.layers[0].weight_raw.dtype == np.int64 and loaded.layers[0].weight_raw.shape == (16, 4)


def test_differences_name_the_field_and_position():
    network = _network()
    assert network_differences(network, _network(weight_shift=1))[0].startswith(
        "layer 0 (dense_1 / dense_1): weight_raw[0, 0]"
    )
    zero_bias_elsewhere = IntegerNetwork(
        network.input_format,
        (network.layers[0], DenseLayer(**{**network.layers[1].__dict__, "bias_fractional_bits": 0})),
    )
    assert network_differences(network, zero_bias_elsewhere) == []  # a zero bias has no scale


def test_with_accumulators_uses_f_x_plus_f_w():
    network = with_accumulators(_network(), {"dense_1": 12})
    assert network.layers[0].accumulator == FixedFormat(12, 12 - (4 + 5), True)
    assert network.layers[1].accumulator == FixedFormat(14, 5, True)  # untouched
    with pytest.raises(ValueError, match="unknown dense layers"):
        with_accumulators(_network(), {"nope": 12})
