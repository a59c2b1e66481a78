"""Points of the search space become valid model specs; grid and random sampling are seeded."""

from __future__ import annotations

from pipeline.models.spec import load_spec, parse_spec
from pipeline.scan.space import SearchSpace, grid_points, random_points, resolve_spec
from tests.scan.conftest import REPO

BASE = load_spec(REPO / "models" / "jet_dnn_q10in_a2q_plus_qap.yaml")


def test_point_resolves_to_a_valid_spec():
    space = SearchSpace.model_validate(
        {
            "accumulator_method": {"first": ["none"], "rest": ["a2q_plus"]},
            "accumulator_bits": {"rest": [12]},
        }
    )
    point = {
        "input_bits": 8,
        "input_integer_bits": 2,
        "weight_bits": [4, 5, 5, 6],
        "activation_bits": 4,
        "width_multiplier": 0.5,
        "target_sparsity": 0.9,
        "accumulator_method.first": "none",
        "accumulator_method.rest": "a2q_plus",
        "accumulator_bits.rest": 12,
    }
    spec = parse_spec(resolve_spec(BASE, point, space, "trial"), "test")
    layers = spec.resolved_layers()
    assert [layer.units for layer in layers] == [32, 16, 16, 5]  # the output layer keeps its width
    assert [layer.weight.bits for layer in layers] == [4, 5, 5, 6]
    assert [layer.activation_quantizer.bits for layer in layers[:3]] == [4, 4, 4]
    assert layers[3].activation_quantizer is None
    assert (spec.input_quantizer.bits, spec.input_quantizer.integer_bits) == (8, 2)
    assert spec.pruning.target_sparsity == 0.9
    assert layers[0].accumulator_bits is None and layers[0].accumulator_method is None
    assert [(layer.accumulator_bits, layer.accumulator_method) for layer in layers[1:]] == [
        (12, "a2q_plus")
    ] * 3


def test_zero_sparsity_means_no_pruning_and_absent_keys_keep_the_base():
    spec = parse_spec(resolve_spec(BASE, {"target_sparsity": 0.0}, SearchSpace(), "trial"), "test")
    assert spec.pruning is None
    assert [(layer.accumulator_bits, layer.accumulator_method) for layer in spec.resolved_layers()] == [
        (18, "a2q"),
        (14, "a2q_plus"),
        (14, "a2q_plus"),
        (14, "a2q_plus"),
    ]
    assert spec.input_quantizer.bits == 10


def test_grid_and_random_points():
    space = SearchSpace.model_validate(
        {"weight_bits": [4, 6], "width_multiplier": {"low": 0.25, "high": 0.75, "step": 0.25}}
    )
    grid = grid_points(space, 100, seed=0)
    assert len(grid) == 6 and {point["width_multiplier"] for point in grid} == {0.25, 0.5, 0.75}
    assert (
        grid_points(space, 4, seed=1) == grid_points(space, 4, seed=1) and len(grid_points(space, 4, 1)) == 4
    )
    first = random_points(space, 5, seed=2)
    assert first == random_points(space, 5, seed=2)
    assert len({tuple(sorted(point.items())) for point in first}) == 5  # distinct
    assert len(random_points(space, 50, seed=2)) == 6  # never more than the space holds


def test_learned_precision_point_sets_the_mode_and_beta():
    space = SearchSpace.model_validate({"learned_precision": [False, True], "learned_beta": [1e-7, 1e-6]})
    assert space.dimensions()["learned_beta"] == [1e-7, 1e-6]
    learned = parse_spec(
        resolve_spec(BASE, {"learned_precision": True, "learned_beta": 1e-7}, space, "t"), "t"
    )
    assert learned.learned_precision and learned.precision.beta == 1e-7
    fixed = parse_spec(
        resolve_spec(BASE, {"learned_precision": False, "learned_beta": 1e-7}, space, "t"), "t"
    )
    assert not fixed.learned_precision


def test_hidden_layers_keeps_the_first_hidden_layers_and_the_output_layer():
    space = SearchSpace.model_validate({"hidden_layers": [1, 2, 3]})
    point = {"hidden_layers": 1, "weight_bits": [3, 5, 5, 6], "width_multiplier": 0.5}
    spec = parse_spec(resolve_spec(BASE, point, space, "shallow"), "test")
    layers = spec.resolved_layers()
    assert [layer.units for layer in layers] == [32, 5]
    # per-layer values keep the base's indices: layer 0 and the output layer (base index 3)
    assert [layer.weight.bits for layer in layers] == [3, 6]
    # the output layer keeps its accumulator group ("rest": A2Q+ 14 bits), the first layer A2Q 18 bits
    assert [(layer.accumulator_bits, layer.accumulator_method) for layer in layers] == [
        (18, "a2q"),
        (14, "a2q_plus"),
    ]
    two = parse_spec(resolve_spec(BASE, {"hidden_layers": 2}, space, "two"), "test")
    assert [layer.units for layer in two.resolved_layers()] == [64, 32, 5]


