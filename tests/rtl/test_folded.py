"""The folded architecture (``pipeline.rtl.folded``): Verilator RTL equals the integer emulator run with
the same P-bit wrap-around accumulators, on inputs where the accumulators do wrap."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate
from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork
from pipeline.rtl.folded import (
    hls4ml_accumulator_bits,
    plan_folded,
    signed_bits,
    with_accumulators,
    write_folded,
)
from tests.rtl.rtl_networks import input_grid, tiny_network


def three_layer_network(accumulator_bits: int = 8) -> IntegerNetwork:
    """4-3-3-2: a relu layer wrapping at ``accumulator_bits`` (12-bit products), a linear hidden layer
    with a signed output (negative values through round-half-even and saturation), then logits."""
    base = tiny_network(seed=1, accumulator_bits=accumulator_bits)
    rng = np.random.default_rng(7)
    linear = DenseLayer(
        "linear",
        rng.integers(-31, 32, (3, 3)),
        4,
        rng.integers(-100, 100, 3),
        6,
        None,
        "linear",
        FixedFormat(6, 3, True),
    )
    return dataclasses.replace(base, layers=(base.layers[0], linear, base.layers[1]))


@pytest.fixture(scope="module")
def folded_run(tmp_path_factory):
    from pipeline.rtl.folded_sim import build_folded_simulator, check_folded_bit_exact

    root = tmp_path_factory.mktemp("folded")
    network = with_accumulators(three_layer_network(), "network")
    plan = plan_folded(network, reuse_factor=3)  # fan-in 4 -> 3 cycles x 2 lanes (one padded input)
    write_folded(plan, root / "rtl")
    simulator = build_folded_simulator(plan, root / "rtl", root / "build")
    features = input_grid(network)
    report, run = check_folded_bit_exact(simulator, network, features)
    return network, plan, features, report, run, simulator


def test_folded_rtl_equals_wrapping_emulator(folded_run):
    network, plan, features, report, _run, _ = folded_run
    overflows = emulate(network, features).accumulator_overflows
    assert overflows["dense_1"] > 1000  # the 8-bit accumulator wraps on many jets: the test can fail
    assert report.samples == len(features) and report.mismatched_values == 0
    assert next(layer.accumulator_bits for layer in plan.layers) == 8


def test_folded_rtl_differs_from_the_non_wrapping_network(folded_run):
    """The same RTL against the emulator without wrap-around: many jets differ (wrapping is real)."""
    _network, _, features, _, run, _ = folded_run
    wide = with_accumulators(three_layer_network(), "hls4ml_auto")
    assert wide.layers[0].accumulator.bits > 8
    differ = (emulate(wide, features).logits_raw != run.outputs).any(axis=1)
    assert differ.sum() > 100


def test_measured_latency_and_interval_match_the_schedule(folded_run):
    _, plan, features, _, run, _ = folded_run
    assert [layer.cycles for layer in plan.layers] == [3, 3, 3]
    assert plan.layers[0].lanes == 2
    assert run.latency_cycles == plan.latency_cycles == 3 * (3 + 2)
    assert run.total_cycles <= len(features) * plan.initiation_interval + plan.latency_cycles + 4


def test_accumulator_choices():
    network = tiny_network()
    layer = network.layers[0]
    # hls4ml: 6-bit weights + 6-bit inputs + ceil(log2 4) + 1 bias bit
    assert signed_bits(layer.weight_raw) == 6
    assert hls4ml_accumulator_bits(layer, network.input_format) == 6 + 6 + 2 + 1
    kept = with_accumulators(network, "network")
    assert kept.layers[0].accumulator.bits == 12  # the network's own P
    assert with_accumulators(network, 32).layers[1].accumulator.bits == 32
    fractional = network.input_format.fractional_bits + layer.weight_fractional_bits
    assert kept.layers[0].accumulator.fractional_bits == fractional
    mapped = with_accumulators(network, {"output": 9})  # named layers at P, the rest hls4ml's width
    assert [layer.accumulator.bits for layer in mapped.layers] == [15, 9]
    with pytest.raises(ValueError, match="no layer named"):
        with_accumulators(network, {"dense_9": 9})
    with pytest.raises(ValueError):
        with_accumulators(network, "auto")
    with pytest.raises(ValueError):
        plan_folded(network, 4)  # the output layer has no accumulator width


STAT_TEXT = """
=== folded_network ===

   Number of cells:                 12
     FDRE                            5
     LUT3                            2
     RAMB18E2                        1
     folded_network_layer1_mul       2
     folded_network_layer1_neuron    1

