"""The da4ml traced graph against the integer emulator, checked with da4ml's own graph interpreter
(``CombLogic.predict``): ties to even, saturation and accumulator wrap-around."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.emulator import emulate, quantize_real
from pipeline.deploy.integer_network import FixedFormat
from pipeline.rtl.trace import latency_cutoff_for_clock, round_half_even_saturate, trace_network
from tests.rtl.rtl_networks import input_grid, tiny_network

pytestmark = pytest.mark.slow  # da4ml tracing (numba JIT on a cold cache) and the shared verilated design


def _on_grid(network, features):
    raw, _ = quantize_real(features, network.input_format)
    return raw * 2.0**-network.input_format.fractional_bits


def _mismatches(traced, network, features) -> int:
    expected = emulate(network, features)
    got = traced.comb.predict(_on_grid(network, features)) * 2.0**expected.output_fractional_bits
    return int(np.count_nonzero(got != expected.logits_raw))


def test_traced_graph_equals_emulator_with_wrapping_accumulator(tiny_design):
    network, traced, _, _ = tiny_design
    features = input_grid(network)
    emulated = emulate(network, features)
    assert emulated.accumulator_overflows["dense_1"] > 0  # the wrap-around is exercised
    assert emulated.saturations["dense_1"] > 0  # and the saturation
    assert _mismatches(traced, network, features) == 0


def test_graph_differs_when_accumulator_width_differs(tiny_design):
    network, traced, _, _ = tiny_design
    wider = tiny_network(accumulator_bits=20)
    assert _mismatches(traced, wider, input_grid(network)) > 0


def _single_layer(values: np.ndarray, fmt: FixedFormat, tie_break: bool):
    """y = relu(x * 1/4) quantized to ``fmt``: every odd raw x/2 is a tie."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    inputs = FixedVariableArrayInput(1, HWConfig(1, -1, -1))
    x = inputs.quantize(1, 5, 0)
    scaled = (x @ np.array([[0.25]])).relu()
    k, i, f = 0, fmt.integer_bits, fmt.fractional_bits
    out = round_half_even_saturate(scaled, fmt) if tie_break else scaled.quantize(k, i, f, "SAT", "RND")
    return comb_trace(inputs, out).predict(values[:, None])[:, 0] * 2.0**f


def test_tie_break_is_half_to_even_where_da4ml_rounds_half_up():
    fmt = FixedFormat(4, 3, False)  # one fractional bit: x/4 for odd x/2 is exactly half a step
    values = np.arange(-32, 32, dtype=np.float64)
    expected = np.clip(np.round(np.maximum(values, 0) / 4 * 2), fmt.raw_min, fmt.raw_max)
    assert np.array_equal(_single_layer(values, fmt, tie_break=True), expected)
    assert not np.array_equal(_single_layer(values, fmt, tie_break=False), expected)


def test_latency_cutoff_for_clock():
    assert latency_cutoff_for_clock(5.0, 1.0) == 5.0
    assert latency_cutoff_for_clock(2.0, 0.25) == 1.0
    with pytest.raises(ValueError):
        latency_cutoff_for_clock(0.0, 1.0)


def test_trace_is_deterministic():
    network = tiny_network(seed=3)
    first, second = trace_network(network, 4.0), trace_network(network, 4.0)
    assert first.comb.ops == second.comb.ops


PER_FEATURE = tuple(FixedFormat(bits, integer, True) for bits, integer in ((4, 2), (6, 3), (3, 1), (5, 3)))


def test_per_feature_input_formats_lower_the_cost_and_stay_exact(tiny_design):
    """Known-zero low bits and narrower ranges of per-feature inputs reach da4ml's cost; the graph fed
    with per-feature-quantized inputs still equals the emulator on every input."""
    from pipeline.models.learned import quantize_features

    network, traced, _, _ = tiny_design
    per_feature = trace_network(network, traced.latency_cutoff, input_formats=PER_FEATURE)
    assert per_feature.comb.cost < traced.comb.cost
    features = quantize_features(input_grid(network), PER_FEATURE)
    assert _mismatches(per_feature, network, features) == 0


@pytest.mark.parametrize(
    "bad",
    [
        (FixedFormat(6, 2, True), *PER_FEATURE[1:]),  # 4 fractional bits > the container's 3
        (FixedFormat(8, 5, True), *PER_FEATURE[1:]),  # range beyond the container's
        PER_FEATURE[:3],  # one format missing
    ],
)
def test_per_feature_formats_outside_the_container_are_refused(bad):
    with pytest.raises(ValueError, match="input"):
        trace_network(tiny_network(), 3.0, input_formats=bad)


def test_latency_cutoff_for_clock_is_robust_to_float_products():
    # 0.6 and 0.7 are not exact binary fractions; the cutoff must not floor 3 - 1e-16 to 2
    assert latency_cutoff_for_clock(5.0, 0.6) == 3.0
    assert latency_cutoff_for_clock(100.0, 0.29) == 29.0  # 100 x 0.29 = 28.999999999999996
    assert latency_cutoff_for_clock(3.0, 0.1) == 1.0