def test_hidden_layers_deeper_than_the_base_is_an_error_naming_the_key():
    import pytest

    from pipeline.scan.space import check_against_spec

    with pytest.raises(ValueError, match=r"space\.hidden_layers: the base spec has 3 hidden layers"):
        check_against_spec(SearchSpace.model_validate({"hidden_layers": [2, 4]}), BASE)
    with pytest.raises(ValueError, match=r"space\.hidden_layers: hidden layer counts must be integers >= 1"):
        SearchSpace.model_validate({"hidden_layers": [0, 1]})


def test_hard_dc_is_a_dimension_that_overrides_the_firmware_setting():
    from pipeline.scan.config import FirmwareSettings

    space = SearchSpace.model_validate({"hard_dc": [0, 2], "weight_bits": [4]})
    assert space.dimensions()["hard_dc"] == [0, 2]
    assert {point["hard_dc"] for point in grid_points(space, 10, seed=0)} == {0, 2}
    firmware = FirmwareSettings(hard_dc=2, adder_levels_per_ns=0.6)
    assert firmware.for_point({"hard_dc": 0, "weight_bits": 4})["hard_dc"] == 0
    assert firmware.for_point({"hard_dc": -1})["hard_dc"] == -1
    assert firmware.for_point({"weight_bits": 4})["hard_dc"] == 2  # not scanned: the firmware setting
    assert firmware.for_point({"hard_dc": 0})["adder_levels_per_ns"] == 0.6
    # a firmware setting, not a model spec key: the point's spec is a valid spec without it
    spec = resolve_spec(BASE, {"hard_dc": 0, "weight_bits": 4}, space, "t")
    assert "hard_dc" not in {key for key in spec if key != "description"}
    parse_spec(spec, "test")


def test_point_hard_dc_reaches_trial_key_estimate_table_and_firmware_task(tmp_path):
    import json

    import pandas as pd

    from pipeline.scan.config import load_scan
    from pipeline.scan.runner import Scan, firmware_task
    from pipeline.scan.table import read_table
    from tests.scan.conftest import write_scan

    loaded = load_scan(write_scan(tmp_path, space={"weight_bits": [4], "hard_dc": [0, 2]}))
    run_dir = tmp_path / "run"
    scan = Scan(loaded, run_dir, run_dir / "data", seed=7)
    zero, two = (scan.task({"weight_bits": 4, "hard_dc": value}, 0) for value in (0, 2))
    assert (zero.firmware["hard_dc"], two.firmware["hard_dc"]) == (0, 2)  # what trial.estimate traces with
    assert zero.key != two.key  # different estimates: two trials
    scan.scan_dir.mkdir(parents=True)
    scan.record(zero, {"key": zero.key, "number": 0, "status": "done", "accuracy": 0.7, "luts": 10.0})
    row = read_table(scan.scan_dir).iloc[0]
    assert row["hard_dc"] == 0 and json.loads(row["params"])["hard_dc"] == 0
    task = firmware_task(scan, pd.Series({"key": zero.key, "params": row["params"]}))
    assert task.firmware["hard_dc"] == 0 and task.trial_dir.endswith(zero.key)
    fixed = firmware_task(scan, pd.Series({"key": "k", "params": json.dumps({"weight_bits": 4})}))
    assert fixed.firmware["hard_dc"] == loaded.config.firmware.hard_dc == 2


def test_learned_beta_of_a_fixed_precision_point_gives_the_same_spec():
    space = SearchSpace.model_validate({"learned_precision": [False, True], "learned_beta": [1e-7, 1e-6]})
    fixed = [
        resolve_spec(BASE, {"learned_precision": False, "learned_beta": b}, space, "t") for b in (1e-7, 1e-6)
    ]
    assert fixed[0] == fixed[1]  # one model, one trial key: trained once
    learned = [
        resolve_spec(BASE, {"learned_precision": True, "learned_beta": b}, space, "t") for b in (1e-7, 1e-6)
    ]
    assert learned[0] != learned[1]
