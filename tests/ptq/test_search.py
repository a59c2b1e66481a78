"""Format search on the network output: never worse than the MMSE start, finds a better point when
the per-tensor MMSE choice is not the best for the output, and stays on the QKeras grids."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.ptq.fixed_point import quantize
from pipeline.ptq.mmse import PTQSettings, forward, post_training_quantize
from pipeline.ptq.search import calibrate, float_logits, output_divergence, search_integer_bits


def _mlp(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hidden channel 0 of the first layer is 20x larger than the others but nearly ignored by the
    next layer: per-tensor activation MMSE widens the range for it, the output wants precision."""
    rng = np.random.default_rng(seed)
    sizes = (16, 24, 12, 5)
    weights = [(rng.normal(0, 0.3, (a, b)), rng.normal(0, 0.1, b)) for a, b in itertools.pairwise(sizes)]
    weights[0][0][:, 0] *= 20.0
    weights[1][0][0] *= 0.001
    return weights


def test_output_divergence_is_zero_for_equal_logits_and_positive_otherwise() -> None:
    logits = np.random.default_rng(0).normal(0, 2, (100, 5))
    assert output_divergence(logits, logits) == pytest.approx(0.0, abs=1e-12)
    assert output_divergence(logits, logits + 3.0) == pytest.approx(0.0, abs=1e-12)  # softmax shift
    assert output_divergence(logits, 0.5 * logits) > 1e-3


def test_search_lowers_the_output_divergence_and_keeps_values_on_grid() -> None:
    weights = _mlp(1)
    calibration = np.random.default_rng(2).normal(0, 1, (1500, 16))
    settings = PTQSettings(16, 4, 8, 4, rounding="gptq", format_search=True)
    start = post_training_quantize(weights, calibration, settings)
    result, trace = search_integer_bits(weights, calibration, settings)
    reference = float_logits(weights, calibration)
    assert trace.start_divergence == pytest.approx(output_divergence(reference, forward(start, calibration)))
    assert trace.final_divergence == pytest.approx(output_divergence(reference, forward(result, calibration)))
    assert trace.final_divergence < 0.7 * trace.start_divergence  # MMSE per tensor is not optimal here
    assert result.layers[0].activation_integer_bits < start.layers[0].activation_integer_bits
    assert trace.evaluations > 1
    for layer in result.layers:
        np.testing.assert_array_equal(
            quantize(layer.weight, 4, layer.weight_integer_bits, signed=True), layer.weight
        )
        np.testing.assert_array_equal(
            quantize(layer.bias, 8, layer.bias_integer_bits, signed=True), layer.bias
        )
    # calibrate() is the same search when the settings ask for it, plain PTQ otherwise
    searched = calibrate(weights, calibration, settings)
    np.testing.assert_array_equal(forward(searched, calibration), forward(result, calibration))
    plain = calibrate(weights, calibration, PTQSettings(16, 4, 8, 4, rounding="gptq"))
    np.testing.assert_array_equal(forward(plain, calibration), forward(start, calibration))
