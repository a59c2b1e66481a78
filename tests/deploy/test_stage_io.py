"""accumulators.json parsing (the A2Q report layout and plain maps), the run's models plus the
bring-your-own ones, and the metrics of a model known only by its integer network."""

from __future__ import annotations

import numpy as np

from pipeline.deploy.stage_io import deployed_model_names, measure_network, parse_accumulator_bits

NAMES = {"dense_1", "dense_2"}


def test_a2q_report_layout_uses_target_bits_and_skips_unconstrained_layers():
    record = {
        "layers": [
            {"name": "dense_1", "exact_bits": 21, "target_bits": None, "method": None},
            {"name": "dense_2", "exact_bits": 19, "target_bits": 16, "method": "a2q_plus"},
        ]
    }
    assert parse_accumulator_bits(record, NAMES) == {"dense_2": 16}


def test_mapping_layouts_and_foreign_keys():
    assert parse_accumulator_bits({"layers": {"dense_1": 18}}, NAMES) == {"dense_1": 18}
    assert parse_accumulator_bits({"dense_2": {"accumulator_bits": 14}, "method": "a2q"}, NAMES) == {
        "dense_2": 14
    }
    assert parse_accumulator_bits({"layers": [{"name": "other", "bits": 9}]}, NAMES) == {}


def test_deployed_models_are_the_runs_then_the_bring_your_own_ones(tmp_path):
    for name in ("zeta_byo", "jet_dnn_q6", "alpha_byo", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "manifest.json").write_text("{}")
    assert deployed_model_names(("jet_dnn_q6", "jet_dnn_float"), tmp_path) == (
        "jet_dnn_q6",
        "jet_dnn_float",
        "alpha_byo",
        "zeta_byo",
    )
    assert deployed_model_names(("m",), tmp_path / "absent") == ("m",)


def test_metrics_of_an_integer_network_come_from_the_emulator():
    from types import SimpleNamespace

    from pipeline.deploy.emulator import emulate
    from tests.deploy.test_integer_network import _network

    network = _network()
    rng = np.random.default_rng(2)
    dataset = SimpleNamespace(
        x_test=rng.normal(0, 1.5, (400, 16)).astype(np.float32),
        y_test=rng.integers(0, 5, 400),
        class_names=("g", "q", "w", "z", "t"),
    )
    metrics = measure_network(network, dataset, "byo", "convert", {"csim_mismatches": 0})
    predicted = np.argmax(emulate(network, dataset.x_test).logits, axis=1)
    assert metrics.physics.accuracy == np.mean(predicted == dataset.y_test)
    assert [layer.input_bits for layer in metrics.cost.layers] == [8, 6]
    assert [layer.weight_bits for layer in metrics.cost.layers] == [6, 6]  # raw weights in -31..31
    assert metrics.cost.params == 16 * 4 + 4 + 4 * 5 + 5
    assert [layer.name for layer in metrics.information.layers] == ["dense_1"]
    assert metrics.details == {"csim_mismatches": 0}
