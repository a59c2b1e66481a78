"""Verilator 5.006 simulation of the tiny pipelined design against the integer emulator."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate
from pipeline.rtl.design import check_bit_exact, simulate_raw
from pipeline.rtl.verilator import PortLayout, pack, patch_for_verilator_5006, unpack
from tests.rtl.rtl_networks import input_grid, tiny_network

pytestmark = pytest.mark.slow  # verilates and simulates the shared tiny design


def test_pack_unpack_round_trip_across_word_boundaries():
    layout = PortLayout(signed=(True, False, True, True), widths=(7, 30, 33, 1), fractional_bits=(0, 0, 0, 0))
    rng = np.random.default_rng(0)
    values = np.stack(
        [
            rng.integers(-64, 64, 50),
            rng.integers(0, 2**30, 50),
            rng.integers(-(2**32), 2**32, 50),
            rng.integers(-1, 1, 50),
        ],
        axis=1,
    )
    words = pack(values, layout)
    assert words.shape == (50, 3)
    assert np.array_equal(unpack(words, layout), values)


def test_verilator_5006_patch_rewrites_unknown_lint_code():
    text = "/* verilator lint_off WIDTHTRUNC */ x /* verilator lint_on WIDTHTRUNC */"
    assert "WIDTHTRUNC" not in patch_for_verilator_5006(text)
    assert "lint_off WIDTH " in patch_for_verilator_5006(text)


def test_rtl_equals_emulator_bit_for_bit(tiny_design):
    network, _, design, simulator = tiny_design
    assert design.cycles >= 2  # pipelined at the 3 ns clock
    report = check_bit_exact(simulator, network, input_grid(network))
    assert report.samples == len(input_grid(network))
    assert report.mismatched_values == 0 and report.bit_exact


def test_rtl_comparison_detects_a_different_network(tiny_design):
    network, _, _, simulator = tiny_design
    other = tiny_network(seed=1)
    features = input_grid(network)
    report = check_bit_exact(simulator, other, features)
    assert report.mismatched_samples > 0


def test_latency_matches_pipeline_depth(tiny_design):
    """Reading one cycle early would give the previous jet's outputs: the declared latency is exact."""
    network, _, _, simulator = tiny_design
    features = input_grid(network, step=7)
    expected = emulate(network, features)
    raw = np.round(features * 2.0**network.input_format.fractional_bits).astype(np.int64)
    raw = np.clip(raw, network.input_format.raw_min, network.input_format.raw_max)
    outputs = simulate_raw(
        simulator, raw, network.input_format.fractional_bits, expected.output_fractional_bits
    )
    assert np.array_equal(outputs, expected.logits_raw)
    assert not np.array_equal(outputs[1:], expected.logits_raw[:-1])
