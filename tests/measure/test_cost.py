"""Cost metrics (BOPs of Hawks et al. 2021, parameters, sparsity) on hand cases."""

from pathlib import Path

import numpy as np
import pytest

from pipeline.measure import cost
from pipeline.measure.compute import DenseWeights, cost_metrics, deployed_dense_weights
from pipeline.models.build import build_model
from pipeline.models.spec import load_spec


def test_layer_bops_formula():
    # m*n*(p*b_a*b_w + b_a + b_w + log2 n) = 2*4*(0.5*8*4 + 8 + 4 + 2) = 240
    assert cost.layer_bops(4, 2, 0.5, 8, 4) == pytest.approx(240.0)
    with pytest.raises(ValueError):
        cost.layer_bops(0, 2, 1.0, 8, 8)


def test_cost_record_sums_layers():
    kernel = np.array([[0.0, 1.0], [0.0, 2.0], [3.0, 0.0], [4.0, 0.0]])
    second = np.ones((2, 1))
    record = cost_metrics(
        [
            DenseWeights("dense_1", kernel, np.array([1.0, 0.0]), input_bits=8, weight_bits=4),
            DenseWeights("dense_2", second, np.zeros(1), input_bits=32, weight_bits=32),
        ]
    )
    first = record.layers[0]
    assert (first.params, first.nonzero_params, first.weight_sparsity, first.bops) == (10, 5, 0.5, 240.0)
    # 1*2*(1*32*32 + 32 + 32 + 1) = 2178
    assert record.layers[1].bops == pytest.approx(2178.0)
    assert record.bops == pytest.approx(2418.0)
    assert (record.params, record.nonzero_params) == (13, 7)
    assert record.weight_sparsity == pytest.approx(4 / 10)
    assert record.qonnx_inference_cost is None


def test_deployed_weights_are_quantized():
    spec = load_spec(Path(__file__).resolve().parents[2] / "models" / "jet_dnn_q6.yaml")
    model = build_model(spec, seed=0)
    layer = model.get_layer("dense_1")
    kernel = np.full(layer.kernel.shape, 0.5, dtype=np.float32)
    kernel[:8] = 0.01  # below half a quantization step (2**-5): deploys as zero
    layer.set_weights([kernel, np.zeros(64, dtype=np.float32)])
    deployed = deployed_dense_weights(model, spec)
    assert [d.input_bits for d in deployed] == [16, 6, 6, 6]
    assert [d.weight_bits for d in deployed] == [6, 6, 6, 6]
    assert cost.sparsity(deployed[0].kernel) == pytest.approx(0.5)
    assert np.all(deployed[0].kernel[8:] == 0.5)