=== folded_network_layer1_mul ===

   Number of cells:                  7
     CARRY4                          1
     LUT2                            4
     LUT6                            2

=== folded_network_layer1_neuron ===

   Number of cells:                  9
     CARRY4                          2
     FDRE                           10
     INV                             1
     LUT4                            6

=== design hierarchy ===

   folded_network                    1
     folded_network_layer1_mul       2
     folded_network_layer1_neuron    1

   Number of cells:                 37
"""


def test_cost_breakdown_counts_each_instance():
    from pipeline.rtl.folded import cost_breakdown

    parts = cost_breakdown(STAT_TEXT)
    assert parts["multipliers"] == {
        "luts": 12,
        "flip_flops": 0,
        "carry": 2,
        "brams": 0,
        "luts_plus_flip_flops": 12,
    }
    assert parts["accumulators"] == {
        "luts": 7,
        "flip_flops": 10,
        "carry": 2,
        "brams": 0,
        "luts_plus_flip_flops": 17,
    }
    assert parts["rest"] == {"luts": 2, "flip_flops": 5, "carry": 0, "brams": 1, "luts_plus_flip_flops": 7}
    with pytest.raises(ValueError):
        cost_breakdown(STAT_TEXT, top="other_top")


def _synthesize(network, root, rom_style="block"):
    from pipeline.rtl.folded import TOP, cost_breakdown
    from pipeline.rtl.yosys import synthesize

    plan = plan_folded(network, reuse_factor=3)
    write_folded(plan, root / "rtl", rom_style)
    result = synthesize(root / "rtl", TOP, root / "yosys", "xcup", ("-nodsp", "-nowidelut"), yosys_sta=True)
    return result, cost_breakdown((root / "yosys" / "stat.txt").read_text())


def test_yosys_roms_in_block_ram_and_p_changes_only_the_accumulators(tmp_path):
    """Weight ROMs map to block RAM (no LUTs), the multipliers do not depend on P, the accumulators
    grow with P; the whole design synthesizes in seconds (the flat ``case``-ROM netlist did not)."""
    narrow, narrow_parts = _synthesize(with_accumulators(three_layer_network(8), "network"), tmp_path / "p8")
    wide, wide_parts = _synthesize(with_accumulators(three_layer_network(8), 24), tmp_path / "p24")
    assert narrow.brams == wide.brams > 0
    multipliers = narrow_parts["multipliers"]["luts"]
    assert multipliers > 0 and narrow_parts["multipliers"]["flip_flops"] == 0
    assert abs(wide_parts["multipliers"]["luts"] - multipliers) <= 0.01 * multipliers  # ABC noise only
    for figure in ("luts", "flip_flops"):
        assert wide_parts["accumulators"][figure] > narrow_parts["accumulators"][figure]
    assert narrow.luts == sum(part["luts"] for part in narrow_parts.values())
    assert narrow.flip_flops == sum(part["flip_flops"] for part in narrow_parts.values())
    assert "black- nor white-box" not in narrow.sta_text  # sta sees the flattened netlist
    logic, _ = _synthesize(with_accumulators(three_layer_network(8), "network"), tmp_path / "logic", "logic")
    assert logic.brams == 0 and logic.luts > narrow.luts
