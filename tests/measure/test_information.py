"""Neural efficiency and aIQ (Schaub & Hotaling 2020) on hand cases."""

import numpy as np
import pytest

from pipeline.measure import information
from pipeline.measure.compute import information_metrics


def test_pattern_entropy_and_efficiency():
    # patterns (on,off) x2, (off,on), (off,off): p = 1/2, 1/4, 1/4 -> H = 1.5 bits, over 2 neurons
    activations = np.array([[0.3, 0.0], [1.0, -0.0], [0.0, 2.0], [0.0, 0.0]])
    assert information.pattern_entropy(activations) == pytest.approx(1.5)
    assert information.neural_efficiency(activations) == pytest.approx(0.75)
    assert information.pattern_entropy(np.ones((5, 3))) == 0.0


def test_network_efficiency_and_aiq():
    assert information.network_efficiency([0.25, 1.0]) == pytest.approx(0.5)
    assert information.network_efficiency([0.0, 1.0]) == 0.0
    assert information.aiq(0.5, 0.5) == pytest.approx(0.5)  # (0.25 * 0.5) ** (1/3)
    assert information.aiq(0.8, 0.2, beta=1.0) == pytest.approx((0.8 * 0.2) ** 0.5)


def test_information_record():
    layer = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    record = information_metrics({"relu_1": layer, "relu_2": np.eye(4)}, accuracy=1.0)
    assert [entry.efficiency for entry in record.layers] == pytest.approx([0.75, 0.5])
    assert record.network_efficiency == pytest.approx(np.sqrt(0.375))
    assert record.aiq == pytest.approx(np.sqrt(0.375) ** (1 / 3))


def test_neural_efficiency_uses_a_fixed_number_of_jets_and_records_it():
    """The entropy is capped at log2(n) bits: a 10k-jet run and a 20k-jet benchmark must use the same n."""
    from pipeline.measure.compute import NEURAL_EFFICIENCY_JETS

    rng = np.random.default_rng(0)
    wide = rng.normal(size=(20_000, 64))  # every jet a new on/off pattern: entropy = log2(jets)
    small = information_metrics({"relu_1": wide[:10_000]}, accuracy=0.7)
    large = information_metrics({"relu_1": wide}, accuracy=0.7)
    assert small.n_jets == large.n_jets == NEURAL_EFFICIENCY_JETS
    assert small.layers[0].efficiency == large.layers[0].efficiency
    assert small.layers[0].entropy_bits == pytest.approx(np.log2(NEURAL_EFFICIENCY_JETS))
    custom = information_metrics({"relu_1": wide}, accuracy=0.7, jets=1024)
    assert custom.n_jets == 1024 and custom.layers[0].entropy_bits == pytest.approx(10.0)
    few = information_metrics({"relu_1": wide[:100]}, accuracy=0.7)
    assert few.n_jets == 100  # a small test split says so in the record
